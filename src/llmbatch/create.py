"""A verb call → a checked, prepared job folder (no network) → a submitted job.

Every check that can fail does so here, before anything is sent: columns, ids, texts, model and
parameters, schema, API key, output column collisions, request sizes. The job's identity is a
hash of what it would send, so the same work submitted twice returns the existing job.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmbatch import __version__, frames
from llmbatch import schema as schema_mod
from llmbatch._exceptions import ConfigError, InputError, LLMBatchError, NameConflictError
from llmbatch.ids import check_ids
from llmbatch.job import BatchHandle, make_backend
from llmbatch.manifest import Attempt, Manifest
from llmbatch.prepare import (
    Limits,
    build_texts,
    check_texts,
    check_utf8,
    is_utf8,
    placeholders,
    ranges,
    write_shards,
)
from llmbatch.providers._config import resolve_provider
from llmbatch.store import DENIED, JobFolder, check_job_name, file_lock, folder_error, job_home
from llmbatch.tasks import DEFAULT_MODELS, OPENAI_ENDPOINTS, TaskSpec, check_params

__all__ = ["JobRequest", "create_job"]


@dataclass
class JobRequest:
    """The arguments of one verb call, as the accessor passes them."""

    kind: str
    text: str | None = None
    prompt: str | None = None
    id: str | None = None
    model: str | None = None
    provider: Any = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    dimensions: int | None = None
    schema: Any = None
    label_column: str = "label"
    structured: str = "output_config"
    api: str = "chat"
    content_column: str = "content"
    wide: bool = False
    suffix: str = ""
    skip_empty: bool = False
    folder: str | Path | None = None
    name: str | None = None
    force: bool = False
    limits: Limits | None = None
    submit: bool = True
    params: dict[str, Any] | None = None
    relax: bool = False
    extra_body: dict[str, Any] | None = None


def _spec(req: JobRequest, provider_name: str) -> TaskSpec:
    if req.kind == "embed" and provider_name != "openai":
        msg = (
            "Anthropic has no embeddings API\nHint: use provider='openai' for embed(), "
            "or llmbatch.OpenAI(base_url=...) for an OpenAI-compatible service."
        )
        raise ConfigError(msg)
    model = req.model if req.model is not None else DEFAULT_MODELS.get((provider_name, req.kind))
    if req.kind == "embed":
        endpoint = OPENAI_ENDPOINTS["embeddings"]
    elif provider_name == "openai":
        if req.api not in ("chat", "responses"):
            msg = f"api must be 'chat' or 'responses', got {req.api!r}\nHint: chat is the default."
            raise ConfigError(msg)
        endpoint = OPENAI_ENDPOINTS[req.api]
    else:
        endpoint = "/v1/messages"
    if req.structured == "tool" and provider_name != "anthropic":
        msg = "structured='tool' (forced tool use) is an Anthropic option"
        raise ConfigError(msg + "\nHint: OpenAI uses response_format json_schema; drop it.")
    if req.structured not in ("output_config", "tool"):
        msg = f"structured must be 'output_config' or 'tool', got {req.structured!r}"
        raise ConfigError(msg + "\nHint: 'tool' uses forced tool use (Anthropic only).")
    spec = TaskSpec(
        kind=req.kind,  # type: ignore[arg-type]
        provider=provider_name,
        model=model,  # type: ignore[arg-type]
        endpoint=endpoint,
        system_prompt=req.system_prompt,
        temperature=req.temperature,
        max_tokens=req.max_tokens,
        dimensions=req.dimensions,
        params=dict(req.params or {}),
        structured=req.structured,  # type: ignore[arg-type]
        relax=req.relax,
        extra_body={} if req.extra_body is None else req.extra_body,
    )
    if req.kind == "classify":
        js = schema_mod.to_json_schema(req.schema, label_column=req.label_column)
        spec.schema, spec.schema_name = js.schema, js.name
        spec.wire_schema()  # raises SchemaError for keywords this provider rejects
    check_params(spec)
    return spec


# The columns llmbatch adds beside the answers: the leading dot is llmbatch's namespace.
RESERVED_COLUMNS = (
    ".error",
    ".error_msg",
    ".stop_reason",
    ".input_tokens",
    ".output_tokens",
    ".cache_read_tokens",
    ".cache_write_tokens",
)
_WIDE = re.compile(r"V[1-9][0-9]*")  # embed(wide=True) without dimensions: V1..Vn, n unknown


def answer_columns(spec: TaskSpec, req: JobRequest) -> list[str]:
    """The answer columns collect() will add (before the suffix); dot names are refused."""
    if spec.kind == "complete":
        names = [req.content_column]
    elif spec.kind == "embed":
        names = [f"V{j + 1}" for j in range(spec.dimensions or 0)] if req.wide else ["embedding"]
    else:
        assert spec.schema is not None
        names = [c.name for c in schema_mod.columns(spec.schema)]
    dotted = [n for n in names if n.startswith(".")]
    if dotted:
        msg = (
            f"answer column(s) {dotted} start with '.', which llmbatch keeps for the columns it "
            f"adds ({', '.join(RESERVED_COLUMNS)})\nHint: rename the schema property "
            "(or content_column= / label_column=) so it does not start with '.'."
        )
        raise InputError(msg)
    return names


def planned_columns(spec: TaskSpec, req: JobRequest) -> list[str]:
    """The columns collect() will add (before the suffix), to refuse collisions up front."""
    return [*answer_columns(spec, req), *RESERVED_COLUMNS]


def _check_collisions(existing: list[str], planned: list[str], req: JobRequest) -> None:
    suffix = req.suffix
    clash = [c + suffix for c in planned if c + suffix in existing]
    if req.kind == "embed" and req.wide and req.dimensions is None:
        stems = [c[: len(c) - len(suffix)] for c in existing if c.endswith(suffix)]
        clash += [stem + suffix for stem in stems if _WIDE.fullmatch(stem)]
    if clash:
        wide = " (embed(wide=True) adds V1..Vn, one per dimension)" if req.wide else ""
        msg = (
            f"the frame already has column(s) {clash} that the answers would add{wide}\n"
            "Hint: pass suffix='_llm' (or rename those columns)."
        )
        raise InputError(msg)


_FLAGS = ("wide", "skip_empty", "force", "submit", "relax")


def _check_request(req: JobRequest) -> None:
    """The verb's own arguments have the documented types (the body parameters: tasks)."""
    for flag in _FLAGS:
        value = getattr(req, flag)
        if not isinstance(value, bool):
            msg = f"{flag} must be True or False, got {type(value).__name__} {value!r}"
            raise ConfigError(msg + f"\nHint: {flag}=True or {flag}=False.")
    for name, example in (("content_column", "answer"), ("label_column", "label")):
        value = getattr(req, name)
        if not isinstance(value, str) or not value:
            msg = f"{name} must be a non-empty string, got {value!r}"
            raise ConfigError(msg + f"\nHint: e.g. {name}={example!r}.")
    if not isinstance(req.suffix, str):
        msg = f"suffix must be a string, got {type(req.suffix).__name__} {req.suffix!r}"
        raise ConfigError(msg + "\nHint: e.g. suffix='_llm'.")
    if req.id is not None and not isinstance(req.id, str):
        msg = f"id= must be a column name (a string), got {type(req.id).__name__} {req.id!r}"
        raise InputError(msg + "\nHint: e.g. id='review_id'; leave it out to key rows by position.")
    if req.folder is not None and not isinstance(req.folder, str | os.PathLike):
        msg = f"folder= must be a path, got {type(req.folder).__name__}"
        raise ConfigError(msg + "\nHint: e.g. folder='jobs' or a pathlib.Path.")
    if req.limits is not None and not isinstance(req.limits, Limits):
        msg = f"limits= must be an llmbatch Limits, got {type(req.limits).__name__}"
        raise ConfigError(msg + "\nHint: leave it out; the provider's limits are the default.")


def _text_columns(frame: Any, req: JobRequest) -> list[str]:
    if (req.text is None) == (req.prompt is None):
        msg = "pass exactly one of text= (a column) or prompt= (a template over columns)"
        raise InputError(msg + "\nHint: e.g. text='body' or prompt='Title: {title}\\n\\n{body}'.")
    if req.text is not None:
        if not isinstance(req.text, str):
            raise InputError(f"text= must be a column name, got {req.text!r}\nHint: text='body'.")
        return [req.text]
    if not isinstance(req.prompt, str):
        raise InputError(f"prompt= must be a template string, got {req.prompt!r}")
    return placeholders(req.prompt)


def create_job(native: Any, req: JobRequest) -> BatchHandle:
    """Check everything, write the job folder, and submit (unless the same job exists)."""
    _check_request(req)
    native = frames.to_native_frame(native)  # a polars LazyFrame is collected here
    frame = frames.to_frame(native)
    n = len(frame)
    if n == 0:
        raise InputError("the frame is empty\nHint: there is nothing to send.")
    needed = _text_columns(frame, req)
    if req.id is not None:
        frames.require_columns(frame, [req.id], role="id column")
    frames.require_columns(frame, needed, role="column")
    config = resolve_provider(req.provider)
    spec = _spec(req, config.name)
    config.resolve_api_key()  # a missing key fails here, before anything is written or sent
    _check_collisions(frames.column_names(frame), planned_columns(spec, req), req)
    ids = frames.column_values(frame, req.id) if req.id is not None else None
    if ids is not None:
        check_ids(ids, req.id)  # type: ignore[arg-type]
        if not frames.is_utf8_column(frame, req.id):  # type: ignore[arg-type]
            check_utf8(ids, f"id column {req.id!r}")
    columns = {c: frames.column_values(frame, c) for c in needed}
    texts = build_texts(columns, req.text, req.prompt, n)
    where = f"text column {req.text!r}" if req.text else "the rendered prompt"
    skipped = check_texts(texts, where, req.skip_empty)
    if not all(frames.is_utf8_column(frame, c) for c in needed) or not is_utf8(req.prompt or ""):
        check_utf8(texts, where)  # only Python-object columns can hold a lone surrogate
    return _prepare_and_submit(native, frame, req, config, spec, ids, texts, skipped)


def _prepare_and_submit(
    native: Any,
    frame: Any,
    req: JobRequest,
    config: Any,
    spec: TaskSpec,
    ids: list[Any] | None,
    texts: list[Any],
    skipped: list[int],
) -> BatchHandle:
    check_job_name(req.name)  # before anything is created
    home = job_home(req.folder)
    tag = secrets.token_hex(6)
    temp = JobFolder.new_temp(home)
    try:
        backend = make_backend(config, spec, tag, req.limits)
        hasher = hashlib.blake2b(digest_size=16)
        text_hasher = hashlib.blake2b(digest_size=16)
        hasher.update(orjson.dumps(_work(config, spec), option=orjson.OPT_SORT_KEYS))
        id_bytes = orjson.dumps(ids, default=repr)
        hasher.update(id_bytes)
        skip = set(skipped)
        rows = [i for i in range(len(texts)) if i not in skip]
        shards = write_shards(
            texts, rows, spec=spec, tag=tag, line=backend.line, limits=backend.limits,
            shard_path=temp.shard_path, hasher=hasher, text_hasher=text_hasher,
        )  # fmt: skip
        identity: dict[str, Any] = {
            "hash": hasher.hexdigest(),
            "ids": hashlib.blake2b(id_bytes, digest_size=16).hexdigest(),
            "texts": text_hasher.hexdigest(),
            "n_rows": len(texts),
            "columns": {"id": req.id, "text": req.text, "prompt": req.prompt},
        }
        name = req.name or f"{spec.kind}-{identity['hash'][:16]}"
        final = JobFolder(home / name)
        if final.exists() and not req.force:  # fast path: no snapshot written for nothing
            shutil.rmtree(temp.path)
            return _existing(final, config, native, req, spec, identity)
        _write_snapshot(native, frame, req, temp)
        manifest = Manifest(
            name=name,
            tag=tag,
            provider=config.to_manifest(),
            task=spec.to_dict(),
            n_rows=len(texts),
            shards=[s.to_shard(0, temp.path) for s in shards],
            attempts=[Attempt(0, None, len(rows), time.time())],
            columns={"id": req.id, "text": req.text, "prompt": req.prompt},
            options={"content_column": req.content_column, "wide": req.wide, "suffix": req.suffix},
            skipped=ranges(skipped),
            limits=backend.limits.to_dict(),
            identity=identity,
            home=str(home.resolve()),
            frame_library=frames.library_of(native),
            snapshot="full" if temp.frame_path.exists() else "partial",
            created_at=time.time(),
            llmbatch_version=__version__,
        )
        with file_lock(home / ".create.lock"):  # two identical submits: one job, never an OSError
            if final.exists() and not req.force:
                shutil.rmtree(temp.path)
                return _existing(final, config, native, req, spec, identity)
            if final.exists():
                final = JobFolder(home / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{tag[:4]}")
            manifest.rename(final.path.name)
            temp.save(manifest.to_dict())
            temp.path.rename(final.path)
    except OSError as exc:  # a full disk or a read-only folder while preparing: nothing sent
        shutil.rmtree(temp.path, ignore_errors=True)
        raise _prepare_error(exc, home) from None
    except BaseException:
        shutil.rmtree(temp.path, ignore_errors=True)
        raise
    handle = BatchHandle(final, manifest, provider=config, frame=native, limits=req.limits)
    return _submit(handle) if req.submit else handle


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


def _work(config: Any, spec: TaskSpec) -> list[Any]:
    """What, besides the rows, makes two jobs the same work."""
    return [config.name, config.base_url, spec.to_dict()]


def _existing(
    final: JobFolder, config: Any, native: Any, req: JobRequest, spec: TaskSpec, identity: Any
) -> BatchHandle:
    """The job already in `final`, if it is the same work; `name=` never hides other work."""
    existing = BatchHandle.open(final.path, provider=config, frame=native)
    differences = _differences(existing.manifest, config, spec, identity)
    if differences:
        shown = "\n  ".join(differences)
        msg = (
            f"job name {final.path.name!r} is taken by a job for other work:\n  {shown}\nHint: "
            "pass another name=, or force=True to send this work as a new job beside it."
        )
        raise NameConflictError(msg, differences)
    return _submit(existing) if req.submit else existing


def _differences(old: Manifest, config: Any, spec: TaskSpec, identity: Any) -> list[str]:
    """What differs between a recorded job and new work (empty: the same work)."""
    new_task = spec.to_dict()
    found = []
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


def _write_snapshot(native: Any, frame: Any, req: JobRequest, folder: JobFolder) -> None:
    """The whole frame as parquet; if a column cannot be stored, the columns the job needs."""
    if frames.write_snapshot(native, folder.frame_path):
        return
    keep = [c for c in (req.id, req.text, *placeholders_or_none(req.prompt)) if c]
    subset = frames.select(frame, keep)
    if not frames.write_snapshot(subset, folder.path / "frame.partial.parquet"):
        msg = "the id/text columns cannot be stored as parquet\nHint: convert them to strings."
        raise InputError(msg)


def placeholders_or_none(prompt: str | None) -> list[str]:
    return placeholders(prompt) if prompt else []
