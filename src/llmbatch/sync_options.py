"""How a sync job sends: how many realtime requests at once, and how fast.

Stored in the job's manifest (``sync``), so a resumed job sends as it was told to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmbatch._exceptions import InputError
from llmbatch._retry import sleep

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "Pacer", "SyncOptions"]

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class SyncOptions:
    """How a sync job sends: threads at once, and an optional requests-per-minute cap."""

    concurrency: int = DEFAULT_CONCURRENCY
    requests_per_minute: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "requests_per_minute": self.requests_per_minute}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SyncOptions:
        d = d or {}
        return cls(int(d.get("concurrency") or DEFAULT_CONCURRENCY), d.get("requests_per_minute"))

    def check(self) -> SyncOptions:
        """Refuse values that cannot work (before anything is written or sent)."""
        c = self.concurrency
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CONCURRENCY:
            msg = f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {c!r}"
            raise InputError(msg + f"\nHint: the default is {DEFAULT_CONCURRENCY}.")
        rpm = self.requests_per_minute
        bad = isinstance(rpm, bool) or not isinstance(rpm, int | float) or not rpm > 0
        if rpm is not None and (bad or rpm == float("inf")):
            msg = f"requests_per_minute must be a positive number, got {rpm!r}"
            raise InputError(msg + "\nHint: e.g. requests_per_minute=500, or None for no cap.")
        return self


class Pacer:
    """At most `per_minute` requests a minute across all threads, evenly spaced (None: no cap).

    The wait uses the retry module's sleep, so the zero-wait switch of test suites skips it;
    `clock` and `sleeper` can be given (a test's fake time).
    """

    def __init__(
        self,
        per_minute: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], float] = sleep,
    ) -> None:
        self._gap = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleeper

    def wait(self) -> float:
        """Block until this request's slot; returns the seconds it had to wait."""
        if not self._gap:
            return 0.0
        with self._lock:
            t = self._clock()
            slot = max(t, self._next)
            self._next = slot + self._gap
        return self._sleep(slot - t) if slot > t else 0.0
