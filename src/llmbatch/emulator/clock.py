"""Emulator time: the wall clock plus an offset that tests can move forward.

State is computed lazily from this clock whenever a batch is read, so moving the clock with
`advance()` makes hours pass instantly (expiry, long validation) without any background thread.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone


class Clock:
    """Seconds since the epoch, shifted by `offset` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """The emulator's current time (float unix seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move emulator time forward by `seconds` (never backwards)."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        self.offset += seconds


def unix(t: float | None) -> int | None:
    """OpenAI timestamps: whole unix seconds (None stays None)."""
    return None if t is None else math.floor(t)


def rfc3339(t: float | None) -> str | None:
    """Anthropic timestamps: RFC 3339 with microseconds and `Z` (None stays None)."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
