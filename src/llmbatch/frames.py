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
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, nw.DataFrame):
        msg = f"expected a DataFrame, got {type(native).__name__}\nHint: pass a whole frame."
        raise InputError(msg)
    return frame


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
    """A column as a Python list (nulls as None)."""
    return frame.get_column(name).to_list()


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
    """
    library = library_of(native)
    if library == "pandas":
        out = native.copy(deep=False)
        for name in table.column_names:
            out[name] = _to_native_series(table.column(name), library, out.index)
        return out
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
