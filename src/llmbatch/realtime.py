"""Sync mode: a job's request lines sent through the provider's realtime API, for answers in
seconds while a prompt or schema is being developed.

Everything but the sending is batch mode's: the same shard files, the same job folder and
lock, the same reading, checks and merge. A shard is claimed while it is sent (two processes
share a job shard by shard and never send one twice). Each answer is appended as it arrives to
the shard's journal (``results/NNNN.sync.jsonl``) as a line in the shape of the provider's
batch results, so it is read exactly like a downloaded batch. A process killed mid-shard leaves
the journal; the next run reads it and sends only the rows that have no line yet (a torn last
line is cut off). When every row has a line the journal is checked like a download and
becomes the shard's results file, in place: there is no moment when it is in neither state.

Realtime calls go through the provider's HTTP client and retry policy (429/529 and
``retry-after`` honoured), from `concurrency` threads, optionally paced to a requests-per-minute
cap. Embeddings are sent many inputs per request and split back into one line per row.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from tqdm.auto import tqdm

from llmbatch._exceptions import ResultsIntegrityError
from llmbatch._json import loads
from llmbatch.download_check import ShardRows, check_download
from llmbatch.manifest import Observation, Shard, Status
from llmbatch.providers.backend import Backend, now
from llmbatch.realtime_calls import Answer, Caller, Unit, units
from llmbatch.state import JobState
from llmbatch.store import file_shape, make_dir
from llmbatch.sync_options import Pacer, SyncOptions
from llmbatch.verify import check_request_file

__all__ = ["Journal", "Realtime", "journal_name"]

log = logging.getLogger("llmbatch")

_SAVE_EVERY = 1.0  # seconds between progress saves to the manifest while a shard is sent


def journal_name(index: int) -> str:
    """The file a sync shard's answers are appended to (under ``results/``)."""
    return f"{index:04d}.sync.jsonl"


@dataclass
class _Answered:
    """What a shard's journal already holds: the rows with a line, and how they went."""

    ids: set[str] = field(default_factory=set)
    completed: int = 0
    failed: int = 0

    def add(self, custom_id: str, succeeded: bool) -> None:
        self.ids.add(custom_id)
        self.completed += succeeded
        self.failed += not succeeded

    def counts(self, total: int) -> dict[str, int]:
        return {"total": total, "completed": self.completed, "failed": self.failed}


class Journal:
    """A sync shard's answers, one result line per row, appended as they arrive."""

    def __init__(self, path: Path, succeeded: Callable[[dict[str, Any]], bool]) -> None:
        self.path = path
        self._succeeded = succeeded
        self._fh: BinaryIO | None = None

    def read(self) -> _Answered:
        """The lines already written; a last line a killed process left half-written is cut."""
        found = _Answered()
        if not self.path.exists():
            return found
        data = self.path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) != len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(len(whole))
        for number, raw in enumerate(whole.splitlines(), start=1):
            if raw.strip():
                try:
                    line = loads(raw)
                except ValueError:
                    msg = f"line {number} of {self.path.name} is damaged"
                    hint = "delete that line: its row is then sent again"
                    raise ResultsIntegrityError(f"{msg}\nHint: {hint}.") from None
                found.add(str(line.get("custom_id")), self._succeeded(line))
        return found

    def append(self, lines: list[bytes]) -> None:
        """Write whole lines at the end (user-only file, flushed to the OS at once)."""
        if self._fh is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._fh = os.fdopen(fd, "ab")
        self._fh.write(b"".join(line + b"\n" for line in lines))
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Realtime:
    """Sends a sync job's shards, one claimed shard at a time (used by `BatchHandle` only)."""

    def __init__(self, state: JobState, backend: Backend, tag: str, options: SyncOptions):
        self.state = state
        self.backend = backend
        self.wire = backend.wire
        self.tag = tag
        self.options = options
        self.folder = state.folder

    def _journal(self, index: int) -> Journal:
        path = self.folder.results_dir / journal_name(index)
        return Journal(path, lambda line: self.backend.parse_line(line)[1] == "succeeded")

    # -- send -----------------------------------------------------------------------------
    def send_all(self, shards: list[Shard], name: str, *, progress: bool) -> None:
        """Send every shard not yet answered, with one progress bar in rows. Shards another
        process is sending are skipped at first and waited for at the end (each is sent once).
        Ctrl-C keeps every answer that arrived and says how to go on."""
        todo = [s.index for s in shards if (s.to_send or s.running) and not s.cancelled]
        rows = sum(s.n for s in shards if s.index in todo)
        bar = tqdm(total=rows, desc=name, unit="row", delay=1.0, disable=not progress)
        try:
            busy = [i for i in todo if not self.send(i, blocking=False, progress=bar)]
            for index in busy:
                self.send(index, progress=bar)
        except KeyboardInterrupt as exc:
            path = str(self.folder.path)
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(
                    f"The sync job keeps every answer so far: llmbatch.load({path!r}).wait() sends "
                    "only the rows without one."
                )
            raise
        finally:
            bar.close()

    def send(self, index: int, *, blocking: bool = True, progress: Any = None) -> bool:
        """Send shard `index`'s rows that have no answer yet; False if another process holds
        it. `progress` (a tqdm bar) is advanced by one per row answered."""
        with self.state.claim(index, blocking=blocking) as got:
            if not got:
                return False
            shard = self.state.read().shard(index)
            if shard.cancelled or shard.state not in ("written", "submitted"):
                return True
            self._send_claimed(shard, progress)
        return True

    def _send_claimed(self, shard: Shard, progress: Any) -> None:
        path = self.folder.path / shard.path
        check_request_file(path, shard.sha256, shard.hash_form, shard.index)
        if shard.state == "written":
            shard = self._begin(shard)
        make_dir(self.folder.results_dir)
        journal = self._journal(shard.index)
        answered = journal.read()
        if progress is not None:
            progress.update(len(answered.ids))
        todo = (r for r in self._requests(path) if r[0] not in answered.ids)
        try:
            self._run(shard, units(todo, self.backend.endpoint), journal, answered, progress)
        finally:
            journal.close()
            self._save_counts(shard, answered)
        self._finish(shard, journal, answered, "completed")

    def _begin(self, shard: Shard) -> Shard:
        """Record the shard as sent (a local "batch" id) before its first request."""
        batch_id = f"sync-{self.tag}-{shard.index}-{shard.generation}"
        seen = Observation("in_progress", "sync", {"total": shard.n, "completed": 0, "failed": 0})

        def begin(s: Shard) -> None:
            s.begin_create(now())
            s.record_batch(batch_id, seen, adopted=False)

        manifest, _ = self.state.update_shard(shard.index, begin)
        return manifest.shard(shard.index)

    def _requests(self, path: Path) -> Iterator[tuple[str, Any]]:
        with path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    yield self.wire.request(orjson.loads(raw))

    def _run(
        self,
        shard: Shard,
        units: Iterator[Unit],
        journal: Journal,
        answered: _Answered,
        progress: Any,
    ) -> None:
        """Send `units` from a pool of threads, at most a few per thread in flight; the answers
        are written by this thread alone, in the order they arrive."""
        path = self.wire.realtime_path(self.backend.endpoint)
        pacer = Pacer(self.options.requests_per_minute)
        caller = Caller(self.backend.client, self.wire, path, pacer)
        limit = self.options.concurrency * 2
        saved = time.monotonic()
        pool = cf.ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="llmbatch")
        running: set[cf.Future[list[Answer]]] = set()
        try:
            for unit in units:
                while len(running) >= limit:
                    running = self._drain(running, journal, answered, progress)
                running.add(pool.submit(caller.call, unit))
                if time.monotonic() - saved >= _SAVE_EVERY:
                    self._save_counts(shard, answered)
                    saved = time.monotonic()
            while running:
                running = self._drain(running, journal, answered, progress)
        except BaseException:
            for future in running:
                future.cancel()
            # answers already paid for are kept: wait for the requests in flight
            for future in cf.as_completed([f for f in running if not f.cancelled()]):
                if future.exception() is None:
                    self._write(future.result(), journal, answered, progress)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _drain(
        self,
        running: set[cf.Future[list[Answer]]],
        journal: Journal,
        answered: _Answered,
        progress: Any,
    ) -> set[cf.Future[list[Answer]]]:
        done, rest = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in done:
            self._write(future.result(), journal, answered, progress)  # an abort raises here
        return rest

    @staticmethod
    def _write(lines: list[Answer], journal: Journal, answered: _Answered, progress: Any) -> None:
        journal.append([line for _, line, _ in lines])
        for custom_id, _, ok in lines:
            answered.add(custom_id, ok)
        if progress is not None:
            progress.update(len(lines))

    # -- progress and the end --------------------------------------------------------------
    def _save_counts(self, shard: Shard, answered: _Answered) -> None:
        assert shard.batch_id is not None
        batch_id = shard.batch_id
        seen = Observation("in_progress", "sync", answered.counts(shard.n))
        self.state.update_shard(shard.index, lambda s: s.observe(batch_id, seen))

    def _finish(self, shard: Shard, journal: Journal, answered: _Answered, status: Status) -> None:
        """Check the journal like a download, then record it as the shard's results."""
        problem = check_download(
            [("output", journal.path)],
            tag=self.tag,
            rows=ShardRows.of_runs(shard.rows),
            succeeded=answered.completed,
            is_answer=lambda _kind, line: self.backend.parse_line(line)[1] == "succeeded",
        )
        if problem is not None:
            msg = f"the answers of sync shard {shard.index} do not add up: {problem.message}"
            raise ResultsIntegrityError(msg + "\nHint: report this; the journal is kept.")
        assert shard.batch_id is not None
        batch_id = shard.batch_id
        seen = Observation(status, "sync", answered.counts(shard.n))
        rel = str(journal.path.relative_to(self.folder.path))
        shape = {rel: file_shape(journal.path)}

        def end(s: Shard) -> None:
            s.observe(batch_id, seen)
            s.record_download([rel], shape)

        self.state.update_shard(shard.index, end)

    # -- cancel / clean -------------------------------------------------------------------
    def cancel(self, index: int) -> bool:
        """End a shard that was being sent, keeping the answers it has (the other rows are
        "canceled"); False if another process is sending it right now."""
        with self.state.claim(index, blocking=False) as got:
            if not got:
                log.warning(
                    "shard %s is being sent by another process; stop that one (Ctrl-C) first",
                    index,
                )
                return False
            shard = self.state.read().shard(index)
            if shard.running:
                make_dir(self.folder.results_dir)
                journal = self._journal(index)
                answered = journal.read()
                journal.append([])  # the file exists even when nothing was answered
                journal.close()
                self._finish(shard, journal, answered, "cancelled")
        return True

    def clean(self, index: int) -> list[str]:
        """Mark a finished shard cleaned up: a sync job made nothing remote to delete."""
        with self.state.claim(index):
            shard = self.state.read().shard(index)
            if shard.finished and shard.state != "cleaned" and not shard.unsent:
                self.state.update_shard(index, Shard.clean)
        return []
