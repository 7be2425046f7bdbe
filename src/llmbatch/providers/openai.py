"""OpenAI: its settings (``llmbatch.OpenAI``) and its Files + Batches endpoints over HTTP.

The client has one method per endpoint and gives answers as the API gives them.

Dicts are returned as decoded, unknown keys included; nothing is modelled here (the job reads
the keys it needs). Works against any OpenAI-compatible ``base_url``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from .._exceptions import APIStatusError
from .._retry import RetryPolicy
from ._client import ErrorFormat, ProviderClient, next_cursor, pages, params
from ._config import ProviderConfig

__all__ = ["OpenAI", "OpenAIClient", "parse_openai_error"]

Recover = Callable[[], "dict[str, Any] | None"]
_ERRORS = ErrorFormat(
    type_keys=("type", "code"), request_id_header="x-request-id", string_error=True
)


class OpenAI(ProviderConfig):
    """OpenAI, or any server speaking its Files + Batches API.

    Args:
        api_key: defaults to ``OPENAI_API_KEY``; sent as ``Authorization: Bearer``.
        base_url: defaults to ``OPENAI_BASE_URL``, then ``https://api.openai.com/v1``.
        organization: ``OpenAI-Organization`` header; defaults to ``OPENAI_ORG_ID``.
        project: ``OpenAI-Project`` header; defaults to ``OPENAI_PROJECT_ID``.
        retry: the retry policy (default :class:`llmbatch.RetryPolicy()`: 6 retries).
        timeout: seconds per HTTP attempt (connect: 10 s), or an ``httpx.Timeout``.
        max_retries: as in the ``openai`` SDK: ``RetryPolicy(max_retries=...)``.
        default_headers: sent on every request, after ours (they win, as in the SDK; an
            ``Authorization`` or ``api-key`` one replaces the key). Only their names are
            written to a job folder.
        default_query: added to every request's query string (e.g. ``api-version``). Only
            their names are written to a job folder. Their values are part of each URL, which
            httpx logs at INFO: keep credentials in headers.
        cleanup: the default of ``collect(cleanup=)`` and ``wait(cleanup=)``: ``True``
            deletes the provider's copies (input and output files) once a job's results are
            checked on disk. Recorded in the job folder.

    Example:
        >>> llmbatch.OpenAI(base_url="http://127.0.0.1:8000/v1")  # doctest: +SKIP
        OpenAI(base_url='http://127.0.0.1:8000/v1', api_key=<missing>)
    """

    name: ClassVar[str] = "openai"
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.openai.com/v1"
    KEY_ENV: ClassVar[str] = "OPENAI_API_KEY"
    BASE_URL_ENV: ClassVar[str] = "OPENAI_BASE_URL"
    AUTH_HEADERS: ClassVar[tuple[str, ...]] = ("authorization", "api-key")
    _TITLE: ClassVar[str] = "OpenAI"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 600.0,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        cleanup: bool = False,
    ) -> None:
        self._setup(
            api_key,
            base_url,
            retry=retry,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            cleanup=cleanup,
        )
        self.organization = organization or os.environ.get("OPENAI_ORG_ID") or None
        self.project = project or os.environ.get("OPENAI_PROJECT_ID") or None

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> OpenAI:
        """The config a job folder recorded (:meth:`to_manifest`); the key comes from the env.

        Header and query values are not recorded: a job made with them needs its provider
        passed again before it can send a request.
        """
        config = cls(
            base_url=d.get("base_url"),
            organization=d.get("organization"),
            project=d.get("project"),
            cleanup=d.get("cleanup") is True,
        )
        config._expect(d)
        return config

    def __repr__(self) -> str:
        shown = self._shown_options()
        return f"OpenAI(base_url={self.base_url!r}, api_key={self._key_source()}{shown})"

    def _auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.resolve_api_key()}"}

    def _own_headers(self) -> dict[str, str]:
        headers = {}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def client(self, *, transport: httpx.BaseTransport | None = None) -> OpenAIClient:
        """A connected :class:`OpenAIClient` (close it, or use it as a context manager)."""
        return OpenAIClient(self, transport=transport)

    def to_manifest(self) -> dict[str, Any]:
        """``{"name", "base_url", "organization", "project"}`` (and header and query names):
        never the key, never a header or query value."""
        return {**super().to_manifest(), "organization": self.organization, "project": self.project}


def parse_openai_error(status: int, headers: httpx.Headers, body: bytes) -> APIStatusError:
    """Build the typed error from ``{"error": {"message", "type", "param", "code"}}``.

    A body that is not that envelope (a proxy's HTML page, say) gives its first 500 characters
    as the message. ``error_type`` is the envelope's ``type``, else its ``code``.
    """
    return _ERRORS.parse(status, headers, body)


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
        query = params(purpose=purpose, limit=limit, after=after, order=order)
        return self._http.request("GET", "/files", params=query)

    def iter_files(
        self, purpose: str | None = None, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every file, page after page (``after=last_id`` while ``has_more``)."""
        return pages(lambda after: self.list_files(purpose=purpose, limit=limit, after=after))

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

        A 404 means the file is already gone; with ``missing_ok`` (default) that is success and
        ``{"id", "object": "file", "deleted": True}`` is returned, so cleanup can be re-run.
        Pass ``missing_ok=False`` to get :class:`NotFoundError` instead.
        """
        gone = {"id": file_id, "object": "file", "deleted": True}
        return self._delete(f"/files/{file_id}", gone, missing_ok=missing_ok)

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
        return self._http.request("GET", "/batches", params=params(after=after, limit=limit))

    def iter_batches(self, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch, newest first, ``limit`` per page."""
        return pages(lambda after: self.list_batches(after=after, limit=limit))

    def find_batch_by_metadata(
        self, key: str, value: str, *, max_pages: int | None = None
    ) -> dict[str, Any] | None:
        """The newest batch whose ``metadata[key] == value``, or ``None``.

        This is how a batch whose create answer was lost is found. ``max_pages`` bounds the
        search (100 batches a page); ``None`` searches every page.
        """
        asked = 0
        after: str | None = None
        while max_pages is None or asked < max_pages:
            page = self.list_batches(after=after, limit=100)
            asked += 1
            for batch in page.get("data") or []:
                if (batch.get("metadata") or {}).get(key) == value:
                    return batch
            after = next_cursor(page)
            if after is None:
                return None
        return None
