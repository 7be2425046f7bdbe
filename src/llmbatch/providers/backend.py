"""What the job needs from a provider, shard by shard: submit, refresh, download, read, cancel.

A shard is a plain dict stored in the manifest. A backend mutates it and calls `save()` before
every remote call that creates something, so a crash at any point can be resumed by looking the
object up instead of creating it again (never paying twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

from llmbatch.prepare import Limits
from llmbatch.store import JobFolder
from llmbatch.tasks import Reply

__all__ = ["TERMINAL", "Backend", "ResultLine", "ShardState", "Status", "now"]

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

    def cleanup(self, shard: dict[str, Any]) -> list[str]:
        """Delete the shard's remote objects; returns what was deleted."""

    def close(self) -> None:
        """Release the HTTP client."""
