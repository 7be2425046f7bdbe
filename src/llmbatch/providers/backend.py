"""What the job needs from a provider, shard by shard: upload, create, observe, download, read.

A backend knows its provider's wire format and calls; it never writes the job's state. Each
method reads the shard it is given and returns what happened (a file id, a batch id and an
`Observation`, downloaded paths); `lifecycle` records that through `manifest`'s transitions,
saving before every remote call that creates something, so a crash at any point is resumed by
looking the object up instead of creating it again (never paying twice).
"""

from __future__ import annotations

import itertools
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from llmbatch._retry import RetryStats
from llmbatch.manifest import TERMINAL, Observation, Shard
from llmbatch.prepare import Limits
from llmbatch.store import JobFolder
from llmbatch.wire import Reply, Wire

__all__ = ["LOST_INPUT", "TERMINAL", "Backend", "Created", "ResultLine", "now"]

# (custom_id, kind, payload, error message): kind is succeeded / errored / canceled / expired
ResultLine = tuple[str, str, "dict[str, Any] | None", "str | None"]
Dest = Callable[[str], Path]
Recover = Callable[[], "dict[str, Any] | None"]


LOST_INPUT = "input file not found"  # the requeue event of a batch whose input file was lost
# pages of 100 listed beyond those our running batches could fill before the rest are
# retrieved one by one: a job's batches are among the newest, unless other work came after
_LIST_PAGES = 2


class Created(NamedTuple):
    """A shard's batch: its id, the provider's view of it, and whether it was found by lookup
    after a lost create answer (adopted) rather than returned by the create call."""

    batch_id: str
    seen: Observation
    adopted: bool


def now() -> float:
    return time.time()


class Backend(ABC):
    """What every backend shares; a provider's backend adds only what differs.

    Shared: an HTTP client made on first use and its counters (reading downloaded results
    needs no client, so collect() works without an API key); the create-once-with-recovery
    call, adoption, polling and cancelling (`reading` reads the result files). A provider gives its
    limits, its batch lookup after a lost create answer (`_find_batch`), its create call
    (`_send`), its view of a batch (`_observation`) and its result line parser (`parse_line`).
    The defaults fit a provider whose requests travel inline with the create (no upload).
    """

    name: str
    wire: ClassVar[Wire]  # the provider's request and answer format
    LIMITS: ClassVar[Limits]
    uploads: bool = False  # True: the shard's file is uploaded before the create

    def __init__(self, config: Any, *, tag: str, endpoint: str = "", limits: Limits) -> None:
        self.config = config
        self.tag = tag
        self.endpoint = endpoint
        self.limits = limits
        self._client: Any = None
        self.stats = RetryStats()

    @classmethod
    def fit_limits(cls, given: Limits | None) -> Limits:
        """The limits a job runs under: the ones given (tests pass tiny ones), else the
        provider's."""
        return given or cls.LIMITS

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.config.client()
        return self._client

    # -- what each provider gives -----------------------------------------------------------
    def line(self, custom_id: str, body: bytes) -> bytes:
        """One request line of a shard file (the wire module's, for this job's endpoint)."""
        return self.wire.line(custom_id, self.endpoint, body)

    @abstractmethod
    def _find_batch(self, shard: Shard, claimed: set[str]) -> dict[str, Any] | None:
        """The batch a lost create answer of this shard left, if any (never one in `claimed`)."""

    @abstractmethod
    def _send(self, shard: Shard, folder: JobFolder, recover: Recover) -> dict[str, Any]:
        """The create call; `recover` looks the batch up after an ambiguous failure."""

    @abstractmethod
    def _observation(self, batch: dict[str, Any]) -> Observation:
        """The provider's batch object, normalised."""

    @abstractmethod
    def download(self, shard: Shard, dest: Dest) -> list[tuple[str, Path]]:
        """Fetch an ended shard's raw result files to `dest(kind)`; `(kind, path)` pairs."""

    @abstractmethod
    def is_answer(self, file_kind: str, line: dict[str, Any]) -> bool:
        """Whether a result line counts towards the provider's succeeded count."""

    def plain_is_answer(self, file_kind: str) -> bool:
        """Whether every line of a file of this kind that the wire's columnar read finds a
        plain success counts as an answer (`is_answer`): then a download is checked a block
        of columns at a time. No, unless a provider says so."""
        return False

    @staticmethod
    @abstractmethod
    def parse_line(line: dict[str, Any]) -> ResultLine:
        """One decoded result line, normalised."""

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        """Read one successful payload (the wire module's reader)."""
        return self.wire.reply(endpoint, payload)

    @abstractmethod
    def cleanup(self, shard: Shard) -> list[str]:
        """Delete the shard's remote objects; returns what was deleted."""

    # -- shared mechanics -----------------------------------------------------------------
    def upload(self, shard: Shard, folder: JobFolder, *, resuming: bool) -> str:
        raise NotImplementedError(f"{self.name} batches carry their requests inline")

    def create(
        self, shard: Shard, folder: JobFolder, claimed: set[str], *, resuming: bool
    ) -> Created:
        """Create the shard's batch once: after a crash (`resuming`) or an ambiguous failure
        of the create call, the batch is looked up first and adopted if found."""
        found: list[dict[str, Any]] = []

        def recover() -> dict[str, Any] | None:
            batch = self._find_batch(shard, claimed)
            if batch is not None:
                found.append(batch)
            return batch

        batch = recover() if resuming else None
        if batch is None:
            batch = self._send(shard, folder, recover)
        return Created(str(batch["id"]), self._observation(batch), adopted=bool(found))

    def find(self, shard: Shard, claimed: set[str]) -> Created | None:
        batch = self._find_batch(shard, claimed)
        return None if batch is None else Created(batch["id"], self._observation(batch), True)

    def discard(self, shard: Shard) -> None:
        return None  # nothing was uploaded before the create

    def observe(self, batch_id: str) -> Observation:
        return self._observation(self.client.retrieve_batch(batch_id))

    def observe_many(self, batch_ids: list[str]) -> dict[str, Observation]:
        """Several batches at once: one list call (newest first) instead of one retrieve
        each; the ids not among the first pages are retrieved one by one (`_LIST_PAGES`)."""
        wanted, seen = set(batch_ids), {}
        if len(wanted) > 1:
            most = 100 * (math.ceil(len(wanted) / 100) + _LIST_PAGES - 1)
            for batch in itertools.islice(self.client.iter_batches(limit=100), most):
                if batch.get("id") in wanted:
                    seen[str(batch["id"])] = self._observation(batch)
                    if len(seen) == len(wanted):
                        break
        for batch_id in wanted - set(seen):
            seen[batch_id] = self.observe(batch_id)
        return seen

    def cancel(self, batch_id: str) -> Observation:
        return self._observation(self.client.cancel_batch(batch_id))

    def quota_failure(self, shard: Shard) -> bool:
        return False

    def lost_input_failure(self, shard: Shard) -> bool:
        return False

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
