"""From raw result lines to answer columns: one outcome per row, then typed columns.

Every input row comes back exactly once: as an answer, or as an error with a message. Across
attempts (`retry_failed`), the latest successful answer of a row wins; a later failure never
hides an earlier success.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from llmbatch import schema as schema_mod
from llmbatch.tasks import Reply, TaskSpec

__all__ = ["ERROR_KINDS", "Outcome", "Outcomes", "answer_table"]

ResultKind = Literal["succeeded", "errored", "canceled", "expired"]
ErrorKind = Literal["errored", "expired", "canceled", "invalid_output", "missing", "not_sent"]
ERROR_KINDS: tuple[str, ...] = ("errored", "expired", "canceled", "invalid_output", "missing")
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

    def expect(self, rows: Iterable[int]) -> None:
        """Rows sent in a shard: 'no result returned' until a result line says otherwise."""
        for row in rows:
            current = self.slots[row]
            if current is None or current.reply is None:
                self.slots[row] = Outcome(kind="missing", message="no result returned")

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


def _int_or_none(values: list[Any]) -> pa.Array:
    return pa.array(values, type=pa.int64())


def _answer_values(spec: TaskSpec, reply: Reply, state: dict[str, Any]) -> tuple[Any, str | None]:
    """The parsed answer of one reply, or (None, error message) for an invalid one."""
    if spec.kind == "embed":
        vectors = reply.data or []
        if len(vectors) != 1 or not vectors[0]:
            return None, f"expected one embedding, got {len(vectors)}"
        return vectors[0], None
    if reply.refusal:
        return None, f"refused: {reply.refusal}"
    if reply.truncated:
        return None, f"output truncated (stop reason {reply.stop_reason!r}); raise max_tokens"
    if spec.kind == "complete":
        return reply.text, None
    obj = reply.data
    if obj is None:
        if reply.text is None:
            return None, "no structured output in the answer"
        try:
            obj = orjson.loads(reply.text)
        except orjson.JSONDecodeError as exc:
            return None, f"output is not valid JSON ({exc})"
    problem = state["validate"](obj)
    if problem:
        return None, f"output does not match the schema: {problem}"
    return obj, None


_PACKED = {"d": pa.float64(), "f": pa.float32()}


def _vector_column(values: list[Any]) -> pa.Array:
    """The `embedding` column (list<double>); packed vectors (`array('d')`, or `array('f')`
    from base64) are copied as bytes and widened by Arrow, not converted one float at a time."""
    present = [v for v in values if v is not None]
    total = sum(len(v) for v in present)
    codes = {v.typecode if isinstance(v, array) else None for v in present}
    if len(codes) > 1 or not codes <= set(_PACKED) or total >= 2**31:  # int32 list offsets
        return pa.array([None if v is None else list(v) for v in values], pa.list_(pa.float64()))
    offsets: list[int | None] = []
    end = 0
    for v in values:
        offsets.append(None if v is None else end)  # a null offset makes a null list
        end += 0 if v is None else len(v)
    offsets.append(end)
    code = codes.pop() if codes else None  # never None when set: `codes <= set(_PACKED)`
    kind = pa.float64() if code is None else _PACKED[code]
    flat = pa.Array.from_buffers(kind, end, [None, pa.py_buffer(b"".join(present))])
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), flat.cast(pa.float64()))


def _task_columns(
    spec: TaskSpec, values: list[Any], options: dict[str, Any]
) -> dict[str, pa.Array]:
    if spec.kind == "complete":
        return {options.get("content_column") or "content": pa.array(values, type=pa.string())}
    if spec.kind == "embed":
        vectors = _vector_column(values)
        if options.get("wide"):
            width = next((len(v) for v in values if v is not None), spec.dimensions or 0)
            return {f"V{j + 1}": pc.list_element(vectors, j) for j in range(width)}
        return {"embedding": vectors}
    assert spec.schema is not None
    cols = schema_mod.columns(spec.schema)
    flat = [schema_mod.flatten_row(v, cols) if v is not None else {} for v in values]
    types = {
        "string": pa.string(),
        "float": pa.float64(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "json": pa.string(),
    }
    out: dict[str, pa.Array] = {}
    for col in cols:
        data = [row.get(col.name) for row in flat]
        if col.dtype == "list":
            out[col.name] = pa.array(data)
        elif col.dtype == "float":
            floats = [None if x is None else float(cast(float, x)) for x in data]
            out[col.name] = pa.array(floats, pa.float64())
        else:
            out[col.name] = pa.array(data, type=types[col.dtype])
    return out


def answer_table(spec: TaskSpec, outcomes: Outcomes, options: dict[str, Any]) -> pa.Table:
    """The columns collect() appends, in row order: answers, then `.error` and usage."""
    state: dict[str, Any] = {}
    if spec.kind == "classify":
        assert spec.schema is not None
        state["validate"] = schema_mod.make_validator(spec.wire_schema())
    n = len(outcomes.slots)
    values: list[Any] = [None] * n
    errors: list[str | None] = [None] * n
    usage: dict[str, list[Any]] = {c: [None] * n for c in (*USAGE_COLUMNS, *CACHE_COLUMNS)}
    for i, outcome in enumerate(outcomes.slots):
        if outcome is None:
            errors[i] = "not sent"
            continue
        if outcome.reply is None:
            errors[i] = outcome.message or outcome.kind
            continue
        reply = outcome.reply
        values[i], errors[i] = _answer_values(spec, reply, state)
        if errors[i] is not None:
            outcome.kind, outcome.message = "invalid_output", errors[i]
        usage[".stop_reason"][i] = reply.stop_reason
        usage[".input_tokens"][i] = reply.input_tokens
        usage[".output_tokens"][i] = reply.output_tokens
        usage[".cache_read_tokens"][i] = reply.cache_read_tokens
        usage[".cache_write_tokens"][i] = reply.cache_write_tokens
    columns: dict[str, pa.Array] = _task_columns(spec, values, options)
    columns[".error"] = pa.array([e is not None for e in errors], type=pa.bool_())
    columns[".error_msg"] = pa.array(errors, type=pa.string())
    columns[".stop_reason"] = pa.array(usage[".stop_reason"], type=pa.string())
    for name in (".input_tokens", ".output_tokens"):
        columns[name] = _int_or_none(usage[name])
    for name in CACHE_COLUMNS:
        if any(v is not None for v in usage[name]):
            columns[name] = _int_or_none(usage[name])
    return pa.table(columns)


def read_reply(reply: Callable[[dict[str, Any]], Reply], payload: dict[str, Any]) -> Outcome:
    """One successful payload as an Outcome; a body we cannot read is that row's error."""
    try:
        return Outcome(reply=reply(payload))
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
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
