"""The realtime endpoints: one request body in, the fake model's answer out.

They take the very bodies a batch line carries (`body` of an OpenAI line, `params` of an
Anthropic request) and answer what the batch path would have put in the result line, with the
emulator clock's `created` and fresh ids. Order of work, after the app's auth and faults: read
the body and log its texts (realtime_texts.py), the `realtime_rpm` window (429), the batch
path's checks as HTTP errors (realtime_checks.py), the `request_error_rate` draw, the model.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from llmbatch.emulator import fake_model, faults
from llmbatch.emulator.clock import unix
from llmbatch.emulator.errors import ApiError
from llmbatch.emulator.realtime_checks import anthropic_refusal, openai_refusal
from llmbatch.emulator.realtime_texts import request_texts
from llmbatch.emulator.wire import Call, Route, error_response, json_response, read_json


async def openai_call(call: Call) -> Response:
    """POST /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/completions,
    /v1/moderations: the fake model's answer to the body."""
    endpoint = call.request.url.path
    body = await read_json(call.request, "openai")
    call.entry["texts"] = request_texts(endpoint, body)
    refused = _before_model(call, openai_refusal(endpoint, body))
    if refused is not None:
        return refused
    created = unix(call.backend.clock.now())
    status, answer = fake_model.openai_answer(endpoint, body, created=created, salt=call.request_id)
    return json_response(answer, status)


async def anthropic_message(call: Call) -> Response:
    """POST /v1/messages: the fake Message (413 above `anthropic_max_bytes`)."""
    params = await read_json(call.request, "anthropic", call.backend.config.anthropic_max_bytes)
    call.entry["texts"] = request_texts("/v1/messages", params)
    refused = _before_model(call, anthropic_refusal(params))
    if refused is not None:
        return refused
    kind, payload = fake_model.anthropic_answer(params, salt=call.request_id)
    if kind == "errored":
        return _reply(call, 400, {}, payload)
    return json_response(payload)


def _before_model(call: Call, problem: ApiError | None) -> Response | None:
    """The answer a call gets instead of the model's, in order: the rate limit's 429, the
    checks' `problem`, an injected error; None when the model answers."""
    limited = _rate_limited(call)
    if limited is not None:
        return limited
    if problem is not None:
        return error_response(problem, call.provider, call.request_id)
    return _injected(call)


def _rate_limited(call: Call) -> Response | None:
    """The 429 for a call beyond `realtime_rpm` in the last 60 s of emulator time, or None."""
    backend = call.backend
    with backend.lock:
        rpm = backend.config.realtime_rpm
        wait = backend.realtime.admit(call.provider, backend.clock.now(), rpm)
    if wait is None:
        return None
    status, headers, body = faults.rate_limit_reply(call.provider, round(wait, 3), rpm)
    return _reply(call, status, headers, body)


def _injected(call: Call) -> Response | None:
    """The injected error (`request_error_rate`, `request_error_type`) when this call draws
    one, or None. The draw is seeded by the call's number among the provider's valid realtime
    calls, so a retried request gets a fresh draw."""
    backend = call.backend
    with backend.lock:
        cfg = backend.config
        number = backend.realtime.next_call(call.provider)
    salt = f"realtime-{call.provider}"
    if not faults.request_fails(cfg.seed, number, salt, cfg.request_error_rate):
        return None
    status, headers, body = faults.realtime_error_reply(call.provider, cfg.request_error_type)
    return _reply(call, status, headers, body)


def _reply(call: Call, status: int, headers: dict[str, str], body: dict[str, Any]) -> Response:
    if call.provider == "anthropic":
        body["request_id"] = call.request_id
    return json_response(body, status, headers)


ROUTES = (
    *(Route("POST", url, openai_call) for url in fake_model.OPENAI_URLS),
    Route("POST", "/v1/messages", anthropic_message),
)
