"""What the realtime endpoints refuse before the fake model answers: the batch path's checks,
given as HTTP errors.

A batch line that fails these checks becomes a 400 line (OpenAI) or an `errored` result
(Anthropic), or fails its whole batch (an unknown OpenAI model); a realtime call gets the same
error as the HTTP answer: 400 with the provider's envelope, 404 `model_not_found` /
`not_found_error` for an unknown model. Streaming is refused: the emulator does not stream.
"""

from __future__ import annotations

from typing import Any

from llmbatch.emulator.catalog import OPENAI_REQUIRED
from llmbatch.emulator.errors import ApiError, anthropic_invalid
from llmbatch.emulator.request_checks import (
    anthropic_params_error,
    openai_model_known,
    openai_unknown_field,
)

NO_STREAM = (
    "stream: the llmbatch emulator does not stream answers.\n"
    "Hint: send the request without `stream` (or with stream: false)."
)


def openai_refusal(endpoint: str, body: Any) -> ApiError | None:
    """The HTTP error a realtime OpenAI call with `body` gets before any answer, or None.

    Order: a body that is not an object, `stream`, a missing required field, an unknown
    field (the batch line's 400), an unknown model (404 `model_not_found`).
    """
    if not isinstance(body, dict):
        return ApiError(400, "The request body must be a JSON object.")
    if body.get("stream"):
        return ApiError(400, NO_STREAM, param="stream", code="unsupported_value")
    for name in OPENAI_REQUIRED.get(endpoint, ()):
        if body.get(name) is None:
            message = f"Missing required parameter: '{name}'."
            return ApiError(400, message, param=name, code="missing_required_parameter")
    unknown = openai_unknown_field(endpoint, body)
    if unknown is not None:
        inner = unknown["error"]
        return ApiError(
            400, inner["message"], type=inner["type"], param=inner["param"], code=inner["code"]
        )
    model = body.get("model")
    if isinstance(model, str) and not openai_model_known(model):
        message = f"The model `{model}` does not exist or you do not have access to it."
        return ApiError(404, message, code="model_not_found")
    return None


def anthropic_refusal(params: Any) -> ApiError | None:
    """The HTTP error a realtime Messages call with `params` gets before any answer, or None:
    the batch request's checks (without the Batches-only refusals), `stream` refused."""
    if not isinstance(params, dict):
        return anthropic_invalid("Input should be a valid dictionary")
    if params.get("stream"):
        return anthropic_invalid(NO_STREAM)
    problem = anthropic_params_error(params, batch=False)
    if problem is None:
        return None
    error_type, message = problem
    status = 404 if error_type == "not_found_error" else 400
    return ApiError(status, message, type=error_type)
