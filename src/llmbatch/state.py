"""The job's state on disk, under its lock: fresh reads, transactions, and shard claims.

Several processes (a notebook and a terminal, two cron runs) and several handles may hold the
same job. None of them ever saves a copy it read earlier: every change is a transaction that
takes the job lock, reads `job.json` afresh, applies one change, and writes it back atomically.
A remote step on a shard (upload + create, download, cancel of an unsent shard, cleanup) is
*claimed* first with the shard's own lock, so two processes never do the same remote step;
the job lock itself is held only for the short read-change-write, never while sleeping or
waiting on the network. Locks are `filelock` locks (flock on POSIX): a killed process releases
them, and the next process resumes the step from the state it saved before the remote call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import filelock

from llmbatch._exceptions import JobFolderError
from llmbatch.manifest import Manifest, Shard
from llmbatch.manifest_checks import check
from llmbatch.store import JobFolder, file_lock, make_dir

__all__ = ["JobState"]

T = TypeVar("T")
_LOCKS = "locks"


class JobState:
    """The only writer of `job.json`: every change runs under the lock on a fresh read.

    Args:
        folder: the job folder.
        on_save: called with the manifest just before each write (the handle adds its HTTP
            counters there).
    """

    def __init__(self, folder: JobFolder, on_save: Callable[[Manifest], None] | None = None):
        self.folder = folder
        self.on_save = on_save

    def read(self) -> Manifest:
        """The manifest as it is on disk now (writes are atomic, so no lock is needed)."""
        data = self.folder.load()
        try:
            manifest = Manifest.from_dict(data)
            check(manifest)  # values the job relies on: row ranges, shard entries, the task
            return manifest
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            msg = (
                f"the manifest {str(self.folder.manifest_path)!r} is damaged ({exc})\nHint: "
                "restore it from a backup; the remote batches can still be listed."
            )
            raise JobFolderError(msg) from None

    @property
    def lock(self) -> filelock.BaseFileLock:
        return file_lock(self.folder.path / "job.lock")

    def update(self, change: Callable[[Manifest], T]) -> tuple[Manifest, T]:
        """Apply `change` to a fresh read under the lock and save; returns both."""
        with self.lock:
            manifest = self.read()
            result = change(manifest)
            self.save(manifest)
        return manifest, result

    def update_shard(self, index: int, change: Callable[[Shard], T]) -> tuple[Manifest, T]:
        """`update` for one shard: `change` gets the fresh copy of shard `index`."""
        return self.update(lambda m: change(m.shard(index)))

    def save(self, manifest: Manifest) -> None:
        """Write `manifest`; only call this holding the lock, with a manifest read under it."""
        if self.on_save is not None:
            self.on_save(manifest)
        self.folder.save(manifest.to_dict())

    @contextmanager
    def claim(self, index: int, *, blocking: bool = True) -> Iterator[bool]:
        """Hold shard `index`'s claim for one remote step; yields False if it is busy
        (only with `blocking=False`). Always re-read the shard after claiming it."""
        locks = self.folder.path / _LOCKS
        if not locks.is_dir():
            make_dir(locks)
        lock = file_lock(locks / f"{index:04d}.lock")
        try:
            lock.acquire(blocking=blocking)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
