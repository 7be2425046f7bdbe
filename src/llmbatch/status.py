"""A job's normalised status: one state, request counts summed over shards, per-shard details."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

from llmbatch.manifest import TERMINAL, Shard

__all__ = ["JobStatus", "ShardStatus"]

JobState = Literal["pending", "running", "ended"]


@dataclass(frozen=True)
class ShardStatus:
    """One shard: the normalised status and the provider's raw one."""

    index: int
    attempt: int
    status: str
    raw_status: str | None
    batch_id: str | None
    total: int
    completed: int
    failed: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None  # e.g. a released foreign batch, a completion not yet trusted

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, s: Shard) -> ShardStatus:
        """The status of one manifest shard, with a note when there is more to say."""
        return cls(
            index=s.index,
            attempt=s.attempt,
            status=s.status,
            raw_status=s.raw_status,
            batch_id=s.batch_id,
            total=s.counts.get("total") or s.n,
            completed=s.counts.get("completed", 0),
            failed=s.counts.get("failed", 0),
            errors=list(s.errors),
            note=_note(s),
        )


@dataclass(frozen=True)
class JobStatus:
    """What `handle.status()` returns.

    `state` is `pending` (not all shards submitted), `running` or `ended`; `total`,
    `completed` and `failed` are request counts summed over shards (Anthropic reports them only
    when a batch has ended).
    """

    name: str
    provider: str
    state: JobState
    n_rows: int
    total: int
    completed: int
    failed: int
    shards: list[ShardStatus]

    @property
    def done(self) -> bool:
        return self.state == "ended"

    @property
    def waiting_for_quota(self) -> bool:
        return any(s.status == "waiting_for_quota" for s in self.shards)

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.shards:
            counts[s.status] = counts.get(s.status, 0) + 1
        return counts

    def __str__(self) -> str:
        shards = ", ".join(f"{n} {k}" for k, n in sorted(self._counts().items()))
        line = (
            f"llmbatch job {self.name} ({self.provider}): {self.state} — "
            f"{self.completed:,} done, {self.failed:,} failed of {self.total:,} requests "
            f"({self.n_rows:,} rows); shards: {shards or 'none'}"
        )
        if self.waiting_for_quota:
            line += "\n  waiting for the provider's enqueued-token quota to free up"
        for s in self.shards:
            if s.note:
                line += f"\n  shard {s.index}: {s.note}"
        return line

    def __repr__(self) -> str:
        return f"<JobStatus {self}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{s.index}</td><td>{s.attempt}</td><td>{html.escape(s.status)}</td>"
            f"<td>{html.escape(str(s.raw_status))}</td><td>{html.escape(str(s.batch_id))}</td>"
            f"<td>{s.completed:,}</td><td>{s.failed:,}</td><td>{s.total:,}</td></tr>"
            for s in self.shards
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("shard", "attempt", "status", "raw", "batch", "done", "failed", "total")
        )
        return (
            f"<div><b>llmbatch job</b> <code>{html.escape(self.name)}</code> "
            f"({html.escape(self.provider)}): <b>{self.state}</b> — {self.completed:,} done, "
            f"{self.failed:,} failed of {self.total:,} requests ({self.n_rows:,} rows)"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )


def _note(s: Shard) -> str | None:
    """What the user should know about a shard beyond its status."""
    released = [e for e in s.events if e.get("event") == "released_foreign_batch"]
    if released and s.unsent:
        return (
            f"batch {released[-1].get('batch_id')} (adopted after a lost create) held another "
            "job's rows; released, the shard is sent again"
        )
    if released:
        return f"sent again after releasing another job's batch {released[-1].get('batch_id')}"
    return s.note
