"""A job's normalised status: one state, request counts summed over shards, per-shard details."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

from llmbatch.manifest import TERMINAL, Shard

__all__ = ["JobStatus", "ShardStatus", "usd"]

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
    fetched: bool = True  # False: ended, but its results are not in the job folder yet

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, s: Shard) -> ShardStatus:
        """The status of one manifest shard, with a note when there is more to say.

        Once a shard has ended, every request of it that did not succeed counts as failed:
        a batch that failed or was cancelled before running reports no counts, and an expired
        one was seen with counts that do not add up.
        """
        completed = int(s.counts.get("completed") or 0)
        ended = s.status in TERMINAL
        return cls(
            index=s.index,
            attempt=s.attempt,
            status=s.status,
            raw_status=s.raw_status,
            batch_id=s.batch_id,
            total=s.n if ended else s.counts.get("total") or s.n,
            completed=completed,
            failed=max(s.n - completed, 0) if ended else int(s.counts.get("failed") or 0),
            errors=list(s.errors),
            note=_note(s),
            fetched=not s.needs_download,
        )


@dataclass(frozen=True)
class JobStatus:
    """What `handle.status()` returns.

    `state` is `pending` (not all shards submitted), `running` or `ended`; `total`,
    `completed` and `failed` are request counts summed over shards (Anthropic reports them only
    when a batch has ended; once a shard has ended, each of its requests without an answer
    counts as failed, a batch that failed or was cancelled before it ran included).
    """

    name: str
    provider: str
    state: JobState
    n_rows: int
    total: int
    completed: int
    failed: int
    shards: list[ShardStatus]
    reused: int = 0  # rows answered by earlier jobs' answers (never sent, not in the counts)
    cost: float | None = None  # USD of the answers so far (None: no price for the model)
    prices: str | None = None  # which prices `cost` is at

    @classmethod
    def of(cls, name: str, provider: str, n_rows: int, shards: list[Shard]) -> JobStatus:
        """A job's status from its shards as the manifest records them (no remote call)."""
        views = [ShardStatus.of(s) for s in shards if not s.reused]
        unsent = any(s.to_send and s.status == "pending" for s in shards)
        ended = all(s.finished for s in shards)
        state: JobState = "ended" if ended else ("pending" if unsent else "running")
        return cls(
            name=name,
            provider=provider,
            state=state,
            n_rows=n_rows,
            total=sum(s.total for s in views),
            completed=sum(s.completed for s in views),
            failed=sum(s.failed for s in views),
            shards=views,
            reused=sum(s.n for s in shards if s.reused),
        )

    @property
    def done(self) -> bool:
        return self.state == "ended"

    @property
    def waiting_for_quota(self) -> bool:
        return any(s.status == "waiting_for_quota" for s in self.shards)

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.shards:
            label = s.status if s.fetched else "downloading"  # ended, results not fetched yet
            counts[label] = counts.get(label, 0) + 1
        return counts

    def _summary(self) -> str:
        """State and counts in words: requests per attempt, rows once (a retry resends rows)."""
        state: str = self.state
        if state == "running" and self.shards and all(s.done for s in self.shards):
            state = "downloading results"
        attempts = sorted({s.attempt for s in self.shards})
        rows = f"{self.n_rows:,} rows"
        if self.reused:
            rows += f": {self.reused:,} reused, {self.n_rows - self.reused:,} to send"
        if len(attempts) <= 1:
            return (
                f"{state} — {self.completed:,} done, {self.failed:,} failed of {self.total:,} "
                f"requests ({rows})"
            )
        parts = []
        for a in attempts:
            shards = [s for s in self.shards if s.attempt == a]
            done, failed = sum(s.completed for s in shards), sum(s.failed for s in shards)
            total = sum(s.total for s in shards)
            parts.append(f"{done:,} done, {failed:,} failed of {total:,} requests")
        return f"{state} — {rows} in {len(attempts)} attempts: " + ", then ".join(parts)

    def __str__(self) -> str:
        shards = ", ".join(f"{n} {k}" for k, n in sorted(self._counts().items()))
        line = (
            f"llmbatch job {self.name} ({self.provider}): {self._summary()}; "
            f"shards: {shards or 'none'}"
        )
        if self.prices is not None:
            line += f"\n  cost so far: {usd(self.cost)} at {self.prices}"
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
        cost = ""
        if self.prices is not None:
            cost = f"<br>cost so far: {html.escape(usd(self.cost))} at {html.escape(self.prices)}"
        return (
            f"<div><b>llmbatch job</b> <code>{html.escape(self.name)}</code> "
            f"({html.escape(self.provider)}): {html.escape(self._summary())}{cost}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )


def usd(value: float | None) -> str:
    """Dollars as a person reads them ("$12.40", "$0.0031"); None is "unknown"."""
    if value is None:
        return "unknown (no price for this model)"
    return f"${value:,.2f}" if value >= 1 else f"${value:,.4f}"


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
