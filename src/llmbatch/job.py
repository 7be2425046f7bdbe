"""`BatchHandle`: one persisted job — submit, status, wait, collect, cancel, cleanup, retry.

The job is the only place that sequences steps. It never saves a copy of the state it holds:
its view is re-read from the job folder at every public call, every change is a transaction
on a fresh read under the job lock (`state`), and every remote step on a shard is claimed
(`lifecycle`). A job may therefore be opened from several processes at once (a notebook and a
terminal, two cron runs): they share the work and never pay twice.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from llmbatch._exceptions import InputError, JobNotReady
from llmbatch._retry import RetryStats
from llmbatch.attempts import add_retry
from llmbatch.autoclean import clean_collected, wants_cleanup
from llmbatch.claims import Claims
from llmbatch.costs import Estimate, Usage, estimate, usage_of
from llmbatch.http_tally import HttpTally
from llmbatch.identity import JobFrame
from llmbatch.lifecycle import Lifecycle
from llmbatch.manifest import Manifest
from llmbatch.merge import merge_answers
from llmbatch.prepare import Limits, unranges
from llmbatch.providers import Anthropic, OpenAI, provider_from_manifest
from llmbatch.providers.registry import make_backend
from llmbatch.reading import check_results, failed_batch_error, read_outcomes
from llmbatch.realtime import Realtime
from llmbatch.result_tally import ResultTally
from llmbatch.results import (
    ERROR_KINDS,
    RETRY_KINDS,
    Outcomes,
    answer_table,
    paused_gc,
    warn_truncated,
)
from llmbatch.reuse import index_collected
from llmbatch.sink import Snapshot, sink_parquet
from llmbatch.state import JobState
from llmbatch.status import JobStatus
from llmbatch.store import JobFolder
from llmbatch.sync_options import SyncOptions
from llmbatch.tasks import TaskSpec
from llmbatch.waiting import check_seconds, poll_until_done

__all__ = ["BatchHandle", "make_backend"]

log = logging.getLogger("llmbatch")


F = TypeVar("F", bound=Callable[..., Any])


def _public(method: F) -> F:
    """Re-read the job's state when the outermost public call starts (another process may have
    changed it); close the HTTP client, saving its counters, when it returns."""

    @functools.wraps(method)
    def wrapper(self: BatchHandle, *args: Any, **kwargs: Any) -> Any:
        if self._depth == 0:
            self._refresh()
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._close_session()

    return wrapper  # type: ignore[return-value]


class BatchHandle:
    """A job that lives in a folder; reopen it anywhere with `llmbatch.load(path)`.

    Several handles and processes may hold the same job at once; each public call works on the
    state as it is on disk at that moment.

    Example:
        >>> job = df.llmbatch.classify(["pos", "neg"], text="body", id="doc_id")
        >>> labelled = job.wait()
    """

    def __init__(
        self,
        folder: JobFolder,
        manifest: Manifest | dict[str, Any],
        *,
        provider: OpenAI | Anthropic | None = None,
        frame: Any = None,
        limits: Limits | None = None,
    ) -> None:
        self._folder = folder
        self._m = manifest if isinstance(manifest, Manifest) else Manifest.from_dict(manifest)
        self._state = JobState(folder, on_save=lambda m: self._tally.add_to(m))
        self._config = provider or provider_from_manifest(self._m.provider)
        self._frames = JobFrame(folder, frame)  # the frame the job was made from
        self._depth = 0
        self._resubmit_quota = True
        self.spec = TaskSpec.from_dict(self._m.task)
        self._backend = make_backend(self._config, self.spec, self._m.tag, limits)
        self._tally = HttpTally(self._backend)  # this process's HTTP counters, saved with state
        recorded = Path(self._m.home) if self._m.home else None  # where its claims live
        home = recorded if recorded is not None and recorded.is_dir() else folder.path.parent
        self._life = Lifecycle(
            self._state, self._backend, Claims(home), self._m.tag, self.spec.endpoint
        )
        self._realtime: Realtime | None = None  # sync mode: the realtime API sends the rows
        if self._m.mode == "sync":
            options = SyncOptions.from_dict(self._m.sync)
            self._realtime = Realtime(self._state, self._backend, self._m.tag, options)

    @classmethod
    def open(
        cls, path: str | Path, *, provider: OpenAI | Anthropic | None = None, frame: Any = None
    ) -> BatchHandle:
        """Reopen a job folder (no code from it is ever executed; `~` is expanded).

        `frame=` stands in for a missing frame snapshot; it is checked against the job's ids
        and texts before it is used.
        """
        folder = JobFolder(Path(path).expanduser())
        manifest = JobState(folder).read()
        saved = manifest.limits  # the limits it was sharded with (retries shard by them too)
        limits = Limits.from_dict(saved) if saved else None
        handle = cls(folder, manifest, provider=provider, frame=frame, limits=limits)
        handle._frames.checked = frame is None  # a frame given to load() is checked once
        return handle

    def _refresh(self) -> Manifest:
        self._m = self._state.read()
        return self._m

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._m.name

    @property
    def path(self) -> Path:
        return self._folder.path

    @property
    def provider(self) -> OpenAI | Anthropic:
        return self._config

    @property
    def n_rows(self) -> int:
        return self._m.n_rows

    @property
    def created_at(self) -> float:
        return self._m.created_at

    @property
    def manifest(self) -> Manifest:
        """The job's state as of the last public call (a copy to read; changes are not saved)."""
        return self._m

    @property
    def shards(self) -> list[dict[str, Any]]:
        """Each shard's manifest entry as a dict (as of the last public call)."""
        return [s.to_dict() for s in self._m.shards]

    def __repr__(self) -> str:
        return (
            f"<BatchHandle {self.name}: {self.spec.kind} with {self.spec.model} via "
            f"{self._config.name}, {self.n_rows:,} rows in {len(self._m.shards)} shard(s) at "
            f"{str(self.path)!r}>"
        )

    def _repr_html_(self) -> str:
        return self.status(refresh=False)._repr_html_()

    def _close_session(self) -> None:
        """Close the HTTP client, recording its counters in the manifest."""
        if self._tally.unsaved() and self._folder.exists():
            self._m, _ = self._state.update(lambda m: None)
        self._tally.close()

    @property
    def http_stats(self) -> dict[str, Any]:
        """HTTP counters over the job's whole life: requests, retries (by reason), recovered."""
        return dict(self._m.http or RetryStats().as_dict())

    def _index_answers(self) -> None:
        """Tally the tokens of newly collected shards and index their usable answers for
        reuse by later jobs (`reuse.index_collected`; never fails the job)."""
        if any(s.collected and not s.indexed for s in self._m.shards):
            tally = functools.partial(ResultTally, self._backend, self.spec.endpoint)
            self._m = index_collected(self._state, self._life.claims.home, self._m.tag, tally)

    # -- submit ---------------------------------------------------------------------------
    @_public
    def submit(self) -> BatchHandle:
        """Send every shard not yet sent (resumes a crashed submission).

        Shards another process is sending are skipped at first and waited for at the end, so
        two processes share the work and each shard is sent once. A sync job (`mode="sync"`)
        is answered here, row by row, through the realtime API.
        """
        sender = self._life if self._realtime is None else self._realtime
        sender.send_all(self._m.shards, self.name, progress=True)
        self._refresh()
        self._index_answers()
        return self

    # -- status ---------------------------------------------------------------------------
    def _poll(self, *, resubmit: bool, block: bool = True) -> None:
        """Refresh running shards and download ended ones; with `resubmit`, also send what is
        unsent (a crashed submission) and the shards waiting for quota that fit now. status()
        never sends. Not `block`: skip a download another process is doing now (status())."""
        if resubmit:
            self.submit()
        if self._realtime is not None:  # nothing remote to ask: the answers are in the folder
            self._refresh()
            return
        self._life.poll_all(self._m.shards)  # one list call where the provider has one
        for shard in self._refresh().shards:
            if shard.needs_download:
                self._life.fetch(shard.index, blocking=block)
        if resubmit:
            self._resubmit_one()
        self._refresh()
        self._index_answers()

    def _resubmit_one(self) -> None:
        """Send the shards waiting for quota that fit now (`Lifecycle.send_waiting`); those
        whose batch failed on quota only with `resubmit_on_quota`."""
        shards = self._refresh().shards
        self._life.send_waiting(shards, requeued=self._resubmit_quota)

    @_public
    def status(self, *, refresh: bool = True) -> JobStatus:
        """The job's normalised status (asks the provider unless `refresh=False`), with the
        cost of the answers so far."""
        if refresh:
            self._poll(resubmit=False, block=False)
        st = JobStatus.of(self.name, self._config.name, self.n_rows, self._m.shards)
        spent = usage_of(self.spec, self._m.shards, batch=self._m.mode == "batch")
        return dataclasses.replace(st, cost=spent.cost, prices=spent.prices)

    # -- cost -----------------------------------------------------------------------------
    @_public
    def estimate(self) -> Estimate:
        """What this job's requests cost, estimated before sending: requests, input tokens
        (± the approximation's band), the output bound and a typical figure, and the cost
        range in USD at batch prices (realtime prices for a sync job). Rows answered by an
        earlier job (reused) are not counted."""
        shards = self._m.shards
        rows = sorted({r for s in shards if not s.reused for r in unranges(s.rows)})
        texts = self._frames.texts(self._m)
        reused = sum(s.n for s in shards if s.reused)
        batch = self._m.mode == "batch"
        return estimate(self.spec, (texts[r] for r in rows), batch=batch, reused=reused)

    @_public
    def usage(self) -> Usage:
        """Tokens this job's answers used, by kind (input, output, cache read, cache write),
        and their cost in USD at batch prices (realtime prices for a sync job); rows reused
        from earlier jobs cost nothing here. Counts every answer brought home so far."""
        self._index_answers()
        return usage_of(self.spec, self._m.shards, batch=self._m.mode == "batch")

    # -- wait / collect -------------------------------------------------------------------
    @_public
    def wait(
        self,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        progress: bool = True,
        *,
        resubmit_on_quota: bool = True,
        cleanup: bool | None = None,
    ) -> Any:
        """Poll until every shard has ended, then return `collect(cleanup=cleanup)`.

        Ctrl-C stops waiting and leaves the job intact: `llmbatch.load(path).wait()` goes on.
        Another process may wait on the same job at the same time.
        """
        wants_cleanup(cleanup, self._config.cleanup)  # a bad value fails now, not after it
        check_seconds("poll_interval", poll_interval)
        if timeout is not None:
            check_seconds("timeout", timeout)
        self._resubmit_quota = resubmit_on_quota
        if self._realtime is not None:
            self._realtime.send_all(self._refresh().shards, self.name, progress=progress)

        def poll() -> JobStatus:
            self._poll(resubmit=True)
            return self.status(refresh=False)

        poll_until_done(
            poll, name=self.name, path=self.path, poll_interval=poll_interval, timeout=timeout,
            total=sum(s.n for s in self._m.shards if not s.reused),  # reused rows are not sent
            progress=progress and self._realtime is None,  # sync mode showed its rows already
        )  # fmt: skip
        return self.collect(cleanup=cleanup)

    @_public
    def refresh_results(self) -> BatchHandle:
        """Download every ended shard's results again, checked like the first time.

        For results you suspect (a file damaged on disk, say); the new files replace the old
        ones only once they pass the checks. Shards cleaned up remotely are skipped.
        """
        self._poll(resubmit=False)
        if self._realtime is not None:
            log.info("job %s: sync answers live in the job folder; nothing to download", self.name)
            return self
        for shard in self._m.shards:
            if shard.state == "downloaded" and not shard.reused:
                self._life.fetch(shard.index, again=True)
            elif shard.state == "cleaned" and shard.collected:
                log.warning("shard %s was cleaned up remotely; its results stay", shard.index)
        self._refresh()
        return self

    def outcomes(self, *, partial: bool = False) -> Outcomes:
        """Every row's outcome over all attempts (read from the downloaded results)."""
        check_results(self._m, self._folder)
        return read_outcomes(
            self._m, self._folder, self._backend, self.spec.endpoint, partial=partial
        )

    @_public
    def collect(
        self,
        frame: Any = None,
        partial: bool = False,
        *,
        to: str | os.PathLike[str] | None = None,
        cleanup: bool | None = None,
    ) -> Any:
        """The frame with the answer columns (same library, row order and pandas index).

        Raises `JobNotReady` (carrying the status) until every shard has ended, unless
        `partial=True`, and `BatchFailedError` while a batch that failed at the provider has
        rows without an answer. With `frame=`, answers are joined onto that frame by the id
        column. Logs one warning when kept answers were cut at the output limit.

        `to="out.parquet"` writes the frame with its answers to a parquet file instead, in
        bounded memory (`WINDOW` rows at a time, in row order), and returns its path: for jobs
        whose answers do not fit in memory (read it back with `pl.scan_parquet`).

        `cleanup=True` then deletes the provider's copies (`cleanup()`), once every shard has
        ended and its answers were read from the job folder; `None` is the provider's default
        (`llmbatch.OpenAI(cleanup=True)`). A failed delete is logged, never raised.
        """
        wanted = wants_cleanup(cleanup, self._config.cleanup)
        collected = self._collect(frame, partial, to)
        if wanted:
            clean_collected(self)
        return collected

    def _collect(self, frame: Any, partial: bool, to: str | os.PathLike[str] | None) -> Any:
        """`collect()` without the cleanup."""
        if not partial:  # the states only: pricing the job is status()'s, not collect()'s
            st = JobStatus.of(self.name, self._config.name, self.n_rows, self._m.shards)
            if not st.done:
                msg = f"job {self.name} has not ended yet\n{st}\nHint: call wait()."
                raise JobNotReady(msg, st)
        self._index_answers()
        if to is not None:
            if frame is not None:
                msg = "collect(to=) writes the job's own frame; frame= joins onto another one"
                raise InputError(msg + "\nHint: pass one of them.")
            check_results(self._m, self._folder)
            source = Snapshot(self._frames.source(self._m))
            return sink_parquet(to, manifest=self._m, folder=self._folder, backend=self._backend,
                                spec=self.spec, snapshot=source, partial=partial)  # fmt: skip
        with paused_gc():
            outcomes = self.outcomes(partial=partial)
            failed = None if partial else failed_batch_error(self._m, outcomes)
            if failed is not None:
                raise failed
            table = answer_table(self.spec, outcomes, self._m.options)
        suffix = self._m.options.get("suffix") or ""
        if suffix:
            table = table.rename_columns([c + suffix for c in table.column_names])
        job_frame = functools.partial(self._frames.own, self._m)
        if frame is not None:
            job_frame = functools.partial(self._frames.snapshot, self._m, frame)
        id_column, n = self._m.columns["id"], self.n_rows
        merged = merge_answers(
            table, frame, job_frame, id_column=id_column, n_rows=n, suffix=suffix
        )
        warn_truncated(outcomes, self.name)
        return merged

    # -- cancel / cleanup / save / retry ---------------------------------------------------
    @_public
    def cancel(self) -> JobStatus:
        """Cancel running shards and never send unsent ones; partial results stay collectable.

        A shard another process is sending is waited for, then cancelled. A shard caught
        between upload and create (a crashed submission) is looked up first: a batch that was
        created after all is cancelled, an uploaded file is deleted.
        """
        for shard in self._m.shards:
            if shard.running and self._realtime is not None:
                self._realtime.cancel(shard.index)
            elif shard.to_send or shard.running:
                self._life.cancel(shard.index)
        self._refresh()
        return self.status(refresh=False)

    @_public
    def cleanup(self) -> list[str]:
        """Delete the job's remote objects (OpenAI files; Anthropic ended batches).

        Results are downloaded first, so `collect()` keeps working from the job folder.
        """
        self._poll(resubmit=False)
        st = self.status(refresh=False)
        if not st.done:
            raise JobNotReady(f"job {self.name} is still running\nHint: cancel() it first.", st)
        deleted: list[str] = []
        sender = self._life if self._realtime is None else self._realtime
        for shard in self._m.shards:
            deleted += sender.clean(shard.index)
        self._refresh()
        return deleted

    def save(self, path: str | Path) -> BatchHandle:
        """Move the job folder to `path` (returns self, now living there; `~` is expanded)."""
        dest = Path(path).expanduser()
        if dest.resolve() != self.path.resolve():
            with self._state.lock:
                self._folder.move_to(dest)
        return self

    @_public
    def retry_failed(self, kinds: tuple[str, ...] = RETRY_KINDS) -> BatchHandle:
        """Send again only the rows that failed with one of `kinds`, as a new attempt.

        By default every failure: errored, expired, canceled (also a batch cancelled before it
        ran), invalid_output, batch_failed (the rows of a batch that failed at the provider as a
        whole) and missing (a row the provider lost without a line).
        Rows already being retried (by this or another process) are not sent again, so calling
        it twice sends each failed row once.
        """
        unknown = sorted(set(kinds) - set(ERROR_KINDS))
        if unknown:
            raise InputError(
                f"unknown error kinds {unknown}\nHint: choose from {list(ERROR_KINDS)}."
            )
        self._poll(resubmit=False)
        st = self.status(refresh=False)
        if any(not s.finished for s in self._m.shards if s.attempt == 0):
            raise JobNotReady(f"job {self.name} has not ended yet\nHint: wait() first.", st)
        snapshot = self._frames.snapshot(self._m)
        self._m, rows = self._state.update(
            lambda m: add_retry(self._folder, m, snapshot, self.spec, self._backend, kinds)
        )
        if rows:
            self.submit()
        else:
            log.info("job %s: no failed rows of kinds %s to send", self.name, list(kinds))
        return self
