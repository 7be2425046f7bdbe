"""Row ids: checking the user's id column and mapping rows to wire `custom_id`s.

The user's ids may be anything unique and non-null (ints, strings with spaces or unicode, long
strings). On the wire every row is `<job tag>-<row position>`, which satisfies both providers
(Anthropic: `^[a-zA-Z0-9_-]{1,64}$`). The map from wire id to row is therefore the row position
itself, and the user's id values live in the frame snapshot, so results can be joined back onto
any frame that has the id column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from llmbatch._exceptions import InputError

__all__ = ["check_ids", "is_missing", "row_of", "shown", "wire_id"]


def shown(items: Sequence[Any], limit: int = 10) -> str:
    """A short list for error messages: the first `limit` items and how many more."""
    head = ", ".join(repr(x) for x in items[:limit])
    more = f" … and {len(items) - limit} more" if len(items) > limit else ""
    return f"[{head}{more}]"


def is_missing(value: Any) -> bool:
    """None or a float NaN (`frames.column_values` turns pd.NA, NaT and the like into None).

    Never `value != value` alone: `pd.NA != pd.NA` has no truth value, and an array's raises.
    """
    return value is None or (isinstance(value, float) and value != value)


def wire_id(tag: str, row: int) -> str:
    """The wire custom_id of row `row` in the job tagged `tag`."""
    return f"{tag}-{row}"


def row_of(custom_id: str, tag: str) -> int | None:
    """The row position a wire custom_id stands for, or None if it is not one of this job's."""
    prefix, _, row = custom_id.rpartition("-")
    if prefix != tag or not (row.isascii() and row.isdigit()):  # never '²' or '٣'
        return None
    return int(row)


def _unhashable(value: Any) -> bool:
    """Whether `value` cannot be a set member (a list; also a tuple holding one)."""
    try:
        hash(value)
    except TypeError:
        return True
    return False


def check_ids(values: list[Any], column: str) -> None:
    """Raise InputError naming the rows whose ids are null, unhashable or duplicated."""
    try:  # one set answers the common case (hashable, no nulls, unique) in one pass
        unique: set[Any] | None = set(values)
    except TypeError:
        unique = None
    # is_missing, inlined: one function call per row is measurable at a million rows
    # the types first (one pass in C): a NaN is looked for only among floats
    values_seen = unique if unique is not None else set()
    floats = any(issubclass(t, float) for t in set(map(type, values_seen)))
    nan = floats and any(isinstance(v, float) and v != v for v in values_seen)
    if unique is None or None in unique or nan:
        nulls = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if nulls:
            msg = (
                f"id column {column!r} has {len(nulls)} null value(s), at rows {shown(nulls)}\n"
                "Hint: every row needs an id; drop those rows or fill the ids."
            )
            raise InputError(msg)
    if unique is None:
        bad = [i for i, v in enumerate(values) if _unhashable(v)]
        kinds = sorted({type(values[i]).__name__ for i in bad})
        msg = (
            f"id column {column!r} holds unhashable values ({', '.join(kinds)}) at rows "
            f"{shown(bad)}\nHint: ids must be scalars such as ints or strings."
        )
        raise InputError(msg)
    if len(unique) == len(values):
        return
    dupes = [v for v, n in Counter(values).items() if n > 1]
    dupe_set = set(dupes)
    rows = [i for i, v in enumerate(values) if v in dupe_set]
    msg = (
        f"id column {column!r} has {len(dupes)} duplicate value(s): {shown(dupes)} "
        f"(rows {shown(rows)})\nHint: ids must be unique; de-duplicate the frame or pick "
        "another id column."
    )
    raise InputError(msg)
