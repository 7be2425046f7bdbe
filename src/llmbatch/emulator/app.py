"""The ASGI application: route table, auth, fault injection, request-id headers, drops.

Order of work for an API call: match the route and count the call, pick a fault, then either
fail as the fault says or check auth and run the handler. Damage faults ("html", "truncate",
...) spoil the handler's answer afterwards (damage.py). Control-plane calls skip all of it.

A dropped connection is real: the app raises `ConnectionDropped` after making uvicorn's h11
protocol start (or half-send) a response, and uvicorn then closes the TCP connection, so the
client gets a transport error (httpx `RemoteProtocolError`), not an HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llmbatch.emulator import anthropic_routes, control, ids, openai_routes, realtime_routes
from llmbatch.emulator.backend import Backend
from llmbatch.emulator.catalog import ANTHROPIC_VERSIONS
from llmbatch.emulator.config import DAMAGE_KINDS, FaultRule
from llmbatch.emulator.damage import damage
from llmbatch.emulator.errors import ApiError
from llmbatch.emulator.faults import fault_reply, ratelimit_headers
from llmbatch.emulator.wire import Call, Route, error_response, json_response

ANTHROPIC_PREFIX = "/v1/messages"
CONTROL_PREFIX = "/_emulator"


class ConnectionDropped(Exception):
    """Raised inside the app to make the server close the connection (drop faults)."""


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging an intended drop as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def quiet_drops() -> None:
    """Install the filter that hides intended drops from uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


class _Table:
    """A route table: (method, compiled template) -> route."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.rows = [(route, _compile(route.template)) for route in routes]

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route, pattern in self.rows:
            found = pattern.fullmatch(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None, {}


def _compile(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


class EmulatorApp:
    """The ASGI callable serving both providers and the control plane."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        routes = [*openai_routes.ROUTES, *anthropic_routes.ROUTES, *realtime_routes.ROUTES]
        self.api = _Table(routes)
        self.control = _Table(control.ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        method, path = request.method, request.url.path
        if path.startswith(CONTROL_PREFIX):
            response = await self._control(request, method, path)
            await response(scope, receive, send)
            return
        await self._api(request, method, path, send)

    async def _control(self, request: Request, method: str, path: str) -> Response:
        route, params = self.control.match(method, path)
        if route is None:
            return json_response({"error": f"no control endpoint {method} {path}"}, 404)
        call = Call(self.backend, request, params, "control", ids.request_id_hex())
        try:
            return await route.handler(call)
        except ApiError as exc:
            return json_response({"error": exc.message}, exc.status)

    async def _api(self, request: Request, method: str, path: str, send: Send) -> None:
        route, params = self.api.match(method, path)
        provider = "anthropic" if path.startswith(ANTHROPIC_PREFIX) else "openai"
        key = route.key if route is not None else f"{method} {path}"
        entry = self.backend.record_call(
            key, method, path, headers=dict(request.headers), query=dict(request.query_params)
        )
        with self.backend.lock:
            rule = self.backend.faults.pick(method, path)
        entry["fault"] = rule.kind if rule is not None else None
        if rule is not None and rule.kind == "drop":
            await _drop_before_answer(send)
        if rule is not None and rule.kind == "slow":
            await asyncio.sleep(rule.delay)
        request_id = _request_id(provider)
        call = Call(self.backend, request, params, provider, request_id, entry)
        response = await self._answer(call, route, rule)
        if rule is not None and rule.kind in DAMAGE_KINDS:
            response = await damage(response, rule.kind)  # state has changed; the answer is bad
        _stamp(response, provider, request_id)
        entry["status"] = response.status_code
        if rule is not None and rule.kind == "slow_after":
            await asyncio.sleep(rule.delay)  # state has changed; the answer is late
        if rule is not None and rule.kind == "drop_after":
            await _drop_mid_answer(response, send)
        await response(request.scope, request.receive, send)

    async def _answer(self, call: Call, route: Route | None, rule: FaultRule | None) -> Response:
        if rule is not None and rule.kind.isdigit():
            status, headers, body = fault_reply(rule, call.provider)
            if call.provider == "anthropic":
                body["request_id"] = call.request_id
            return json_response(body, status, headers)
        try:
            if route is None:
                raise _not_found(call)
            _check_auth(call)
            return await route.handler(call)
        except ApiError as exc:
            return error_response(exc, call.provider, call.request_id)


def _request_id(provider: str) -> str:
    if provider == "anthropic":
        return ids.anthropic_request_id()
    return "req_" + ids.request_id_hex()


def _stamp(response: Response, provider: str, request_id: str) -> None:
    """The request id, and rate-limit headers unless the answer has its own (a 429's)."""
    if provider == "anthropic":
        response.headers["request-id"] = request_id
    else:
        response.headers["x-request-id"] = request_id
        response.headers["openai-version"] = "2020-10-01"
        response.headers["openai-processing-ms"] = "1"
    for name, value in ratelimit_headers(provider, 1.0, exhausted=False).items():
        response.headers.setdefault(name, value)


def _not_found(call: Call) -> ApiError:
    method, path = call.request.method, call.request.url.path
    if call.provider == "anthropic":
        return ApiError(404, f"Not found: {method} {path}", type="not_found_error")
    return ApiError(404, f"Invalid URL ({method} {path})")


def _check_auth(call: Call) -> None:
    """401 without a key (or with the wrong one); Anthropic also needs a known
    anthropic-version. Anthropic takes `x-api-key` or `Authorization: Bearer` (F.12); an
    `anthropic-workspace-id` header is accepted and ignored."""
    headers = call.request.headers
    wanted = call.backend.config.api_key
    bearer = _bearer(headers.get("authorization"))
    if call.provider == "openai":
        if bearer is None:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            raise ApiError(401, message, code="invalid_api_key")
        if wanted is not None and bearer != wanted:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        return
    key = headers.get("x-api-key") or bearer
    if not key:
        raise ApiError(401, "x-api-key header is required", type="authentication_error")
    if wanted is not None and key != wanted:
        raise ApiError(401, "invalid x-api-key", type="authentication_error")
    version = headers.get("anthropic-version")
    if not version:
        raise ApiError(400, "anthropic-version: header is required")
    if version not in ANTHROPIC_VERSIONS:
        # [EMULATOR CHOICE] the wording; an unknown version is refused (F.12)
        known = ", ".join(sorted(ANTHROPIC_VERSIONS))
        raise ApiError(400, f"anthropic-version: {version!r} is not a valid version ({known})")


def _bearer(value: str | None) -> str | None:
    if not value or not value.lower().startswith("bearer "):
        return None
    token = value[7:].strip()
    return token or None


async def _drop_before_answer(send: Send) -> None:
    """Close the connection before any byte of an answer is sent.

    An illegal header value makes h11 refuse the response start after uvicorn has marked the
    response as started, so uvicorn closes the transport instead of sending a 500.
    """
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x-drop", b"\n")]}
    with contextlib.suppress(Exception):  # the protocol refuses the header, as intended
        await send(start)
    raise ConnectionDropped("fault: drop")


async def _drop_mid_answer(response: Response, send: Send) -> None:
    """Send the status line, headers and half of the body, then close the connection."""
    headers: list[Any] = list(response.raw_headers)
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    body = getattr(response, "body", b"") or b""
    await send(
        {"type": "http.response.body", "body": bytes(body[: len(body) // 2]), "more_body": True}
    )
    raise ConnectionDropped("fault: drop_after")
