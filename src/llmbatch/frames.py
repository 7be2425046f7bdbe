"""Dataframe-agnostic column access, the snapshot, answer columns and output files.

Everything else in llmbatch sees plain Python lists, pyarrow tables and opaque native frames;
this is the only module that knows which frame library the user holds. It goes through
narwhals (pandas and polars alike); what narwhals leaves to us for pandas, the index and the
nullable dtypes, is in the `_pandas_*` functions at the end. The join by id is `merge`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import narwhals.stable.v2 as nw
import orjson

from llmbatch._exceptions import InputError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "attach_columns",
    "check_library",
    "column_names",
    "column_values",
    "from_arrow",
    "is_utf8_column",
    "library_of",
    "parquet_ids_plainly_fine",
    "read_snapshot",
    "require_columns",
    "select",
    "to_frame",
    "to_native_frame",
    "write_file",
    "write_snapshot",
]

LIBRARIES = ("pandas", "polars")
_BACKENDS: dict[str, Literal["pandas", "polars"]] = {"pandas": "pandas", "polars": "polars"}


def to_frame(native: Any) -> nw.DataFrame[Any]:
    """Wrap a pandas/polars DataFrame (a polars LazyFrame is collected first)."""
    try:
        frame = nw.from_native(native)
    except TypeError:
        msg = (
            f"expected a pandas or polars DataFrame, got {type(native).__name__}\n"
            "Hint: llmbatch works on pandas.DataFrame, polars.DataFrame and polars.LazyFrame."
        )
        raise InputError(msg) from None
    except nw.exceptions.DuplicateError:
        raise InputError(_duplicate_columns(native)) from None
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, nw.DataFrame):
        msg = f"expected a DataFrame, got {type(native).__name__}\nHint: pass a whole frame."
        raise InputError(msg)
    return frame


def _duplicate_columns(native: Any) -> str:
    names = [str(c) for c in getattr(native, "columns", [])]
    dupes = sorted({c for c in names if names.count(c) > 1})
    return (
        f"the frame has duplicate column names: {dupes}\n"
        "Hint: rename them so that every column name is unique (pandas: df.columns = [...])."
    )


def is_lazy(native: Any) -> bool:
    """A polars LazyFrame (read in slices by `staged`, never collected whole)."""
    return type(native).__name__ == "LazyFrame" and type(native).__module__.startswith("polars")


def lazy_columns(native: Any) -> list[str]:
    """A LazyFrame's column names, from its schema (nothing is computed)."""
    return list(native.collect_schema().names())


def sink_parquet(native: Any, path: Path, row_group_size: int) -> None:
    """Write a LazyFrame to parquet with polars' streaming engine (bounded memory)."""
    import polars as pl

    try:
        native.sink_parquet(path, row_group_size=row_group_size)
    except (pl.exceptions.PolarsError, OSError, ValueError, TypeError) as exc:
        path.unlink(missing_ok=True)
        msg = f"the lazy frame could not be computed and written to parquet: {exc}"
        hint = (
            "fix the query; a column parquet cannot hold (Python objects) must be converted "
            "first, or .collect() the frame and pass that (it is then held in memory)."
        )
        raise InputError(f"{msg}\nHint: {hint}") from None


def scan_parquet(path: str | Path) -> Any:
    """A parquet file as a polars LazyFrame: `llmbatch.scan_parquet(p).llmbatch.classify(...)`
    reads it in slices, never whole (for pandas users too: the answers can go to parquet)."""
    import polars as pl

    return pl.scan_parquet(path)


def to_native_frame(native: Any) -> Any:
    """The eager native frame (a polars LazyFrame is collected)."""
    return nw.to_native(to_frame(native))


def library_of(native: Any) -> str:
    """'pandas' or 'polars'."""
    module = type(native).__module__.split(".")[0]
    if module not in LIBRARIES:
        msg = f"unsupported frame type {type(native).__name__}\nHint: use pandas or polars."
        raise InputError(msg)
    return module


def column_names(frame: nw.DataFrame[Any]) -> list[str]:
    """The frame's column names as strings."""
    return [str(c) for c in frame.columns]


def require_columns(frame: nw.DataFrame[Any], names: list[str], *, role: str = "column") -> None:
    """Raise InputError naming the missing columns and listing the ones that exist."""
    require_names(column_names(frame), names, role=role)


def require_names(have: list[str], names: list[str], *, role: str = "column") -> None:
    """`require_columns` for a frame known by its column names (`have`)."""
    missing = [n for n in names if n not in have]
    if missing:
        shown = ", ".join(repr(c) for c in have[:20])
        msg = (
            f"{role} {', '.join(repr(m) for m in missing)} not in the frame\n"
            f"Hint: the frame has columns {shown}{' …' if len(have) > 20 else ''}."
        )
        raise InputError(msg)


def column_values(frame: nw.DataFrame[Any], name: str) -> list[Any]:
    """A column as a Python list, every missing value (None, NaN, NaT, pd.NA) as None.

    pandas extension dtypes give `pd.NA`, whose truth value raises; the null mask is columnar,
    so a column without nulls costs nothing more than `to_list()`.
    """
    series = frame.get_column(name)
    values = series.to_list()
    if series.null_count():
        for i in series.is_null().arg_true().to_list():
            values[i] = None
    return values


def is_utf8_column(frame: nw.DataFrame[Any], name: str) -> bool:
    """Whether every value of a column is valid UTF-8 text once formatted, by construction.

    Arrow-backed strings (polars, pandas `str`/`string[pyarrow]`), numbers, booleans and dates
    cannot hold a lone surrogate; Python objects (pandas `object`, `string[python]`) can.
    """
    series = frame.get_column(name)
    dtype = series.dtype
    if dtype.is_numeric() or dtype.is_temporal() or dtype == nw.Boolean:
        return True
    if dtype != nw.String:
        return False
    pandas_storage = getattr(series.to_native().dtype, "storage", "")
    return series.implementation.is_polars() or pandas_storage == "pyarrow"


SNAPSHOT_GROUP = 100_000  # rows a row group of the frame snapshot (`sink.WINDOW` reads them)


def write_snapshot(native: Any, path: Path) -> bool:
    """Write the frame as parquet (a pandas index is kept). Returns False if it cannot be.

    Parquet names columns by strings only: a pandas frame labelled otherwise (`0`, `("a", 1)`)
    would come back renamed, so it is refused like a column parquet cannot hold.
    """
    import pyarrow as pa

    frame = to_frame(native)
    if not all(isinstance(c, str) for c in frame.columns):
        return False
    tmp = path.with_suffix(".parquet.part")
    try:  # in row groups, so `collect(to=)` reads the snapshot a window at a time
        raw = frame.to_native()
        if frame.implementation.is_pandas():
            raw.to_parquet(tmp, row_group_size=SNAPSHOT_GROUP)
        elif frame.implementation.is_polars():
            raw.write_parquet(tmp, row_group_size=SNAPSHOT_GROUP)
        else:
            frame.write_parquet(tmp)
    except (pa.ArrowException, TypeError, ValueError):  # a column parquet cannot hold
        tmp.unlink(missing_ok=True)
        return False
    tmp.chmod(0o600)
    tmp.replace(path)
    return True


def read_snapshot(path: Path, library: str) -> Any:
    """Read the frame snapshot back into the library it came from."""
    return nw.read_parquet(path, backend=_BACKENDS[library]).to_native()


def attach_columns(native: Any, table: pa.Table) -> Any:
    """Return a copy of `native` with the columns of `table` appended (row i to row i).

    The pandas index and row order are kept; a column the frame already has is replaced in
    place. New columns are joined in one horizontal concat (inserting 1,536 `V<n>` columns
    one at a time fragments a pandas frame and warns each time).
    """
    frame = to_frame(native)
    added = _answer_frame(table, library_of(frame.to_native()))
    replaced = [c for c in added.columns if c in frame.columns]
    if replaced:
        frame = frame.with_columns(added.get_column(c) for c in replaced)
        added = added.drop(replaced)
    if added.columns:
        frame = nw.concat([frame, added], how="horizontal")
    return frame.to_native()


def check_library(library: str) -> None:
    """Raise InputError unless `library` is one llmbatch can build frames in."""
    if library not in LIBRARIES:
        msg = f"library must be one of {list(LIBRARIES)}, got {library!r}"
        raise InputError(msg + "\nHint: library='pandas' or library='polars'.")


def to_arrow(native: Any) -> pa.Table:
    """The frame as an Arrow table (its columns; a pandas index is not kept)."""
    return to_frame(native).to_arrow()


def from_arrow(table: pa.Table, library: str = "pandas") -> Any:
    """A new native frame from an arrow table (typed as `attach_columns` types answers)."""
    check_library(library)
    return _answer_frame(table, library).to_native()


def _answer_frame(table: pa.Table, library: str) -> nw.DataFrame[Any]:
    """Answer columns as a frame of `library` (pandas: nullable dtypes, see below)."""
    if library == "pandas":
        return nw.from_native(_pandas_from_arrow(table), eager_only=True)
    return nw.from_arrow(table, backend=_BACKENDS[library])


def select(frame: nw.DataFrame[Any], names: list[str]) -> Any:
    """The native frame with only `names` (in that order)."""
    return nw.to_native(frame.select(names))


def write_file(native: Any, path: Path) -> int:
    """Write a frame to `.parquet` or `.csv` and return its row count.

    CSV holds no nested values, so lists (embeddings, arrays) become JSON text, not reprs; a
    pandas index other than the default becomes the first column.
    """
    frame = to_frame(native)
    if path.suffix.lower() == ".csv":
        _csv_ready(_pandas_index_as_column(frame)).write_csv(path)
    else:
        frame.write_parquet(path)
    return len(frame)


def _csv_ready(frame: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """The frame with every nested value (list, tuple, dict, array) as JSON text."""
    backend = frame.implementation
    replaced = []
    for name, dtype in frame.schema.items():
        if not (dtype.is_nested() or dtype == nw.Object):
            continue
        values = frame.get_column(name).to_list()
        texts = [_json_text(v) for v in values]
        if any(t is not v for t, v in zip(texts, values, strict=True)):
            replaced.append(nw.new_series(name, texts, backend=backend))
    return frame.with_columns(replaced) if replaced else frame


def _json_text(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)) or type(value).__name__ == "ndarray":
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return value


# -- pandas only: the index and nullable dtypes ----------------------------------------------


def _pandas_from_arrow(table: pa.Table) -> Any:
    """A pandas frame of `table`: int64 as `Int64` and bool as `boolean` (nulls stay nulls,
    not NaN floats or objects); a bool column without nulls stays a plain numpy bool; a list
    column (embeddings) stays Arrow (`pd.ArrowDtype`), not an object column holding a numpy
    array a row (at 200,000 vectors of 256 that doubled collect()'s memory)."""
    import pandas as pd
    import pyarrow as pa

    mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}

    def dtype(kind: pa.DataType) -> Any:
        if pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind):
            return pd.ArrowDtype(kind)
        return mapper.get(kind)

    native = table.to_pandas(types_mapper=dtype)
    plain = [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_boolean(column.type) and column.null_count == 0
    ]
    return native.astype(dict.fromkeys(plain, bool)) if plain else native


def _pandas_index_as_column(frame: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """A pandas frame whose index is not the default 0..n-1 gets it as its first column(s)."""
    if not frame.implementation.is_pandas():
        return frame
    import pandas as pd

    native = frame.to_native()
    index = native.index
    if index.name is None and index.equals(pd.RangeIndex(len(native))):
        return frame
    return nw.from_native(native.reset_index(), eager_only=True)


def parquet_ids_plainly_fine(path: Path, column: str) -> bool:
    """Whether a parquet file's id column holds no null (or NaN) and no value twice, found
    without a Python object a row: unique 64-bit hashes prove the values unique (a collision
    only sends the column to the exact check, `ids.check_ids`, which names the rows)."""
    import polars as pl

    ids = pl.scan_parquet(path).select(pl.col(column))
    kind = ids.collect_schema()[column]
    missing = pl.col(column).is_null().sum()
    if kind.is_float():
        missing = missing + pl.col(column).is_nan().sum()
    if kind.is_nested() or kind == pl.Object:
        return False  # lists and such: the exact check words the refusal
    found = ids.select(
        missing.alias("missing"),
        pl.col(column).hash().n_unique().alias("distinct"),
        pl.len().alias("rows"),
    ).collect()
    missing_count, distinct, rows = found.row(0)
    return missing_count == 0 and distinct == rows
