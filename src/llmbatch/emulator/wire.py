"""What every handler shares: the `Call` it receives and the helpers that build its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from llmbatch.emulator.errors import ApiError
from llmbatch.emulator.gc_pause import paused_gc

if TYPE_CHECKING:
    from llmbatch.emulator.backend import Backend


@dataclass
class Call:
    """One API call as a handler sees it."""

    backend: Backend
    request: Request
    params: dict[str, str]
    provider: str
    request_id: str
    entry: dict[str, Any] = field(default_factory=dict)  # the call's request-log entry

    @property
    def base_url(self) -> str:
        """The emulator's base URL as the client reached it (for Anthropic `results_url`)."""
        return str(self.request.base_url).rstrip("/")

    def query(self, name: str) -> str | None:
        """A query-string parameter, or None."""
        return self.request.query_params.get(name)


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """One row of a route table: method, path template (`{name}` segments) and handler."""

    method: str
    template: str
    handler: Handler

    @property
    def key(self) -> str:
        """The name calls are counted under, e.g. "GET /v1/batches/{batch_id}"."""
        return f"{self.method} {self.template}"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer serialized with orjson."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_response(error: ApiError, provider: str, request_id: str) -> Response:
    """The provider's error envelope for `error`."""
    body = error.body(provider)
    if provider == "anthropic":
        body["request_id"] = request_id
    return json_response(body, error.status, error.headers)


async def read_json(request: Request, provider: str, max_bytes: int | None = None) -> Any:
    """The request's JSON body; 400 when it is not JSON, 413 when it exceeds `max_bytes`.

    The body is read to the end even when too large, so that the client (which may still be
    sending) receives the 413 instead of a broken pipe.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if max_bytes is None or size <= max_bytes:
            chunks.append(chunk)
    if max_bytes is not None and size > max_bytes:
        message = f"Request exceeds the maximum allowed size of {max_bytes:,} bytes."
        raise ApiError(413, message, type="request_too_large")
    try:
        with paused_gc():  # a batch's requests: no cycles, and collections would walk them
            return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        if provider == "anthropic":
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
        message = (
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        )
        raise ApiError(400, message) from exc
