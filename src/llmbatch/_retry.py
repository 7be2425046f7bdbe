"""The retry policy shared by both providers: what to retry, and how long to wait.

It follows the official SDKs' rules (openai-python / anthropic-sdk-python): retry connection
errors, timeouts, 408, 409, 429 and every 5xx (Anthropic's 529 included); let the server force
or forbid a retry with ``x-should-retry``; wait what ``retry-after-ms`` or ``retry-after`` asks,
else back off exponentially from 0.5 s, capped at 8 s, with up to -25 % jitter.

Where it departs from the SDKs, on purpose:

- **More retries** (6, not 2) and **longer server waits honoured** (up to 300 s, not 60/120 s).
  An interactive chat call should fail fast; a batch submission should not, because a failed
  submission costs the user a restart of a job that may run for hours. The SDKs' "don't retry if
  the server asks for more than 120 s" rule is kept, only with a larger bound
  (``max_server_wait``).
- **An overall deadline** (``deadline``) bounds one logical call, retries and waits included.
- **Zero-wait switch** for test suites (like ``stamina.set_testing``): :func:`set_zero_wait`,
  :func:`zero_wait`, or the environment variable ``LLMBATCH_RETRY_ZERO_WAIT=1``. Decisions
  (whether to retry, whether to give up) are unchanged; only the sleeping is skipped.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

__all__ = [
    "RetryPolicy",
    "RetryStats",
    "retry_delay",
    "set_zero_wait",
    "should_retry",
    "sleep",
    "zero_wait",
    "zero_wait_active",
]

ZERO_WAIT_ENV = "LLMBATCH_RETRY_ZERO_WAIT"
_RETRY_STATUSES = frozenset({408, 409, 429})
_zero_wait = False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one logical HTTP call.

    Args:
        max_retries: retries after the first attempt (so at most ``max_retries + 1`` attempts).
        initial_delay: backoff before the first retry, in seconds; doubles on each retry.
        max_delay: cap of the exponential backoff.
        jitter: fraction (0..1) the backoff is randomly shortened by, so clients don't retry
            in lockstep.
        max_server_wait: the longest ``retry-after`` honoured; a server asking for longer makes
            the call give up at once (the SDKs use 60 s / 120 s).
        deadline: overall seconds for one call including every retry and wait; ``None`` = none.

    Example:
        >>> RetryPolicy(max_retries=3, deadline=60.0).max_delay
        8.0
    """

    max_retries: int = 6
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_server_wait: float = 300.0
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter!r}")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds or None, got {self.deadline!r}")


@dataclass
class RetryStats:
    """Counters of one HTTP client, for reports ("retries seen") and tests.

    Attributes:
        requests: attempts sent (first tries and retries).
        retries: attempts that were retries.
        by_reason: retries per reason: the HTTP status as a string (``"429"``), ``"connection"``
            or ``"timeout"``.
        recovered: non-idempotent calls answered by ``recover()`` instead of a re-send.
        waited: seconds slept between attempts (0 under zero-wait).
    """

    requests: int = 0
    retries: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    waited: float = 0.0

    def count_retry(self, reason: str, delay: float) -> None:
        """Record one retry for ``reason`` after sleeping ``delay`` seconds."""
        self.retries += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        self.waited += delay

    def merge(self, other: RetryStats | dict[str, Any]) -> None:
        """Add another client's counters (or their `as_dict()` form) to these."""
        d: Mapping[str, Any] = other.as_dict() if isinstance(other, RetryStats) else other
        self.requests += int(d.get("requests", 0))
        self.retries += int(d.get("retries", 0))
        self.recovered += int(d.get("recovered", 0))
        self.waited += float(d.get("waited", 0.0))
        for reason, n in dict(d.get("by_reason") or {}).items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + int(n)

    def since(self, earlier: RetryStats) -> RetryStats:
        """The counts added after `earlier` (a copy of these counters taken before)."""
        reasons = {r: n - earlier.by_reason.get(r, 0) for r, n in self.by_reason.items()}
        return RetryStats(
            requests=self.requests - earlier.requests,
            retries=self.retries - earlier.retries,
            by_reason={r: n for r, n in reasons.items() if n},
            recovered=self.recovered - earlier.recovered,
            waited=self.waited - earlier.waited,
        )

    def as_dict(self) -> dict[str, object]:
        """A plain, JSON-ready copy."""
        return {
            "requests": self.requests,
            "retries": self.retries,
            "by_reason": dict(self.by_reason),
            "recovered": self.recovered,
            "waited": self.waited,
        }


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts and httpx.Headers alike."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None


def should_retry(status: int | None, headers: Mapping[str, str] | None) -> bool:
    """Whether a failed attempt is worth retrying.

    Args:
        status: the HTTP status, or ``None`` for a connection error or timeout.
        headers: the response headers, when there was a response.

    ``x-should-retry: true|false`` from the server wins; otherwise connection errors, timeouts,
    408, 409, 429 and every status >= 500 (529 overloaded included) are retried.

    Example:
        >>> should_retry(529, {}), should_retry(400, {"x-should-retry": "true"})
        (True, True)
    """
    forced = (_header(headers, "x-should-retry") or "").strip().lower()
    if forced == "true":
        return True
    if forced == "false":
        return False
    if status is None:
        return True
    return status in _RETRY_STATUSES or status >= 500


def _server_wait(headers: Mapping[str, str] | None, now: float | None) -> float | None:
    """Seconds the server asked to wait (may be negative or infinite), or None if unsaid."""
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000.0
        except ValueError:
            pass
    after = _header(headers, "retry-after")
    if after is None:
        return None
    try:
        return float(after)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp() - (time.time() if now is None else now)


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    headers: Mapping[str, str] | None,
    *,
    now: float | None = None,
) -> float | None:
    """Seconds to wait before the next retry, or ``None`` to give up now.

    Args:
        policy: the policy in force.
        attempt: retries already made (0 before the first retry).
        headers: the failed response's headers (``None`` after a connection error).
        now: the current unix time, for HTTP-date ``retry-after`` values (tests pin it).

    ``retry-after-ms`` (milliseconds) is read first, then ``retry-after`` (seconds, possibly
    fractional, or an HTTP date). A value in ``[0, max_server_wait]`` is obeyed; a larger one
    means "not worth waiting for" and gives ``None``; a negative or unreadable one is ignored in
    favour of the backoff ``min(initial_delay * 2**attempt, max_delay) * (1 - random() * jitter)``.

    Example:
        >>> retry_delay(RetryPolicy(), 0, {"retry-after-ms": "1500"})
        1.5
    """
    asked = _server_wait(headers, now)
    if asked is not None and not math.isnan(asked):
        if asked > policy.max_server_wait:
            return None
        if asked >= 0:
            return asked
    backoff = min(policy.initial_delay * 2.0 ** min(max(attempt, 0), 64), policy.max_delay)
    return max(0.0, backoff * (1.0 - random.random() * policy.jitter))


def set_zero_wait(enabled: bool = True) -> None:
    """Make every retry wait zero seconds (process-wide), for test suites.

    Example:
        >>> set_zero_wait(); set_zero_wait(False)
    """
    global _zero_wait
    _zero_wait = enabled


def zero_wait_active() -> bool:
    """Whether waits are currently skipped (switch or ``LLMBATCH_RETRY_ZERO_WAIT=1``)."""
    return _zero_wait or os.environ.get(ZERO_WAIT_ENV, "").strip() == "1"


@contextmanager
def zero_wait() -> Iterator[None]:
    """Skip retry waits inside the ``with`` block; the previous setting is restored after."""
    previous = _zero_wait
    set_zero_wait(True)
    try:
        yield
    finally:
        set_zero_wait(previous)


def sleep(seconds: float) -> float:
    """Sleep between attempts unless zero-wait is on; returns the seconds actually slept."""
    if zero_wait_active() or seconds <= 0:
        return 0.0
    time.sleep(seconds)
    return seconds
