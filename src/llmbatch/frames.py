"""Dataframe-agnostic column access, the frame snapshot, and the merge back (pandas and polars).

Everything else in llmbatch sees plain Python lists and pyarrow tables; this is the only module
that knows which frame library the user holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw
import pyarrow as pa

from llmbatch._exceptions import InputError

__all__ = [
    "attach_columns",
    "column_names",
    "column_values",
    "from_arrow",
    "is_utf8_column",
    "library_of",
    "read_snapshot",
    "require_columns",
    "select",
    "to_frame",
    "to_native_frame",
    "write_snapshot",
]

LIBRARIES = ("pandas", "polars")


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
    have = column_names(frame)
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
    native = series.to_native()
    return library_of(native) == "polars" or getattr(native.dtype, "storage", "") == "pyarrow"


def write_snapshot(native: Any, path: Path) -> bool:
    """Write the frame as parquet; the pandas index is kept. Returns False if it cannot be."""
    tmp = path.with_suffix(".parquet.part")
    try:
        if library_of(native) == "pandas":
            native.to_parquet(tmp, index=True)
        else:
            native.write_parquet(tmp)
    except (pa.ArrowException, TypeError, ValueError):
        tmp.unlink(missing_ok=True)
        return False
    tmp.chmod(0o600)
    tmp.replace(path)
    return True


def read_snapshot(path: Path, library: str) -> Any:
    """Read the frame snapshot back into the library it came from."""
    if library == "pandas":
        import pandas as pd

        return pd.read_parquet(path)
    import polars as pl

    return pl.read_parquet(path)


def _to_native_series(array: pa.ChunkedArray | pa.Array, library: str, index: Any) -> Any:
    if library == "pandas":
        import pandas as pd

        mapper = {
            pa.int64(): pd.Int64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
        }
        series = array.to_pandas(types_mapper=mapper.get)
        if (
            pa.types.is_boolean(array.type)
            and array.null_count == 0
            and series.dtype == pd.BooleanDtype()
        ):
            series = series.astype(bool)
        series.index = index
        return series
    import polars as pl

    return pl.from_arrow(array)


def attach_columns(native: Any, table: pa.Table) -> Any:
    """Return a copy of `native` with the columns of `table` appended (row i to row i).

    The pandas index and row order are kept. A `.error` column without nulls stays a plain bool.
    New pandas columns are joined in one `concat` (inserting 1,536 `V<n>` columns one at a time
    fragments the frame and warns each time); a column the frame already has is replaced.
    """
    library = library_of(native)
    if library == "pandas":
        import pandas as pd

        out = native.copy(deep=False)
        columns = {
            name: _to_native_series(table.column(name), library, out.index)
            for name in table.column_names
        }
        for name in [n for n in columns if n in out.columns]:
            out[name] = columns.pop(name)
        if not columns:
            return out
        return pd.concat([out, pd.DataFrame(columns, index=out.index, copy=False)], axis=1)
    import polars as pl

    added = pl.from_arrow(table)
    assert isinstance(added, pl.DataFrame)
    return native.hstack(added.get_columns())


def select(frame: nw.DataFrame[Any], names: list[str]) -> Any:
    """The native frame with only `names` (in that order)."""
    return nw.to_native(frame.select(names))


def from_arrow(table: pa.Table, library: str = "pandas") -> Any:
    """A new native frame from an arrow table."""
    if library not in LIBRARIES:
        msg = f"library must be one of {LIBRARIES}, got {library!r}\nHint: library='pandas'."
        raise InputError(msg)
    if library == "pandas":
        import pandas as pd

        return attach_columns(pd.DataFrame(index=pd.RangeIndex(table.num_rows)), table)
    import polars as pl

    return pl.from_arrow(table)
