"""A verb call → a checked, prepared job folder (no network) → a submitted job.

Every check that can fail does so here, before anything is sent: columns, ids, texts, model and
parameters, schema, API key, output column collisions, request sizes. The job's identity is a
hash of what it would send, so the same work submitted twice returns the existing job.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmbatch import frames
from llmbatch._exceptions import (
    BudgetExceededError,
    ConfigError,
    DuplicateWorkError,
    InputError,
    LLMBatchError,
    NameConflictError,
)
from llmbatch._version import __version__
from llmbatch.added_columns import check_collisions, planned_columns
from llmbatch.answer_index import AnswerIndex
from llmbatch.costs import Estimate, estimate
from llmbatch.identity import dumped_ids, job_differences, twin_in_flight
from llmbatch.job import BatchHandle, make_backend
from llmbatch.manifest import Attempt, Manifest
from llmbatch.pipeline import (
    JobRequest,
    Rows,
    check_request,
    checked_columns,
    checked_names,
    placeholders,
    read_rows,
    task_spec,
)
from llmbatch.prepare import PreparedShard, ranges, write_shards
from llmbatch.providers import resolve_provider
from llmbatch.providers.backend import Backend
from llmbatch.reuse import (
    KEYS_FILE,
    REUSED_FILE,
    Reused,
    copy_answers,
    digest_rows,
    keeps_answer,
    request_header,
    reused_shard,
)
from llmbatch.staged import SLICE, StagedFrame, read_staged_rows
from llmbatch.status import usd
from llmbatch.store import (
    DENIED,
    JobFolder,
    check_job_name,
    file_lock,
    folder_error,
    job_home,
    make_dir,
    write_atomic,
)
from llmbatch.sync_options import DEFAULT_CONCURRENCY, SyncOptions
from llmbatch.tasks import TaskSpec

__all__ = ["JobRequest", "create_job"]

log = logging.getLogger("llmbatch")
SYNC_ADVICE_ROWS = 1_000  # a sync job larger than this is told that batch costs half


@dataclass
class _Draft:
    """One verb call on its way to a job folder: the frame, its checked rows and the task."""

    native: Any
    frame: Any
    req: JobRequest
    config: Any
    spec: TaskSpec
    rows: Rows
    staged: Path | None = None  # a lazy input's snapshot, already written (`staged`)


def create_job(native: Any, req: JobRequest) -> BatchHandle:
    """Check everything, write the job folder, and submit (unless the same job exists)."""
    check_request(req)
    _sync_options(req)
    if frames.is_lazy(native):
        return _create_from_lazy(native, req)
    native = frames.to_native_frame(native)
    frame = frames.to_frame(native)
    needed = checked_columns(frame, req)
    config = resolve_provider(req.provider)
    spec = task_spec(req, config.name)
    config.resolve_api_key()  # a missing key fails here, before anything is written or sent
    check_collisions(frames.column_names(frame), planned_columns(spec, req), req)
    rows = read_rows(frame, req, needed)
    check_job_name(req.name)  # before anything is created
    _advise_sync(req, rows)
    return _prepare_and_submit(_Draft(native, frame, req, config, spec, rows))


def _create_from_lazy(lazy: Any, req: JobRequest) -> BatchHandle:
    """`create_job` for a polars LazyFrame: written to parquet by polars' streaming engine,
    then read a slice at a time (`staged`); that file becomes the job's snapshot."""
    names = frames.lazy_columns(lazy)
    config = resolve_provider(req.provider)
    spec = task_spec(req, config.name)
    config.resolve_api_key()
    check_collisions(names, planned_columns(spec, req), req)
    check_job_name(req.name)
    home = job_home(req.folder)
    make_dir(home)
    stage = Path(tempfile.mkdtemp(dir=home, prefix=".stage-"))
    try:
        path = stage / "frame.parquet"
        frames.sink_parquet(lazy, path, row_group_size=SLICE)
        staged = StagedFrame(path)
        needed = checked_names(staged.columns, staged.n_rows, req)
        rows = read_staged_rows(staged, req, needed)
        _advise_sync(req, rows)
        return _prepare_and_submit(_Draft(None, None, req, config, spec, rows, staged=path))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _advise_sync(req: JobRequest, rows: Rows) -> None:
    if req.mode == "sync" and len(rows.sent()) > SYNC_ADVICE_ROWS:
        log.warning(
            "llmbatch: %s rows in mode='sync' cost the full realtime price; the Batch API "
            "(mode='batch', the default) costs half and finishes within 24 h",
            f"{len(rows.sent()):,}",
        )


def _sync_options(req: JobRequest) -> SyncOptions | None:
    """Sync mode's sending options, checked (None in batch mode)."""
    if req.mode != "sync":
        return None
    concurrency = DEFAULT_CONCURRENCY if req.concurrency is None else req.concurrency
    return SyncOptions(concurrency, req.requests_per_minute).check()


def _prepare_and_submit(draft: _Draft) -> BatchHandle:
    """Write the job folder beside its final place, then move it there (or find it there)."""
    req, home, tag = draft.req, job_home(draft.req.folder), secrets.token_hex(6)
    temp = JobFolder.new_temp(home)
    try:
        backend = make_backend(draft.config, draft.spec, tag, req.limits)
        keys, identity = _digest(draft)
        name = req.name or f"{draft.spec.kind}-{identity['hash'][:16]}"
        final = JobFolder(home / name)
        if final.exists() and not req.force:  # fast path: nothing written for nothing
            shutil.rmtree(temp.path)
            return _existing(final, draft, identity)
        if not req.force:
            _refuse_twin(home, identity["hash"], name)
        reused = _reuse(draft, home, keys, tag, temp, backend)
        _check_budget(draft, reused)
        shards = _write_requests(draft, temp, backend, tag, set(reused.rows))
        write_atomic(temp.path / KEYS_FILE, bytes(keys))
        _write_snapshot(draft, temp)
        manifest = _manifest(draft, name, tag, shards, backend, identity, temp, home)
        if reused.rows:
            manifest.shards.append(reused_shard(len(shards), reused, temp.path))
        with file_lock(home / ".create.lock"):  # two identical submits: one job, never an OSError
            if final.exists() and not req.force:
                shutil.rmtree(temp.path)
                return _existing(final, draft, identity)
            final = _place(temp, final, manifest, tag)
    except OSError as exc:  # a full disk or a read-only folder while preparing: nothing sent
        shutil.rmtree(temp.path, ignore_errors=True)
        raise _prepare_error(exc, home) from None
    except BaseException:
        shutil.rmtree(temp.path, ignore_errors=True)
        raise
    handle = BatchHandle(
        final, manifest, provider=draft.config, frame=draft.native, limits=req.limits
    )
    if reused.rows:
        sent = len(draft.rows.sent()) - len(reused.rows)
        log.info("llmbatch: %s rows answered before (reused), %s to send", len(reused.rows), sent)
    return _submit(handle) if req.submit else handle


def _refuse_twin(home: Path, digest: str, name: str) -> None:
    """Never send work that another job of the home (under another name) is already doing."""
    twin = twin_in_flight(home, digest, name)
    if twin is not None:
        msg = (
            f"the same work is already job {twin.name!r} ({str(twin)!r}), whose answers are not "
            f"all in yet: sending it again as {name!r} would pay twice; nothing was sent\n"
            f"Hint: llmbatch.load({str(twin)!r}).wait() gets its answers (the same call then "
            "reuses them for free), or force=True sends the work again."
        )
        raise DuplicateWorkError(msg, twin)


def _check_budget(draft: _Draft, reused: Reused) -> None:
    """Refuse, before anything is sent, work whose upper cost estimate is above `max_cost`."""
    cap = draft.req.max_cost
    if cap is None:
        return
    done = set(reused.rows)
    texts = (draft.rows.texts[r] for r in draft.rows.sent() if r not in done)
    guess = estimate(draft.spec, texts, batch=draft.req.mode == "batch", reused=len(done))
    _hold_to(guess, cap)


def _hold_to(guess: Estimate, cap: float) -> None:
    if guess.upper is None:
        msg = f"max_cost={cap:g} needs a price for the model, and {guess.hint}"
        raise ConfigError(msg + "\nHint: drop max_cost=, or use a model with a known price.")
    if guess.upper > cap:
        msg = (
            f"the estimated cost is up to {usd(guess.upper)}, above max_cost={cap:g}; nothing "
            f"was sent\n{guess}\nHint: raise max_cost=, set a lower max_tokens= (the upper "
            "estimate assumes every answer uses all of it), or send fewer rows; submit=False "
            "prepares the job so job.estimate() can be read."
        )
        raise BudgetExceededError(msg, guess)


def _digest(draft: _Draft) -> tuple[bytearray, dict[str, Any]]:
    """Every sent row's request key (`reuse`), and the job's identity digested on the way."""
    hasher = hashlib.blake2b(digest_size=16)
    text_hasher = hashlib.blake2b(digest_size=16)
    work = _work(draft.config, draft.spec, draft.req.mode)
    hasher.update(orjson.dumps(work, option=orjson.OPT_SORT_KEYS))
    ids_hasher = hashlib.blake2b(digest_size=16)  # `identity.ids_digest`, fed on the way
    for part in dumped_ids(draft.rows.id_chunks()):
        hasher.update(part)
        ids_hasher.update(part)
    header = request_header(draft.config.name, draft.config.base_url, draft.spec.endpoint)
    keys = digest_rows(draft.spec, draft.rows.texts, draft.rows.sent(), header, hasher, text_hasher)
    identity: dict[str, Any] = {
        "hash": hasher.hexdigest(),
        "ids": ids_hasher.hexdigest(),
        "texts": text_hasher.hexdigest(),
        "n_rows": len(draft.rows.texts),
        "columns": _columns(draft.req),
    }
    return keys, identity


def _reuse(
    draft: _Draft, home: Path, keys: bytearray, tag: str, temp: JobFolder, backend: Backend
) -> Reused:
    """Copy earlier answers to the same requests into the new job (unless `reuse=False`, or
    `force=True`, which asks for the work to be done anew)."""
    if not draft.req.reuse or draft.req.force:
        return Reused()
    dest = temp.path / REUSED_FILE
    keeps = keeps_answer(draft.spec, backend)
    return copy_answers(AnswerIndex(home), keys, draft.rows.sent(), tag, dest, keeps)


def _write_requests(
    draft: _Draft, temp: JobFolder, backend: Any, tag: str, reused: set[int]
) -> list[PreparedShard]:
    """The shard files of the first attempt: every sent row without an earlier answer."""
    rows = [r for r in draft.rows.sent() if r not in reused] if reused else draft.rows.sent()
    return write_shards(
        draft.rows.texts, rows, spec=draft.spec, tag=tag, line=backend.line,
        limits=backend.limits, shard_path=temp.shard_path,
    )  # fmt: skip


def _columns(req: JobRequest) -> dict[str, Any]:
    return {"id": req.id, "text": req.text, "prompt": req.prompt}


def _manifest(
    draft: _Draft,
    name: str,
    tag: str,
    shards: list[PreparedShard],
    backend: Any,
    identity: dict[str, Any],
    temp: JobFolder,
    home: Path,
) -> Manifest:
    """The new job's manifest: its first attempt written locally, nothing sent yet."""
    req, rows = draft.req, draft.rows
    options = _sync_options(req)
    return Manifest(
        name=name,
        tag=tag,
        provider=draft.config.to_manifest(),
        task=draft.spec.to_dict(),
        n_rows=len(rows.texts),
        shards=[s.to_shard(0, temp.path) for s in shards],
        attempts=[Attempt(0, None, len(rows.texts) - len(rows.skipped), time.time())],
        columns=_columns(req),
        options={"content_column": req.content_column, "wide": req.wide, "suffix": req.suffix},
        skipped=ranges(rows.skipped),
        limits=backend.limits.to_dict(),
        identity=identity,
        home=str(home.resolve()),
        frame_library="polars" if draft.staged else frames.library_of(draft.native),
        snapshot="full" if temp.frame_path.exists() else "partial",
        created_at=time.time(),
        llmbatch_version=__version__,
        mode=req.mode,
        sync=None if options is None else options.to_dict(),
        max_enqueued_tokens=req.max_enqueued_tokens,
    )


def _place(temp: JobFolder, final: JobFolder, manifest: Manifest, tag: str) -> JobFolder:
    """Move the prepared folder to its final place (beside a job it must not replace)."""
    if final.exists():
        name = f"{final.path.name}-{time.strftime('%Y%m%d-%H%M%S')}-{tag[:4]}"
        final = JobFolder(final.path.parent / name)
    manifest.rename(final.path.name)
    temp.save(manifest.to_dict())
    temp.path.rename(final.path)
    return final


def _prepare_error(exc: OSError, home: Path) -> LLMBatchError:
    """An OSError while a job is prepared: nothing was sent and nothing is left behind."""
    hint = (
        None
        if exc.errno in DENIED
        else (
            "nothing was sent and no job was made; free some disk space (or pass folder= to "
            "another disk) and call the verb again."
        )
    )
    return folder_error(exc, f"prepare a job in {str(home)!r}", hint)


def _work(config: Any, spec: TaskSpec, mode: str) -> list[Any]:
    """What, besides the rows, makes two jobs the same work (sync answers are other work)."""
    work = [config.name, config.base_url, spec.to_dict()]
    return work if mode == "batch" else [*work, mode]


def _existing(final: JobFolder, draft: _Draft, identity: Any) -> BatchHandle:
    """The job already in `final`, if it is the same work; `name=` never hides other work."""
    existing = BatchHandle.open(final.path, provider=draft.config, frame=draft.native)
    unsent = any(s.to_send for s in existing.manifest.shards)
    if draft.req.max_cost is not None and unsent and draft.req.submit:
        _hold_to(existing.estimate(), draft.req.max_cost)
    differences = job_differences(
        existing.manifest, draft.config, draft.spec, draft.req.mode, identity
    )
    if differences:
        shown = "\n  ".join(differences)
        msg = (
            f"job name {final.path.name!r} is taken by a job for other work:\n  {shown}\nHint: "
            "pass another name=, or force=True to send this work as a new job beside it."
        )
        raise NameConflictError(msg, differences)
    return _submit(existing) if draft.req.submit else existing


def _submit(handle: BatchHandle) -> BatchHandle:
    """Submit what is unsent; on failure say where the job is and how to resume it."""
    try:
        return handle.submit()
    except LLMBatchError as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"The job is saved at {str(handle.path)!r}; llmbatch.load(that path).submit() "
                "(or calling the same verb again) resumes it without paying twice."
            )
        raise


def _write_snapshot(draft: _Draft, folder: JobFolder) -> None:
    """The whole frame as parquet; if a column cannot be stored, the columns the job needs."""
    if draft.staged is not None:
        os.replace(draft.staged, folder.frame_path)
        return
    native, frame, req = draft.native, draft.frame, draft.req
    if frames.write_snapshot(native, folder.frame_path):
        return
    keep = [c for c in (req.id, req.text, *placeholders_or_none(req.prompt)) if c]
    subset = frames.select(frame, keep)
    if not frames.write_snapshot(subset, folder.path / "frame.partial.parquet"):
        msg = "the id/text columns cannot be stored as parquet\nHint: convert them to strings."
        raise InputError(msg)


def placeholders_or_none(prompt: str | None) -> list[str]:
    return placeholders(prompt) if prompt else []
