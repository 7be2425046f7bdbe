"""What the real batch services check beyond the fake model: models, fields, output caps.

The fake model (fake_model.py) answers any model name and ignores fields it does not use, so
that it can be tested on its own. The batch layers call these checks first, as the real
services do (reference F.1, F.4, F.8, F.9, F.10):

- Anthropic validates each request's `params` asynchronously: an unknown field, a field the
  Batches API refuses, an unknown model or a `max_tokens` over the model's cap makes that one
  request `errored`.
- OpenAI fails the whole batch at validation for an unknown model; an unknown body field
  comes back as that line's 400 in the error file.

The tables live in catalog.py.
"""

from __future__ import annotations

from typing import Any

from llmbatch.emulator.catalog import (
    ANTHROPIC_ALIASES,
    ANTHROPIC_BATCH_REFUSED,
    ANTHROPIC_OUTPUT_CAPS,
    ANTHROPIC_PARAMS,
    OPENAI_BODY_FIELDS,
    OPENAI_MODELS,
)
from llmbatch.emulator.errors import openai_error
from llmbatch.emulator.fake_anthropic_checks import check_params

# Every errored Anthropic result carries this inside its error object (F.10).
ERROR_DETAILS = {"error_visibility": "user_facing"}


def anthropic_model_id(model: str) -> str:
    """The dated model id an alias resolves to (a dated id or unknown name is returned as is)."""
    return ANTHROPIC_ALIASES.get(model, model)


def anthropic_result_error(error_type: str, message: str) -> dict[str, Any]:
    """The `error` of an `errored` result line: the error envelope, with its details."""
    inner = {"type": error_type, "message": message, "details": dict(ERROR_DETAILS)}
    return {"type": "error", "error": inner, "request_id": None}


def anthropic_params_error(params: Any, *, batch: bool = True) -> tuple[str, str] | None:
    """`(error type, message)` the API gives one batch request's `params`, or None.

    Order: unknown fields, fields the Batches API refuses (only when `batch`; a realtime
    Messages call accepts them), the Messages rules (types, required fields, schemas), the
    model, then its output cap.
    """
    if not isinstance(params, dict):
        return None  # the create already refuses it
    for key in params:
        if key not in ANTHROPIC_PARAMS:
            return "invalid_request_error", f"{key}: Extra inputs are not permitted"
    refusals = ANTHROPIC_BATCH_REFUSED if batch else {}
    for key, (refused, message) in refusals.items():
        given = params.get(key)
        if given is not None and (refused is None or given == refused):
            return "invalid_request_error", f"{key}: {message}"
    problem = check_params(params)
    if problem is not None:
        return "invalid_request_error", problem
    return _model_error(params["model"], params["max_tokens"])


def _model_error(model: str, max_tokens: int) -> tuple[str, str] | None:
    dated = anthropic_model_id(model)
    cap = ANTHROPIC_OUTPUT_CAPS.get(dated)
    if cap is None:
        return "not_found_error", f"model: {model}"
    if max_tokens > cap:
        message = (
            f"max_tokens: {max_tokens} > {cap}, which is the maximum allowed number of output "
            f"tokens for {dated}"
        )
        return "invalid_request_error", message
    return None


def openai_model_known(model: str) -> bool:
    """True for a model the Batch API serves (a fine-tune `ft:<base>:...` of one included)."""
    if model.startswith("ft:"):
        model = model.split(":")[1]
    return model in OPENAI_MODELS


def openai_unknown_field(endpoint: str, body: Any) -> dict[str, Any] | None:
    """The 400 body for the first body field `endpoint` does not know (F.4), or None.

    Chat Completions and the older endpoints: "Unrecognized request argument supplied: X"
    (param and code null); Responses: "Unknown parameter: 'X'." (code unknown_parameter).
    """
    known = OPENAI_BODY_FIELDS.get(endpoint)
    if known is None or not isinstance(body, dict):
        return None
    unknown = body.keys() - known  # a set difference in C; the first unknown key in order
    if not unknown:
        return None
    name = next(key for key in body if key in unknown)
    if endpoint == "/v1/responses":
        message = f"Unknown parameter: '{name}'."
        return openai_error(message, "invalid_request_error", name, "unknown_parameter")
    return openai_error(f"Unrecognized request argument supplied: {name}", "invalid_request_error")
