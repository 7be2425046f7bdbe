"""A verb call → a checked, prepared job folder (no network) → a submitted job.

Every check that can fail does so here, before anything is sent: columns, ids, texts, model and
parameters, schema, API key, output column collisions, request sizes. The job's identity is a
hash of what it would send, so the same work submitted twice returns the existing job.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmbatch import __version__, frames
from llmbatch import schema as schema_mod
from llmbatch._exceptions import ConfigError, InputError, LLMBatchError
from llmbatch.ids import check_ids
from llmbatch.job import BatchHandle, make_backend
from llmbatch.prepare import Limits, build_texts, check_texts, placeholders, ranges, write_shards
from llmbatch.providers._config import resolve_provider
from llmbatch.store import FORMAT_VERSION, JobFolder, default_home
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
    )
    if req.kind == "classify":
        js = schema_mod.to_json_schema(req.schema, label_column=req.label_column)
        spec.schema, spec.schema_name = js.schema, js.name
        spec.wire_schema()  # raises SchemaError for keywords this provider rejects
    check_params(spec)
    return spec


def planned_columns(spec: TaskSpec, req: JobRequest) -> list[str]:
    """The columns collect() will add (before the suffix), to refuse collisions up front."""
    if spec.kind == "complete":
        names = [req.content_column]
    elif spec.kind == "embed":
        names = [f"V{j + 1}" for j in range(spec.dimensions or 0)] if req.wide else ["embedding"]
    else:
        assert spec.schema is not None
        names = [c.name for c in schema_mod.columns(spec.schema)]
    extra = [".error", ".error_msg", ".stop_reason", ".input_tokens", ".output_tokens"]
    return [*names, *extra, ".cache_read_tokens", ".cache_write_tokens"]


def _check_collisions(existing: list[str], planned: list[str], suffix: str) -> None:
    clash = [c for c in planned if c + suffix in existing]
    if clash:
        msg = (
            f"the frame already has column(s) {[c + suffix for c in clash]} that the answers "
            f"would add\nHint: pass suffix='_llm' (or rename those columns)."
        )
        raise InputError(msg)


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
    _check_collisions(frames.column_names(frame), planned_columns(spec, req), req.suffix)
    ids = frames.column_values(frame, req.id) if req.id is not None else None
    if ids is not None:
        check_ids(ids, req.id)  # type: ignore[arg-type]
    columns = {c: frames.column_values(frame, c) for c in needed}
    texts = build_texts(columns, req.text, req.prompt, n)
    where = f"text column {req.text!r}" if req.text else "the rendered prompt"
    skipped = check_texts(texts, where, req.skip_empty)
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
    home = Path(req.folder) if req.folder is not None else default_home()
    tag = secrets.token_hex(6)
    temp = JobFolder.new_temp(home)
    try:
        backend = make_backend(config, spec, tag, req.limits)
        hasher = hashlib.blake2b(digest_size=16)
        identity = [config.name, config.base_url, spec.to_dict()]
        hasher.update(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS))
        hasher.update(orjson.dumps(ids, default=repr))
        skip = set(skipped)
        rows = [i for i in range(len(texts)) if i not in skip]
        shards = write_shards(
            texts, rows, spec=spec, tag=tag, line=backend.line, limits=backend.limits,
            shard_path=temp.shard_path, hasher=hasher,
        )  # fmt: skip
        name = req.name or f"{spec.kind}-{hasher.hexdigest()[:16]}"
        final = JobFolder(home / name)
        if final.exists() and not req.force:
            shutil.rmtree(temp.path)
            existing = BatchHandle.open(final.path, provider=config, frame=native)
            return _submit(existing) if req.submit else existing
        if final.exists():
            final = JobFolder(home / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{tag[:4]}")
        _write_snapshot(native, frame, req, temp)
        manifest = {
            "format": FORMAT_VERSION,
            "llmbatch_version": __version__,
            "name": final.path.name,
            "tag": tag,
            "created_at": time.time(),
            "provider": config.to_manifest(),
            "task": spec.to_dict(),
            "columns": {"id": req.id, "text": req.text, "prompt": req.prompt},
            "frame_library": frames.library_of(native),
            "snapshot": "full" if temp.frame_path.exists() else "partial",
            "n_rows": len(texts),
            "skipped": ranges(skipped),
            "options": {
                "content_column": req.content_column,
                "wide": req.wide,
                "suffix": req.suffix,
            },
            "limits": backend.limits.to_dict(),
            "attempts": [{"attempt": 0, "kinds": None, "rows": len(rows)}],
            "shards": [s.to_manifest(0, temp.path) for s in shards],
        }
        temp.save(manifest)
        temp.path.rename(final.path)
    except BaseException:
        shutil.rmtree(temp.path, ignore_errors=True)
        raise
    handle = BatchHandle(final, manifest, provider=config, frame=native, limits=req.limits)
    return _submit(handle) if req.submit else handle


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
