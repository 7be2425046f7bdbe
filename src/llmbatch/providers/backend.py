"""What the job needs from a provider, shard by shard: submit, refresh, download, read, cancel.

A shard is a plain dict stored in the manifest. A backend mutates it and calls `save()` before
every remote call that creates something, so a crash at any point can be resumed by looking the
object up instead of creating it again (never paying twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

from llmbatch._retry import RetryStats
from llmbatch.prepare import Limits
from llmbatch.store import JobFolder
from llmbatch.tasks import Reply

__all__ = ["TERMINAL", "Backend", "RemoteBackend", "ResultLine", "ShardState", "Status", "now"]

Status = Literal[
    "pending",
    "validating",
    "in_progress",
    "finalizing",
    "cancelling",
    "completed",
    "failed",
    "expired",
    "cancelled",
    "waiting_for_quota",
]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})

# A shard's local progress, in order; the job resumes from whichever was saved last.
ShardState = Literal["written", "uploading", "uploaded", "creating", "submitted", "downloaded"]

# (custom_id, kind, payload, error message): kind is succeeded / errored / canceled / expired
ResultLine = tuple[str, str, "dict[str, Any] | None", "str | None"]

Save = Callable[[], None]


def now() -> float:
    return time.time()


class RemoteBackend:
    """What both backends share: an HTTP client made on first use, and its counters.

    Reading downloaded results needs no client, so collect() works without an API key.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self._client: Any = None
        self.stats = RetryStats()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.config.client()
        return self._client

    def live_stats(self) -> RetryStats:
        """Counters of every client this backend made, the open one included."""
        total = RetryStats()
        total.merge(self.stats)
        if self._client is not None:
            total.merge(self._client.stats)
        return total

    def close(self) -> dict[str, object] | None:
        """Close the client; returns the counters of the session it served (None if unused)."""
        if self._client is None:
            return None
        session = self._client.stats.as_dict()
        self.stats.merge(session)
        self._client.close()
        self._client = None
        return session


class Backend(Protocol):
    """One provider's batch mechanics, used only by the job."""

    name: str
    limits: Limits

    def line(self, custom_id: str, body: bytes) -> bytes:
        """One request line of a shard file."""

    def submit(
        self, shard: dict[str, Any], folder: JobFolder, save: Save, claimed: set[str]
    ) -> None:
        """Create the remote batch of `shard` exactly once (resuming a crashed attempt)."""

    def refresh(self, shard: dict[str, Any]) -> None:
        """Update `status`, `raw_status`, `counts`, `errors` of a submitted shard."""

    def download(self, shard: dict[str, Any], folder: JobFolder) -> None:
        """Fetch the raw results of an ended shard into the job folder (once)."""

    def read(self, shard: dict[str, Any], folder: JobFolder) -> Iterator[ResultLine]:
        """The downloaded result lines of a shard, normalised."""

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        """Read one successful payload."""

    def cancel(self, shard: dict[str, Any]) -> None:
        """Ask the provider to stop a running batch."""

    def adopt(self, shard: dict[str, Any], claimed: set[str]) -> bool:
        """If an unsent shard's batch exists after all (lost create), record it; True if so."""

    def discard(self, shard: dict[str, Any]) -> None:
        """Delete what an unsent shard left remotely (an uploaded input file)."""

    def cleanup(self, shard: dict[str, Any]) -> list[str]:
        """Delete the shard's remote objects; returns what was deleted."""

    def close(self) -> dict[str, object] | None:
        """Release the HTTP client; returns its counters."""

    def live_stats(self) -> RetryStats:
        """HTTP counters so far (all clients this backend made)."""

    def quota_failure(self, shard: dict[str, Any]) -> bool:
        """True if the batch failed only because the provider's queue quota was full."""
