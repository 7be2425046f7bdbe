"""What the job needs from a provider, shard by shard: upload, create, observe, download, read.

A backend knows its provider's wire format and calls; it never writes the job's state. Each
method reads the shard it is given and returns what happened (a file id, a batch id and an
`Observation`, downloaded paths); `lifecycle` records that through `manifest`'s transitions,
saving before every remote call that creates something, so a crash at any point is resumed by
looking the object up instead of creating it again (never paying twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from llmbatch._retry import RetryStats
from llmbatch.manifest import TERMINAL, Observation, Shard
from llmbatch.prepare import Limits
from llmbatch.store import JobFolder
from llmbatch.tasks import Reply

__all__ = ["LOST_INPUT", "TERMINAL", "Backend", "Created", "RemoteBackend", "ResultLine", "now"]

# (custom_id, kind, payload, error message): kind is succeeded / errored / canceled / expired
ResultLine = tuple[str, str, "dict[str, Any] | None", "str | None"]
Dest = Callable[[str], Path]


LOST_INPUT = "input file not found"  # the requeue event of a batch whose input file was lost


class Created(NamedTuple):
    """A shard's batch: its id, the provider's view of it, and whether it was found by lookup
    after a lost create answer (adopted) rather than returned by the create call."""

    batch_id: str
    seen: Observation
    adopted: bool


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
    """One provider's batch mechanics, used only by `lifecycle`."""

    name: str
    limits: Limits
    uploads: bool  # True: the shard's file is uploaded before the create (OpenAI)

    def line(self, custom_id: str, body: bytes) -> bytes:
        """One request line of a shard file."""

    def upload(self, shard: Shard, folder: JobFolder, *, resuming: bool) -> str:
        """Upload the shard's file (or find the upload a crash left); returns the file id."""

    def create(
        self, shard: Shard, folder: JobFolder, claimed: set[str], *, resuming: bool
    ) -> Created:
        """Create the shard's batch exactly once; never adopt a batch in `claimed`."""

    def find(self, shard: Shard, claimed: set[str]) -> Created | None:
        """The batch of a shard caught in `creating` (a lost create answer), if it exists."""

    def discard(self, shard: Shard) -> None:
        """Delete what an unsent shard left remotely (an uploaded input file)."""

    def observe(self, batch_id: str) -> Observation:
        """The provider's current view of a batch, normalised."""

    def quota_failure(self, shard: Shard) -> bool:
        """True if the batch failed only because the provider's queue quota was full."""

    def lost_input_failure(self, shard: Shard) -> bool:
        """True if the batch failed only because its input file was not found, for the first
        time: the shard is uploaded and sent once more."""

    def download(self, shard: Shard, dest: Dest) -> list[tuple[str, Path]]:
        """Fetch an ended shard's raw result files to `dest(kind)`; `(kind, path)` pairs."""

    def is_answer(self, file_kind: str, line: dict[str, Any]) -> bool:
        """Whether a result line counts towards the provider's succeeded count."""

    def read(self, shard: Shard, folder: JobFolder) -> Iterator[ResultLine]:
        """The downloaded result lines of a shard, normalised."""

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        """Read one successful payload."""

    def cancel(self, batch_id: str) -> Observation:
        """Ask the provider to stop a running batch; its view afterwards."""

    def cleanup(self, shard: Shard) -> list[str]:
        """Delete the shard's remote objects; returns what was deleted."""

    def close(self) -> dict[str, object] | None:
        """Release the HTTP client; returns its counters."""

    def live_stats(self) -> RetryStats:
        """HTTP counters so far (all clients this backend made)."""
