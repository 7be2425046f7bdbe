"""`collect(to="out.parquet")`: the input columns plus the answers, written window by window.

For jobs whose answers do not fit in memory as a frame. Each window of rows (`WINDOW`, in row
order) gets its outcomes and answer columns exactly as `collect()` makes them
(`results.answer_table`), beside the same rows of the frame snapshot, appended to the parquet
file. A window's outcomes come one of two ways:

- **whole shards** (`sink_shards`), the usual job: no row has two lines and shards do not
  interleave, so a window of whole shards reads its files straight through;
- **located lines** (`sink_located`), any job (retries, reused answers): a first pass finds
  each row's winning line, then each window reads back its rows' lines.

Memory is bounded by the window (and, located, the per-row location arrays) and one row group
of the snapshot; the file is written beside its destination and moved into place when
complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from llmbatch._exceptions import InputError, ResultsIntegrityError
from llmbatch.manifest import Manifest
from llmbatch.outcomes import Outcomes, failed_batch
from llmbatch.providers.backend import Backend
from llmbatch.reading import StrayLine
from llmbatch.results import answer_table, paused_gc
from llmbatch.sink_located import locate, located_window, scanned_row
from llmbatch.sink_shards import shard_window, shard_windows
from llmbatch.store import JobFolder
from llmbatch.tasks import TaskSpec

__all__ = ["WINDOW", "Snapshot", "scanned_row", "sink_parquet"]

WINDOW = 100_000  # rows per window: the answers of one window are in memory at a time

Windows = Sequence[tuple[int, int]]
Read = Callable[[int, int], Outcomes]  # the outcomes of rows start..stop-1


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
    args = (manifest, folder, backend)
    # a batch that failed leaves rows that only a line of another attempt answers: located
    whole = partial or failed_batch(manifest, lambda row: False) is None
    windows = shard_windows(manifest, window) if whole else None
    if windows is not None:
        _check_rows(snapshot, manifest)
        try:
            return _write(dest, spec, manifest, backend, snapshot, windows,
                          lambda a, b: shard_window(*args, a, b, partial))  # fmt: skip
        except StrayLine:
            pass  # a line outside its shard's span: the located path finds where it goes
    with _damaged_lines():
        where = locate(*args, partial)
    failed = None if partial else failed_batch(manifest, where.has_line)
    if failed is not None:
        raise failed
    _check_rows(snapshot, manifest)
    n, step = manifest.n_rows, window
    windows = [(a, min(a + step, n)) for a in range(0, n, step)]
    return _write(dest, spec, manifest, backend, snapshot, windows,
                  lambda a, b: located_window(*args, where, a, b, partial))  # fmt: skip


def _check_rows(snapshot: Snapshot, manifest: Manifest) -> None:
    if snapshot.num_rows != manifest.n_rows:
        msg = f"the job's frame has {snapshot.num_rows} rows; the job has {manifest.n_rows}"
        raise InputError(msg + "\nHint: pass the job's own frame to llmbatch.load(frame=).")


def _write(
    dest: Path,
    spec: TaskSpec,
    manifest: Manifest,
    backend: Backend,
    snapshot: Snapshot,
    windows: Windows,
    read: Read,
) -> Path:
    """Each window's rows and answers appended to a file beside `dest`, moved into place
    when complete (removed if not)."""
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    cached = () if spec.kind == "embed" else backend.wire.cache_columns  # embeddings: none
    writer: pq.ParquetWriter | None = None
    suffix = manifest.options.get("suffix") or ""
    try:
        for start, stop in windows:
            with paused_gc(), _damaged_lines():
                answers = answer_table(spec, read(start, stop), manifest.options)
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
