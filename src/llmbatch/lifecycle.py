"""A job's remote steps, one shard at a time, each claimed so no two processes do it twice.

Every step follows one pattern: claim the shard (its lock), read it afresh, do nothing if
another process already did the step, save the state that says what is about to happen
*before* the remote call that creates something, make the call, record the answer. A process
killed anywhere leaves a state the next one resumes from by lookup (never paying twice).

Shards are sent a few at a time (`SENDERS` threads): uploads run side by side, creates one at
a time under the home's create lock, where `quota.QueuePacer` decides whether the shard's batch
fits in the provider's enqueued-token queue now or waits for earlier shards to end.

Polls are not claimed (a GET is harmless twice); their answers are applied to the fresh
shard and ignored when stale (another batch, or older than what is recorded). Every running
shard is polled by one list call where the provider has one (`Backend.observe_many`).
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from tqdm.auto import tqdm

from llmbatch._exceptions import (
    APIStatusError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    ResultsIntegrityError,
)
from llmbatch._retry import sleep
from llmbatch.answer_index import AnswerIndex
from llmbatch.claims import Claims
from llmbatch.download_check import ShardRows, check_download
from llmbatch.manifest import TERMINAL, Manifest, Observation, Shard
from llmbatch.providers.backend import LOST_INPUT, Backend, Created, now
from llmbatch.quota import QueuePacer, QuotaBook, estimate_shard_tokens, in_flight
from llmbatch.result_tally import ResultTally
from llmbatch.results import paused_gc
from llmbatch.state import JobState
from llmbatch.store import DENIED, file_shape, folder_error, make_dir
from llmbatch.verify import Problem, check_request_file

__all__ = ["DOWNLOAD_ATTEMPTS", "SENDERS", "Lifecycle"]

log = logging.getLogger("llmbatch")
T = TypeVar("T")
DOWNLOAD_ATTEMPTS = 3  # fetches of one shard's results before a damaged download is an error
# a download's files (kind, path), why it is not trusted (None: it is), and what its lines hold
Fetched = tuple[list[tuple[str, Path]], Problem | None, ResultTally]
SENDERS = 4  # shards uploaded (and then created, one at a time) at once by one process


def _refused(exc: APIStatusError) -> bool:
    """A definite 4xx: the provider created nothing (unlike a 5xx, 408, 409 or 429)."""
    return exc.status_code < 500 and exc.status_code not in (408, 409, 429)


class Lifecycle:
    """The remote steps of one job's shards (used by `BatchHandle` only)."""

    def __init__(
        self, state: JobState, backend: Backend, claims: Claims, tag: str, endpoint: str
    ) -> None:
        self.state = state
        self.backend = backend
        self.claims = claims
        self.tag = tag
        self.endpoint = endpoint
        self.folder = state.folder
        self.pacer = QueuePacer(QuotaBook(claims.home))
        self._creating = threading.Lock()
        self._saving = threading.Lock()

    def _update(self, index: int, change: Callable[[Shard], T]) -> tuple[Manifest, T]:
        """`_update_all` for shard `index` alone."""
        return self._update_all(lambda m: change(m.shard(index)))

    def _update_all(self, change: Callable[[Manifest], T]) -> tuple[Manifest, T]:
        """`state.update`, with this process's senders queued on a thread lock first
        (woken at once) rather than polling the job's file lock side by side."""
        with self._saving:
            return self.state.update(change)

    def _shard(self, index: int) -> Shard:
        return self.state.read().shard(index)

    def _owner(self, shard: Shard) -> str:
        """Who holds a batch in the claims index: this creation of this shard of this job."""
        return f"{self.tag}/{shard.index}/{shard.generation}"

    def _claimed(self, manifest: Manifest, shard: Shard) -> set[str]:
        """Batches this shard must never adopt: every one recorded by anyone else."""
        return manifest.claimed | self.claims.taken(but=self._owner(shard))

    # -- send -----------------------------------------------------------------------------
    def send_all(self, shards: list[Shard], name: str, *, progress: bool) -> None:
        """Send every shard not yet sent (not those waiting for quota), `SENDERS` at a time.
        Shards another process is sending are skipped at first and waited for at the end: each
        is sent once. The first error stops new sends; those under way finish, then it raises."""
        todo = [s.index for s in shards if s.to_send and s.status != "waiting_for_quota"]
        bar = tqdm(
            total=len(todo), desc="submitting", unit="shard", delay=1.0, leave=False,
            disable=not progress,
        )  # fmt: skip
        try:
            busy = self._send_each(todo, bar.update)
            for index in busy:
                self.send(index)
        finally:
            bar.close()

    def _send_each(self, todo: list[int], done: Callable[[int], object]) -> list[int]:
        """Send `todo` without blocking on busy shards; returns the busy ones, in order."""
        if len(todo) < 2:
            busy = [i for i in todo if not self.send(i, blocking=False)]
            done(len(todo))
            return busy
        self.backend.client  # noqa: B018 - made once, before the threads share it
        busy = []
        with ThreadPoolExecutor(min(SENDERS, len(todo)), "llmbatch-send") as pool:
            futures: dict[Future[bool], int] = {
                pool.submit(self.send, i, blocking=False): i for i in todo
            }
            try:
                for future in as_completed(futures):
                    if not future.result():
                        busy.append(futures[future])
                    done(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return sorted(busy)

    def send(self, index: int, *, blocking: bool = True, quota: bool = False) -> bool:
        """Upload and create shard `index` unless it is sent or cancelled; False if busy.

        `quota`: also send it while it waits for the enqueued-token quota.
        """
        with self.state.claim(index, blocking=blocking) as got:
            if not got:
                return False
            shard = self._shard(index)
            waiting = shard.status == "waiting_for_quota"
            if shard.to_send and (quota or not waiting):
                self._send_claimed(shard)
        return True

    def send_waiting(self, shards: list[Shard], *, requeued: bool = True) -> None:
        """Send shards waiting for the quota, in order, as many as fit (`quota.QueuePacer`); with no
        limit known, one, once nothing runs (the provider then says whether it fits). Not
        `requeued`: leave the shards whose batch failed on quota waiting."""
        waiting = [
            s.index
            for s in shards
            if s.to_send and s.status == "waiting_for_quota" and (requeued or not _failed(s))
        ]
        if not waiting:
            return
        if self.pacer.limit(self.state.read()) is None:
            if not any(s.running for s in shards):
                self.send(waiting[0], quota=True)
            return
        for index in waiting:
            self.send(index, quota=True)
            if self._shard(index).status == "waiting_for_quota":
                return  # the queue is full: the later shards wait their turn

    def _send_claimed(self, shard: Shard) -> None:
        path = self.folder.path / shard.path
        check_request_file(path, shard.sha256, shard.hash_form, shard.index)
        i = shard.index
        if shard.enqueued_tokens is None:
            tokens = estimate_shard_tokens(path)
            self._update(i, lambda s: s.record_estimate(tokens))
        if self.backend.uploads and not shard.file_id:
            resuming = shard.state == "uploading"
            self._update(i, Shard.begin_upload)
            file_id = self.backend.upload(shard, self.folder, resuming=resuming)
            self._update(i, lambda s: s.record_upload(file_id))
        # one create or lookup at a time in this home; this process's senders queue on a
        # thread lock first (woken at once) rather than poll the file lock side by side
        with self._creating, self.claims.creates():
            self._create(i)

    def _create(self, i: int) -> None:
        """Create shard `i`'s batch if it fits in the queue (else it waits); under `creates`."""
        manifest = self.state.read()
        shard = manifest.shard(i)
        resuming = shard.state == "creating"  # a crash may have left a batch: look it up
        if not resuming and not self.pacer.fits(manifest, shard):
            self._update(i, Shard.wait_for_quota)
            log.info("shard %s waits for earlier shards to free the enqueued-token quota", i)
            return
        queued = in_flight(manifest.shards, but=i)
        manifest, _ = self._update(i, lambda s: s.begin_create(now(), queued))
        shard = manifest.shard(i)
        try:
            claimed = self._claimed(manifest, shard)
            created = self.backend.create(shard, self.folder, claimed, resuming=resuming)
        except APIStatusError as exc:
            if _refused(exc):  # nothing was created: leave nothing half-made behind
                self.backend.discard(shard)
                self._update(i, Shard.undo_upload)
            raise
        self._record(shard, created)

    def _record(self, shard: Shard, created: Created) -> None:
        """Claim the batch in the home's index, then record it in the job (under `creates`)."""
        if not self.claims.record(created.batch_id, self._owner(shard)):
            log.warning("batch %s was claimed by another job first", created.batch_id)
        self._update(
            shard.index,
            lambda s: s.record_batch(created.batch_id, created.seen, adopted=created.adopted),
        )
        if created.adopted:
            log.info(
                "shard %s: adopted batch %s after a lost create", shard.index, created.batch_id
            )

    # -- poll -----------------------------------------------------------------------------
    def poll_all(self, shards: list[Shard]) -> None:
        """Ask the provider about every running shard of `shards` and record the answers: one
        list call where one serves (`Backend.observe_many`), and one manifest update for them
        all (one write a poll, not one a running shard: a 10M-row job runs 200 at once)."""
        running = {s.index: s.batch_id for s in shards if s.running and s.batch_id}
        if not running:
            return
        seen = self.backend.observe_many(list(running.values()))
        queued: list[int] = []  # the tokens in flight under each batch that failed on quota

        def apply(manifest: Manifest) -> None:
            for index, batch_id in running.items():
                self._observe(manifest.shard(index), batch_id, seen[batch_id], queued)

        manifest, _ = self._update_all(apply)
        for tokens in queued:
            learned = self.pacer.learn(manifest, tokens)
            if learned is not None:
                log.info(
                    "enqueued-token limit learned: %s tokens (shards are paced by it)", learned
                )

    def _observe(self, s: Shard, batch_id: str, seen: Observation, queued: list[int]) -> None:
        """Apply one poll to shard `s`; a batch that ended failing on quota sends the shard
        back to wait (its tokens in flight added to `queued`), one whose input the provider
        lost to be sent again."""
        s.observe(batch_id, seen)
        if s.state != "ended" or s.batch_id != batch_id:
            return
        if self.backend.quota_failure(s):
            queued.append(s.enqueued_before or 0)
            s.requeue("quota", keep_file=True)
            log.info("shard %s waits for the enqueued-token quota", s.index)
        elif self.backend.lost_input_failure(s):
            s.requeue(LOST_INPUT, keep_file=False)
            log.warning("shard %s: the provider lost its input file; sending it again", s.index)

    # -- download -------------------------------------------------------------------------
    def fetch(self, index: int, *, again: bool = False, blocking: bool = True) -> None:
        """Download an ended shard's results and check them before trusting them.

        A damaged download is fetched again (bounded, with backoff); then it raises
        ResultsIntegrityError and the job stays resumable. An adopted batch whose rows are
        another job's is released and the shard is sent again. `again`: fetch a shard that was
        downloaded before (a user's `refresh_results()`). Not `blocking`: skip a shard another
        process is downloading right now.
        """
        with self.state.claim(index, blocking=blocking) as got:
            if not got:
                return
            shard = self._shard(index)
            wanted = shard.needs_download or (again and shard.state == "downloaded")
            if not wanted:
                return
            make_dir(self.folder.results_dir)  # a results folder deleted by hand comes back
            self._remove_stale_parts(index)
            problem = None
            for attempt in range(DOWNLOAD_ATTEMPTS):
                if attempt:
                    sleep(min(2.0**attempt, 30.0))
                files, problem, tally = self._fetch_writing(shard)
                if problem is None:
                    self._keep(shard, files, tally)
                    return
                if problem.wrong_batch and shard.adopted:
                    return self._release(shard, problem)
                log.warning("shard %s: download damaged (%s); fetching again", index, problem)
            assert problem is not None
            msg = (
                f"the results of shard {index} (batch {shard.batch_id}) are damaged after "
                f"{DOWNLOAD_ATTEMPTS} downloads: {problem.message}\nHint: the job is intact; "
                "wait() or refresh_results() later fetches them again."
            )
            raise ResultsIntegrityError(msg, shard=index)

    def _fetch_writing(self, shard: Shard) -> Fetched:
        """`_fetch_once`, with a failure to write the files (disk full, read-only folder, a
        file-size limit) as a JobFolderError that says the job resumes once it is fixed."""
        try:
            return self._fetch_once(shard)
        except OSError as exc:
            hint = None
            if exc.errno not in DENIED:
                hint = (
                    "free some disk space (the results need about as much as the batch's "
                    "requests), then call wait() or collect() again: the job is intact and the "
                    "download starts again; nothing is paid twice."
                )
            doing = f"write the results of shard {shard.index} (batch {shard.batch_id})"
            raise folder_error(exc, doing, hint) from None

    def _fetch_once(self, shard: Shard) -> Fetched:
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        results = self.folder.results_dir

        def dest(kind: str) -> Path:
            return results / f".{shard.index:04d}.{kind}.{token}.part"

        files: list[tuple[str, Path]] = []
        tally = ResultTally(self.backend, self.endpoint)
        try:
            try:
                files = self.backend.download(shard, dest)
            except NotFoundError as exc:  # results can 404 for a few seconds after the end (F.11)
                gone = Problem(f"the provider answered 404 for the results ({exc.message})")
                return [], gone, tally
            with paused_gc():  # some objects a line, none in a cycle (`results.paused_gc`)
                problem = check_download(
                    files,
                    tag=self.tag,
                    rows=ShardRows.of_runs(shard.rows),
                    succeeded=int(shard.counts.get("completed") or 0),
                    is_answer=self.backend.is_answer,
                    answers=tally,
                    columnar=self.backend.wire.columnar,
                    endpoint=self.endpoint,
                    plain_answers=self.backend.plain_is_answer,
                )
        except BaseException:
            _remove(files)
            raise
        if problem is not None:
            _remove(files)
        return files, problem, tally

    def _remove_stale_parts(self, index: int) -> None:
        """Temp files of this shard's downloads that a killed process left (we hold the claim,
        so no other process is writing one now)."""
        mark = f".{index:04d}."
        for path in self.folder.results_dir.glob(".*.part"):
            if mark in path.name:
                path.unlink(missing_ok=True)

    def _keep(self, shard: Shard, files: list[tuple[str, Path]], tally: ResultTally) -> None:
        """Put the checked files in place and record their shapes (checked before each read);
        index their answers for reuse and record the shard's tokens, from the check's one read
        (if the index cannot be written, `reuse.index_collected` reads the files later)."""
        kept: dict[str, list[int]] = {}
        names: dict[Path, str] = {}
        for kind, path in files:
            final = self.folder.result_path(shard.index, kind)
            shape = tally.shapes.get(path) or file_shape(path)
            os.replace(path, final)
            names[path] = str(final.relative_to(self.folder.path))
            kept[names[path]] = shape
        indexed = self._index(tally, names)

        def record(s: Shard) -> None:
            s.record_download(list(kept), kept)
            if indexed:
                s.mark_indexed(tally.tokens)

        self._update(shard.index, record)

    def _index(self, tally: ResultTally, names: dict[Path, str]) -> bool:
        """Add a download's answers to the home's answer index; False if it failed (logged:
        reuse is a saving, never a condition of the job)."""
        try:
            AnswerIndex(self.claims.home).add_runs(tally.runs(self.folder.path, names))
        except (OSError, sqlite3.Error, ValueError) as exc:
            log.warning("answers not indexed for reuse yet (%s)", exc)
            return False
        return True

    def _release(self, shard: Shard, problem: Problem) -> None:
        """The adopted batch is not this job's: let it go and send the shard again."""
        assert shard.batch_id is not None
        self.claims.release(shard.batch_id, self._owner(shard))
        log.warning(
            "shard %s: adopted batch %s holds another job's rows; sending the shard again",
            shard.index,
            shard.batch_id,
        )
        self._update(shard.index, lambda s: s.requeue("released_foreign_batch", keep_file=True))

    # -- cancel / cleanup -----------------------------------------------------------------
    def cancel(self, index: int) -> None:
        """Never send an unsent shard (finding a batch a lost create made); stop a running one."""
        shard = self._shard(index)
        if shard.to_send:
            with self.state.claim(index):  # waits for a send in flight in another process
                shard = self._shard(index)
                if shard.to_send:
                    self._cancel_unsent(shard)
            shard = self._shard(index)
        if shard.running and shard.batch_id is not None:
            batch_id = shard.batch_id
            try:
                seen = self.backend.cancel(batch_id)
            except (BadRequestError, ConflictError):  # it ended meanwhile (OpenAI: 409, F.3)
                seen = self.backend.observe(batch_id)
                if seen.status not in TERMINAL:
                    raise
            self._update(index, lambda s: s.observe(batch_id, seen))

    def _cancel_unsent(self, shard: Shard) -> None:
        if shard.state == "creating":
            with self.claims.creates():
                manifest = self.state.read()
                found = self.backend.find(shard, self._claimed(manifest, shard))
                if found is not None:
                    self._record(shard, found)
                    return
        self.backend.discard(shard)
        self._update(shard.index, Shard.cancel_unsent)

    def clean(self, index: int) -> list[str]:
        """Delete a finished shard's remote objects, once."""
        with self.state.claim(index):
            shard = self._shard(index)
            if shard.state == "cleaned" or (shard.cancelled and shard.unsent):
                return []
            deleted = [] if shard.reused else self.backend.cleanup(shard)  # nothing remote
            self._update(index, Shard.clean)
        return deleted


def _failed(shard: Shard) -> bool:
    """Its last batch failed on quota (rather than being held back before its create)."""
    return bool(shard.events) and shard.events[-1].get("event") == "quota"


def _remove(files: list[tuple[str, Path]]) -> None:
    for _, path in files:
        path.unlink(missing_ok=True)
