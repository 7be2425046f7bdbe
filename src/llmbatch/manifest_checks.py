"""What a job relies on in `job.json`, checked on every read of it.

A hand-edited or damaged manifest (a changed `n_rows`, a shard entry emptied, a task of an
unknown kind, a path leading out of the folder) is refused when the job is read, naming the
value, rather than surfacing later as an IndexError or KeyError in the middle of `collect()`.
`state.JobState.read` turns the ValueError raised here into a JobFolderError.
"""

from __future__ import annotations

import functools
from pathlib import PurePath
from typing import Any, get_args

from llmbatch.manifest import Manifest, Shard, ShardState, Status
from llmbatch.tasks import Kind, TaskSpec

__all__ = ["MODES", "check"]

MODES = ("batch", "sync")
_STATES, _STATUSES = get_args(ShardState), get_args(Status)  # tuples: a damaged value may not hash


def check(m: Manifest) -> None:
    """Raise ValueError naming the first value of a (hand-edited) manifest the job cannot use."""
    if not _is_int(m.n_rows) or m.n_rows < 1:
        raise ValueError(f"n_rows is {m.n_rows!r}, not a count of rows")
    for key in ("name", "tag"):
        if not isinstance(getattr(m, key), str) or not getattr(m, key):
            raise ValueError(f"{key} is {getattr(m, key)!r}, not a non-empty string")
    for key in ("task", "provider", "columns", "options"):
        if not isinstance(getattr(m, key), dict):
            raise ValueError(f"{key} is {getattr(m, key)!r}, not an object")
    if m.mode not in MODES:
        raise ValueError(f"mode is {m.mode!r}, not one of {list(MODES)}")
    if m.sync is not None and not isinstance(m.sync, dict):
        raise ValueError(f"sync is {m.sync!r}, not an object")
    cap = m.max_enqueued_tokens
    if cap is not None and (not _is_int(cap) or cap < 1):
        raise ValueError(f"max_enqueued_tokens is {cap!r}, not a positive number of tokens")
    _check_task(m.task)
    _check_columns(m.columns)
    _check_runs("skipped", m.skipped, m.n_rows)
    seen: set[int] = set()
    for shard in m.shards:
        _check_shard(shard, m.n_rows, seen)
    first = [run for s in m.shards if s.attempt == 0 for run in s.rows] + list(m.skipped)
    if _covered(first) != m.n_rows:
        msg = f"the first attempt's shards and skipped rows do not cover rows 0-{m.n_rows - 1}"
        raise ValueError(msg + " exactly once (n_rows or a shard's rows were changed)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_task(task: dict[str, Any]) -> None:
    try:
        spec = TaskSpec.from_dict(task)
    except TypeError as exc:
        raise ValueError(f"task is not one this version understands ({exc})") from None
    if spec.kind not in get_args(Kind):
        raise ValueError(f"task kind is {spec.kind!r}, not one of {list(get_args(Kind))}")
    for key in ("provider", "model", "endpoint"):
        if not isinstance(task[key], str) or not task[key]:
            raise ValueError(f"task {key} is {task[key]!r}, not a non-empty string")
    if spec.kind == "classify" and not isinstance(spec.schema, dict):
        raise ValueError(f"task schema is {spec.schema!r}, not a JSON Schema object")
    if not isinstance(spec.params, dict):
        raise ValueError(f"task params is {spec.params!r}, not an object")


def _check_columns(columns: dict[str, Any]) -> None:
    names = [columns.get(k) for k in ("id", "text", "prompt")]
    if not all(v is None or (isinstance(v, str) and v) for v in names) or not any(names[1:]):
        raise ValueError(f"columns is {columns!r}, not the job's id and text/prompt columns")


def _inside(rel: Any) -> bool:
    """A path relative to the job folder that stays in it."""
    return isinstance(rel, str) and _inside_path(rel)


@functools.lru_cache(maxsize=4096)
def _inside_path(rel: str) -> bool:
    # memoised: every manifest read checks every shard's files, the same names each time
    return not PurePath(rel).is_absolute() and ".." not in PurePath(rel).parts


def _check_runs(what: str, runs: Any, n_rows: int) -> None:
    """`runs` must be [[start, stop], ...] with 0 <= start < stop <= n_rows."""
    ok = isinstance(runs, list) and all(
        isinstance(r, list) and len(r) == 2 and all(_is_int(v) for v in r) for r in runs
    )
    if not ok or not all(0 <= r[0] < r[1] <= n_rows for r in runs):
        shown = repr(runs) if len(repr(runs)) <= 80 else repr(runs)[:79] + "…"
        raise ValueError(f"{what} is {shown}, not row ranges within n_rows={n_rows}")


def _check_shard(shard: Shard, n_rows: int, seen: set[int]) -> None:
    where = f"shard {shard.index!r}"
    if not _is_int(shard.index) or shard.index < 0 or shard.index in seen:
        raise ValueError(f"{where}: index is missing, negative or repeated")
    seen.add(shard.index)
    if not _is_int(shard.attempt) or shard.attempt < 0:
        raise ValueError(f"{where}: attempt is {shard.attempt!r}, not a number")
    _check_runs(f"{where}: rows", shard.rows, n_rows)
    if shard.n != sum(stop - start for start, stop in shard.rows):
        raise ValueError(f"{where}: n is {shard.n!r} but its rows hold another count")
    if shard.state not in _STATES or shard.status not in _STATUSES:
        raise ValueError(f"{where}: state {shard.state!r} / status {shard.status!r} unknown")
    checks = (
        ("counts", shard.counts, dict),
        ("errors", shard.errors, list),
        ("results", shard.results, list),
        ("result_files", shard.result_files, dict),
    )
    for name, value, kind in checks:
        if not isinstance(value, kind):
            raise ValueError(f"{where}: {name} is {value!r}, not a {kind.__name__}")
    for name in ("enqueued_tokens", "enqueued_before"):
        value = getattr(shard, name)
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError(f"{where}: {name} is {value!r}, not a number of tokens")
    shapes = shard.result_files.values()
    if not all(isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)) for v in shapes):
        raise ValueError(f"{where}: result_files is {shard.result_files!r}, not [bytes, lines]")
    if not all(_inside(r) for r in (shard.path, *shard.results, *shard.result_files)):
        raise ValueError(f"{where}: its file paths are not all inside the job folder")


def _covered(runs: list[list[int]]) -> int:
    """How far [0, n) is covered by `runs` without gap or overlap (-1 if it is not)."""
    end = 0
    for start, stop in sorted(runs):
        if start != end:
            return -1
        end = stop
    return end
