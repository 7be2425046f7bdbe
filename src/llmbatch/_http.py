"""One httpx client wrapper for both providers: auth headers, timeouts, retries, typed errors.

Each call is retried by :mod:`llmbatch._retry` rules (the decision per failed attempt:
:mod:`llmbatch._failure`). Between attempts it sleeps (unless
zero-wait is on), logs one INFO line to the ``llmbatch`` logger (method, path, reason, delay:
never a header value), and sends ``x-llmbatch-retry-count`` on the next attempt.

Non-idempotent calls (a batch create) are special, because neither SDK sends an idempotency key
and a blind re-send can create, and bill, a second batch:

- An **unambiguous** failure (connect error or pool timeout: nothing was sent; 408, 409, 429:
  the server refused it) is retried as usual.
- An **ambiguous** failure (the connection dropped or timed out after the request may have
  reached the server, or a 5xx) is never re-sent blindly. With a ``recover`` callable, the client
  waits the usual delay, then calls ``recover()``: a non-``None`` result (e.g. the batch found by
  its metadata tag) is returned as the call's result, ``None`` means "nothing was created", and
  only then is the request sent again. When retries run out, ``recover()`` gets one last try
  before the error is raised. Without ``recover`` the error is raised at once. An exception from
  ``recover()`` propagates: if we cannot tell whether the batch exists, we must not re-send.

A policy ``deadline`` clips each attempt's timeouts to the time left and stops retrying when
the next wait would cross it (httpx timeouts are per socket operation, so a server trickling
bytes can still stretch one attempt).

Redirects are not followed (``x-api-key`` would survive a cross-host redirect), and an absolute
URL is only fetched when it has the base URL's scheme, host and port.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from ._exceptions import APIStatusError, ProviderError, status_error_class
from ._failure import Failure, Recovered, give_up, next_delay, transport_failure
from ._retry import RetryPolicy, RetryStats, should_retry, sleep
from ._version import __version__

__all__ = ["HTTPClient", "build_status_error", "same_origin"]

logger = logging.getLogger("llmbatch")

ErrorParser = Callable[[int, httpx.Headers, bytes], APIStatusError]
Content = bytes | Callable[[], Iterator[bytes]] | None
T = TypeVar("T")

RETRY_COUNT_HEADER = "x-llmbatch-retry-count"
_SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "proxy-authorization")
_SECRET_WORDS = ("auth", "key", "token", "secret", "password", "signature", "cookie", "credential")
_REDACTED = b"<redacted>"


def build_status_error(
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    request_id: str | None = None,
    body: Any = None,
) -> APIStatusError:
    """The typed exception for an HTTP error status (helper for the providers' parsers)."""
    cls = status_error_class(status)
    return cls(message, status_code=status, error_type=error_type, request_id=request_id, body=body)


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def same_origin(a: str | httpx.URL, b: str | httpx.URL) -> bool:
    """Whether two absolute URLs share scheme, host and port (default ports made explicit)."""
    ua, ub = httpx.URL(a), httpx.URL(b)
    return (ua.scheme, ua.host.lower(), _port(ua)) == (ub.scheme, ub.host.lower(), _port(ub))


class HTTPClient:
    """A retrying JSON-over-HTTP client bound to one provider's base URL and credentials.

    Args:
        base_url: e.g. ``https://api.openai.com/v1``; request paths are appended to it.
        headers: sent on every request (auth included; they live only inside httpx).
        retry: the retry policy.
        params: query parameters added to every request's URL (a provider's default query).
        timeout: read/write/pool timeout of one attempt, seconds, or an ``httpx.Timeout``
            (then ``connect_timeout`` is unused).
        connect_timeout: connect timeout of one attempt, seconds.
        error_parser: turns ``(status, headers, body)`` into the provider's typed error.
        transport: an httpx transport to use instead of the network (tests, emulator).
        user_agent: the ``User-Agent`` header.

    Example:
        >>> http.request("GET", "/batches", params={"limit": 10})  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        retry: RetryPolicy,
        timeout: float | httpx.Timeout = 600.0,
        connect_timeout: float = 10.0,
        error_parser: ErrorParser,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.retry = retry
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._parse_error = error_parser
        self._secrets = _secret_values(headers) + _secret_values(params or {})
        self._stats = RetryStats()
        self._count = threading.Lock()  # sync mode sends from several threads at once
        sent = httpx.Headers({"user-agent": user_agent or f"llmbatch/{__version__}"})
        sent.update(headers)  # names without case: a caller's User-Agent replaces ours
        self._client = httpx.Client(
            base_url=base_url,
            headers=sent,
            params=params,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HTTPClient(base_url={self.base_url!r})"

    def __enter__(self) -> HTTPClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> RetryStats:
        """Counters of attempts, retries by reason, recoveries and time waited."""
        return self._stats

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: Content = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        recover: Callable[[], Any | None] | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one logical request with retries; return the decoded JSON body.

        Args:
            method, path: e.g. ``"POST", "/batches"`` (an absolute same-origin URL also works).
            json: a body to encode with orjson.
            content: raw bytes, or a callable returning a fresh iterator of byte chunks per
                attempt (a large streamed body can then be re-sent without holding it).
            files, data: multipart form parts, as httpx takes them (file objects are rewound).
            params, headers: query parameters and extra headers.
            idempotent: ``False`` for creates; see the module docstring.
            recover: for non-idempotent calls, finds what an ambiguous attempt may have created.
            raw: return the body as bytes instead of decoding JSON.

        Returns:
            The decoded JSON (``None`` for an empty body), the bytes if ``raw``, or what
            ``recover()`` returned.

        Raises:
            APIStatusError: (a subclass per status) for an HTTP error not retried or retried out.
            APIConnectionError / APITimeoutError: the provider could not be reached.
        """
        headers = dict(headers or {})
        if json is not None:
            content = orjson.dumps(json, option=orjson.OPT_SERIALIZE_NUMPY)
            headers.setdefault("content-type", "application/json")

        def attempt(timeout: httpx.Timeout, extra: dict[str, str]) -> httpx.Response | Failure:
            sent = {**headers, **extra}
            if files is not None or data is not None:
                body: dict[str, Any] = {"files": files, "data": data}
            else:
                body = {"content": content() if callable(content) else content}
            return self._send(self._build(method, path, timeout, sent, params, **body))

        result = self._retrying(method, path, attempt, idempotent=idempotent, recover=recover)
        if isinstance(result, Recovered):
            return result.value
        if raw:
            return result.content
        return self._decode(result, method, path)

    def download(
        self,
        path: str,
        dest: Path,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Stream a response body to ``dest`` (mode 0600) and return the bytes written.

        The body goes to ``dest`` + ``.part`` and is renamed over ``dest`` only once complete,
        so ``dest`` is never half-written. A connection dropped mid-body restarts the download
        from scratch (by the retry policy).
        """
        dest = Path(dest)
        # unique per process and call: two processes downloading one file never collide
        part = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part")

        def attempt(timeout: httpx.Timeout, extra: dict[str, str]) -> int | Failure:
            request = self._build("GET", path, timeout, {**(headers or {}), **extra}, params)
            response = self._send(request, stream=True)
            if isinstance(response, Failure):
                return response
            try:
                return _write_body(response, part)
            except httpx.TransportError as exc:
                return transport_failure(exc)
            finally:
                response.close()

        try:
            written = self._retrying("GET", path, attempt, idempotent=True, recover=None)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        assert isinstance(written, int)  # no recover, so never Recovered
        os.replace(part, dest)
        return written

    # -- one attempt -------------------------------------------------------------------------

    def _check_url(self, path: str) -> None:
        url = httpx.URL(path)
        if url.is_absolute_url and not same_origin(url, self.base_url):
            msg = (
                f"refusing to send credentials to {url.scheme}://{url.host}: it is not the "
                f"provider's host ({self.base_url})\nHint: the provider returned a URL on "
                "another host; download it yourself if you trust it."
            )
            raise ProviderError(msg)

    def _build(
        self,
        method: str,
        path: str,
        timeout: httpx.Timeout,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        **body: Any,
    ) -> httpx.Request:
        """One attempt's request; ``body`` holds httpx's content= or files=/data=."""
        self._check_url(path)
        return self._client.build_request(
            method, path, params=params, headers=headers, timeout=timeout, **body
        )

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response | Failure:
        with self._count:
            self._stats.requests += 1
        try:
            response = self._client.send(request, stream=stream)
        except httpx.TransportError as exc:
            return transport_failure(exc)
        if response.is_success:
            return response
        try:
            body = response.read()
        except httpx.TransportError:
            body = b""
        finally:
            response.close()
        return self._status_failure(response.status_code, response.headers, body)

    def _status_failure(self, status: int, headers: httpx.Headers, body: bytes) -> Failure:
        for secret in self._secrets:
            body = body.replace(secret, _REDACTED)
        error = self._parse_error(status, headers, body)
        return Failure(
            str(status),
            headers,
            ambiguous=status >= 500,
            retryable=should_retry(status, headers),
            error=error,
        )

    # -- the retry loop ----------------------------------------------------------------------

    def _retrying(
        self,
        method: str,
        path: str,
        attempt: Callable[[httpx.Timeout, dict[str, str]], T | Failure],
        *,
        idempotent: bool,
        recover: Callable[[], Any | None] | None,
    ) -> T | Recovered:
        start = time.monotonic()
        retries = 0
        while True:
            outcome = attempt(self._attempt_timeout(start), {RETRY_COUNT_HEADER: str(retries)})
            if not isinstance(outcome, Failure):
                return outcome
            delay = next_delay(
                self.retry,
                outcome,
                retries,
                start,
                idempotent=idempotent,
                recoverable=recover is not None,
            )
            if delay is not None:
                logger.info(
                    "llmbatch: %s %s failed (%s); retry %d/%d in %.2fs",
                    *(method, httpx.URL(path).path, outcome.reason),
                    *(retries + 1, self.retry.max_retries, delay),
                )
                waited = sleep(delay)
                with self._count:
                    self._stats.count_retry(outcome.reason, waited)
                retries += 1
            if recover is not None and not idempotent and outcome.ambiguous:
                found = self._recover(recover)  # after the wait: give the server time to list it
                if found is not None:
                    return found
            if delay is None:
                where = f"{method} {httpx.URL(self.base_url).host}{httpx.URL(path).path}"
                raise give_up(outcome, where, retries + 1, idempotent=idempotent)

    def _recover(self, recover: Callable[[], Any | None]) -> Recovered | None:
        found = recover()
        if found is None:
            return None
        with self._count:
            self._stats.recovered += 1
        logger.info("llmbatch: found what a failed attempt created; not sending it again")
        return Recovered(found)

    def _attempt_timeout(self, start: float) -> httpx.Timeout:
        given = self._timeout
        if not isinstance(given, httpx.Timeout):
            given = httpx.Timeout(given, connect=self._connect_timeout)
        if self.retry.deadline is None:
            return given
        left = max(self.retry.deadline - (time.monotonic() - start), 0.001)
        parts = (given.connect, given.read, given.write, given.pool)
        connect, read, write, pool = (left if p is None else min(p, left) for p in parts)
        return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        body = response.content
        if not body.strip():
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            snippet = body[:200].decode("utf-8", "replace")
            msg = f"{method} {httpx.URL(path).path} answered {response.status_code} with non-JSON: "
            raise ProviderError(msg + repr(snippet)) from None


def _secret_values(headers: Mapping[str, str]) -> list[bytes]:
    """The credential values among ``headers`` (or query parameters), to scrub from echoed
    error bodies: those of auth headers and of any name that looks like a credential."""
    found: list[bytes] = []
    for name, value in headers.items():
        lowered = name.lower()
        if value and (lowered in _SECRET_HEADERS or any(w in lowered for w in _SECRET_WORDS)):
            token = value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value
            if len(token) >= 8:
                found.append(token.encode())
    return found


def _write_body(response: httpx.Response, part: Path) -> int:
    """Write a streamed body to ``part`` (truncated, mode 0600); return the byte count."""
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)
    written = 0
    with os.fdopen(fd, "wb") as fh:
        # as the connection delivers them: a chunk size makes httpx copy every byte into
        # a buffer and out again (measured: 0.9 s of CPU per 820 MB, a 1M-row download)
        for chunk in response.iter_bytes():
            fh.write(chunk)
            written += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    expected = response.headers.get("content-length")
    encoded = response.headers.get("content-encoding", "identity") != "identity"
    if expected is not None and expected.isdigit() and not encoded and written != int(expected):
        # a body cut short without the connection saying so: retried like a dropped connection
        msg = f"body of {written} bytes, Content-Length {expected}"
        raise httpx.RemoteProtocolError(msg, request=response.request)
    return written
