"""One failed HTTP attempt, and the decision it leads to: wait and retry, or give up.

`_http` sends; this module decides. A `Failure` says whether the server may have acted on the
request (`ambiguous`: a create must then not be re-sent blindly) and whether the retry rules
allow another attempt; `next_delay` applies the policy (retries left, ``retry-after``, the
deadline) and `give_up` builds the error that is raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from ._exceptions import APIConnectionError, APITimeoutError, ProviderError
from ._retry import RetryPolicy, retry_delay, zero_wait_active

__all__ = ["Failure", "Recovered", "give_up", "next_delay", "transport_failure"]


@dataclass
class Failure:
    """One failed attempt: enough to decide on a retry and to build the error to raise."""

    reason: str  # "429", "connection", "timeout"
    headers: httpx.Headers | None
    ambiguous: bool  # the server may have acted on the request
    retryable: bool
    error: ProviderError | None = None  # HTTP error answers
    exc: httpx.HTTPError | None = None  # transport errors


@dataclass
class Recovered:
    """What `recover()` found an ambiguous attempt had created (returned instead of re-sending)."""

    value: Any


def transport_failure(exc: httpx.TransportError) -> Failure:
    """A transport error: ambiguous unless nothing can have been sent (connect, pool)."""
    unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    broken = isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError))
    reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
    return Failure(reason, None, ambiguous=not unsent, retryable=not broken, exc=exc)


def next_delay(
    policy: RetryPolicy,
    failure: Failure,
    retries: int,
    start: float,
    *,
    idempotent: bool,
    recoverable: bool,
) -> float | None:
    """Seconds to wait before the next attempt, or None to stop.

    A non-idempotent call whose attempt may have reached the server is retried only when it
    can be `recoverable` (looked up first); the deadline counts the wait unless zero-wait is on.
    """
    if not failure.retryable or retries >= policy.max_retries:
        return None
    if not idempotent and failure.ambiguous and not recoverable:
        return None
    delay = retry_delay(policy, retries, failure.headers)
    if delay is None or policy.deadline is None:
        return delay
    waited = 0.0 if zero_wait_active() else delay
    if time.monotonic() - start + waited >= policy.deadline:
        return None
    return delay


def give_up(failure: Failure, where: str, attempts: int, *, idempotent: bool) -> ProviderError:
    """The error to raise once retrying stops (`where`: "METHOD host/path")."""
    if failure.error is not None:
        return failure.error
    exc = failure.exc
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    msg = f"{where} failed after {attempts} attempt(s): {what}"
    if not idempotent and failure.ambiguous:
        msg += "\nHint: the request may have reached the provider; check before re-sending."
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    error = cls(msg)
    error.__cause__ = exc  # as `raise error from exc` would
    error.__suppress_context__ = True
    return error
