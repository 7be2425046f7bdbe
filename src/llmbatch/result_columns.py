"""A whole results file read as columns: one Arrow parse instead of one `orjson.loads` a line.

Most lines of a results file are a plain success of one shape. A provider's `Columnar` names
that shape as an explicit Arrow schema and turns the parsed file into reply columns, saying
which lines it read (`plain`). Every other line, and every file the parse does not fit exactly
(one record a line, valid UTF-8, each field of the declared type, no key twice), is read line
by line (`reading.line_recorder`), so both ways give a row the same outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from llmbatch.wire import Reply

__all__ = [
    "Columnar",
    "ReplyColumns",
    "all_of",
    "field",
    "first_item",
    "line_count",
    "parse_file",
    "row_numbers",
    "split_lines",
    "yes",
]

_PARSE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_NEWLINE, _CR, _OPEN, _CLOSE = ord("\n"), ord("\r"), ord("{"), ord("}")
_MAX_DIGITS = 18  # a longer row number is no row of any job (int64 stays exact)


@dataclass(frozen=True)
class ReplyColumns:
    """`Reply`'s fields as columns, one entry a line: strings, int64 counts, bools (no nulls)."""

    text: pa.Array
    refusal: pa.Array
    stop_reason: pa.Array
    input_tokens: pa.Array
    output_tokens: pa.Array
    cache_read_tokens: pa.Array
    cache_write_tokens: pa.Array
    truncated: pa.Array
    filtered: pa.Array

    def __len__(self) -> int:
        return len(self.text)

    def _map(self, f: Callable[[pa.Array], pa.Array]) -> ReplyColumns:
        return ReplyColumns(*(f(getattr(self, k.name)) for k in fields(self)))

    def filter(self, mask: pa.Array) -> ReplyColumns:
        return self._map(lambda c: c.filter(mask))

    def take(self, indices: pa.Array) -> ReplyColumns:
        return self._map(lambda c: c.take(indices))

    @staticmethod
    def concat(parts: Sequence[ReplyColumns]) -> ReplyColumns:
        names = [k.name for k in fields(ReplyColumns)]
        return ReplyColumns(
            *(pa.concat_arrays([getattr(p, name) for p in parts]) for name in names)
        )

    def replies(self) -> list[Reply]:
        """Every entry as the `Reply` the provider's line reader makes of its line."""
        names = [k.name for k in fields(self)]
        text, refusal, stop, read, out, cached, written, cut, filtered = (
            getattr(self, name).to_pylist() for name in names
        )
        rows = zip(text, refusal, stop, read, out, cached, written, cut, filtered, strict=True)
        return [Reply(t, None, r, s, i, o, c, w, x, f) for t, r, s, i, o, c, w, x, f in rows]

    def reply(self, i: int) -> Reply:
        """Line `i` as the `Reply` the provider's line reader makes of it."""
        values = [getattr(self, k.name)[i].as_py() for k in fields(self)]
        text, refusal, stop, read, out, cached, written, cut, filtered = values
        return Reply(text, None, refusal, stop, read, out, cached, written, cut, filtered)


@dataclass(frozen=True)
class Columnar:
    """A provider's plain-success line: its Arrow schema (other fields are not read), and
    ``(parsed file, endpoint) -> (plain, columns)``: which lines it read, and their replies
    (the entries of the other lines mean nothing). `applies(endpoint)`: whether any line of
    that endpoint can be plain (else the file is read line by line without trying)."""

    schema: pa.Schema
    read: Callable[[pa.RecordBatch, str], tuple[pa.Array, ReplyColumns]]
    applies: Callable[[str], bool]


def _whole(buf: bytes) -> pa.Array:
    """The file as one binary value (no copy)."""
    offsets = pa.array([0, len(buf)], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(buf)])


def split_lines(buf: bytes) -> pa.Array | None:
    """The file's lines (binary, without their newline); None unless every line starts with
    ``{`` and ends with ``}`` (a CRLF file: ``}\\r``), or if there is none.

    Then every newline lies between two records (``}`` and ``{`` with only whitespace between
    cannot be inside a JSON value, and a string holds no raw newline), so a parse that finds
    as many records as lines found one a line: the records a line-by-line read sees.
    """
    lines = pc.list_flatten(pc.split_pattern(_whole(buf), b"\n"))
    if buf.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if not len(lines):
        return None
    ends = pc.or_(pc.ends_with(lines, "}"), pc.ends_with(lines, "}\r"))
    if not pc.all(pc.and_(pc.starts_with(lines, "{"), ends)).as_py():
        return None
    return lines


def line_count(buf: bytes) -> int | None:
    """`len(split_lines(buf))` without splitting (one pass to find the newlines, then a
    look at the bytes beside each): the file's number of lines, None unless every line starts
    with ``{`` and ends with ``}`` (or ``}\\r``)."""
    ended = buf.endswith(b"\n")
    if not buf.startswith(b"{") or not (ended or buf.endswith((b"}", b"}\r"))):
        return None
    data = np.frombuffer(buf, np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)  # each after the line's first byte, a `{`
    before = data[ends - 1]
    crlf = (before == _CR) & (data[np.maximum(ends - 2, 0)] == _CLOSE)
    starts = ends[:-1] + 1 if ended else ends + 1  # the next line's first byte
    if not ((before == _CLOSE) | crlf).all() or not (data[starts] == _OPEN).all():
        return None
    return len(ends) + (0 if ended else 1)


def parse_file(buf: bytes, lines: int, columnar: Columnar) -> pa.RecordBatch | None:
    """The file parsed with the provider's schema; None if that does not give exactly what
    a line-by-line read gives (`lines` records, valid UTF-8, the declared types)."""
    try:
        _whole(buf).cast(pa.large_string())  # the parser itself does not check UTF-8
        table = pj.read_json(
            pa.BufferReader(pa.py_buffer(buf)),
            parse_options=pj.ParseOptions(
                explicit_schema=columnar.schema, unexpected_field_behavior="ignore"
            ),
        )
    except _PARSE_ERRORS:
        return None
    if table.num_rows != lines or not lines:  # two records on one line (or none at all)
        return None
    return table.combine_chunks().to_batches()[0]


def row_numbers(custom_ids: pa.Array, tag: str, first: int, n: int) -> pa.Array:
    """The slot (`row - first`, within 0..n-1) each custom_id names, null where it names none:
    `tag-<ASCII digits>`, as `reading.line_recorder` reads it."""
    head = tag + "-"
    ours = pc.fill_null(pc.starts_with(custom_ids, head), False)
    digits = pc.utf8_slice_codeunits(custom_ids, len(head))
    pattern = f"^[0-9]{{1,{_MAX_DIGITS}}}$"
    ours = pc.and_(ours, pc.fill_null(pc.match_substring_regex(digits, pattern), False))
    kept = pc.if_else(ours, digits, pa.scalar("0"))
    slots = pc.subtract(pc.cast(kept, pa.int64()), first)
    inside = pc.and_(ours, pc.and_(pc.greater_equal(slots, 0), pc.less(slots, n)))
    return pc.if_else(inside, slots, pa.scalar(None, pa.int64()))


def first_item(lists: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The first element of each list (null where none) and whether it has one; no copy when
    every list holds exactly one (a chat's one choice, a Message's one text block)."""
    lengths = pc.list_value_length(lists)
    has = yes(pc.greater(lengths, 0))
    values = lists.values
    single = lists.offset == 0 and lists.null_count == 0 and len(values) == len(lists)
    if single and pc.all(pc.equal(lengths, 1)).as_py():
        return values, has
    starts = pc.if_else(has, lists.offsets.slice(0, len(lists)), pa.scalar(None, pa.int32()))
    return values.take(starts), has


def field(struct: pa.Array, *path: str) -> pa.Array:
    """A nested field of a struct column (null where any level is null)."""
    out = struct
    for name in path:
        out = pc.struct_field(out, name)
    return out


def yes(mask: pa.Array) -> pa.Array:
    """A comparison's result with null read as False."""
    return pc.fill_null(mask, False)


def all_of(*masks: pa.Array) -> pa.Array:
    """Where every mask (none of them null) is True."""
    out = masks[0]
    for mask in masks[1:]:
        out = pc.and_(out, mask)
    return out
