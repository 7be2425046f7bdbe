"""From raw result lines to answer columns: one outcome per row, then typed columns.

Every input row comes back exactly once: as an answer, or as an error with a message, whatever
shape the provider's line has (refused, filtered, cut, empty, unreadable, a value that does not
fit its column: see `typed_columns`), and whatever became of its batch (failed, cancelled or
expired before the row ran). Across
attempts (`retry_failed`), the latest successful answer of a row wins; a later failure never
hides an earlier success.
"""

from __future__ import annotations

import functools
import gc
import logging
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson
import pyarrow as pa

from llmbatch import schema as schema_mod
from llmbatch._exceptions import BatchFailedError
from llmbatch._schema_columns import json_text
from llmbatch._schema_validate import fast_check
from llmbatch.manifest import Manifest, Shard
from llmbatch.tasks import Reply, TaskSpec, answer_schema
from llmbatch.typed_columns import column, drop_rows, task_columns

__all__ = [
    "ERROR_KINDS",
    "READ_ERRORS",
    "RETRY_KINDS",
    "Outcome",
    "Outcomes",
    "answer_table",
    "batch_failure",
    "failed_batch",
    "line_outcome",
    "never_ran",
    "truncated_answers",
    "unanswered",
    "usable_reply",
    "warn_truncated",
]

log = logging.getLogger("llmbatch")

ResultKind = Literal["succeeded", "errored", "canceled", "expired"]
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
USAGE_COLUMNS = (".stop_reason", ".input_tokens", ".output_tokens")
CACHE_COLUMNS = (".cache_read_tokens", ".cache_write_tokens")


@dataclass(slots=True)
class Outcome:
    """What became of one row: a reply, or an error kind with the provider's message."""

    reply: Reply | None = None
    kind: ErrorKind | None = None
    message: str | None = None


class Outcomes:
    """One slot per input row, filled shard by shard and attempt by attempt."""

    def __init__(self, n_rows: int) -> None:
        self.slots: list[Outcome | None] = [None] * n_rows

    def expect(
        self, rows: Iterable[int], kind: ErrorKind = "missing", message: str = "no result returned"
    ) -> None:
        """Rows sent in a shard: an error of `kind` until a result line says otherwise (a
        cancelled or expired batch leaves out the rows it never ran)."""
        for row in rows:
            current = self.slots[row]
            if current is None or current.reply is None:
                self.slots[row] = Outcome(kind=kind, message=message)

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
            self.slots[row] = Outcome(kind="not_sent", message=message)

    def record_many(self, rows: Iterable[int], outcome: Outcome) -> None:
        for row in rows:
            self.record(row, Outcome(outcome.reply, outcome.kind, outcome.message))

    def record(self, row: int, outcome: Outcome) -> None:
        current = self.slots[row]
        if outcome.reply is None and current is not None and current.reply is not None:
            return  # a later failure never hides an earlier answer
        self.slots[row] = outcome

    def failed_rows(self, kinds: Sequence[str]) -> list[int]:
        """Rows whose current outcome is an error of one of `kinds`."""
        wanted = set(kinds)
        return [i for i, o in enumerate(self.slots) if o is not None and o.kind in wanted]


def answer_reader(spec: TaskSpec) -> Callable[[Reply], tuple[Any, str | None]]:
    """`spec`'s reading of one reply: its parsed answer, or (None, why it is no answer):
    whatever the reply's shape, a row ends up with exactly one of the two."""
    if spec.kind == "embed":
        return _embedding
    if spec.kind == "complete":
        return functools.partial(_complete_answer, spec)
    assert spec.schema is not None
    return _classify_reader(spec)


def _complete_answer(spec: TaskSpec, reply: Reply) -> tuple[str | None, str | None]:
    problem = _no_answer(spec, reply)
    return (None, problem) if problem is not None else _complete_text(reply)


def _classify_reader(spec: TaskSpec) -> Callable[[Reply], tuple[Any, str | None]]:
    """A classify reply's answer: its JSON parsed and checked against the schema.

    Per row of collect, so the common case (plain text, valid) takes the fewest steps: the
    compiled Rust check first, the full validator only to word a failure.
    """
    schema = answer_schema(spec)
    validate, is_valid = schema_mod.make_validator(schema), fast_check(schema)
    loads = orjson.loads

    def read(reply: Reply) -> tuple[Any, str | None]:
        if reply.refusal or reply.filtered or reply.truncated or not reply.text:
            problem = _no_answer(spec, reply)
            if problem is not None:
                return None, problem
        obj = reply.data
        if obj is None:
            try:
                obj = loads(cast(str, reply.text))
            except orjson.JSONDecodeError as exc:
                return None, f"output is not valid JSON ({exc})"
        try:
            if is_valid(obj):
                return obj, None
        except (ValueError, TypeError, OverflowError, RecursionError):
            pass  # `validate` words it (or finds it valid after all)
        problem = validate(obj)
        if problem:
            return None, f"output does not match the schema: {problem}"
        return obj, None

    return read


def _no_answer(spec: TaskSpec, reply: Reply) -> str | None:
    """Why a reply holds no usable answer: refused, filtered, cut, or empty (else None).

    A `complete` answer cut at the output limit keeps its text (it is paid for and usually
    useful; `.stop_reason` says it was cut); structured output cut short is incomplete JSON.
    """
    if reply.refusal:
        return f"refused: {reply.refusal}"
    if reply.filtered:
        return f"content filtered by the provider (stop reason {reply.stop_reason!r})"
    empty = not reply.text and reply.data is None
    if reply.truncated and (empty or spec.kind != "complete"):
        where = " before any text" if empty else ""
        return f"output truncated{where} (stop reason {reply.stop_reason!r}); raise max_tokens"
    if empty:
        return f"empty answer: no text and no tool input (stop reason {reply.stop_reason!r})"
    return None


def _complete_text(reply: Reply) -> tuple[str | None, str | None]:
    """The text of a `complete` answer; a tool call's input (no text) as JSON text."""
    if isinstance(reply.text, str) and reply.text:
        return reply.text, None
    if reply.text:
        return None, f"the answer's text is a {type(reply.text).__name__}, not a string"
    try:
        return json_text(reply.data), None
    except (TypeError, ValueError):
        return None, f"the answer holds no text (a {type(reply.data).__name__})"


def _embedding(reply: Reply) -> tuple[Any, str | None]:
    vectors = reply.data if isinstance(reply.data, list) else []
    if len(vectors) != 1:
        return None, f"expected one embedding, got {len(vectors)}"
    if not isinstance(vectors[0], array):  # see tasks._vector: packed unless not all numbers
        return None, "the embedding is not a list of numbers"
    if not vectors[0]:
        return None, "the embedding is empty"
    return vectors[0], None


def usable_reply(spec: TaskSpec) -> Callable[[Reply], bool]:
    """Whether a reply is an answer collect() keeps: not refused, cut, empty or off-schema."""
    read = answer_reader(spec)
    return lambda reply: read(reply)[1] is None


_NO_REPLY: tuple[Any, str | None] = (None, None)  # a row without a reply: its error is set below


def answer_table(spec: TaskSpec, outcomes: Outcomes, options: dict[str, Any]) -> pa.Table:
    """The columns collect() appends, in row order: answers, then `.error` and usage.

    Marks the outcome of every row whose answer is unusable (`invalid_output`), so that
    `retry_failed()` sees it. An embedding's vector moves from its reply into the column (the
    reply's `data` is emptied): at a million vectors, never two copies.
    """
    read = answer_reader(spec)
    slots = outcomes.slots
    n = len(slots)
    # a column at a time (list comprehensions): this is per row of collect
    replies = [None if o is None else o.reply for o in slots]
    read_out = [_NO_REPLY if r is None else read(r) for r in replies]
    values = [v for v, _ in read_out]
    errors = [e for _, e in read_out]
    del read_out
    if spec.kind == "embed":  # the vectors now live in `values` only (see `vector_column`)
        for reply in replies:
            if reply is not None:
                reply.data = None
    for i, outcome in enumerate(slots):
        if outcome is None:
            errors[i] = "not sent"
        elif outcome.reply is None:
            errors[i] = outcome.message or outcome.kind or "failed"
        elif errors[i] is not None:
            outcome.kind, outcome.message = "invalid_output", errors[i]
    usage: dict[str, list[Any]] = {
        ".stop_reason": [None if r is None else r.stop_reason for r in replies],
        ".input_tokens": [None if r is None else r.input_tokens for r in replies],
        ".output_tokens": [None if r is None else r.output_tokens for r in replies],
        ".cache_read_tokens": [None if r is None else r.cache_read_tokens for r in replies],
        ".cache_write_tokens": [None if r is None else r.cache_write_tokens for r in replies],
    }
    columns, bad = task_columns(spec, values, options)
    if bad:
        columns = drop_rows(columns, bad, n)
        for i, message in bad.items():
            errors[i] = message
            outcome = outcomes.slots[i]
            if outcome is not None:
                outcome.kind, outcome.message = "invalid_output", message
    columns[".error"] = pa.array([e is not None for e in errors], type=pa.bool_())
    columns[".error_msg"] = pa.array(errors, type=pa.string())
    columns[".stop_reason"] = column(".stop_reason", usage[".stop_reason"], pa.string())[0]
    for name in (".input_tokens", ".output_tokens"):
        columns[name] = column(name, usage[name], pa.int64())[0]
    for name in CACHE_COLUMNS:
        if any(v is not None for v in usage[name]):
            columns[name] = column(name, usage[name], pa.int64())[0]
    return pa.table(columns)


def truncated_answers(outcomes: Outcomes) -> int:
    """How many answers were kept although cut at the output limit (after `answer_table`)."""
    return sum(
        1
        for o in outcomes.slots
        if o is not None and o.kind is None and o.reply is not None and o.reply.truncated
    )


def warn_truncated(outcomes: Outcomes, job: str) -> None:
    """Log once how many kept answers were cut at the output limit (`.stop_reason` says which)."""
    count = truncated_answers(outcomes)
    if count:
        log.warning(
            "job %s: %d answer(s) were cut at the output limit; their text is kept and "
            ".stop_reason says where (raise max_tokens for whole answers)",
            job,
            count,
        )


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


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a million small result objects are made.

    They hold no cycles, yet each generation-0 sweep would walk them: about a quarter of
    collect()'s time at 200,000 rows.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
