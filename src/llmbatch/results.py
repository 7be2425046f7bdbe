"""From outcomes to answer columns: the typed columns collect() appends, in row order.

Every input row comes back exactly once: as an answer, or as an error with a message, whatever
shape the provider's line has (refused, filtered, cut, empty, unreadable, a value that does not
fit its column: see `typed_columns`). The per-row bookkeeping lives in `outcomes`, the reading
of one reply as an answer in `answers`; their names stay importable from here.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from llmbatch.answers import answer_reader, classify_texts, usable_reply
from llmbatch.outcomes import (
    ERROR_KINDS,
    PLAIN,
    READ_ERRORS,
    RETRY_KINDS,
    Outcome,
    Outcomes,
    batch_failure,
    failed_batch,
    line_outcome,
    never_ran,
    unanswered,
)
from llmbatch.result_columns import ReplyColumns
from llmbatch.tasks import Reply, TaskSpec
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
    "paused_gc",
    "truncated_answers",
    "unanswered",
    "usable_reply",
    "warn_truncated",
]

log = logging.getLogger("llmbatch")

USAGE_COLUMNS = (".stop_reason", ".input_tokens", ".output_tokens")
CACHE_COLUMNS = (".cache_read_tokens", ".cache_write_tokens")


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
    slots = outcomes.held
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
    answers, wrong = classify_texts(spec)(plain.text.to_pylist())
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
        for o in outcomes.held
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
