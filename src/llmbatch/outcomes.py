"""One outcome per row: what became of each input row over every shard and attempt.

A row is an answer (a reply) or an error with its kind and the provider's message, whatever
shape its result line has and whatever became of its batch (failed, cancelled or expired
before the row ran). Across attempts (`retry_failed`), the latest successful answer of a row
wins; a later failure never hides an earlier success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc

from llmbatch._exceptions import BatchFailedError
from llmbatch.manifest import Manifest, Shard
from llmbatch.result_columns import ReplyColumns
from llmbatch.tasks import Reply

__all__ = [
    "ERROR_KINDS",
    "PLAIN",
    "READ_ERRORS",
    "RETRY_KINDS",
    "ErrorKind",
    "Outcome",
    "Outcomes",
    "batch_failure",
    "failed_batch",
    "line_outcome",
    "never_ran",
    "read_reply",
    "unanswered",
]

ErrorKind = Literal[
    "errored", "expired", "canceled", "invalid_output", "batch_failed", "missing", "not_sent"
]
ERROR_KINDS: tuple[str, ...] = (
    "errored",
    "expired",
    "canceled",
    "invalid_output",
    "batch_failed",
    "missing",
)
# what retry_failed() sends again by default: every failure (a row the provider lost without a
# line, `missing`, too: nothing was paid for it)
RETRY_KINDS: tuple[str, ...] = ERROR_KINDS
# what reading a successful payload of an odd shape raises (that row's error, never the job's)
READ_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError)


@dataclass(slots=True)
class Outcome:
    """What became of one row: a reply, or an error kind with the provider's message."""

    reply: Reply | None = None
    kind: ErrorKind | None = None
    message: str | None = None


# the outcome of a row answered by a columnar read (`Outcomes.read_columns`): its reply lives
# in the columns; its placeholder only says "answered" (`record` keeps it against a failure)
PLAIN = Outcome(reply=Reply())


class Outcomes:
    """One slot per input row, filled shard by shard and attempt by attempt.

    Rows read a whole file at once (`read_columns`) hold `PLAIN` and keep their replies as
    columns; `slots` makes them objects on first use, `peek` and `answer_table` never do.
    """

    def __init__(self, n_rows: int) -> None:
        self._slots: list[Outcome | None] = [None] * n_rows
        self._read: list[tuple[pa.Array, ReplyColumns]] = []  # (rows, their replies), in order
        self._replaced = False  # a columnar answer was replaced (or read again) since
        self._plain: tuple[list[int], ReplyColumns | None] | None = None  # `plain()`, kept

    @property
    def slots(self) -> list[Outcome | None]:
        """Every row's outcome, each reply an object."""
        if self._read:
            rows, cols = self.plain()
            if cols is not None:
                for row, reply in zip(rows, cols.replies(), strict=True):
                    self._slots[row] = Outcome(reply)
            self._read, self._plain = [], None
        return self._slots

    @property
    def held(self) -> list[Outcome | None]:
        """Every row's outcome as it is held (`PLAIN` for a columnar answer): not to change."""
        return self._slots

    def peek(self, row: int) -> Outcome | None:
        """A row's outcome as it is held (`PLAIN` for a columnar answer)."""
        return self._slots[row]

    def __len__(self) -> int:
        return len(self._slots)

    def read_columns(self, rows: pa.Array, replies: ReplyColumns) -> None:
        """Rows answered by a columnar read (`rows[i]` by `replies` entry i, no row twice):
        each answer replaces whatever the row held, as a successful line does."""
        self._read.append((rows, replies))
        self._plain = None
        slots = self._slots
        for row in rows.to_pylist():
            if slots[row] is PLAIN:
                self._replaced = True
            slots[row] = PLAIN

    def plain(self) -> tuple[list[int], ReplyColumns | None]:
        """The rows that still hold a columnar answer, in order, and their replies (the
        latest read of a row wins)."""
        if self._plain is None:
            self._plain = self._find_plain()
        return self._plain

    def _find_plain(self) -> tuple[list[int], ReplyColumns | None]:
        """`plain()`, in row order."""
        if not self._read:
            return [], None
        parts = [cols for _, cols in self._read]
        cols = parts[0] if len(parts) == 1 else ReplyColumns.concat(parts)
        if not self._replaced:  # every row read once and still held: the reads as they are
            rows = pa.concat_arrays([rows for rows, _ in self._read])
            order = pc.sort_indices(rows)
            return rows.take(order).to_pylist(), cols.take(order)
        where: dict[int, int] = {}
        for position, row in enumerate(r for rows, _ in self._read for r in rows.to_pylist()):
            where[row] = position
        kept = [r for r, o in enumerate(self._slots) if o is PLAIN]
        return kept, cols.take(pa.array([where[r] for r in kept], pa.int64()))

    def _replacing(self, current: Outcome | None) -> None:
        if current is PLAIN:
            self._replaced, self._plain = True, None

    def expect(
        self, rows: Iterable[int], kind: ErrorKind = "missing", message: str = "no result returned"
    ) -> None:
        """Rows sent in a shard: an error of `kind` until a result line says otherwise (a
        cancelled or expired batch leaves out the rows it never ran). One outcome object
        serves them all (an outcome without a reply is never changed in place)."""
        slots = self._slots
        outcome = Outcome(kind=kind, message=message)
        for row in rows:
            current = slots[row]
            if current is None or current.reply is None:
                slots[row] = outcome

    def prime(self, shard: Shard, rows: Sequence[int], partial: bool) -> bool:
        """What `shard`'s rows are before its result lines are read: its batch never ran (or
        was cancelled unsent), not finished yet (only with `partial`), or expected to answer.
        Returns whether its lines are to be read."""
        if shard.collected:
            self.expect(rows, *unanswered(shard))
            return True
        ended = never_ran(shard)
        if ended is not None:
            self.record_many(rows, ended)
        elif partial:
            self.record_many(
                rows, Outcome(kind="missing", message=f"shard {shard.index} not finished")
            )
        return False

    def not_sent(self, rows: Iterable[int], message: str) -> None:
        for row in rows:
            self._replacing(self._slots[row])
            self._slots[row] = Outcome(kind="not_sent", message=message)

    def record_many(self, rows: Iterable[int], outcome: Outcome) -> None:
        for row in rows:
            self.record(row, Outcome(outcome.reply, outcome.kind, outcome.message))

    def record(self, row: int, outcome: Outcome) -> None:
        current = self._slots[row]
        if outcome.reply is None and current is not None and current.reply is not None:
            return  # a later failure never hides an earlier answer
        self._replacing(current)
        self._slots[row] = outcome

    def set(self, row: int, outcome: Outcome) -> None:
        """A successful line's outcome: it replaces whatever the row held."""
        self._replacing(self._slots[row])
        self._slots[row] = outcome

    def failed_rows(self, kinds: Sequence[str]) -> list[int]:
        """Rows whose current outcome is an error of one of `kinds`."""
        wanted = set(kinds)
        return [i for i, o in enumerate(self._slots) if o is not None and o.kind in wanted]


def line_outcome(
    reply: Callable[[dict[str, Any]], Reply], kind: str, payload: Any, message: str | None
) -> Outcome:
    """One normalised result line as a row's outcome; a kind we do not know is `errored`."""
    if kind == "succeeded":
        if isinstance(payload, dict):
            return read_reply(reply, payload)
        shown = type(payload).__name__
        return Outcome(kind="invalid_output", message=f"unreadable answer (a {shown})")
    if kind in ("errored", "canceled", "expired"):
        return Outcome(kind=cast(ErrorKind, kind), message=message or kind)
    return Outcome(kind="errored", message=message or f"unknown result type {kind!r}")


def unanswered(shard: Shard) -> tuple[ErrorKind, str]:
    """What a row of a downloaded shard is when no result line names it."""
    if shard.status == "cancelled":
        return "canceled", f"canceled: batch {shard.batch_id} was cancelled before this ran"
    if shard.status == "expired":
        return "expired", f"expired: batch {shard.batch_id} ended before this request ran"
    return "missing", "no result returned"


def never_ran(shard: Shard) -> Outcome | None:
    """The outcome of every row of a shard that ended with no results at all: its batch
    failed at the provider (with the provider's reasons), or it was cancelled unsent."""
    if shard.cancelled and shard.unsent:
        return Outcome(kind="canceled", message="cancelled before it was sent")
    if shard.status == "failed" and shard.finished:
        return Outcome(kind="batch_failed", message=batch_failure(shard))
    return None


def failed_batch(manifest: Manifest, answered: Callable[[int], bool]) -> BatchFailedError | None:
    """The error for a batch that failed at the provider while some of its rows have no
    answer (`answered(row)` False); once `retry_failed()` has answered them, the job is whole
    again. Latest attempt first."""
    for shard in sorted(manifest.shards, key=lambda s: -s.attempt):
        if never_ran(shard) is None or shard.cancelled:
            continue
        runs = shard.rows
        if any(not answered(r) for a, b in runs for r in range(a, b)):
            msg = (
                f"shard {shard.index}: {batch_failure(shard)}\nHint: job.retry_failed() "
                "sends its rows again (fix the cause first if it is in the requests); "
                "collect(partial=True) returns the other rows now."
            )
            return BatchFailedError(msg, shard=shard.index, errors=shard.errors)
    return None


def batch_failure(shard: Shard) -> str:
    """Why a shard's batch failed, in the provider's words (its first few errors)."""
    shown = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in shard.errors[:3])
    more = f" (and {len(shard.errors) - 3} more)" if len(shard.errors) > 3 else ""
    return f"batch {shard.batch_id} failed at the provider: {shown or 'no details'}{more}"


def read_reply(reply: Callable[[dict[str, Any]], Reply], payload: dict[str, Any]) -> Outcome:
    """One successful payload as an Outcome; a body we cannot read is that row's error."""
    try:
        return Outcome(reply=reply(payload))
    except READ_ERRORS as exc:
        message = f"unreadable answer ({type(exc).__name__}: {exc})"
        return Outcome(kind="invalid_output", message=message)
