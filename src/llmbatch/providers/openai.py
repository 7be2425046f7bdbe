"""OpenAI Files + Batches over HTTP: one method per endpoint, answers as the API gives them.

Dicts are returned as decoded, unknown keys included; nothing is modelled here (the job reads
the keys it needs). Works against any OpenAI-compatible ``base_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

from .._exceptions import APIStatusError, NotFoundError
from .._http import build_status_error
from ._client import ProviderClient
from ._config import OpenAI

__all__ = ["OpenAIClient", "parse_openai_error"]

Recover = Callable[[], "dict[str, Any] | None"]


def parse_openai_error(status: int, headers: httpx.Headers, body: bytes) -> APIStatusError:
    """Build the typed error from ``{"error": {"message", "type", "param", "code"}}``.

    A body that is not that envelope (a proxy's HTML page, say) gives its first 500 characters
    as the message. ``error_type`` is the envelope's ``type``, else its ``code``.
    """
    decoded: Any = None
    try:
        decoded = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        decoded = None
    inner = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(inner, dict):
        message = str(inner.get("message") or f"HTTP {status}")
        error_type = inner.get("type") or inner.get("code")
    elif isinstance(inner, str):
        message, error_type = inner, None
    else:
        text = body.decode("utf-8", "replace").strip()[:500]
        message, error_type = text or _reason(status), None
    return build_status_error(
        status,
        message,
        error_type=str(error_type) if error_type else None,
        request_id=headers.get("x-request-id"),
        body=decoded if decoded is not None else body.decode("utf-8", "replace")[:500] or None,
    )


def _reason(status: int) -> str:
    phrase = httpx.codes.get_reason_phrase(status)
    return f"HTTP {status} {phrase}".strip()


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class OpenAIClient(ProviderClient):
    """The OpenAI Files and Batches endpoints.

    Args:
        config: an :class:`llmbatch.OpenAI` (the key is resolved now).
        transport: an httpx transport instead of the network (tests, the emulator).

    Example:
        >>> with llmbatch.OpenAI().client() as client:  # doctest: +SKIP
        ...     f = client.upload_file(Path("requests/0000.jsonl"))
        ...     batch = client.create_batch(f["id"], "/v1/chat/completions")
    """

    def __init__(self, config: OpenAI, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(config, error_parser=parse_openai_error, transport=transport)

    def __enter__(self) -> OpenAIClient:
        return self

    # -- files ---------------------------------------------------------------------------------

    def upload_file(
        self,
        path: Path,
        *,
        filename: str | None = None,
        purpose: str = "batch",
        expires_after_seconds: int | None = None,
        recover: Recover | None = None,
    ) -> dict[str, Any]:
        """``POST /files`` (multipart), streamed from ``path`` and rewound on each retry.

        A retried upload whose answer was lost can leave an orphan copy; pass ``recover`` (e.g.
        a lookup by filename) to make the upload non-idempotent and find it instead.
        """
        path = Path(path)
        data: dict[str, str] = {"purpose": purpose}
        if expires_after_seconds is not None:
            data["expires_after[anchor]"] = "created_at"
            data["expires_after[seconds]"] = str(int(expires_after_seconds))
        with path.open("rb") as fh:
            files = {"file": (filename or path.name, fh, "application/jsonl")}
            return self._http.request(
                "POST",
                "/files",
                files=files,
                data=data,
                idempotent=recover is None,
                recover=recover,
            )

    def retrieve_file(self, file_id: str) -> dict[str, Any]:
        """``GET /files/{id}``."""
        return self._http.request("GET", f"/files/{file_id}")

    def list_files(
        self,
        *,
        purpose: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """``GET /files``: one page, ``{"data", "has_more", "last_id", ...}``."""
        params = _params(purpose=purpose, limit=limit, after=after, order=order)
        return self._http.request("GET", "/files", params=params)

    def iter_files(
        self, purpose: str | None = None, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every file, page after page (``after=last_id`` while ``has_more``)."""
        return _pages(lambda after: self.list_files(purpose=purpose, limit=limit, after=after))

    def file_content(self, file_id: str) -> bytes:
        """``GET /files/{id}/content`` into memory (use :meth:`download_file` for big files)."""
        headers = {"accept": "application/binary"}
        return self._http.request("GET", f"/files/{file_id}/content", headers=headers, raw=True)

    def download_file(self, file_id: str, dest: Path) -> int:
        """Stream ``GET /files/{id}/content`` to ``dest`` atomically; returns bytes written."""
        headers = {"accept": "application/binary"}
        return self._http.download(f"/files/{file_id}/content", Path(dest), headers=headers)

    def delete_file(self, file_id: str, *, missing_ok: bool = True) -> dict[str, Any]:
        """``DELETE /files/{id}``.

        A 404 means the file is already gone (a retried delete whose first answer was lost gets
        one, as does a file the provider expired); with ``missing_ok`` (default) that is
        success and ``{"id", "object": "file", "deleted": True}`` is returned, so cleanup can be
        re-run. Pass ``missing_ok=False`` to get :class:`NotFoundError` instead.
        """
        try:
            return self._http.request("DELETE", f"/files/{file_id}")
        except NotFoundError:
            if not missing_ok:
                raise
            return {"id": file_id, "object": "file", "deleted": True}

    # -- batches -------------------------------------------------------------------------------

    def create_batch(
        self,
        input_file_id: str,
        endpoint: str,
        *,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        recover: Recover | None = None,
    ) -> dict[str, Any]:
        """``POST /batches``. Not idempotent: a re-send could start (and bill) a second batch.

        After an ambiguous failure (connection lost after sending, read timeout, 5xx) the
        request is only sent again if ``recover()`` (e.g. a lookup by a unique ``metadata``
        tag, see :meth:`find_batch_by_metadata`) returns ``None``; its non-``None`` answer is
        returned instead. Without ``recover`` such a failure is raised at once.
        """
        body: dict[str, Any] = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": completion_window,
        }
        if metadata is not None:
            body["metadata"] = dict(metadata)
        return self._http.request("POST", "/batches", json=body, idempotent=False, recover=recover)

    def retrieve_batch(self, batch_id: str) -> dict[str, Any]:
        """``GET /batches/{id}``."""
        return self._http.request("GET", f"/batches/{batch_id}")

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """``POST /batches/{id}/cancel`` (asking twice is harmless, so it is retried)."""
        return self._http.request("POST", f"/batches/{batch_id}/cancel")

    def list_batches(self, *, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``GET /batches``: one page, newest first."""
        return self._http.request("GET", "/batches", params=_params(after=after, limit=limit))

    def iter_batches(self, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch, newest first, ``limit`` per page."""
        return _pages(lambda after: self.list_batches(after=after, limit=limit))

    def find_batch_by_metadata(
        self, key: str, value: str, *, max_pages: int | None = None
    ) -> dict[str, Any] | None:
        """The newest batch whose ``metadata[key] == value``, or ``None``.

        This is how a batch whose create answer was lost is found. ``max_pages`` bounds the
        search (100 batches a page); ``None`` searches every page.
        """
        pages = 0
        after: str | None = None
        while max_pages is None or pages < max_pages:
            page = self.list_batches(after=after, limit=100)
            pages += 1
            for batch in page.get("data") or []:
                if (batch.get("metadata") or {}).get(key) == value:
                    return batch
            after = _next_cursor(page)
            if after is None:
                return None
        return None


def _next_cursor(page: Mapping[str, Any], key: str = "id") -> str | None:
    """The ``after`` cursor for the next page, or None when this was the last page."""
    data = page.get("data") or []
    if not page.get("has_more") or not data:
        return None
    return page.get("last_id") or data[-1].get(key)


def _pages(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    after: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(after)
        yield from page.get("data") or []
        after = _next_cursor(page)
        if after is None or after in seen:  # a server repeating a cursor must not loop us
            return
        seen.add(after)
