"""Anthropic: its settings (``llmbatch.Anthropic``) and its Message Batches endpoints over HTTP.

The client has one method per endpoint and gives answers as the API gives them.

A create body can be streamed from a JSONL file of ``{"custom_id", "params"}`` lines, so a
256 MB batch is never held in memory and can still be re-sent on a retry. Retrieve and results
wait out the brief 404 the API can give right after a create or an end (``NOT_FOUND_WAITS``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx

from .._exceptions import (
    APIStatusError,
    ConfigError,
    InputError,
    JobNotReady,
    NotFoundError,
    ProviderError,
)
from .._retry import RetryPolicy, sleep
from ._client import ErrorFormat, ProviderClient, pages, params
from ._config import ProviderConfig

__all__ = ["Anthropic", "AnthropicClient", "parse_anthropic_error", "stream_requests_body"]

BATCHES = "/v1/messages/batches"
# retrieve and results can answer 404 for a few seconds right after the create and after the
# end (reference F.11): seconds waited before each new ask, 10 s in all, then the 404 stands
NOT_FOUND_WAITS = (1.0, 2.0, 3.0, 4.0)
T = TypeVar("T")
log = logging.getLogger("llmbatch")
_HEAD, _SEP, _TAIL = b'{"requests":[', b",", b"]}"
_CHUNK = 1 << 20
_ERRORS = ErrorFormat(type_keys=("type",), request_id_header="request-id", body_request_id=True)


class Anthropic(ProviderConfig):
    """Anthropic's Message Batches API.

    Args:
        api_key: defaults to ``ANTHROPIC_API_KEY``; sent as ``x-api-key``.
        base_url: defaults to ``ANTHROPIC_BASE_URL``, then ``https://api.anthropic.com``
            (no ``/v1``: the paths carry it, as in the official SDK).
        auth_token: a bearer token instead of a key, sent as ``Authorization: Bearer``;
            defaults to ``ANTHROPIC_AUTH_TOKEN``. As in the SDK, pass at most one of
            ``api_key`` and ``auth_token``; a credential passed in leaves both environment
            variables unread, and with both variables set the key is used (and a warning
            logged).
        retry: the retry policy (default :class:`llmbatch.RetryPolicy()`: 6 retries).
        timeout: seconds per HTTP attempt (connect: 10 s), or an ``httpx.Timeout``.
        max_retries: as in the ``anthropic`` SDK: ``RetryPolicy(max_retries=...)``.
        default_headers: sent on every request, after ours (they win, as in the SDK; an
            ``x-api-key`` or ``Authorization`` one replaces the credential). Headers in
            ``ANTHROPIC_CUSTOM_HEADERS`` (``Name: value`` lines, as the SDK reads them) come
            first. Only their names are written to a job folder.
        default_query: added to every request's query string. Only their names are written
            to a job folder. Their values are part of each URL, which httpx logs at INFO:
            keep credentials in headers.
        cleanup: the default of ``collect(cleanup=)`` and ``wait(cleanup=)``: ``True``
            deletes the provider's copies (ended batches) once a job's results are
            checked on disk. Recorded in the job folder.

    Example:
        >>> llmbatch.Anthropic(api_key="sk-ant-...")  # doctest: +SKIP
        Anthropic(base_url='https://api.anthropic.com', api_key=<set>)
    """

    name: ClassVar[str] = "anthropic"
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.anthropic.com"
    KEY_ENV: ClassVar[str] = "ANTHROPIC_API_KEY"
    TOKEN_ENV: ClassVar[str] = "ANTHROPIC_AUTH_TOKEN"
    HEADERS_ENV: ClassVar[str] = "ANTHROPIC_CUSTOM_HEADERS"
    BASE_URL_ENV: ClassVar[str] = "ANTHROPIC_BASE_URL"
    AUTH_HEADERS: ClassVar[tuple[str, ...]] = ("x-api-key", "authorization")
    _TITLE: ClassVar[str] = "Anthropic"
    _KEY_ALSO: ClassVar[str] = " (nor is ANTHROPIC_AUTH_TOKEN, and no auth_token= was passed)"
    # The anthropic-version this client was built and tested for, sent on every request. Pinned
    # on purpose: a newer version changes what the API accepts (2026-10-21 refuses temperature,
    # top_p and top_k on newer models); move it only together with the request bodies.
    API_VERSION: ClassVar[str] = "2023-06-01"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        auth_token: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 600.0,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        cleanup: bool = False,
    ) -> None:
        if api_key is not None and auth_token is not None:
            msg = "pass at most one of api_key= and auth_token=, as in the anthropic SDK"
            raise ConfigError(msg + "\nHint: auth_token= is a bearer token used instead of a key.")
        self._setup(
            api_key,
            base_url,
            retry=retry,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=_with_env_headers(default_headers),
            default_query=default_query,
            cleanup=cleanup,
        )
        self._auth_token = self._secret("auth_token", auth_token)

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> Anthropic:
        """The config a job folder recorded (:meth:`to_manifest`); the key comes from the env.

        Header and query values are not recorded: a job made with them needs its provider
        passed again (or, for headers, ``ANTHROPIC_CUSTOM_HEADERS``) before it can send.
        """
        config = cls(base_url=d.get("base_url"), cleanup=d.get("cleanup") is True)
        config._expect(d)
        return config

    def __repr__(self) -> str:
        shown = self._shown_options()
        return f"Anthropic(base_url={self.base_url!r}, {self._credential_source()}{shown})"

    def _credential_source(self) -> str:
        if self._auth_token is not None:
            return "auth_token=<set>"
        token = os.environ.get(self.TOKEN_ENV, "").strip()
        if self._key_source() == "<missing>" and token:
            return f"auth_token=<from {self.TOKEN_ENV}>"
        return f"api_key={self._key_source()}"

    def _credential(self) -> tuple[str, str]:
        """The SDK's order: an argument, then ``ANTHROPIC_API_KEY``, then the token's env."""
        if self._auth_token is not None:
            return "token", self._auth_token.get()
        token = os.environ.get(self.TOKEN_ENV, "").strip()
        if self._api_key is None and token:
            if not os.environ.get(self.KEY_ENV, "").strip():
                return "token", token
            _warn_key_shadows_token()
        return super()._credential()

    def _auth_header(self) -> dict[str, str]:
        kind, value = self._credential()
        spelt = {"key": "x-api-key", "token": "Authorization", "header": ""}[kind]
        if not spelt:
            return {}  # a default header carries the credential
        return {spelt: f"Bearer {value}" if kind == "token" else value}

    def _own_headers(self) -> dict[str, str]:
        return {"anthropic-version": self.API_VERSION, "content-type": "application/json"}

    def client(self, *, transport: httpx.BaseTransport | None = None) -> AnthropicClient:
        """A connected :class:`AnthropicClient` (close it, or use it as a context manager)."""
        return AnthropicClient(self, transport=transport)


def custom_headers_env() -> dict[str, str]:
    """The headers in ``ANTHROPIC_CUSTOM_HEADERS``: ``Name: value`` lines, as the SDK reads it."""
    parsed: dict[str, str] = {}
    for line in os.environ.get(Anthropic.HEADERS_ENV, "").split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            parsed[name.strip()] = value.strip()
    return parsed


def _with_env_headers(given: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """``ANTHROPIC_CUSTOM_HEADERS`` under the headers given (which win, names without case)."""
    from_env = custom_headers_env()
    if given is None:
        return from_env
    if not from_env or not isinstance(given, Mapping):
        return given  # a wrong type is refused, by name, when checked
    names = {str(name).lower() for name in given}
    return {**{k: v for k, v in from_env.items() if k.lower() not in names}, **given}


@functools.cache
def _warn_key_shadows_token() -> None:
    """Once per process, like the SDK: both variables are set and the key wins."""
    log.warning("llmbatch: ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are both set; using the key")


def parse_anthropic_error(status: int, headers: httpx.Headers, body: bytes) -> APIStatusError:
    """Build the typed error from ``{"type": "error", "error": {"type", "message"}, ...}``.

    A body that is not that envelope gives its first 500 characters as the message. The request
    id is the ``request-id`` header, else the body's ``request_id``.
    """
    return _ERRORS.parse(status, headers, body)


def _request_lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of a JSONL file, stripped, checked to be JSON objects (cheaply)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            if not (line.startswith(b"{") and line.endswith(b"}")):
                msg = f"line {number} of {path} is not a JSON object: {line[:80]!r}"
                raise InputError(msg + "\nHint: write one {'custom_id', 'params'} object a line.")
            yield line


def stream_requests_body(path: Path) -> tuple[int, Callable[[], Iterator[bytes]]]:
    """``{"requests": [line, line, ...]}`` built from a JSONL file, without loading it.

    Returns:
        The body's exact length (for ``Content-Length``) and a callable that returns a fresh
        iterator of ~1 MB chunks each time it is called (one per attempt).
    """
    size = len(_HEAD) + len(_TAIL)
    for index, line in enumerate(_request_lines(path)):
        size += len(line) + (len(_SEP) if index else 0)

    def chunks() -> Iterator[bytes]:
        buffer = bytearray(_HEAD)
        for index, line in enumerate(_request_lines(path)):
            if index:
                buffer += _SEP
            buffer += line
            if len(buffer) >= _CHUNK:
                yield bytes(buffer)
                buffer.clear()
        buffer += _TAIL
        yield bytes(buffer)

    return size, chunks


class AnthropicClient(ProviderClient):
    """The Anthropic Message Batches endpoints.

    Args:
        config: an :class:`llmbatch.Anthropic` (the key is resolved now).
        transport: an httpx transport instead of the network (tests, the emulator).

    Example:
        >>> with llmbatch.Anthropic().client() as client:  # doctest: +SKIP
        ...     batch = client.create_batch(Path("requests/0000.jsonl"))
    """

    def __init__(self, config: Anthropic, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(config, error_parser=parse_anthropic_error, transport=transport)

    def create_batch(
        self,
        requests: Sequence[Mapping[str, Any]] | Path,
        *,
        recover: Callable[[], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/messages/batches``. Not idempotent: a re-send could bill a second batch.

        Args:
            requests: ``{"custom_id", "params"}`` dicts, or a JSONL file of them (streamed).
            recover: after an ambiguous failure (connection lost after sending, read timeout,
                5xx), finds the batch the lost attempt may have created (e.g. by listing and
                matching ``custom_id``s); its non-``None`` answer is returned instead of
                re-sending. Without it such a failure is raised at once.
        """
        if isinstance(requests, Path):
            size, chunks = stream_requests_body(requests)
            headers = {"content-type": "application/json", "content-length": str(size)}
            return self._http.request(
                "POST", BATCHES, content=chunks, headers=headers, idempotent=False, recover=recover
            )
        body = {"requests": list(requests)}
        return self._http.request("POST", BATCHES, json=body, idempotent=False, recover=recover)

    def retrieve_batch(self, batch_id: str) -> dict[str, Any]:
        """``GET /v1/messages/batches/{id}`` (a brief 404 is waited out, see NOT_FOUND_WAITS)."""
        return self._through_lag(lambda: self._http.request("GET", f"{BATCHES}/{batch_id}"))

    def _through_lag(self, call: Callable[[], T]) -> T:
        """``call()``, asked again after each of NOT_FOUND_WAITS while it answers 404."""
        for wait in (*NOT_FOUND_WAITS, None):
            try:
                return call()
            except NotFoundError:
                if wait is None:
                    raise
                log.info("llmbatch: anthropic answered 404; asking again in %.1fs", wait)
                self.stats.count_retry("404", sleep(wait))
        raise AssertionError("unreachable")  # pragma: no cover

    def list_batches(
        self,
        *,
        before_id: str | None = None,
        after_id: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """``GET /v1/messages/batches``: one page, newest first."""
        query = params(before_id=before_id, after_id=after_id, limit=limit)
        return self._http.request("GET", BATCHES, params=query)

    def iter_batches(self, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch, newest first (``after_id=last_id`` while ``has_more``)."""
        return pages(lambda after: self.list_batches(after_id=after, limit=limit))

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """``POST /v1/messages/batches/{id}/cancel`` (asking twice is harmless: retried)."""
        return self._http.request("POST", f"{BATCHES}/{batch_id}/cancel")

    def delete_batch(self, batch_id: str, *, missing_ok: bool = True) -> dict[str, Any]:
        """``DELETE /v1/messages/batches/{id}`` (only once it has ended).

        A 404 means already deleted (e.g. a retried delete whose answer was lost); with
        ``missing_ok`` (default) that returns ``{"id", "type": "message_batch_deleted"}``.
        """
        gone = {"id": batch_id, "type": "message_batch_deleted"}
        return self._delete(f"{BATCHES}/{batch_id}", gone, missing_ok=missing_ok)

    def _results_url(self, batch_id: str) -> str:
        batch = self.retrieve_batch(batch_id)
        url = batch.get("results_url")
        if url:
            return str(url)
        status = batch.get("processing_status")
        if status != "ended":
            msg = f"batch {batch_id} has no results yet (processing_status {status!r})"
            raise JobNotReady(msg + "\nHint: wait until it has ended.", status=status)
        archived = batch.get("archived_at")
        msg = f"batch {batch_id} has ended but has no results_url (archived_at {archived!r})"
        raise ProviderError(msg + "\nHint: results are kept for 29 days after creation.")

    def download_results(self, batch_id: str, dest: Path) -> int:
        """Stream the batch's results JSONL to ``dest`` atomically; returns bytes written.

        The ``results_url`` comes from a retrieve call. Credentials are only sent to it when it
        has the base URL's scheme, host and port; another host raises :class:`ProviderError`.

        Raises:
            JobNotReady: the batch has not ended.
        """
        url = self._results_url(batch_id)
        headers = {"accept": "application/binary"}
        return self._through_lag(lambda: self._http.download(url, Path(dest), headers=headers))

    def results(self, batch_id: str) -> bytes:
        """The batch's results JSONL in memory (use :meth:`download_results` for big ones)."""
        url = self._results_url(batch_id)
        headers = {"accept": "application/binary"}
        return self._through_lag(lambda: self._http.request("GET", url, headers=headers, raw=True))
