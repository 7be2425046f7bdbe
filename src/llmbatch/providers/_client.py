"""What both provider clients share: the HTTP client, error envelopes, pages, deletes.

A provider client adds only what differs: its paths, its request bodies, and the spelling of
its error envelope and page cursor (given as data: `ErrorFormat`, the cursor parameter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from llmbatch._exceptions import APIStatusError, NotFoundError
from llmbatch._http import HTTPClient, build_status_error
from llmbatch._retry import RetryStats

__all__ = ["ErrorFormat", "ProviderClient", "next_cursor", "pages", "params"]

C = TypeVar("C", bound="ProviderClient")
Page = dict[str, Any]


@dataclass(frozen=True)
class ErrorFormat:
    """How a provider spells an error body ``{"error": {"message", "type", ...}}``.

    A body that is not that envelope (a proxy's HTML page, say) gives its first 500
    characters as the message.
    """

    type_keys: tuple[str, ...]  # the envelope keys naming the error type, first found wins
    request_id_header: str
    string_error: bool = False  # ``{"error": "text"}`` is a message (OpenAI-compatible servers)
    body_request_id: bool = False  # the body's ``request_id`` stands in for a missing header

    def parse(self, status: int, headers: httpx.Headers, body: bytes) -> APIStatusError:
        """The typed error of one HTTP error answer."""
        decoded = _decode(body)
        message, error_type = self._message(status, decoded, body)
        request_id = headers.get(self.request_id_header)
        if request_id is None and self.body_request_id and isinstance(decoded, dict):
            request_id = decoded.get("request_id")
        return build_status_error(
            status,
            message,
            error_type=str(error_type) if error_type else None,
            request_id=request_id,
            body=decoded if decoded is not None else body.decode("utf-8", "replace")[:500] or None,
        )

    def _message(self, status: int, decoded: Any, body: bytes) -> tuple[str, Any]:
        inner = decoded.get("error") if isinstance(decoded, dict) else None
        if isinstance(inner, dict):
            types = (inner.get(key) for key in self.type_keys)
            return str(inner.get("message") or f"HTTP {status}"), next(filter(None, types), None)
        if isinstance(inner, str) and self.string_error:
            return inner, None
        text = body.decode("utf-8", "replace").strip()[:500]
        phrase = httpx.codes.get_reason_phrase(status)
        return text or f"HTTP {status} {phrase}".strip(), None


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return None


def params(**values: Any) -> dict[str, Any]:
    """Query parameters: the ones given (not None)."""
    return {k: v for k, v in values.items() if v is not None}


def next_cursor(page: Mapping[str, Any], key: str = "id") -> str | None:
    """The ``after`` cursor for the next page, or None when this was the last page."""
    data = page.get("data") or []
    if not page.get("has_more") or not data:
        return None
    return page.get("last_id") or data[-1].get(key)


def pages(fetch: Callable[[str | None], Page]) -> Iterator[dict[str, Any]]:
    """Every item of a cursor-paged list: ``fetch(after)`` page after page while ``has_more``."""
    after: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(after)
        yield from page.get("data") or []
        after = next_cursor(page)
        if after is None or after in seen:  # a server repeating a cursor must not loop us
            return
        seen.add(after)


class ProviderClient:
    """Base of `OpenAIClient` and `AnthropicClient`: the HTTP client, counters, closing."""

    def __init__(
        self,
        config: Any,
        *,
        error_parser: Callable[[int, httpx.Headers, bytes], APIStatusError],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._http = HTTPClient(
            base_url=config.base_url,
            headers=config.headers(),
            params=config.query(),
            retry=config.retry,
            timeout=config.timeout,
            error_parser=error_parser,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> RetryStats:
        """Requests, retries by reason, recoveries (see :class:`llmbatch._retry.RetryStats`)."""
        return self._http.stats

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def post(self, path: str, body: bytes) -> Any:
        """POST a serialised JSON body (a realtime call, sync mode); retried like any request.

        Like the official SDKs, a realtime call is retried after an ambiguous failure too (a
        dropped connection, a 5xx): it creates nothing that lasts, at worst one answer is
        paid twice. Thread-safe: sync mode sends from several threads on one client.
        """
        headers = {"content-type": "application/json"}
        return self._http.request("POST", path, content=body, headers=headers)

    def _delete(self, path: str, gone: dict[str, Any], *, missing_ok: bool) -> dict[str, Any]:
        """``DELETE path``; a 404 (already gone) answers ``gone`` when ``missing_ok``.

        A retried delete whose first answer was lost gets a 404, as does an object the
        provider expired: with ``missing_ok`` that is success, so cleanup can be re-run.
        """
        try:
            return self._http.request("DELETE", path)
        except NotFoundError:
            if not missing_ok:
                raise
            return gone
