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
import pyarrow.compute as pc

from llmbatch import schema as schema_mod
from llmbatch._exceptions import BatchFailedError
from llmbatch._schema_columns import json_text
from llmbatch._schema_validate import fast_check
from llmbatch.manifest import Manifest, Shard
from llmbatch.result_columns import ReplyColumns
from llmbatch.tasks import Reply, TaskSpec, answer_schema
from llmbatch.typed_columns import Bad, column, drop_rows, task_columns

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
    return _classify_parts(spec)[0]


def _classify_parts(
    spec: TaskSpec,
) -> tuple[Callable[[Reply], tuple[Any, str | None]], Callable[[list[str]], Read]]:
    """A classify reply's answer: its JSON parsed and checked against the schema; and the same
    for many texts of replies known to hold no problem (columnar answers, `answer_table`).

    Per row of collect, so the common case (plain text, valid) takes the fewest steps: the
    compiled Rust check first, the full validator only to word a failure.
    """
    schema = answer_schema(spec)
    validate, is_valid = schema_mod.make_validator(schema), fast_check(schema)
    loads = orjson.loads

    def judge(obj: Any) -> tuple[Any, str | None]:
        try:
            if is_valid(obj):
                return obj, None
        except (ValueError, TypeError, OverflowError, RecursionError):
            pass  # `validate` words it (or finds it valid after all)
        problem = validate(obj)
        if problem:
            return None, f"output does not match the schema: {problem}"
        return obj, None

    def from_text(text: str) -> tuple[Any, str | None]:
        try:
            obj = loads(text)
        except orjson.JSONDecodeError as exc:
            return None, f"output is not valid JSON ({exc})"
        return judge(obj)

    def read(reply: Reply) -> tuple[Any, str | None]:
        if reply.refusal or reply.filtered or reply.truncated or not reply.text:
            problem = _no_answer(spec, reply)
            if problem is not None:
                return None, problem
        if reply.data is None:
            return from_text(cast(str, reply.text))
        return judge(reply.data)

    def from_texts(texts: list[str]) -> Read:
        """`from_text` of each, a step at a time over all (`map`, no call of ours a row)."""
        try:
            objs: list[Any] = list(map(loads, texts))
            valid = list(map(is_valid, objs))
        except (orjson.JSONDecodeError, ValueError, TypeError, OverflowError, RecursionError):
            pairs = list(map(from_text, texts))
            objs, errors = [v for v, _ in pairs], {i: e for i, (_, e) in enumerate(pairs) if e}
            return objs, errors
        errors = {}
        if not all(valid):
            for i in [i for i, ok in enumerate(valid) if not ok]:
                objs[i], error = judge(objs[i])
                if error is not None:
                    errors[i] = error
        return objs, errors

    return read, from_texts


Read = tuple[list[Any], dict[int, str]]  # answers (None where none), why not by position


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


def answer_table(spec: TaskSpec, outcomes: Outcomes, options: dict[str, Any]) -> pa.Table:
    """The columns collect() appends, in row order: answers, then `.error` and usage.

    Marks the outcome of every row whose answer is unusable (`invalid_output`), so that
    `retry_failed()` sees it. An embedding's vector moves from its reply into the column (the
    reply's `data` is emptied): at a million vectors, never two copies.

    Two kinds of rows, one result: a reply object is read by `answer_reader`; a columnar
    answer (`Outcomes.read_columns`) stays columns when it holds no problem (`_flagged`: a
    refusal, a filter, a cut or empty answer), else it becomes a reply object first.
    """
    plain_rows, plain = _plain_answers(spec, outcomes)
    slots = outcomes._slots
    n = len(slots)
    errors: list[str | None] = [None] * n
    reply_rows: list[int] = []
    no_reply: list[int] = []
    for i, outcome in enumerate(slots):
        if outcome is PLAIN:
            continue
        if outcome is None:
            errors[i] = "not sent"
            no_reply.append(i)
        elif outcome.reply is None:
            errors[i] = outcome.message or outcome.kind or "failed"
            no_reply.append(i)
        else:
            reply_rows.append(i)
    replies = [cast(Outcome, slots[i]).reply for i in reply_rows]
    read = answer_reader(spec)
    read_out = [read(cast(Reply, r)) for r in replies]
    reply_values = [v for v, _ in read_out]
    for i, (_, error) in zip(reply_rows, read_out, strict=True):
        if error is not None:
            errors[i] = error
            outcome = cast(Outcome, slots[i])
            outcome.kind, outcome.message = "invalid_output", error
    del read_out
    if spec.kind == "embed":  # the vectors now live in `values` only (see `vector_column`)
        for reply in replies:
            cast(Reply, reply).data = None
    at = _positions(plain_rows, reply_rows, no_reply)
    if spec.kind == "complete":
        columns, bad = _complete_columns(options, plain, reply_rows, reply_values, at)
    else:
        values: list[Any] = []
        if plain is not None:
            values = _plain_values(spec, outcomes, plain_rows, plain, errors)
        if len(values) != n:  # not every row a columnar answer: each to its row
            values = _in_row_order(n, plain_rows, values, reply_rows, reply_values)
        columns, bad = task_columns(spec, values, options)
    if bad:
        columns = drop_rows(columns, bad, n)
        position = {row: j for j, row in enumerate(plain_rows)}
        for i, message in bad.items():
            errors[i] = message
            _invalid(outcomes, i, message, position.get(i), plain)
    messages = pa.array(errors, type=pa.string())
    columns[".error"] = pc.is_valid(messages)
    columns[".error_msg"] = messages
    usage, present = _usage_columns(plain, replies, at)
    columns[".stop_reason"] = usage[".stop_reason"]
    for name in (".input_tokens", ".output_tokens"):
        columns[name] = usage[name]
    for name in CACHE_COLUMNS:
        if present[name]:
            columns[name] = usage[name]
    return pa.table(columns)


def _plain_answers(spec: TaskSpec, outcomes: Outcomes) -> tuple[list[int], ReplyColumns | None]:
    """The columnar answers that hold no problem; the others become reply objects."""
    rows, plain = outcomes.plain()
    if plain is None:
        return rows, None
    flagged = _flagged(spec, plain)
    if not pc.any(flagged).as_py():
        return rows, plain
    for j in pc.indices_nonzero(flagged).to_pylist():
        outcomes.set(rows[j], Outcome(plain.reply(j)))
    kept = pc.invert(flagged)
    return [r for r, k in zip(rows, kept.to_pylist(), strict=True) if k], plain.filter(kept)


def _flagged(spec: TaskSpec, plain: ReplyColumns) -> pa.Array:
    """The columnar answers `answer_reader` must see as replies: refused, filtered, empty,
    (classify) cut; every embedding (no columnar reader makes them)."""
    if spec.kind == "embed":
        return pa.array([True] * len(plain), pa.bool_())
    refused = pc.fill_null(pc.not_equal(plain.refusal, ""), False)
    empty = pc.fill_null(pc.equal(plain.text, ""), True)
    out = pc.or_(pc.or_(refused, plain.filtered), empty)
    return pc.or_(out, plain.truncated) if spec.kind == "classify" else out


def _complete_columns(
    options: dict[str, Any],
    plain: ReplyColumns | None,
    reply_rows: list[int],
    reply_values: list[Any],
    at: pa.Array | None,
) -> tuple[dict[str, pa.Array], Bad]:
    """`task_columns` of a complete job: the columnar texts as they are, the others typed."""
    name = options.get("content_column") or "content"
    typed, wrong = column(name, reply_values, pa.string())
    bad = {reply_rows[k]: message for k, message in wrong.items()}
    parts = [typed] if plain is None else [plain.text, typed]
    return {name: _placed(pa.concat_arrays(parts), at)}, bad


def _plain_values(
    spec: TaskSpec,
    outcomes: Outcomes,
    rows: list[int],
    plain: ReplyColumns,
    errors: list[str | None],
) -> list[Any]:
    """The answers of the columnar rows (classify: parsed and checked), in their order."""
    answers, wrong = _classify_parts(spec)[1](plain.text.to_pylist())
    for j, error in wrong.items():
        errors[rows[j]] = error
        outcomes.set(rows[j], Outcome(plain.reply(j), "invalid_output", error))
    return answers


def _in_row_order(
    n: int, plain_rows: list[int], plain: list[Any], reply_rows: list[int], replied: list[Any]
) -> list[Any]:
    values: list[Any] = [None] * n
    for row, value in zip(plain_rows, plain, strict=True):
        values[row] = value
    for row, value in zip(reply_rows, replied, strict=True):
        values[row] = value
    return values


def _positions(
    plain_rows: list[int], reply_rows: list[int], no_reply: list[int]
) -> pa.Array | None:
    """Where each row's reply lies among the columnar answers then the reply objects (null:
    none); None when every row is a columnar answer, in order already."""
    if not reply_rows and not no_reply:
        return None
    answered = len(plain_rows) + len(reply_rows)
    every = pa.array([*plain_rows, *reply_rows, *no_reply], pa.int64())  # each row once
    where = pc.sort_indices(every)
    return pc.if_else(pc.less(where, answered), where, pa.scalar(None, pa.uint64()))


def _invalid(
    outcomes: Outcomes, row: int, message: str, j: int | None, plain: ReplyColumns | None
) -> None:
    """Mark a row's answer unusable (a columnar one, entry `j`, becomes an object first)."""
    outcome = outcomes.peek(row)
    if outcome is PLAIN and plain is not None and j is not None:
        outcome = Outcome(plain.reply(j))
        outcomes.set(row, outcome)
    if outcome is not None:
        outcome.kind, outcome.message = "invalid_output", message


def _usage_columns(
    plain: ReplyColumns | None, replies: list[Reply | None], at: pa.Array | None
) -> tuple[dict[str, pa.Array], dict[str, bool]]:
    """The usage columns (the columnar answers' as they are, the reply objects' typed: a value
    of the wrong type is left out, never converted), and which hold any value at all."""
    objects = cast(list[Reply], replies)
    out: dict[str, pa.Array] = {}
    present: dict[str, bool] = {}
    for name, kind in _USAGE_TYPES.items():
        attribute = name[1:]
        given = [getattr(r, attribute) for r in objects]
        typed = column(name, given, kind)[0]
        parts = [typed] if plain is None else [getattr(plain, attribute), typed]
        out[name] = _placed(pa.concat_arrays(parts), at)
        held = plain is not None and getattr(plain, attribute).null_count < len(plain)
        present[name] = held or any(v is not None for v in given)
    return out, present


def _placed(values: pa.Array, at: pa.Array | None) -> pa.Array:
    return values if at is None else values.take(at)


_USAGE_TYPES = {
    ".stop_reason": pa.string(),
    ".input_tokens": pa.int64(),
    ".output_tokens": pa.int64(),
    ".cache_read_tokens": pa.int64(),
    ".cache_write_tokens": pa.int64(),
}


def truncated_answers(outcomes: Outcomes) -> int:
    """How many answers were kept although cut at the output limit (after `answer_table`)."""
    count = sum(
        1
        for o in outcomes._slots
        if o is not None and o.kind is None and o.reply is not None and o.reply.truncated
    )
    _, plain = outcomes.plain()
    return count + (0 if plain is None else int(pc.sum(plain.truncated).as_py() or 0))


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
