"""A shard's download checked before it is trusted, a block of lines at a time.

A download is trusted only if every line parses as a JSON object with a `custom_id`, every
custom_id is one of this shard's wire ids and appears once across the shard's files, and
there are at least as many answer lines as the provider counted as succeeded. The counts are
a floor, never a ceiling: rows are never declared lost from the counts alone (an expired
OpenAI batch was seen with counts that do not add up); missing rows are derived from the
files. A final line without a newline is accepted when it parses (the APIs do not promise a
trailing newline); a body cut mid-line fails to parse. A body shorter than its
Content-Length is caught by the HTTP layer.

The check is the one parse of a download, and so also where its answers are tallied
(`result_tally`). A block whose lines are the provider's plain successes is parsed once as
Arrow columns (`result_columns`, the read collect() uses) and checked a column at a time;
its other lines, and every block the columnar read does not fit exactly, are checked a line
at a time (`_Check.line`), as are all lines when no columnar read is given.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow.compute as pc

from llmbatch._json import loads
from llmbatch.ids import row_of
from llmbatch.result_columns import Columnar, read_plain
from llmbatch.store import line_blocks
from llmbatch.verify import Problem

__all__ = ["BLOCK", "Answers", "ShardRows", "check_download"]

BLOCK = 8 << 20  # bytes of a results file checked at a time (cut at a line's end)
_ANY_ROW = 1 << 62


class Answers(Protocol):
    """What sees each answer line of a download (`result_tally.ResultTally`): a line at a
    time, or a block's plain successes as columns. What it saw counts only if the check
    passes."""

    def answer(self, path: Path, row: int, offset: int, raw: bytes, line: dict[str, Any]) -> None:
        """One answer line of `path`, at byte `offset`, for row `row` (`raw`: as read)."""

    def plain(self, path: Path, rows: np.ndarray, block: bytes, at: int, starts: np.ndarray,
              stops: np.ndarray, replies: Any) -> None:  # fmt: skip
        """A block's plain successes: their rows; `block`, the bytes at offset `at` of `path`,
        holds each line at `block[starts[i]:stops[i]]` (without its newline); their
        `result_columns.ReplyColumns`."""

    def shape(self, path: Path, size: int, lines: int) -> None:
        """A file read whole: its bytes and non-blank lines (`store.file_shape`)."""


class ShardRows:
    """A shard's rows as a bitmap over their span: membership by index, and a whole block's
    rows checked at once, instead of a Python set of every row."""

    __slots__ = ("base", "member")

    def __init__(self, base: int, member: bytearray) -> None:
        self.base, self.member = base, member  # member[r - base] is 1 for each row r

    @classmethod
    def of_runs(cls, runs: Sequence[Sequence[int]]) -> ShardRows:
        """The rows of `[start, stop)` runs (a shard's `rows`, as the manifest keeps them)."""
        if not runs:
            return cls(0, bytearray())
        base = min(start for start, _ in runs)
        member = bytearray(max(stop for _, stop in runs) - base)
        for start, stop in runs:
            member[start - base : stop - base] = b"\x01" * (stop - start)
        return cls(base, member)

    @classmethod
    def of(cls, rows: Collection[int]) -> ShardRows:
        """The rows given one by one (any collection of ints)."""
        if not rows:
            return cls(0, bytearray())
        held = np.fromiter(rows, dtype=np.int64, count=len(rows))
        base = int(held.min())
        member = bytearray(int(held.max()) - base + 1)
        np.frombuffer(member, dtype=np.uint8)[held - base] = 1
        return cls(base, member)

    def has(self, row: int) -> bool:
        at = row - self.base
        return 0 <= at < len(self.member) and self.member[at] == 1

    def has_all(self, rows: np.ndarray) -> bool:
        """Whether every one of `rows` is a row of the shard."""
        at = rows - self.base
        if not len(at):
            return True
        if int(at.min()) < 0 or int(at.max()) >= len(self.member):
            return False
        return bool(np.frombuffer(self.member, dtype=np.uint8)[at].all())


class _Unseen:
    def answer(self, path: Path, row: int, offset: int, raw: bytes, line: dict[str, Any]) -> None:
        pass

    def plain(self, path: Path, rows: np.ndarray, block: bytes, at: int, starts: np.ndarray,
              stops: np.ndarray, replies: Any) -> None:  # fmt: skip
        pass

    def shape(self, path: Path, size: int, lines: int) -> None:
        pass


def check_download(
    files: Iterable[tuple[str, Path]],
    *,
    tag: str,
    rows: Collection[int] | ShardRows,
    succeeded: int,
    is_answer: Callable[[str, dict[str, Any]], bool],
    answers: Answers | None = None,
    columnar: Columnar | None = None,
    endpoint: str = "",
    plain_answers: Callable[[str], bool] = lambda kind: False,
    block_size: int = BLOCK,
) -> Problem | None:
    """Check a shard's downloaded files (`(file kind, path)` pairs); None if trustworthy.

    `rows`: the shard's rows (a `ShardRows`, or any collection of ints). `answers` sees each
    answer line on the way. With the provider's `columnar` read (for
    `endpoint`), the blocks of a file whose kind holds answers in its plain lines
    (`plain_answers(kind)`) are checked as columns, `block_size` bytes at a time.
    """
    shard_rows = rows if isinstance(rows, ShardRows) else ShardRows.of(rows)
    check = _Check(tag, shard_rows, is_answer, answers or _Unseen())
    for file_kind, path in files:
        fast = columnar is not None and columnar.applies(endpoint) and plain_answers(file_kind)
        check.number, check.non_blank, size = 1, 0, 0
        for start, block in line_blocks(path, block_size):
            if fast:
                assert columnar is not None
                problem = check.block(file_kind, path, start, block, columnar, endpoint)
            else:
                problem = check.lines(file_kind, path, start, block)
            if problem is not None:
                return problem
            size = start + len(block)
        check.out.shape(path, size, check.non_blank)
    if check.answers < succeeded:
        msg = f"{check.answers} answer line(s) but the provider counted {succeeded} succeeded"
        return Problem(msg + " (the download is incomplete)")
    return None


class _Check:
    """The check's state across a shard's files: the rows seen, the answers counted."""

    def __init__(
        self,
        tag: str,
        rows: ShardRows,
        is_answer: Callable[[str, dict[str, Any]], bool],
        answers: Answers,
    ) -> None:
        self.tag, self.rows, self.is_answer, self.out = tag, rows, is_answer, answers
        self.seen = bytearray(len(rows.member))  # seen[r - rows.base]: row r was read
        self.answers = 0
        self.number = 1  # the next line's number in the file being read
        self.non_blank = 0  # the lines of that file read so far that are not blank

    def lines(self, file_kind: str, path: Path, start: int, block: bytes) -> Problem | None:
        """Check a block (at byte `start` of the file) a line at a time."""
        offset = start
        for raw in io.BytesIO(block):
            problem = self.line(file_kind, path, self.number, offset, raw)
            if problem is not None:
                return problem
            self.number += 1
            offset += len(raw)
        return None

    def line(
        self, file_kind: str, path: Path, number: int, offset: int, raw: bytes
    ) -> Problem | None:
        """Check one line (`raw`, as read, at byte `offset`): None if it is fine."""
        try:  # the usual line, without a call (this runs for every row)
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if not raw.strip():
                return None
            line = None
        self.non_blank += 1
        if type(line) is not dict or type(line.get("custom_id")) is not str:
            line, problem = _parse(raw, path.name, number)
            if problem is not None:
                return problem
        custom_id = line["custom_id"]
        row = row_of(custom_id, self.tag)
        if row is None:
            msg = f"line {number} of {path.name} has custom_id {custom_id!r}, not this job's"
            return Problem(msg, wrong_batch=True)
        if not self.rows.has(row):
            msg = f"line {number} of {path.name}: row {row} is not in this shard"
            return Problem(msg, wrong_batch=True)
        at = row - self.rows.base
        if self.seen[at]:
            return Problem(f"line {number} of {path.name}: custom_id {custom_id!r} twice")
        self.seen[at] = 1
        if self.is_answer(file_kind, line):
            self.answers += 1
            self.out.answer(path, row, offset, raw, line)
        return None

    def block(
        self,
        file_kind: str,
        path: Path,
        start: int,
        block: bytes,
        columnar: Columnar,
        endpoint: str,
    ) -> Problem | None:
        """Check a block as columns where it fits: its plain successes at once, each other
        line by `line`. A block the columnar read does not fit, or whose plain lines hold
        anything wrong (a stranger's row, a row twice), goes line by line, which finds and
        words the first problem exactly as it always has."""
        read = read_plain(block, columnar, endpoint, self.tag, 0, _ANY_ROW)
        if read is None:
            return self.lines(file_kind, path, start, block)
        picked = pc.indices_nonzero(read.fast).to_numpy()
        rows = read.slots.filter(read.fast).to_numpy()
        count, starts, ends = len(read.ends), read.starts, read.ends
        before = bytearray(self.seen) if len(picked) < count else self.seen
        if not self._mark_fresh(rows):
            return self.lines(file_kind, path, start, block)
        others = np.ones(count, dtype=bool)
        others[picked] = False
        self.answers += len(rows)
        for i in np.flatnonzero(others).tolist():
            raw = block[starts[i] : ends[i] + 1]  # with its newline, as read
            if self.line(file_kind, path, self.number + i, start + int(starts[i]), raw):
                # worded as a line-by-line check words it: which of two lines naming one
                # row is "twice" depends on their order (the tally is dropped with the check)
                self.seen = before
                return self.lines(file_kind, path, start, block)
        replies = read.replies.filter(read.fast)
        self.out.plain(path, rows, block, start, starts[picked], ends[picked], replies)
        self.number += count
        self.non_blank += len(picked)  # every line of the block starts with "{"
        return None

    def _mark_fresh(self, rows: np.ndarray) -> bool:
        """Mark the rows seen if they are all this shard's, each once, none seen before;
        else change nothing and say False."""
        if not self.rows.has_all(rows):
            return False
        at = rows - self.rows.base
        seen = np.frombuffer(self.seen, dtype=np.uint8)
        if seen[at].any():
            return False
        marked = int(np.count_nonzero(seen))
        seen[at] = 1
        if int(np.count_nonzero(seen)) - marked != len(rows):  # a row twice in the block
            seen[at] = 0
            return False
        return True


def _parse(raw: bytes, name: str, number: int) -> tuple[Any, Problem | None]:
    try:
        line = loads(raw)
    except orjson.JSONDecodeError:
        return None, Problem(f"line {number} of {name} is not JSON: {raw[:60]!r}")
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None, Problem(f"line {number} of {name} is not a result line: {raw[:60]!r}")
    return line, None
