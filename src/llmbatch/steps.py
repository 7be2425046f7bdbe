"""The step-by-step API: the seed package's workflow as plain functions.

For users who want to drive each call themselves (or inspect what the job does). They are the
same code the job uses: the same checks and request bodies (`pipeline`), the provider's own
request line (its backend's `line`), the same HTTP clients with retries, the same result
parsing. Here the wire `custom_id` is the user's id as a string (OpenAI accepts any string; for
Anthropic it must match `^[a-zA-Z0-9_-]{1,64}$`, checked before sending).

OpenAI:    openai_prepare → openai_upload → openai_start → openai_status →
           openai_file_content → openai_parse; openai_delete_file, openai_list, openai_cancel
Anthropic: anthropic_prepare → anthropic_create → anthropic_status → anthropic_results;
           anthropic_list, anthropic_cancel, anthropic_delete
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from llmbatch import frames
from llmbatch._exceptions import InputError
from llmbatch.create import JobRequest
from llmbatch.ids import shown
from llmbatch.job import make_backend
from llmbatch.pipeline import (
    check_request,
    check_utf8,
    checked_columns,
    checked_ids,
    checked_texts,
    request_lines,
    task_spec,
)
from llmbatch.providers import Anthropic, OpenAI, anthropic_wire, openai_wire, resolve_provider
from llmbatch.providers.anthropic_batch import parse_result_line
from llmbatch.providers.openai_batch import parse_output_line
from llmbatch.step_results import (
    check_kind,
    is_file,
    json_lines,
    parse_spec,
    to_frame,
)
from llmbatch.wire import Reply

__all__ = [
    "anthropic_cancel",
    "anthropic_create",
    "anthropic_delete",
    "anthropic_list",
    "anthropic_prepare",
    "anthropic_results",
    "anthropic_status",
    "openai_cancel",
    "openai_delete_file",
    "openai_file_content",
    "openai_list",
    "openai_parse",
    "openai_prepare",
    "openai_start",
    "openai_status",
    "openai_upload",
]

_ANTHROPIC_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # used with fullmatch: no "\n" sneaks in
# the verb arguments that shape a request body; any other keyword is a body parameter, checked
# against what the endpoint documents exactly as in the verbs
_BODY_ARGS = frozenset(
    {"text", "prompt", "id", "model", "system_prompt", "temperature", "max_tokens", "dimensions"}
    | {"schema", "label_column", "structured", "api", "relax", "extra_body"}
)
# job options (folder, force, provider, ...): meaningless for one request file, so refused
_JOB_ONLY = frozenset(f.name for f in dataclasses.fields(JobRequest)) - _BODY_ARGS - {"kind"}
# the endpoint a result body came from, by its "object" (parse needs no endpoint= argument)


def _request(kind: str, provider: str, kw: dict[str, Any]) -> JobRequest:
    """The verb's arguments as a JobRequest; other keywords are body parameters, as in the verbs."""
    check_kind(kind)
    job_only = sorted((set(kw) & _JOB_ONLY) - {"params"})
    if job_only:
        msg = f"{job_only} are job options, not request options"
        raise InputError(msg + "\nHint: drop them here, or use df.llmbatch.* for a managed job.")
    params = dict(kw.pop("params", None) or {})
    params.update({k: kw.pop(k) for k in list(kw) if k not in _BODY_ARGS})
    return JobRequest(kind=kind, provider=provider, params=params, **kw)


def _wire_ids(ids: list[Any]) -> list[str]:
    """The ids as text; distinct values with the same text (1 and "1") would collide."""
    wire = [str(i) for i in ids]
    dupes = [w for w, n in Counter(wire).items() if n > 1]
    if dupes:
        msg = f"ids {shown(dupes)} are distinct values that read the same as text (custom_id)"
        raise InputError(msg + "\nHint: give the id column one type, e.g. all strings.")
    return wire


def _requests(
    df: Any, kind: str, provider: str, kw: dict[str, Any]
) -> tuple[list[str], list[bytes]]:
    """The custom_ids and request lines for `df`, checked as the verbs check them."""
    req = _request(kind, provider, dict(kw))
    check_request(req)
    frame = frames.to_frame(df)
    needed = checked_columns(frame, req)
    spec = task_spec(req, provider)
    ids = checked_ids(frame, req.id)
    wire = _wire_ids(ids if ids is not None else list(range(len(frame))))
    check_utf8(wire, f"id column {req.id!r}")
    texts, _ = checked_texts(frame, req, needed)  # skip_empty is a job option: never here
    backend = make_backend(resolve_provider(provider), spec, "", None)  # only its line format
    return wire, list(request_lines(spec, backend.line, wire, texts))


# -- OpenAI ---------------------------------------------------------------------------------
def openai_prepare(df: Any, path: str | Path, *, kind: str = "complete", **kw: Any) -> Path:
    """Write the batch input JSONL for `df` (one line per row; custom_id = the id as text).

    `kw` are the verb's arguments (`text=`, `prompt=`, `id=`, `model=`, `schema=`, …).

    Example:
        >>> openai_prepare(df, "in.jsonl", kind="embed", text="body", id="doc_id")
    """
    _, lines = _requests(df, kind, "openai", kw)
    out = Path(path)
    with out.open("wb") as fh:
        fh.writelines(line + b"\n" for line in lines)
    return out


def _openai(provider: OpenAI | str | None) -> Any:
    config = resolve_provider(provider or "openai")
    if not isinstance(config, OpenAI):
        raise InputError("this step needs an OpenAI provider\nHint: provider=llmbatch.OpenAI().")
    return config.client()


def openai_upload(path: str | Path, *, provider: OpenAI | None = None) -> dict[str, Any]:
    """Upload a batch input file (`purpose=batch`); returns the File object."""
    with _openai(provider) as client:
        return client.upload_file(Path(path))


def openai_start(
    file_id: str,
    endpoint: str = "/v1/chat/completions",
    *,
    metadata: dict[str, str] | None = None,
    provider: OpenAI | None = None,
) -> dict[str, Any]:
    """Create a batch from an uploaded file; returns the Batch object."""
    with _openai(provider) as client:
        return client.create_batch(file_id, endpoint, metadata=metadata)


def openai_status(batch_id: str, *, provider: OpenAI | None = None) -> dict[str, Any]:
    """The Batch object as the API returns it."""
    with _openai(provider) as client:
        return client.retrieve_batch(batch_id)


def openai_file_content(file_id: str, *, provider: OpenAI | None = None) -> bytes:
    """The raw bytes of a file (e.g. a batch's output or error file)."""
    with _openai(provider) as client:
        return client.file_content(file_id)


def openai_delete_file(file_id: str, *, provider: OpenAI | None = None) -> dict[str, Any]:
    """Delete a file."""
    with _openai(provider) as client:
        return client.delete_file(file_id)


def openai_list(
    limit: int = 20, after: str | None = None, *, provider: OpenAI | None = None
) -> dict[str, Any]:
    """One page of batches, newest first (`{"data", "has_more", "last_id", ...}`)."""
    with _openai(provider) as client:
        return client.list_batches(limit=limit, after=after)


def openai_cancel(batch_id: str, *, provider: OpenAI | None = None) -> dict[str, Any]:
    """Cancel a batch; returns the Batch object (status `cancelling`)."""
    with _openai(provider) as client:
        return client.cancel_batch(batch_id)


def openai_parse(
    content: bytes | str | Path,
    *,
    kind: str = "complete",
    schema: Any = None,
    endpoint: str | None = None,
    label_column: str = "label",
    library: str = "pandas",
    wide: bool = False,
    relax: bool = False,
) -> Any:
    """Parse output/error file content (or both concatenated) into a frame keyed by `custom_id`.

    `content` is bytes, text, or a file path. Each answer is read by its own `object`
    (`chat.completion`, `response`, `text_completion`, embeddings `list`); `endpoint=` (default:
    the kind's) decides for an answer without one.

    Example:
        >>> df = openai_parse(openai_file_content(batch["output_file_id"]), kind="embed")
    """
    spec = parse_spec(kind, "openai", schema, endpoint, label_column, library, relax)
    parsed = (parse_output_line(d) for d in json_lines(content))

    def reply(body: dict[str, Any]) -> Reply:
        return openai_wire.reply(spec.endpoint, body)  # a known `object` in the body decides

    return to_frame(spec, parsed, reply, library, {"wide": wide})


# -- Anthropic ------------------------------------------------------------------------------
def anthropic_prepare(df: Any, *, kind: str = "complete", **kw: Any) -> list[dict[str, Any]]:
    """The `requests` list of a Message Batch for `df` (custom_id = the id as text)."""
    ids, lines = _requests(df, kind, "anthropic", kw)
    bad = [i for i in ids if not _ANTHROPIC_ID.fullmatch(i)]
    if bad:
        msg = f"ids {shown(bad)} are not valid Anthropic custom_ids (^[a-zA-Z0-9_-]{{1,64}}$)"
        raise InputError(msg + "\nHint: use df.llmbatch.* (it maps any id), or clean the ids.")
    return [orjson.loads(line) for line in lines]


def _anthropic(provider: Anthropic | str | None) -> Any:
    config = resolve_provider(provider or "anthropic")
    if not isinstance(config, Anthropic):
        raise InputError(
            "this step needs an Anthropic provider\nHint: provider=llmbatch.Anthropic()."
        )
    return config.client()


def anthropic_create(
    requests: list[dict[str, Any]] | str | Path, *, provider: Anthropic | None = None
) -> dict[str, Any]:
    """Create a Message Batch from request dicts, or a JSONL file of them (streamed).

    Example:
        >>> batch = anthropic_create(anthropic_prepare(df, text="body", id="doc_id"))
    """
    if isinstance(requests, str):
        requests = Path(requests)  # a str is never a list of requests: it names a file
    with _anthropic(provider) as client:
        return client.create_batch(requests)


def anthropic_status(batch_id: str, *, provider: Anthropic | None = None) -> dict[str, Any]:
    """The MessageBatch object as the API returns it."""
    with _anthropic(provider) as client:
        return client.retrieve_batch(batch_id)


def anthropic_list(
    limit: int = 20, after_id: str | None = None, *, provider: Anthropic | None = None
) -> dict[str, Any]:
    """One page of Message Batches, newest first."""
    with _anthropic(provider) as client:
        return client.list_batches(limit=limit, after_id=after_id)


def anthropic_cancel(batch_id: str, *, provider: Anthropic | None = None) -> dict[str, Any]:
    """Cancel a Message Batch (status `canceling`)."""
    with _anthropic(provider) as client:
        return client.cancel_batch(batch_id)


def anthropic_delete(batch_id: str, *, provider: Anthropic | None = None) -> dict[str, Any]:
    """Delete an ended Message Batch."""
    with _anthropic(provider) as client:
        return client.delete_batch(batch_id)


def _is_batch_id(text: str) -> bool:
    """A str that is neither JSONL content nor an existing file is taken as a batch id."""
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("{") and not is_file(text)


def anthropic_results(
    batch_id_or_content: str | bytes | Path,
    *,
    kind: str = "complete",
    schema: Any = None,
    label_column: str = "label",
    library: str = "pandas",
    provider: Anthropic | None = None,
    relax: bool = False,
) -> Any:
    """Results of an ended batch as a frame keyed by `custom_id`.

    `batch_id_or_content` is a batch id (fetched), or JSONL content as bytes, text or a path.

    Example:
        >>> df = anthropic_results(batch["id"], kind="classify", schema=["yes", "no"])
    """
    spec = parse_spec(kind, "anthropic", schema, None, label_column, library, relax)
    content = batch_id_or_content
    if isinstance(content, str) and _is_batch_id(content):
        with _anthropic(provider) as client:
            content = client.results(content)
    parsed = (parse_result_line(d) for d in json_lines(content))
    return to_frame(spec, parsed, _anthropic_reply, library, {})


def _anthropic_reply(message: dict[str, Any]) -> Reply:
    return anthropic_wire.reply(anthropic_wire.ENDPOINT, message)
