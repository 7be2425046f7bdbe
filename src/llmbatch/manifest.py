"""The job's state, typed: `Manifest`, `Attempt`, `Shard`, and the shard's transitions.

A shard moves forward through

```
written → uploading → uploaded → creating → submitted → ended → downloaded → cleaned
   (OpenAI only: uploading/uploaded)                       ↘ (failed: no download) ↗
```

with four side roads: `wait_for_quota()` (not created yet: the job's batches in flight fill
the provider's queue), `cancel_unsent()` (a cancel before it was sent: stays `written`, never
sent), `requeue()` (back to `uploaded`/`written` for a new creation of the same shard: a batch
failed only for the provider's queue quota, or an adopted batch proved foreign), and
`undo_upload()` (a create the provider refused). Each transition checks that it starts from
a state it may start from, so two processes can never move one shard in two directions.

Only this module writes manifest keys; `state.JobState` applies these transitions under the
job lock on a fresh read. `from_dict` migrates older formats; unknown keys are kept as they are
(`manifest_checks` then checks the values the job relies on).
"""

from __future__ import annotations

import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Literal

from llmbatch._exceptions import JobFolderError
from llmbatch._retry import RetryStats
from llmbatch.store import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "TERMINAL",
    "UNSENT",
    "Attempt",
    "Manifest",
    "Observation",
    "Shard",
    "ShardState",
    "Status",
]

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
ShardState = Literal[
    "written", "uploading", "uploaded", "creating", "submitted", "ended", "downloaded", "cleaned"
]
UNSENT: frozenset[str] = frozenset({"written", "uploading", "uploaded", "creating"})
_SENT = frozenset({"submitted", "ended", "downloaded", "cleaned"})


class TransitionError(JobFolderError):
    """A state change that the shard's current state does not allow (a bug or a race)."""


@dataclass
class Observation:
    """What the provider said about one batch, normalised by the provider's backend."""

    status: Status
    raw_status: str | None
    counts: dict[str, int]
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: Any = None
    note: str | None = None


@dataclass
class Shard:
    """One request file and the remote objects made from it."""

    index: int
    attempt: int
    path: str
    rows: list[list[int]]
    n: int
    bytes: int
    sha256: str
    hash_form: Literal["bytes", "lines"] = "bytes"  # "lines": 0.1.0 hashed without newlines
    state: ShardState = "written"
    status: Status = "pending"
    raw_status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    file_id: str | None = None
    batch_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: Any = None
    note: str | None = None
    creating_at: float | None = None
    generation: int = 0
    adopted: bool = False
    cancelled: bool = False
    previous_batches: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    result_files: dict[str, list[int]] = field(default_factory=dict)  # [bytes, lines] each
    events: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False  # its rows' answers were copied from earlier jobs (`reuse`)
    indexed: bool = False  # its answers are in the home's answer index
    tokens: dict[str, int] | None = None  # tokens its answers used, by kind (once indexed)
    enqueued_tokens: int | None = None  # its estimated input tokens in the provider's queue
    enqueued_before: int | None = None  # the job's tokens in flight when its batch was created
    extra: dict[str, Any] = field(default_factory=dict)

    # -- what the shard is -----------------------------------------------------------------
    @property
    def unsent(self) -> bool:
        return self.state in UNSENT

    @property
    def to_send(self) -> bool:
        """Unsent and not cancelled: the next submit() sends it."""
        return self.unsent and not self.cancelled

    @property
    def running(self) -> bool:
        return self.state == "submitted"

    @property
    def collected(self) -> bool:
        """Its results are in the job folder (read by collect())."""
        return self.state in ("downloaded", "cleaned") and self.status != "failed"

    @property
    def finished(self) -> bool:
        """Nothing more will happen: downloaded, failed at the provider, or cancelled unsent."""
        if self.cancelled and self.unsent:
            return True
        if self.state in ("downloaded", "cleaned"):
            return True
        return self.state == "ended" and self.status == "failed"

    @property
    def needs_download(self) -> bool:
        return self.state == "ended" and self.status != "failed"

    # -- transitions -----------------------------------------------------------------------
    def _require(self, allowed: frozenset[str] | set[str], step: str) -> None:
        if self.state not in allowed:
            msg = (
                f"shard {self.index} cannot {step} from state {self.state!r}\nHint: another "
                "process may have changed the job; reload it with llmbatch.load(path)."
            )
            raise TransitionError(msg)

    def begin_upload(self) -> None:
        self._require({"written", "uploading"}, "start an upload")
        self.state = "uploading"

    def record_upload(self, file_id: str) -> None:
        self._require({"uploading"}, "record an upload")
        self.file_id, self.state = file_id, "uploaded"

    def undo_upload(self) -> None:
        """The provider refused the create: the uploaded file is gone, back to `written`."""
        self._require(UNSENT, "undo its upload")
        self.file_id, self.state, self.creating_at = None, "written", None

    def begin_create(self, at: float, queued: int | None = None) -> None:
        """About to create its batch; `queued`: the job's tokens in flight (`quota`)."""
        self._require({"written", "uploaded", "creating"}, "start a create")
        if self.state != "creating":
            self.creating_at, self.enqueued_before = at, queued
        self.state = "creating"

    def record_estimate(self, tokens: int) -> None:
        """Its estimated input tokens in the provider's queue (`quota`), once."""
        self.enqueued_tokens = tokens

    def wait_for_quota(self) -> None:
        """Not created yet: the job's batches in flight fill the enqueued-token quota."""
        self._require({"written", "uploaded"}, "wait for the quota")
        if self.status != "waiting_for_quota":
            self.event("paced")
        self.status = "waiting_for_quota"

    def record_batch(self, batch_id: str, seen: Observation, *, adopted: bool) -> None:
        """The batch exists (created now, or found after a lost create answer)."""
        self._require({"creating"}, "record a batch")
        self.batch_id, self.state, self.adopted = batch_id, "submitted", adopted
        self.status = "validating"
        if adopted:
            self.event("adopted", batch_id=batch_id)
        self.observe(batch_id, seen)

    def observe(self, batch_id: str, seen: Observation) -> None:
        """Apply a poll. Stale answers (another batch, or older than what is known) are ignored."""
        if batch_id != self.batch_id or self.state not in _SENT:
            return
        if self.status in TERMINAL and seen.status not in TERMINAL:
            return  # status never goes back from an end
        self.status, self.raw_status, self.note = seen.status, seen.raw_status, seen.note
        self.counts, self.errors, self.usage = dict(seen.counts), list(seen.errors), seen.usage
        self.output_file_id = seen.output_file_id or self.output_file_id
        self.error_file_id = seen.error_file_id or self.error_file_id
        if self.state == "submitted" and seen.status in TERMINAL:
            self.state = "ended"

    def record_download(self, files: list[str], shape: dict[str, list[int]] | None = None) -> None:
        """The checked files are in place; `shape` gives each one's [bytes, lines]."""
        self._require({"ended", "downloaded"}, "record a download")
        self.results, self.state = list(files), "downloaded"
        self.result_files = dict(shape or {})

    def mark_indexed(self, tokens: dict[str, int]) -> None:
        """Its usable answers were added to the answer index and its tokens tallied (once)."""
        self._require({"downloaded", "cleaned"}, "be indexed")
        self.indexed, self.tokens = True, dict(tokens)

    def clean(self) -> None:
        self._require(_SENT | {"written"}, "be cleaned up")
        self.state = "cleaned"

    def cancel_unsent(self) -> None:
        """Never send this shard (its uploaded file, if any, was deleted)."""
        self._require(UNSENT, "be cancelled before sending")
        self.state, self.file_id, self.creating_at = "written", None, None
        self.cancelled, self.status = True, "cancelled"

    def requeue(self, reason: str, *, keep_file: bool) -> None:
        """Send this shard again as a new creation (a new generation of its batch marker)."""
        self._require({"submitted", "ended"}, "be sent again")
        if self.batch_id:
            self.previous_batches.append(self.batch_id)
        self.event(reason, batch_id=self.batch_id)
        self.batch_id, self.creating_at, self.adopted = None, None, False
        self.state = "uploaded" if keep_file and self.file_id else "written"
        if not keep_file:
            self.file_id = None
        self.status = "waiting_for_quota" if reason == "quota" else "pending"
        self.counts, self.errors, self.results, self.result_files = {}, [], [], {}
        self.output_file_id = self.error_file_id = self.raw_status = None
        self.generation += 1

    def event(self, what: str, **details: Any) -> None:
        self.events.append({"event": what, "at": time.time(), **details})

    # -- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in _SHARD_FIELDS}
        return {**self.extra, **out}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Shard:
        """The shard `to_dict` wrote; unknown keys kept in `extra`. Filled in directly, not
        through `__init__` (a third of the time: every manifest read makes every shard)."""
        values = dict(_SHARD_DEFAULTS)
        for name, make in _SHARD_FACTORIES:
            values[name] = make()
        extra = {}
        for key, value in d.items():
            if key in _SHARD_FIELDS:
                values[key] = value
            else:
                extra[key] = value
        if not _SHARD_REQUIRED.issubset(values):
            missing = sorted(_SHARD_REQUIRED.difference(values))
            raise TypeError(f"a shard is missing {', '.join(missing)}")
        values["extra"] = extra
        shard = cls.__new__(cls)
        shard.__dict__.update(values)
        return shard


# a shard's stored fields, named once: `fields()` a shard made every manifest read and write
# (each poll and each step of a send) cost more than the JSON itself in a 200-shard job
_SHARD_FIELDS = frozenset(f.name for f in fields(Shard)) - {"extra"}
_SHARD_REQUIRED = frozenset(
    f.name for f in fields(Shard) if f.default is MISSING and f.default_factory is MISSING
)
_SHARD_DEFAULTS = {f.name: f.default for f in fields(Shard) if f.default is not MISSING}
_SHARD_FACTORIES = tuple(
    (f.name, f.default_factory)
    for f in fields(Shard)
    if f.default_factory is not MISSING and f.name != "extra"
)


@dataclass
class Attempt:
    """One sending of rows: attempt 0 is the job; later ones are `retry_failed()` calls."""

    attempt: int
    kinds: list[str] | None
    rows: int
    created_at: float | None = None


@dataclass
class Manifest:
    """Everything `job.json` holds: identity, task, columns, attempts and shards. Never a key."""

    name: str
    tag: str
    provider: dict[str, Any]
    task: dict[str, Any]
    n_rows: int
    shards: list[Shard]
    attempts: list[Attempt] = field(default_factory=list)
    columns: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    skipped: list[list[int]] = field(default_factory=list)
    limits: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    home: str | None = None
    frame_library: str = "pandas"
    snapshot: str = "full"
    created_at: float = 0.0
    llmbatch_version: str | None = None
    http: dict[str, Any] | None = None
    mode: str = "batch"  # "sync": sent through the realtime API (`realtime`)
    sync: dict[str, Any] | None = None  # sync mode's concurrency and requests-per-minute cap
    max_enqueued_tokens: int | None = None  # the queue limit given to the verb (`quota`)
    format: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def shard(self, index: int) -> Shard:
        for s in self.shards:
            if s.index == index:
                return s
        raise JobFolderError(f"job {self.name} has no shard {index}\nHint: reload the job.")

    @property
    def claimed(self) -> set[str]:
        """Every batch id this job has recorded, current and earlier generations."""
        ids = {s.batch_id for s in self.shards if s.batch_id}
        return ids | {b for s in self.shards for b in s.previous_batches}

    def add_http(self, delta: RetryStats) -> None:
        """Add one process's HTTP counters (since its last save) to the job's totals."""
        totals = RetryStats()
        totals.merge(self.http or {})
        totals.merge(delta)
        self.http = totals.as_dict()

    def rename(self, name: str) -> None:
        """The job's folder name (set once, when a new job's folder gets its final name)."""
        self.name = name

    def add_attempt(self, kinds: list[str] | None, rows: int, shards: list[Shard]) -> int:
        number = len(self.attempts)
        self.attempts.append(Attempt(number, kinds, rows, time.time()))
        self.shards.extend(shards)
        return number

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for f in fields(self):
            if f.name in ("extra", "shards", "attempts"):
                continue
            out[f.name] = getattr(self, f.name)
        out["format"] = FORMAT_VERSION
        out["attempts"] = [asdict(a) for a in self.attempts]
        out["shards"] = [s.to_dict() for s in self.shards]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        """Read a manifest of this format or an older one (migrated in memory)."""
        if d.get("format") == 1:
            d = _migrate_v1(d)
        known = {f.name for f in fields(cls)} - {"extra", "shards", "attempts"}
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known | {"shards", "attempts"}}
        attempts = [Attempt(**_only(a, Attempt)) for a in d.get("attempts") or []]
        shards = [Shard.from_dict(s) for s in d["shards"]]
        return cls(**kwargs, shards=shards, attempts=attempts, extra=extra)


def _only(d: dict[str, Any], cls: type) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _migrate_v1(d: dict[str, Any]) -> dict[str, Any]:
    """0.1.0's manifest: shard dicts with `cleaned` flags, no `ended` state, sha256 of lines."""
    shards = []
    for old in d["shards"]:
        s = dict(old)
        s["hash_form"] = "lines"
        cleaned = bool(s.pop("cleaned", False))
        if s.get("status") == "cancelled" and s.get("state") in UNSENT:
            s["cancelled"] = True
        if s.get("state") == "submitted" and s.get("status") in TERMINAL:
            s["state"] = "ended"
        if cleaned:
            s["state"] = "cleaned"
        s.setdefault("results", [])
        shards.append(s)
    return {**d, "format": FORMAT_VERSION, "shards": shards}
