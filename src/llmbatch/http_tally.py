"""A job's HTTP counters: what this process's clients did, added to the job's totals.

Every process that opens a job counts its own requests, retries and waits; each save of the
job's state adds what is new since this process's last save (`JobState`'s save hook), so the
manifest's totals cover every process over the job's whole life, each request counted once.
"""

from __future__ import annotations

from llmbatch._retry import RetryStats
from llmbatch.manifest import Manifest
from llmbatch.providers.backend import Backend

__all__ = ["HttpTally"]


class HttpTally:
    """The counters of one job's backend in this process, and how much of them is saved."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._flushed = RetryStats()

    def add_to(self, manifest: Manifest) -> None:
        """Add the counters since the last save to `manifest` (called on every save)."""
        live = self._backend.live_stats()
        delta = live.since(self._flushed)
        if delta.requests or delta.retries:
            manifest.add_http(delta)
            self._flushed = live

    def unsaved(self) -> bool:
        """Whether requests were made since the last save."""
        return self._backend.live_stats().requests > self._flushed.requests

    def close(self) -> None:
        """Close the backend's HTTP client (its counters stay in the backend)."""
        self._backend.close()
        self._flushed = self._backend.live_stats()
