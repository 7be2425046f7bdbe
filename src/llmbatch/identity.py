"""Whether a frame is the one a job was made from: its rows, id values and texts.

A job records digests of its ids and texts (`identity` in job.json, written by `create`). A
frame the user gives in place of a missing snapshot (`llmbatch.load(path, frame=df)`,
`collect(frame=df)`) is checked against them, so answers are never attached to, nor retries
sent from, another frame.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from llmbatch import frames
from llmbatch._exceptions import InputError
from llmbatch.manifest import Manifest
from llmbatch.pipeline import build_texts, frame_texts, placeholders
from llmbatch.prepare import unranges
from llmbatch.store import MANIFEST, TEMP_PREFIX, JobFolder
from llmbatch.wire import TaskSpec

__all__ = [
    "JobFrame",
    "check_frame",
    "dumped_ids",
    "ids_digest",
    "job_differences",
    "texts_digest",
    "twin_in_flight",
]


def ids_digest(ids: list[Any] | None) -> str:
    """The digest of a job's id values (None: a job made without id=)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in dumped_ids(None if ids is None else iter([ids])):
        digest.update(part)
    return digest.hexdigest()


def dumped_ids(chunks: Iterator[list[Any]] | None) -> Iterator[bytes]:
    """`orjson.dumps(ids, default=repr)` byte for byte, a chunk of ids at a time (ten million
    ids are never one list nor one bytes object); None (no ids) is ``null``."""
    if chunks is None:
        yield b"null"
        return
    yield b"["
    first = True
    for chunk in chunks:
        if chunk:
            body = orjson.dumps(chunk, default=repr)[1:-1]
            yield body if first else b"," + body
            first = False
    yield b"]"


def texts_digest(texts: list[Any], rows: Iterable[int]) -> str:
    """The digest of the texts of the rows sent, as `prepare.write_shards` takes it."""
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update(str(row).encode() + b"\x00" + orjson.dumps(texts[row]) + b"\n")
    return digest.hexdigest()


def check_frame(manifest: Manifest, native: Any) -> None:
    """Raise InputError unless `native` has the job's rows: same count, ids and texts, in order.

    A job written by llmbatch 0.1.0 recorded no digests; only its row count and columns are
    checked.
    """
    frame = frames.to_frame(native)
    cols = manifest.columns
    id_col, text, prompt = cols.get("id"), cols.get("text"), cols.get("prompt")
    needed = [text] if text else placeholders(prompt) if prompt else []
    frames.require_columns(frame, [c for c in (id_col, *needed) if c], role="job column")
    problem = None
    if len(frame) != manifest.n_rows:
        problem = f"it has {len(frame):,} rows, the job {manifest.n_rows:,}"
    elif manifest.identity is not None:
        problem = _digest_problem(manifest, frame, id_col, text, prompt)
    if problem is not None:
        msg = (
            f"the frame given is not the one job {manifest.name} was made from: {problem}\n"
            "Hint: pass the frame the job was made from (same rows, same order), or put its "
            "frame.parquet back in the job folder."
        )
        raise InputError(msg)


def _digest_problem(
    manifest: Manifest, frame: Any, id_col: str | None, text: str | None, prompt: str | None
) -> str | None:
    assert manifest.identity is not None
    ids = frames.column_values(frame, id_col) if id_col else None
    if ids_digest(ids) != manifest.identity.get("ids"):
        return "its id values differ"
    needed = [text] if text else placeholders(prompt or "")
    columns = {c: frames.column_values(frame, c) for c in needed}
    texts = build_texts(columns, text, prompt, manifest.n_rows)
    skipped = set(unranges(manifest.skipped))
    sent = (r for r in range(manifest.n_rows) if r not in skipped)
    if texts_digest(texts, sent) != manifest.identity.get("texts"):
        return "its texts differ"
    return None


class JobFrame:
    """Where the frame a job was made from comes from: its snapshot in the job folder, else a
    frame the user gave (`load(frame=)`, `collect(frame=)`), checked once to be that frame."""

    def __init__(self, folder: JobFolder, given: Any = None) -> None:
        self.folder, self.given = folder, given
        self.checked = True  # False: `given` came from load() and is not checked yet

    def snapshot(self, manifest: Manifest, frame: Any = None) -> Any:
        """The snapshot, else the frame given to load(), else `frame` (each checked)."""
        for name in ("frame.parquet", "frame.partial.parquet"):
            path = self.folder.path / name
            if path.exists():
                return frames.read_snapshot(path, manifest.frame_library)
        if self.given is not None:
            return self._given(manifest)
        if frame is not None:
            check_frame(manifest, frame)
            return frames.to_native_frame(frame)
        msg = (
            f"job {manifest.name} has no frame snapshot (frame.parquet is gone from "
            f"{str(self.folder.path)!r})\nHint: pass the frame the job was made from: "
            "llmbatch.load(path, frame=df), or collect(frame=df)."
        )
        raise InputError(msg)

    def source(self, manifest: Manifest) -> Path | Any:
        """Where `collect(to=)` reads the frame from: the snapshot file, else the frame given
        to load() (checked) as an Arrow table."""
        for name in ("frame.parquet", "frame.partial.parquet"):
            path = self.folder.path / name
            if path.exists():
                return path
        return frames.to_arrow(self.snapshot(manifest))

    def texts(self, manifest: Manifest) -> list[Any]:
        """Every row's text as it was sent (the `text=` column, or `prompt=` rendered)."""
        cols = manifest.columns
        frame = frames.to_frame(self.snapshot(manifest))
        return frame_texts(frame, cols["text"], cols["prompt"], manifest.n_rows)

    def own(self, manifest: Manifest) -> Any:
        """The whole frame to attach answers to (all its columns, not only id and text)."""
        if self.given is not None:
            return self._given(manifest)
        if manifest.snapshot != "full":
            msg = (
                f"job {manifest.name} could store only its id/text columns (some columns were "
                "not parquet-compatible)\nHint: pass the original frame: collect(frame=df), or "
                "llmbatch.load(path, frame=df)."
            )
            raise InputError(msg)
        self.given = self.snapshot(manifest)
        return self.given

    def _given(self, manifest: Manifest) -> Any:
        if not self.checked:
            check_frame(manifest, self.given)
            self.checked = True
        return frames.to_native_frame(self.given)


def job_differences(
    old: Manifest, config: Any, spec: TaskSpec, mode: str, identity: dict[str, Any]
) -> list[str]:
    """What differs between a recorded job and new work (empty: the same work): what a
    reused `name=` refuses with."""
    new_task = spec.to_dict()
    found = []
    if old.mode != mode:
        found.append(f"mode: {old.mode!r} → {mode!r}")
    new_provider = {"name": config.name, "base_url": config.base_url}
    old_provider = {k: old.provider.get(k) for k in new_provider}
    if old_provider != new_provider:
        found.append(f"provider: {_short(old_provider)} → {_short(new_provider)}")
    for key in sorted(set(old.task) | set(new_task)):
        if old.task.get(key) != new_task.get(key):
            found.append(f"{key}: {_short(old.task.get(key))} → {_short(new_task.get(key))}")
    if old.n_rows != identity["n_rows"]:
        found.append(f"rows: {old.n_rows:,} → {identity['n_rows']:,}")
    if old.columns != identity["columns"]:
        found.append(f"columns: {old.columns} → {identity['columns']}")
    if old.identity is None:  # a 0.1.0 job: its ids and texts were not digested
        return found
    for part, label in (("ids", "the id values"), ("texts", "the texts")):
        if old.identity.get(part) != identity[part]:
            found.append(f"{label} differ ({old.n_rows:,} rows recorded)")
    if not found and old.identity.get("hash") != identity["hash"]:
        found.append("the request lines differ")
    return found


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def twin_in_flight(home: Path, digest: str, name: str) -> Path | None:
    """Another job in `home` doing the very same work (identity `digest`) whose answers are not
    all in the answer index yet, so that sending the work again as `name` would pay twice
    (once its answers are indexed, a new job reuses them for free). Damaged folders are no
    twins; a shard that failed at the provider or was cancelled holds nothing to wait for."""
    try:
        children = sorted(home.iterdir())
    except OSError:
        return None
    for child in children:
        if child.name == name or child.name.startswith(TEMP_PREFIX):
            continue
        try:
            data = orjson.loads((child / MANIFEST).read_bytes())
            if (data.get("identity") or {}).get("hash") != digest:
                continue
            shards = data.get("shards") or []
            if any(_awaited(s) for s in shards):
                return child
        except (OSError, orjson.JSONDecodeError, AttributeError, TypeError):
            continue
    return None


def _awaited(shard: dict[str, Any]) -> bool:
    """Whether a recorded shard has been sent (or may have been: a create in flight) and its
    answers are still to come into the index. A shard only written (`submit=False`) costs
    nothing yet."""
    if shard.get("state") in ("written", "uploading", "uploaded"):
        return False
    ended_empty = shard.get("cancelled") or shard.get("status") == "failed"
    return not (shard.get("indexed") or shard.get("reused") or ended_empty)
