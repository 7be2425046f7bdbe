"""`collect(to=)` for the usual job: windows of whole shards, each file read as `collect()` does.

When no two shards' rows interleave (each shard's rows lie in a span of rows no other shard's
rows enter), a window of whole shards holds every line of its rows: its files are read straight
through, a block at a time, with the columnar parse `collect()` uses (`reading.read_file`), and
no pass locates lines first. That is every job of one attempt, reused answers too when the rows
sent anew do not fall between them; a retry's rows lie inside the spans of the shards they were
first sent in, so a retried job takes the general path (`sink_located`). So does a job with a
line naming a row outside its shard's window (possible only in a file changed since its
download was checked): reading it raises `StrayLine`.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import pairwise

from llmbatch.manifest import Manifest
from llmbatch.outcomes import Outcomes
from llmbatch.providers.backend import Backend
from llmbatch.reading import line_recorder, read_file
from llmbatch.sink_located import clip, damaged, window_outcomes
from llmbatch.store import JobFolder, line_blocks

__all__ = ["shard_window", "shard_windows"]

_LONGEST = 4  # a window of whole shards holds at most this many times `size` rows
_BLOCK = 64 << 20  # bytes of a results file parsed at a time (and the rest of a line)


def shard_windows(manifest: Manifest, size: int) -> list[tuple[int, int]] | None:
    """Windows (start, stop) of about `size` rows that cut no shard's span of rows (a shard
    larger than `size` is a window of its own); None when two shards' spans overlap (a
    retry's do, and interleaved reused rows) or a span is too long to hold as one window
    (reused rows far apart: the located path keeps memory bounded)."""
    spans = sorted((s.rows[0][0], s.rows[-1][1]) for s in manifest.shards if s.rows)
    if any(a < b for (_, b), (a, _) in pairwise(spans)):
        return None
    starts = [a for a, _ in spans]
    windows, start, n = [], 0, manifest.n_rows
    while start < n:
        stop = min(start + size, n)
        k = bisect_right(starts, stop) - 1  # the last span starting at or before `stop`
        if k >= 0 and spans[k][0] < stop < spans[k][1]:  # it would cut that span
            stop = spans[k][0] if spans[k][0] > start else spans[k][1]
        if stop - start > _LONGEST * size:
            return None
        windows.append((start, stop))
        start = stop
    return windows


def shard_window(
    manifest: Manifest,
    folder: JobFolder,
    backend: Backend,
    start: int,
    stop: int,
    partial: bool,
) -> Outcomes:
    """The outcomes of rows start..stop-1 (a window of `shard_windows`), read as `collect()`
    reads them: shard by shard, each primed and then its files read."""
    out = window_outcomes(manifest, start, stop)
    endpoint = manifest.task.get("endpoint", "")
    record = line_recorder(manifest.tag, backend, endpoint, rows=manifest.n_rows)
    columnar = backend.wire.columnar
    for shard in sorted(manifest.shards, key=lambda s: (s.attempt, s.index)):
        rows = clip(shard.rows, start, stop)
        if not rows or not out.prime(shard, rows, partial):
            continue
        for rel in shard.results:
            try:
                for _, block in line_blocks(folder.path / rel, _BLOCK):
                    read_file(out, block, record, manifest.tag, endpoint, columnar, start)
            except FileNotFoundError:
                raise damaged(shard, rel) from None
    return out
