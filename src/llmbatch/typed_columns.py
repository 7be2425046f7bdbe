"""Answers as typed Arrow columns: in one go per column, row by row only when that fails.

A value that does not fit its column (an integer beyond int64, a list Arrow cannot unify with
the others, a bool where an int belongs) makes its row an error row; it never fails the job,
and no value is converted silently (2.5 never becomes 2).
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from array import array
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmbatch import schema as schema_mod
from llmbatch._schema_columns import column_values
from llmbatch.tasks import TaskSpec

__all__ = ["Bad", "column", "drop_rows", "task_columns", "vector_column"]


_PACKED = {"d": pa.float64(), "f": pa.float32()}


def vector_column(values: list[Any]) -> pa.Array:
    """The `embedding` column (list<double>); packed vectors (`array('d')`, or `array('f')`
    from base64) are copied as bytes into one buffer, not converted one float at a time.

    Consumes `values`: each vector's slot is emptied once it is copied, so the vectors and the
    column are never both whole in memory (200,000 vectors of 256 are 410 MB each way).
    """
    present = [v for v in values if v is not None]
    total = sum(len(v) for v in present)
    codes = {v.typecode if isinstance(v, array) else None for v in present}
    del present
    if len(codes) > 1 or not codes <= set(_PACKED) or total >= 2**31:  # int32 list offsets
        return pa.array([None if v is None else list(v) for v in values], pa.list_(pa.float64()))
    source = _PACKED[str(codes.pop())] if codes else pa.float64()
    width = 8
    # an anonymous map: its pages are touched only as vectors are copied in (a bytearray's are
    # all zeroed at once), and the vectors are freed as they go: never two whole copies
    flat = mmap.mmap(-1, max(total * width, 1))
    view = memoryview(flat)
    offsets: list[int | None] = []
    end = 0
    for start in range(0, len(values), _TRIM_EVERY):
        chunk = [v for v in values[start : start + _TRIM_EVERY] if v is not None]
        for v in values[start : start + _TRIM_EVERY]:
            offsets.append(None if v is None else end)  # a null offset makes a null list
            end += 0 if v is None else len(v)
        if chunk:  # widened by Arrow a chunk at a time (base64 vectors are float32)
            n = sum(len(v) for v in chunk)
            part = pa.Array.from_buffers(source, n, [None, pa.py_buffer(b"".join(chunk))])
            wide = part.cast(pa.float64()).buffers()[1]
            at = (end - n) * width
            view[at : at + n * width] = memoryview(wide).cast("B")[: n * width]
        del chunk
        values[start : start + _TRIM_EVERY] = [None] * len(values[start : start + _TRIM_EVERY])
        _give_back()
    offsets.append(end)
    view.release()
    data = pa.Array.from_buffers(pa.float64(), end, [None, pa.py_buffer(flat)])  # no copy
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), data)


_TRIM_EVERY = 16_384  # vectors copied at a time, then freed memory goes back to the system


def _give_back() -> None:
    """Return freed heap memory to the system (glibc's `malloc_trim`; elsewhere a no-op).

    A vector's buffer is freed once copied, but glibc keeps freed heap pages mapped: without
    this the vectors' pages stay resident beside the column built from them (measured at
    200,000 vectors of 256: peak 1,075 MB without, see `vector_column`).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "json": pa.string(),
}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
Bad = dict[int, str]  # row -> why its answer cannot be a row of the columns


def task_columns(
    spec: TaskSpec, values: list[Any], options: dict[str, Any]
) -> tuple[dict[str, pa.Array], Bad]:
    """The answer columns, and the rows whose answer does not fit them (those become errors)."""
    if spec.kind == "complete":
        name = options.get("content_column") or "content"
        content, wrong = column(name, values, pa.string())
        return {name: content}, wrong
    if spec.kind == "embed":
        return _embed_columns(spec, values, bool(options.get("wide")))
    assert spec.schema is not None
    cols = schema_mod.columns(spec.schema)
    out: dict[str, pa.Array] = {}
    bad: Bad = {}
    for col in cols:
        kind = None if col.dtype == "list" else _SCALARS[col.dtype]  # lists: as Arrow infers
        out[col.name], col_bad = column(col.name, column_values(values, col), kind)
        bad = {**col_bad, **bad}
    return out, bad


def _embed_columns(
    spec: TaskSpec, values: list[Any], wide: bool
) -> tuple[dict[str, pa.Array], Bad]:
    if not wide:
        return {"embedding": vector_column(values)}, {}
    width = next((len(v) for v in values if v is not None), spec.dimensions or 0)
    bad = {
        i: f"the embedding has {len(v)} values where the others have {width}"
        for i, v in enumerate(values)
        if v is not None and len(v) != width
    }
    vectors = vector_column([None if i in bad else v for i, v in enumerate(values)])
    return {f"V{j + 1}": pc.list_element(vectors, j) for j in range(width)}, bad


def column(name: str, values: list[Any], kind: pa.DataType | None) -> tuple[pa.Array, Bad]:
    """One typed column in one go; if that fails, the rows whose value does not fit, each
    named, and the column without them (one row's answer never fails the whole job)."""
    try:
        return _typed(values, kind), {}
    except _ARROW_ERRORS:
        pass
    kind = kind or _common_type(values)
    bad: Bad = {}
    for i, value in enumerate(values):
        if value is not None and not _fits(value, kind):
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            bad[i] = f"output value {shown} of {name!r} does not fit the column's type {kind}"
    kept = [None if i in bad else v for i, v in enumerate(values)]
    return pa.array(kept, type=kind), bad


def _typed(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """A column as Arrow infers it, which must be `kind` (ints widen to floats), so that no
    value is silently converted (2.5 truncated to 2, True read as 1). None: any type."""
    column = pa.array(values)
    if kind is None or column.type == kind:
        return column
    if _widens(column.type, kind):
        return column.cast(kind)
    raise pa.ArrowTypeError(f"{column.type} values in a {kind} column")


def _widens(src: pa.DataType, dst: pa.DataType) -> bool:
    """Whether every `src` value is a `dst` value as it is (nulls, ints as floats, lists)."""
    if src == dst or pa.types.is_null(src):
        return True
    if pa.types.is_integer(src) and pa.types.is_floating(dst):
        return True
    if pa.types.is_list(src) and pa.types.is_list(dst):
        return _widens(src.value_type, dst.value_type)
    return False


def _fits(value: Any, kind: pa.DataType) -> bool:
    """Whether `value` is a `kind` value as it is, and Arrow can store it as one."""
    try:
        pa.array([value], type=kind)  # raises if Arrow cannot store it as one
        return _widens(pa.array([value]).type, kind)
    except _ARROW_ERRORS:
        return False


def _common_type(values: list[Any]) -> pa.DataType:
    """The type most rows' values have on their own (a list column Arrow cannot unify)."""
    seen: Counter[pa.DataType] = Counter()
    for value in values:
        if value is not None:
            try:
                seen[pa.array([value]).type] += 1
            except _ARROW_ERRORS:
                continue
    ranked = sorted(seen, key=lambda t: (_holds_null(t), -seen[t]))  # [] says nothing
    return ranked[0] if ranked else pa.null()


def _holds_null(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind):
        return _holds_null(kind.value_type)
    return bool(pa.types.is_null(kind))


def drop_rows(columns: dict[str, pa.Array], bad: Bad, n: int) -> dict[str, pa.Array]:
    """Null the answer values of `bad` rows in every column (an error row holds no answer)."""
    mask = pa.array([i in bad for i in range(n)], type=pa.bool_())
    return {
        name: pc.if_else(mask, pa.scalar(None, type=col.type), col) for name, col in columns.items()
    }
