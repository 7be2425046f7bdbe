"""`collect(to="out.parquet")`: the input columns plus the answers, written window by window.

For jobs whose answers do not fit in memory as a frame. Two passes over the results files:

1. **Which line answers each row**: one pass over every collected shard, attempt by attempt,
   keeps per row only where its winning line lies (shard, byte offset, length: 17 bytes a
   row), by `Outcomes.record`'s rule: the latest line wins, but a failure never hides an
   earlier answer.
2. **Window by window** (`WINDOW` rows, in row order): read those lines back, build the
   outcomes and the answer columns exactly as `collect()` does (`results.answer_table`), put
   them beside the same rows of the frame snapshot, and append them to the parquet file.

Memory is bounded by the window, the per-row location arrays and one row group of the
snapshot; the file is written beside its destination and moved into place when complete.
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from llmbatch._exceptions import InputError, ResultsIntegrityError
from llmbatch._json import loads
from llmbatch.ids import row_of
from llmbatch.manifest import Manifest, Shard
from llmbatch.providers.backend import Backend
from llmbatch.reading import line_recorder, read_file
from llmbatch.results import Outcomes, answer_table, failed_batch, paused_gc
from llmbatch.store import JobFolder
from llmbatch.tasks import TaskSpec

__all__ = ["WINDOW", "Snapshot", "scanned_row", "sink_parquet"]

WINDOW = 100_000  # rows per window: the answers of one window are in memory at a time
_NONE = -1
_COLUMNAR_LINES = 20_000  # lines parsed as one Arrow table (some 20 MB of JSON, at most)


class Snapshot:
    """The job's frame, read a window at a time: from its parquet snapshot (only the row
    groups a window needs), or from a table already in memory (a frame given to load())."""

    def __init__(self, source: Path | pa.Table) -> None:
        self._file = pq.ParquetFile(source) if isinstance(source, Path) else None
        self._table = source if isinstance(source, pa.Table) else None
        self._group: tuple[int, int, pa.Table] | None = None  # (first row, index, rows)

    @property
    def num_rows(self) -> int:
        if self._file is not None:
            return int(self._file.metadata.num_rows)
        assert self._table is not None
        return int(self._table.num_rows)

    def rows(self, start: int, stop: int) -> pa.Table:
        """Rows start..stop-1, without the pandas metadata (its index is a column, if any)."""
        if self._table is not None:
            return self._table.slice(start, stop - start).replace_schema_metadata(None)
        assert self._file is not None
        parts, first = [], 0
        meta = self._file.metadata
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            lo, hi = max(start, first), min(stop, first + n)
            if lo < hi:
                parts.append(self._read(group, first).slice(lo - first, hi - lo))
            first += n
        return pa.concat_tables(parts).replace_schema_metadata(None)

    def _read(self, group: int, first: int) -> pa.Table:
        if self._group is None or self._group[1] != group:
            assert self._file is not None
            self._group = (first, group, self._file.read_row_group(group))
        return self._group[2]


@dataclass
class _Where:
    """Per row: the shard (position in the manifest) and byte range of its winning line."""

    shard: array  # 'i'
    file: bytearray  # which of the shard's results files (OpenAI: output, errors)
    offset: array  # 'q'
    length: array  # 'i'
    answered: bytearray  # 1: the winning line is a success

    @classmethod
    def empty(cls, n: int) -> _Where:
        return cls(
            array("i", [_NONE]) * n,
            bytearray(n),
            array("q", [0]) * n,
            array("i", [0]) * n,
            bytearray(n),
        )


def sink_parquet(
    path: str | os.PathLike[str],
    *,
    manifest: Manifest,
    folder: JobFolder,
    backend: Backend,
    spec: TaskSpec,
    snapshot: Snapshot,
    partial: bool,
    window: int = WINDOW,
) -> Path:
    """Write the job's frame with its answer columns to `path` (parquet); returns the path."""
    dest = Path(path).expanduser()
    if dest.suffix.lower() != ".parquet":
        raise InputError(f"collect(to=) writes parquet; got {str(dest)!r}\nHint: to='out.parquet'.")
    with _damaged_lines():
        where = _locate(manifest, folder, backend)
    failed = None if partial else failed_batch(manifest, lambda row: where.shard[row] != _NONE)
    if failed is not None:
        raise failed
    if snapshot.num_rows != manifest.n_rows:
        msg = f"the job's frame has {snapshot.num_rows} rows; the job has {manifest.n_rows}"
        raise InputError(msg + "\nHint: pass the job's own frame to llmbatch.load(frame=).")
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    cached = () if spec.kind == "embed" else backend.wire.cache_columns  # embeddings: none
    writer: pq.ParquetWriter | None = None
    suffix = manifest.options.get("suffix") or ""
    try:
        for start in range(0, manifest.n_rows, window):
            stop = min(start + window, manifest.n_rows)
            with paused_gc(), _damaged_lines():
                outcomes = _window(manifest, folder, backend, where, start, stop, partial)
                answers = answer_table(spec, outcomes, manifest.options)
            table = _beside(snapshot.rows(start, stop), answers, suffix, cached)
            if writer is None:
                writer = pq.ParquetWriter(part, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            raise InputError("the job has no rows")  # (a manifest check refuses this earlier)
        writer.close()
        writer = None
        os.replace(part, dest)
    finally:
        if writer is not None:
            writer.close()
        part.unlink(missing_ok=True)
    return dest


@contextlib.contextmanager
def _damaged_lines() -> Iterator[None]:
    """A line that no longer parses (damaged since its download was checked): an error that
    says how to get the results again."""
    try:
        yield
    except orjson.JSONDecodeError as exc:
        msg = (
            f"the results in the job folder are damaged ({exc})\nHint: job.refresh_results() "
            "downloads them again."
        )
        raise ResultsIntegrityError(msg) from None


def _locate(manifest: Manifest, folder: JobFolder, backend: Backend) -> _Where:
    """Pass 1: where each row's winning line lies (no answer is kept in memory).

    When no row has two lines (one attempt: the usual job), a line's row is all this pass
    needs, and it is read from the line's bytes (`scanned_row`) without parsing it; pass 2
    parses every line it keeps anyway. A row met twice starts the pass again, parsing every
    line, as which line wins depends on which are successes.
    """
    fast = _located(manifest, folder, backend, scan=True)
    if fast is not None:
        return fast
    slow = _located(manifest, folder, backend, scan=False)
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
    manifest: Manifest, folder: JobFolder, backend: Backend, *, scan: bool
) -> _Where | None:
    """Pass 1 itself; with `scan`, None as soon as a row has a second line."""
    where = _Where.empty(manifest.n_rows)
    head = f"{manifest.tag}-".encode()
    plain = backend.wire.succeeded
    order = sorted(enumerate(manifest.shards), key=lambda p: (p[1].attempt, p[1].index))
    for position, shard in order:
        if not shard.collected:
            continue
        for number, rel in enumerate(shard.results):
            offset = 0
            try:
                fh = (folder.path / rel).open("rb")
            except FileNotFoundError:
                raise _damaged(shard, rel) from None
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


def _damaged(shard: Shard, rel: str) -> ResultsIntegrityError:
    msg = (
        f"the results of shard {shard.index} ({rel}) are gone from the job folder"
        "\nHint: job.refresh_results() downloads them again."
    )
    return ResultsIntegrityError(msg, shard=shard.index)


def _window(
    manifest: Manifest,
    folder: JobFolder,
    backend: Backend,
    where: _Where,
    start: int,
    stop: int,
    partial: bool,
) -> Outcomes:
    """Pass 2, one window: the outcome of rows start..stop-1 (indexed from 0 here)."""
    out = Outcomes(stop - start)
    out.not_sent(_clip(manifest.skipped, start, stop), "empty text, not sent")
    for shard in sorted(manifest.shards, key=lambda s: (s.attempt, s.index)):
        rows = _clip(shard.rows, start, stop)
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


def _clip(runs: list[list[int]], start: int, stop: int) -> list[int]:
    """The rows of `runs` ([[from, to), ...]) inside start..stop-1, counted from `start`."""
    out: list[int] = []
    for a, b in runs:
        lo, hi = max(a, start), min(b, stop)
        if lo < hi:
            out.extend(range(lo - start, hi - start))
    return out


def _lines(
    manifest: Manifest, folder: JobFolder, where: _Where, start: int, stop: int
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
                        raise _damaged(manifest.shards[position], rel)
                    yield raw
                    taken += 1
                    if taken == len(spots):
                        break
                offset += len(raw)
        if taken < len(spots):  # the file is shorter than when pass 1 read it
            raise _damaged(manifest.shards[position], rel)


def _beside(frame: pa.Table, answers: pa.Table, suffix: str, cached: tuple[str, ...]) -> pa.Table:
    """The frame's columns then the answer columns (renamed by the suffix; the provider's
    cache columns always present, so every window has the same columns)."""
    n = frame.num_rows
    for name in cached:
        if name not in answers.column_names:
            answers = answers.append_column(name, pa.nulls(n, pa.int64()))
    names = [c + suffix for c in answers.column_names]
    kept = [c for c in frame.column_names if c not in names]
    columns = [frame.column(c) for c in kept] + list(answers.columns)
    return pa.table(columns, names=kept + names)
