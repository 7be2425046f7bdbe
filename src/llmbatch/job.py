"""`BatchHandle`: one persisted job — submit, status, wait, collect, cancel, cleanup, retry.

The job is the only place that sequences steps. Its manifest is saved before every remote call
that creates something (the backends call `save()`), after every poll, and after every
download, so a job killed at any point is resumed by `llmbatch.load(path)` without paying twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from llmbatch import frames
from llmbatch._exceptions import BatchFailedError, InputError, JobNotReady
from llmbatch._retry import RetryStats
from llmbatch.attempts import add_attempt
from llmbatch.ids import row_of
from llmbatch.prepare import Limits, unranges
from llmbatch.providers._config import Anthropic, OpenAI, provider_from_manifest
from llmbatch.providers.backend import TERMINAL, Backend
from llmbatch.results import (
    ERROR_KINDS,
    Outcome,
    Outcomes,
    answer_table,
    paused_gc,
    read_reply,
)
from llmbatch.status import JobStatus, ShardStatus
from llmbatch.store import JobFolder
from llmbatch.tasks import TaskSpec

__all__ = ["BatchHandle", "make_backend"]

log = logging.getLogger("llmbatch")
UNSENT = {"written", "uploading", "uploaded", "creating"}


def make_backend(
    config: OpenAI | Anthropic, spec: TaskSpec, tag: str, limits: Limits | None
) -> Backend:
    """The provider's backend for one job."""
    if isinstance(config, OpenAI):  # the only config named "openai"
        from llmbatch.providers.openai_batch import OPENAI_LIMITS, OpenAIBackend

        return OpenAIBackend(
            config, tag=tag, endpoint=spec.endpoint, limits=limits or OPENAI_LIMITS
        )
    from llmbatch.providers.anthropic_batch import ANTHROPIC_LIMITS, AnthropicBackend

    if limits is not None:
        limits = Limits(
            limits.max_requests, limits.max_bytes, None, ANTHROPIC_LIMITS.shard_overhead
        )
    return AnthropicBackend(config, tag=tag, limits=limits or ANTHROPIC_LIMITS)


F = TypeVar("F", bound=Callable[..., Any])


def _remote(method: F) -> F:
    """Close the HTTP client when the outermost public call returns (no leaked sockets)."""

    @functools.wraps(method)
    def wrapper(self: BatchHandle, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._close_session()

    return wrapper  # type: ignore[return-value]


def _finished(shard: dict[str, Any]) -> bool:
    """Downloaded, failed at the provider, or cancelled before it was ever sent."""
    status = shard.get("status")
    unsent_cancel = status == "cancelled" and shard.get("state") in UNSENT
    return shard.get("state") == "downloaded" or status == "failed" or unsent_cancel


class BatchHandle:
    """A job that lives in a folder; reopen it anywhere with `llmbatch.load(path)`.

    Example:
        >>> job = df.llmbatch.classify(["pos", "neg"], text="body", id="doc_id")
        >>> labelled = job.wait()
    """

    def __init__(
        self,
        folder: JobFolder,
        manifest: dict[str, Any],
        *,
        provider: OpenAI | Anthropic | None = None,
        frame: Any = None,
        limits: Limits | None = None,
    ) -> None:
        self._folder = folder
        self._manifest = manifest
        self._config = provider or provider_from_manifest(manifest["provider"])
        self._frame = frame
        self._depth = 0
        self._resubmit_quota = True
        self._http_before = dict(manifest.get("http") or {})
        self.spec = TaskSpec.from_dict(manifest["task"])
        self._backend = make_backend(self._config, self.spec, manifest["tag"], limits)

    @classmethod
    def open(
        cls, path: str | Path, *, provider: OpenAI | Anthropic | None = None, frame: Any = None
    ) -> BatchHandle:
        """Reopen a job folder (no code from it is ever executed)."""
        folder = JobFolder(path)
        manifest = folder.load()
        saved = manifest.get("limits")
        limits = None
        if saved:  # the limits the job was sharded with (retry_failed shards by them too)
            limits = Limits(
                saved["max_requests"], saved["max_bytes"], saved.get("max_embedding_inputs")
            )
        return cls(folder, manifest, provider=provider, frame=frame, limits=limits)

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._manifest["name"])

    @property
    def path(self) -> Path:
        return self._folder.path

    @property
    def provider(self) -> OpenAI | Anthropic:
        return self._config

    @property
    def n_rows(self) -> int:
        return int(self._manifest["n_rows"])

    @property
    def shards(self) -> list[dict[str, Any]]:
        return list(self._manifest["shards"])

    def __repr__(self) -> str:
        return (
            f"<BatchHandle {self.name}: {self.spec.kind} with {self.spec.model} via "
            f"{self._config.name}, {self.n_rows:,} rows in {len(self.shards)} shard(s) at "
            f"{str(self.path)!r}>"
        )

    def _repr_html_(self) -> str:
        return self.status(refresh=False)._repr_html_()

    def _save(self) -> None:
        """Write the manifest, with the HTTP counters so far (a killed process keeps them)."""
        live = self._backend.live_stats()
        if live.requests:
            totals = RetryStats()
            totals.merge(self._http_before)
            totals.merge(live)
            self._manifest["http"] = totals.as_dict()
        self._folder.save(self._manifest)

    def _close_session(self) -> None:
        """Close the HTTP client, recording its counters in the manifest."""
        if self._backend.live_stats().requests and self._folder.exists():
            self._save()
        self._backend.close()

    @property
    def http_stats(self) -> dict[str, Any]:
        """HTTP counters over the job's whole life: requests, retries (by reason), recovered."""
        return dict(self._manifest.get("http") or RetryStats().as_dict())

    # -- submit ---------------------------------------------------------------------------
    def _claimed(self) -> set[str]:
        return {s["batch_id"] for s in self._manifest["shards"] if s.get("batch_id")}

    @_remote
    def submit(self) -> BatchHandle:
        """Send every shard not yet sent, one after another (resumes a crashed submission)."""
        todo = [s for s in self._manifest["shards"] if s.get("state") in UNSENT]
        bar = tqdm(total=len(todo), desc="submitting", unit="shard", delay=1.0, leave=False)
        try:
            for shard in todo:
                self._backend.submit(shard, self._folder, self._save, self._claimed())
                bar.update(1)
        finally:
            bar.close()
        return self

    # -- status ---------------------------------------------------------------------------
    def _poll(self, *, resubmit: bool) -> None:
        """Refresh running shards and download ended ones; with `resubmit`, also send what is
        unsent (a crashed submission) and one shard waiting for quota. status() never sends."""
        if resubmit:
            self.submit()
        for shard in self._manifest["shards"]:
            if shard.get("state") != "submitted":
                continue
            if shard.get("status") not in TERMINAL:
                self._backend.refresh(shard)
            if shard.get("status") in TERMINAL:
                self._on_ended(shard)
            self._save()
        if resubmit and self._resubmit_quota:
            self._resubmit_one()

    def _on_ended(self, shard: dict[str, Any]) -> None:
        if self._backend.quota_failure(shard):  # type: ignore[attr-defined]
            shard.setdefault("previous_batches", []).append(shard["batch_id"])
            shard.update(batch_id=None, state="uploaded", status="waiting_for_quota")
            shard.pop("creating_at", None)
            shard["generation"] = shard.get("generation", 0) + 1
            log.info("shard %s waits for the enqueued-token quota", shard["index"])
        elif shard.get("status") != "failed":
            self._backend.download(shard, self._folder)

    def _resubmit_one(self) -> None:
        shards = self._manifest["shards"]
        running = [
            s for s in shards if s.get("state") == "submitted" and s["status"] not in TERMINAL
        ]
        waiting = [s for s in shards if s.get("status") == "waiting_for_quota"]
        if waiting and not running:
            self._backend.submit(waiting[0], self._folder, self._save, self._claimed())

    @_remote
    def status(self, *, refresh: bool = True) -> JobStatus:
        """The job's normalised status (asks the provider unless `refresh=False`)."""
        if refresh:
            self._poll(resubmit=False)
        shards = [
            ShardStatus(
                index=s["index"],
                attempt=s.get("attempt", 0),
                status=s.get("status", "pending"),
                raw_status=s.get("raw_status"),
                batch_id=s.get("batch_id"),
                total=(s.get("counts") or {}).get("total") or s["n"],
                completed=(s.get("counts") or {}).get("completed", 0),
                failed=(s.get("counts") or {}).get("failed", 0),
                errors=list(s.get("errors") or []),
            )
            for s in self._manifest["shards"]
        ]
        manifest_shards = self._manifest["shards"]
        unsent = any(
            s.get("state") in UNSENT and s.get("status") == "pending" for s in manifest_shards
        )
        ended = all(_finished(s) for s in manifest_shards)
        state = "ended" if ended else ("pending" if unsent else "running")
        return JobStatus(
            name=self.name,
            provider=self._config.name,
            state=state,  # type: ignore[arg-type]
            n_rows=self.n_rows,
            total=sum(s.total for s in shards),
            completed=sum(s.completed for s in shards),
            failed=sum(s.failed for s in shards),
            shards=shards,
        )

    def _raise_failed(self) -> None:
        for shard in self._manifest["shards"]:
            if shard.get("status") == "failed":
                errors = shard.get("errors") or []
                shown = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:5])
                msg = (
                    f"shard {shard['index']} (batch {shard.get('batch_id')}) failed at the "
                    f"provider: {shown or 'no details'}\nHint: fix the cause, then submit the "
                    "job again with force=True; collect(partial=True) returns the other shards."
                )
                raise BatchFailedError(msg, shard=shard["index"], errors=errors)

    # -- wait / collect -------------------------------------------------------------------
    @_remote
    def wait(
        self,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        progress: bool = True,
        *,
        resubmit_on_quota: bool = True,
    ) -> Any:
        """Poll until every shard has ended, then return `collect()`.

        Ctrl-C stops waiting and leaves the job intact: `llmbatch.load(path).wait()` goes on.
        """
        self._resubmit_quota = resubmit_on_quota
        start = time.monotonic()
        bar = tqdm(total=self.n_rows, desc=self.name, unit="req", disable=not progress)
        try:
            while True:
                self._poll(resubmit=True)
                st = self.status(refresh=False)
                bar.total = max(st.total, bar.total or 0)
                bar.n = st.completed + st.failed
                bar.set_postfix_str("waiting for quota" if st.waiting_for_quota else st.state)
                bar.refresh()
                if st.done:
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise JobNotReady(f"job {self.name} not done after {timeout} s\n{st}", st)
                time.sleep(poll_interval)
        except KeyboardInterrupt as exc:
            if hasattr(exc, "add_note"):
                path = str(self.path)
                exc.add_note(f"The job is intact: llmbatch.load({path!r}).wait() goes on.")
            raise
        finally:
            bar.close()
        return self.collect()

    def outcomes(self, *, partial: bool = False) -> Outcomes:
        """Every row's outcome over all attempts (read from the downloaded results)."""
        out = Outcomes(self.n_rows)
        out.not_sent(unranges(self._manifest.get("skipped") or []), "empty text, not sent")
        tag = self._manifest["tag"]
        for shard in sorted(
            self._manifest["shards"], key=lambda s: (s.get("attempt", 0), s["index"])
        ):
            rows = list(unranges(shard["rows"]))
            if shard.get("state") != "downloaded":
                if shard.get("status") == "cancelled" and shard.get("state") in UNSENT:
                    out.record_many(
                        rows, Outcome(kind="canceled", message="cancelled before it was sent")
                    )
                elif partial:
                    out.record_many(
                        rows,
                        Outcome(kind="missing", message=f"shard {shard['index']} not finished"),
                    )
                continue
            out.expect(rows)
            for custom_id, kind, payload, message in self._backend.read(shard, self._folder):
                row = row_of(custom_id, tag)
                if row is None or row >= self.n_rows:
                    continue
                if kind == "succeeded" and payload is not None:
                    out.record(row, read_reply(self._reply, payload))
                else:
                    out.record(row, Outcome(kind=kind, message=message))  # type: ignore[arg-type]
        return out

    def _reply(self, payload: dict[str, Any]) -> Any:
        return self._backend.reply(self.spec.endpoint, payload)

    def collect(self, frame: Any = None, partial: bool = False) -> Any:
        """The frame with the answer columns (same library, row order and pandas index).

        Raises `JobNotReady` (carrying the status) until every shard has ended, unless
        `partial=True`. With `frame=`, answers are joined onto that frame by the id column.
        """
        st = self.status(refresh=False)
        if not st.done and not partial:
            raise JobNotReady(f"job {self.name} has not ended yet\n{st}\nHint: call wait().", st)
        if not partial:
            self._raise_failed()
        with paused_gc():
            outcomes = self.outcomes(partial=partial)
            table = answer_table(self.spec, outcomes, self._manifest["options"])
        suffix = self._manifest["options"].get("suffix") or ""
        if suffix:
            table = table.rename_columns([c + suffix for c in table.column_names])
        return self._merge(table, frame, suffix)

    def _merge(self, table: pa.Table, frame: Any, suffix: str) -> Any:
        if frame is None:
            return frames.attach_columns(self._own_frame(), table)
        id_col = self._manifest["columns"]["id"]
        target = frames.to_frame(frame)
        if id_col is None:
            if len(target) != self.n_rows:
                msg = (
                    f"this job was made without id= and has {self.n_rows} rows; the frame has "
                    f"{len(target)}\nHint: collect onto a frame with the same rows, same order."
                )
                raise InputError(msg)
            return frames.attach_columns(frame, table)
        frames.require_columns(target, [id_col], role="id column")
        job_ids = frames.column_values(frames.to_frame(self._snapshot()), id_col)
        where = {v: i for i, v in enumerate(job_ids)}
        positions = [where.get(v) for v in frames.column_values(target, id_col)]
        taken = table.take(pa.array(positions, type=pa.int64()))
        error_name, msg_name = ".error" + suffix, ".error_msg" + suffix
        missing = pc.is_null(taken.column(error_name))
        taken = taken.set_column(
            taken.column_names.index(error_name),
            error_name,
            pc.fill_null(taken.column(error_name), True),
        )
        msgs = pc.if_else(missing, pa.scalar("id not in this job"), taken.column(msg_name))
        taken = taken.set_column(taken.column_names.index(msg_name), msg_name, msgs)
        return frames.attach_columns(frame, taken)

    def _snapshot(self) -> Any:
        for name in ("frame.parquet", "frame.partial.parquet"):
            path = self._folder.path / name
            if path.exists():
                return frames.read_snapshot(path, self._manifest["frame_library"])
        raise InputError(f"job {self.name} has no frame snapshot\nHint: pass collect(frame=df).")

    def _own_frame(self) -> Any:
        if self._frame is not None:
            return frames.to_native_frame(self._frame)
        if self._manifest.get("snapshot") != "full":
            msg = (
                f"job {self.name} could store only its id/text columns (some columns were not "
                "parquet-compatible)\nHint: pass the original frame: collect(frame=df)."
            )
            raise InputError(msg)
        self._frame = self._snapshot()
        return self._frame

    # -- cancel / cleanup / save / retry ---------------------------------------------------
    @_remote
    def cancel(self) -> JobStatus:
        """Cancel running shards and never send unsent ones; partial results stay collectable.

        A shard caught between upload and create (a crashed submission) is looked up first:
        a batch that was created after all is cancelled, an uploaded file is deleted.
        """
        for shard in self._manifest["shards"]:
            unsent = shard.get("state") in UNSENT
            if unsent and not self._backend.adopt(shard, self._claimed()):
                self._backend.discard(shard)
                shard.update(state="written", status="cancelled")
            if shard.get("state") == "submitted" and shard.get("status") not in TERMINAL:
                self._backend.cancel(shard)
            self._save()
        return self.status(refresh=False)

    @_remote
    def cleanup(self) -> list[str]:
        """Delete the job's remote objects (OpenAI files; Anthropic ended batches).

        Results are downloaded first, so `collect()` keeps working from the job folder.
        """
        st = self.status()
        if not st.done:
            raise JobNotReady(f"job {self.name} is still running\nHint: cancel() it first.", st)
        deleted: list[str] = []
        for shard in self._manifest["shards"]:
            if not shard.get("cleaned"):
                deleted += self._backend.cleanup(shard)
                shard["cleaned"] = True
                self._save()
        return deleted

    def save(self, path: str | Path) -> BatchHandle:
        """Move the job folder to `path` (returns self, now living there)."""
        dest = Path(path)
        if dest.resolve() != self.path.resolve():
            self._folder.move_to(dest)
        return self

    @_remote
    def retry_failed(
        self, kinds: tuple[str, ...] = ("errored", "expired", "canceled", "invalid_output")
    ) -> BatchHandle:
        """Send again only the rows that failed with one of `kinds`, as a new attempt."""
        unknown = sorted(set(kinds) - set(ERROR_KINDS))
        if unknown:
            raise InputError(
                f"unknown error kinds {unknown}\nHint: choose from {list(ERROR_KINDS)}."
            )
        st = self.status()
        if not st.done:
            raise JobNotReady(f"job {self.name} has not ended yet\nHint: wait() first.", st)
        outcomes = self.outcomes()
        answer_table(self.spec, outcomes, self._manifest["options"])  # marks invalid_output rows
        rows = outcomes.failed_rows(kinds)
        if rows:
            add_attempt(
                self._folder,
                self._manifest,
                self._snapshot(),
                self.spec,
                self._backend,
                rows,
                kinds,
            )
            self.submit()
        return self
