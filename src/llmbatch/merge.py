"""Answers back onto a frame: the job's own frame row by row, or any frame joined by id.

The answer table has one row per job row, in job order. `collect()` without a frame appends
it to the job's frame; `collect(frame=df)` joins it onto `df` by the id column's values, so
`df` may hold the rows in any order, a subset, or rows the job never saw (their `.error` is
true: "id not in this job"). Frame-library details stay in `frames`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmbatch import frames
from llmbatch._exceptions import InputError

__all__ = ["merge_answers"]


def merge_answers(
    table: pa.Table,
    frame: Any,
    job_frame: Callable[[], Any],
    *,
    id_column: str | None,
    n_rows: int,
    suffix: str = "",
) -> Any:
    """`frame` (the job's own, `job_frame()`, when None) with the answer columns of `table`.

    `job_frame` is called only when needed: for the job's own frame, or for its id values
    when joining onto another frame. Same library, row order and pandas index as `frame`.
    """
    if frame is None:
        return frames.attach_columns(job_frame(), table)
    target = frames.to_frame(frame)
    if id_column is None:
        if len(target) != n_rows:
            msg = (
                f"this job was made without id= and has {n_rows} rows; the frame has "
                f"{len(target)}\nHint: collect onto a frame with the same rows, same order."
            )
            raise InputError(msg)
        return frames.attach_columns(frame, table)
    frames.require_columns(target, [id_column], role="id column")
    job_ids = frames.column_values(frames.to_frame(job_frame()), id_column)
    ids = frames.column_values(target, id_column)
    return frames.attach_columns(frame, _take_by_id(table, job_ids, ids, suffix))


def _take_by_id(table: pa.Table, job_ids: list[Any], ids: list[Any], suffix: str) -> pa.Table:
    """The rows of `table` for `ids` (job row i has id `job_ids[i]`); an unknown id is an error
    row."""
    where = {v: i for i, v in enumerate(job_ids)}
    taken = table.take(pa.array([where.get(v) for v in ids], type=pa.int64()))
    error_name, msg_name = ".error" + suffix, ".error_msg" + suffix
    missing = pc.is_null(taken.column(error_name))
    errors = pc.fill_null(taken.column(error_name), True)
    msgs = pc.if_else(missing, pa.scalar("id not in this job"), taken.column(msg_name))
    taken = taken.set_column(taken.column_names.index(error_name), error_name, errors)
    return taken.set_column(taken.column_names.index(msg_name), msg_name, msgs)
