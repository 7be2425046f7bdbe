"""A new attempt inside an existing job: the failed rows only, as new shards.

Earlier attempts stay recorded in the manifest; `collect()` merges the latest successful
answer per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbatch import frames
from llmbatch.manifest import Manifest
from llmbatch.pipeline import frame_texts
from llmbatch.prepare import unranges, write_shards
from llmbatch.providers.backend import Backend
from llmbatch.reading import check_results, read_outcomes
from llmbatch.results import answer_table
from llmbatch.store import JobFolder
from llmbatch.tasks import TaskSpec

__all__ = ["add_attempt", "add_retry"]


def add_attempt(
    folder: JobFolder,
    manifest: Manifest,
    snapshot: Any,
    spec: TaskSpec,
    backend: Backend,
    rows: Sequence[int],
    kinds: Sequence[str],
) -> None:
    """Write the shards of a new attempt for `rows` and add them to `manifest` (not yet sent).

    Called inside a `JobState.update`, which saves the manifest under the job lock.
    """
    cols = manifest.columns
    texts = frame_texts(frames.to_frame(snapshot), cols["text"], cols["prompt"], manifest.n_rows)
    attempt = len(manifest.attempts)
    first = 1 + max(s.index for s in manifest.shards)
    shards = write_shards(
        texts,
        rows,
        spec=spec,
        tag=manifest.tag,
        line=backend.line,
        limits=backend.limits,
        shard_path=folder.shard_path,
        first_index=first,
    )
    manifest.add_attempt(list(kinds), len(rows), [s.to_shard(attempt, folder.path) for s in shards])


def add_retry(
    folder: JobFolder,
    manifest: Manifest,
    snapshot: Any,
    spec: TaskSpec,
    backend: Backend,
    kinds: Sequence[str],
) -> list[int]:
    """Under the job lock: the rows that failed with one of `kinds` and are not already in
    flight (another process retrying them), as a new attempt; returns those rows."""
    in_flight = {r for s in manifest.shards if not s.finished for r in unranges(s.rows)}
    check_results(manifest, folder)
    outcomes = read_outcomes(manifest, folder, backend, spec.endpoint, partial=False)
    answer_table(spec, outcomes, manifest.options)  # marks invalid_output rows
    rows = [r for r in outcomes.failed_rows(kinds) if r not in in_flight]
    if rows:
        add_attempt(folder, manifest, snapshot, spec, backend, rows, kinds)
    return rows
