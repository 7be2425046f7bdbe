"""`collect(to=)` for any job: first where each row's winning line lies, then windows of rows.

The general path of `sink` (`sink_shards` reads the usual job faster). Two passes over the
results files:

1. **Which line answers each row**: one pass over every collected shard, attempt by attempt,
   keeps per row only where its winning line lies (shard, byte offset, length: 17 bytes a
   row), by `Outcomes.record`'s rule: the latest line wins, but a failure never hides an
   earlier answer.
2. **Window by window** (rows start..stop-1): read those lines back and make them the rows'
   outcomes, parsed as Arrow columns `_COLUMNAR_LINES` lines at a time.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from llmbatch._exceptions import ResultsIntegrityError
from llmbatch._json import loads
from llmbatch.ids import row_of
from llmbatch.manifest import Manifest, Shard
from llmbatch.outcomes import Outcomes, never_ran
from llmbatch.providers.backend import Backend
from llmbatch.reading import line_recorder, read_file
from llmbatch.store import JobFolder

__all__ = ["Where", "clip", "damaged", "locate", "located_window", "scanned_row", "window_outcomes"]

_NONE = -1
_COLUMNAR_LINES = 20_000  # lines parsed as one Arrow table (some 20 MB of JSON, at most)


@dataclass
class Where:
    """Per row: the shard (position in the manifest) and byte range of its winning line."""

    shard: array  # 'i'
    file: bytearray  # which of the shard's results files (OpenAI: output, errors)
    offset: array  # 'q'
    length: array  # 'i'
    answered: bytearray  # 1: the winning line is a success

    @classmethod
    def empty(cls, n: int) -> Where:
        return cls(
            array("i", [_NONE]) * n,
            bytearray(n),
            array("q", [0]) * n,
            array("i", [0]) * n,
            bytearray(n),
        )

    def has_line(self, row: int) -> bool:
        return self.shard[row] != _NONE


def locate(manifest: Manifest, folder: JobFolder, backend: Backend, partial: bool) -> Where:
    """Pass 1: where each row's winning line lies (no answer is kept in memory).

    When no row has two lines, a line's row is all this pass needs, and it is read from the
    line's bytes (`scanned_row`) without parsing it; pass 2 parses every line it keeps
    anyway. A row met twice starts the pass again, parsing every line, as which line wins
    depends on which are successes.
    """
    fast = _located(manifest, folder, backend, partial, scan=True)
    if fast is not None:
        return fast
    slow = _located(manifest, folder, backend, partial, scan=False)
    assert slow is not None
    return slow


def scanned_row(raw: bytes, head: bytes) -> int | None:
    """The row a result line names, read from its bytes: None unless that is certain.

    Certain when `"custom_id"` occurs once in the line and is followed at once by
    `:"<head><digits>"` (the job's tag and a row number): inside a JSON string a quote is
    escaped, so each occurrence is a key or a whole string value, and the line's own key is
    always there (every line was checked at download to have one).
    """
    if raw.count(b'"custom_id"') != 1:
        return None
    at = raw.find(b'"custom_id":"')
    if at < 0:
        return None
    start = at + 13
    end = raw.find(b'"', start)
    value = raw[start:end]
    if end < 0 or not value.startswith(head):
        return None
    digits = value[len(head) :]
    return int(digits) if digits.isdigit() and digits.isascii() else None


def _located(
    manifest: Manifest, folder: JobFolder, backend: Backend, partial: bool, *, scan: bool
) -> Where | None:
    """Pass 1 itself; with `scan`, None as soon as a row has a second line (or a later
    shard's outcome for it: see `_forget`)."""
    where = Where.empty(manifest.n_rows)
    head = f"{manifest.tag}-".encode()
    plain = backend.wire.succeeded
    order = sorted(enumerate(manifest.shards), key=lambda p: (p[1].attempt, p[1].index))
    for position, shard in order:
        if not _forget(where, shard, partial, scan=scan):
            return None
        if not shard.collected:
            continue
        for number, rel in enumerate(shard.results):
            offset = 0
            try:
                fh = (folder.path / rel).open("rb")
            except FileNotFoundError:
                raise damaged(shard, rel) from None
            with fh:
                for raw in fh:
                    start, offset = offset, offset + len(raw)
                    if not raw.strip():
                        continue
                    row = scanned_row(raw, head) if scan else None
                    if row is not None and row < manifest.n_rows:
                        if where.shard[row] != _NONE:
                            return None  # a row met twice: parse every line
                        where.shard[row], where.file[row] = position, number
                        where.offset[row], where.length[row] = start, len(raw)
                        continue
                    line = loads(raw)
                    if type(line) is not dict:
                        continue  # names no row (as `reading.line_recorder`)
                    row = row_of(str(line.get("custom_id")), manifest.tag)
                    if row is None or row >= manifest.n_rows:
                        continue
                    if scan and where.shard[row] != _NONE:
                        return None
                    succeeded = (
                        plain(line) is not None or backend.parse_line(line)[1] == "succeeded"
                    )
                    if where.answered[row] and not succeeded:
                        continue  # a later failure never hides an earlier answer
                    where.shard[row], where.file[row] = position, number
                    where.offset[row], where.length[row] = start, len(raw)
                    where.answered[row] = succeeded
    return where


def _forget(where: Where, shard: Shard, partial: bool, *, scan: bool) -> bool:
    """Forget the earlier failure lines of the shard's rows when priming it gives them an
    outcome of its own (`Outcomes.prime`: a later attempt's "cancelled", "expired", "batch
    failed" replaces an earlier error, as `collect()` reads them). With `scan` (which lines
    are failures is not known), False if any of its rows has a line already."""
    if not (shard.collected or never_ran(shard) is not None or partial):
        return True  # still running: priming it changes nothing
    lines = np.frombuffer(where.shard, dtype=np.int32)
    rows = _rows(shard.rows)
    if scan and (lines[rows] != _NONE).any():
        return False
    lines[rows[np.frombuffer(where.answered, dtype=np.uint8)[rows] == 0]] = _NONE
    return True


def _rows(runs: list[list[int]]) -> np.ndarray:
    """The rows of [[from, to), ...] runs as one array, without a step a run in Python (a
    shard of reused answers can hold a million runs)."""
    bounds = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    lengths = bounds[:, 1] - bounds[:, 0]
    before = np.cumsum(lengths) - lengths  # rows in the runs before each
    return np.arange(int(lengths.sum())) + np.repeat(bounds[:, 0] - before, lengths)


def damaged(shard: Shard, rel: str) -> ResultsIntegrityError:
    """The error for a results file gone or changed since its download was checked."""
    msg = (
        f"the results of shard {shard.index} ({rel}) are gone from the job folder"
        "\nHint: job.refresh_results() downloads them again."
    )
    return ResultsIntegrityError(msg, shard=shard.index)


def window_outcomes(manifest: Manifest, start: int, stop: int) -> Outcomes:
    """The outcomes of rows start..stop-1 (slot 0: row `start`), its skipped rows marked."""
    out = Outcomes(stop - start)
    out.not_sent(clip(manifest.skipped, start, stop), "empty text, not sent")
    return out


def located_window(
    manifest: Manifest,
    folder: JobFolder,
    backend: Backend,
    where: Where,
    start: int,
    stop: int,
    partial: bool,
) -> Outcomes:
    """Pass 2, one window: the outcome of rows start..stop-1 (indexed from 0 here)."""
    out = window_outcomes(manifest, start, stop)
    for shard in sorted(manifest.shards, key=lambda s: (s.attempt, s.index)):
        rows = clip(shard.rows, start, stop)
        if rows:
            out.prime(shard, rows, partial)
    endpoint = manifest.task.get("endpoint", "")
    record = line_recorder(manifest.tag, backend, endpoint)
    columnar = backend.wire.columnar
    if columnar is None or not columnar.applies(endpoint):
        for raw in _lines(manifest, folder, where, start, stop):
            record(out, raw, start)
        return out
    batch: list[bytes] = []  # read as columns (`reading.read_file`) a slice of lines at a time
    for raw in _lines(manifest, folder, where, start, stop):
        batch.append(raw if raw.endswith(b"\n") else raw + b"\n")  # a file's last line
        if len(batch) == _COLUMNAR_LINES:
            read_file(out, b"".join(batch), record, manifest.tag, endpoint, columnar, start)
            batch = []
    if batch:
        read_file(out, b"".join(batch), record, manifest.tag, endpoint, columnar, start)
    return out


def clip(runs: list[list[int]], start: int, stop: int) -> list[int]:
    """The rows of `runs` ([[from, to), ...]) inside start..stop-1, counted from `start`."""
    out: list[int] = []
    for a, b in runs:
        lo, hi = max(a, start), min(b, stop)
        if lo < hi:
            out.extend(range(lo - start, hi - start))
    return out


def _lines(
    manifest: Manifest, folder: JobFolder, where: Where, start: int, stop: int
) -> Iterator[bytes]:
    """The winning line of every row of the window: each results file read once, in order,
    keeping the lines at the offsets pass 1 found (no seek and read a row)."""
    wanted: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for row in range(start, stop):
        position = where.shard[row]
        if position != _NONE:
            wanted.setdefault((position, where.file[row]), []).append((where.offset[row], row))
    for (position, number), spots in wanted.items():
        rel = manifest.shards[position].results[number]
        spots.sort()
        taken, offset = 0, 0
        with (folder.path / rel).open("rb") as fh:
            for raw in fh:
                if offset == spots[taken][0]:
                    if len(raw) != where.length[spots[taken][1]]:
                        raise damaged(manifest.shards[position], rel)
                    yield raw
                    taken += 1
                    if taken == len(spots):
                        break
                offset += len(raw)
        if taken < len(spots):  # the file is shorter than when pass 1 read it
            raise damaged(manifest.shards[position], rel)
