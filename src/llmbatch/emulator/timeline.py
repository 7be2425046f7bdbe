"""When each request of a batch runs, and when and how the batch ends.

Pure arithmetic on the config snapshot: the state modules ask "how many requests have run by
time t?" and "when does the batch end, and why?", so state can be computed lazily whenever a
batch is read, with no background thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Timeline:
    """The schedule of `n` requests that start running at `start`.

    Request i (0-based) finishes at `start + (i + 1) / rps` (all at `start` when rps is None).
    Processing stops at a cancel (`cancel_at`) or at `expires_at`, whichever comes first.
    """

    start: float
    n: int
    rps: float | None
    finalizing_seconds: float
    cancel_seconds: float
    expires_at: float
    cancel_at: float | None = None

    @property
    def all_done_at(self) -> float:
        """When the last request would finish if nothing stopped it."""
        if self.rps is None or self.n == 0:
            return self.start
        return self.start + self.n / self.rps

    @property
    def cutoff(self) -> float:
        """The time after which no further request runs."""
        stops = [self.expires_at] if self.cancel_at is None else [self.cancel_at]
        return min([self.all_done_at, *stops])

    def done_at(self, index: int) -> float:
        """When request `index` (0-based) finishes."""
        return self.start if self.rps is None else self.start + (index + 1) / self.rps

    def processed_by(self, t: float) -> int:
        """How many requests (in input order) have finished by time `t`."""
        t = min(t, self.cutoff)
        if t < self.start:
            return 0
        if self.rps is None or t >= self.all_done_at:
            return self.n  # (clock times near 1.7e9 leave (t - start) * rps a hair short)
        # A tiny relative slack so that float rounding never loses the request of a step.
        return min(self.n, math.floor((t - self.start) * self.rps * (1 + 1e-12) + 1e-9))

    def outcome(self) -> tuple[str, float]:
        """("completed" | "expired" | "cancelled", end time) as the schedule stands now."""
        if self.cancel_at is not None:
            return "cancelled", self.cancel_at + self.cancel_seconds
        if self.all_done_at <= self.expires_at:
            return "completed", self.all_done_at + self.finalizing_seconds
        return "expired", max(self.expires_at, self.start)
