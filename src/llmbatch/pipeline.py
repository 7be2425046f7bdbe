"""A verb's arguments and a frame → checked ids and texts → task spec → request bodies and lines.

The one way from a frame to what is sent, shared by the verbs (`create`), by a job's retries
(`attempts`) and by the step-by-step functions (`steps`): the same refusals (naming the rows),
the same texts, the same body template, the provider's own line format. Nothing here writes a
file or opens a connection; `prepare` streams the lines into shard files.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import orjson

from llmbatch import frames
from llmbatch import schema as schema_mod
from llmbatch._exceptions import ConfigError, InputError
from llmbatch.ids import check_ids, is_missing, shown
from llmbatch.prepare import CHUNK, Limits
from llmbatch.quota import check_max_enqueued_tokens
from llmbatch.tasks import (
    Kind,
    TaskSpec,
    body_template,
    check_params,
    render,
    wire_for,
    wire_schema,
)
from llmbatch.wire import Structured, Wire

__all__ = [
    "JobRequest",
    "Rows",
    "build_texts",
    "check_request",
    "check_texts",
    "check_utf8",
    "checked_columns",
    "checked_ids",
    "checked_names",
    "checked_texts",
    "frame_texts",
    "is_utf8",
    "placeholders",
    "read_rows",
    "request_bodies",
    "request_lines",
    "task_spec",
    "text_columns",
]

_FORMAT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)
_FLAGS = ("wide", "skip_empty", "force", "submit", "relax", "reuse")
Line = Callable[[str, bytes], bytes]  # a backend's `line(custom_id, body)`


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
    mode: str = "batch"
    reuse: bool = True
    max_cost: float | None = None
    max_enqueued_tokens: int | None = None
    concurrency: int | None = None
    requests_per_minute: float | None = None


@dataclass
class Rows:
    """What a frame gives a job: its checked ids (None: keyed by position), its texts, and the
    rows `skip_empty` leaves unsent."""

    ids: list[Any] | None
    texts: Sequence[Any]  # a list, or `staged.SlicedTexts` (a slice in memory at a time)
    skipped: list[int]
    # a staged frame's ids, read again a slice at a time (`ids` is then None): never all held
    id_reader: Callable[[], Iterator[list[Any]]] | None = None

    def id_chunks(self) -> Iterator[list[Any]] | None:
        """The id values in order, a chunk at a time (None: keyed by position)."""
        if self.id_reader is not None:
            return self.id_reader()
        ids = self.ids
        if ids is None:
            return None
        return (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))

    def sent(self) -> Sequence[int]:
        """The positions of the rows that are sent, in order (a range when all are)."""
        if not self.skipped:
            return range(len(self.texts))
        skip = set(self.skipped)
        return [i for i in range(len(self.texts)) if i not in skip]


# -- the verb's arguments ----------------------------------------------------------------------
def check_request(req: JobRequest) -> None:
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
    if req.mode not in ("batch", "sync"):
        msg = f"mode must be 'batch' or 'sync', got {req.mode!r}"
        raise ConfigError(msg + "\nHint: 'sync' for a few rows while developing, else 'batch'.")
    paced = [n for n in ("concurrency", "requests_per_minute") if getattr(req, n) is not None]
    if paced and req.mode != "sync":
        msg = f"{paced[0]}= applies to mode='sync' only (a batch is paced by the provider)"
        raise ConfigError(msg + f"\nHint: pass mode='sync', or drop {paced[0]}=.")
    cap = req.max_cost
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 < cap < float("inf")
    ):
        msg = f"max_cost must be a positive number of US dollars, got {cap!r}"
        raise ConfigError(msg + "\nHint: e.g. max_cost=25 refuses a job estimated above $25.")
    check_max_enqueued_tokens(req.max_enqueued_tokens)
    if req.limits is not None and not isinstance(req.limits, Limits):
        msg = f"limits= must be an llmbatch Limits, got {type(req.limits).__name__}"
        raise ConfigError(msg + "\nHint: leave it out; the provider's limits are the default.")


def text_columns(req: JobRequest) -> list[str]:
    """The columns the texts come from: `text=`, or the placeholders of `prompt=`."""
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


def task_spec(req: JobRequest, provider_name: str) -> TaskSpec:
    """What each request asks, checked for `provider_name` (no frame, no network)."""
    wire = wire_for(provider_name)
    endpoint = wire.endpoint(req.kind, req.api)  # refuses a verb the provider lacks
    spec = TaskSpec(
        kind=_kind(req.kind),
        provider=provider_name,
        model=req.model if req.model is not None else wire.default_models[req.kind],
        endpoint=endpoint,
        system_prompt=req.system_prompt,
        temperature=req.temperature,
        max_tokens=req.max_tokens,
        dimensions=req.dimensions,
        params=dict(req.params or {}),
        structured=_structured(req, wire),
        relax=req.relax,
        extra_body={} if req.extra_body is None else req.extra_body,
    )
    if req.kind == "classify":
        js = schema_mod.to_json_schema(req.schema, label_column=req.label_column)
        spec.schema, spec.schema_name = js.schema, js.name
        wire_schema(spec)  # raises SchemaError for keywords this provider rejects
    check_params(spec)
    return spec


def _kind(kind: str) -> Kind:
    if kind in get_args(Kind):
        return cast(Kind, kind)
    raise ConfigError(f"unknown verb {kind!r}\nHint: use embed, complete or classify.")


def _structured(req: JobRequest, wire: Wire) -> Structured:
    chosen = req.structured
    if chosen == "tool" and chosen not in wire.structured:
        msg = "structured='tool' (forced tool use) is an Anthropic option"
        raise ConfigError(msg + "\nHint: OpenAI uses response_format json_schema; drop it.")
    if chosen not in get_args(Structured):
        msg = f"structured must be 'output_config' or 'tool', got {chosen!r}"
        raise ConfigError(msg + "\nHint: 'tool' uses forced tool use (Anthropic only).")
    return cast(Structured, chosen)


def checked_columns(frame: Any, req: JobRequest) -> list[str]:
    """Refuse an empty frame or missing columns; returns the columns the texts come from."""
    return checked_names(frames.column_names(frame), len(frame), req)


def checked_names(names: list[str], n_rows: int, req: JobRequest) -> list[str]:
    """`checked_columns` from the column names and the row count alone (a lazy input)."""
    if n_rows == 0:
        raise InputError("the frame is empty\nHint: there is nothing to send.")
    needed = text_columns(req)
    if req.id is not None:
        frames.require_names(names, [req.id], role="id column")
    frames.require_names(names, needed, role="column")
    return needed


def checked_ids(frame: Any, id_col: str | None) -> list[Any] | None:
    """The id column's values, unique, non-null and valid UTF-8 (None without `id=`)."""
    if id_col is None:
        return None
    ids = frames.column_values(frame, id_col)
    check_ids(ids, id_col)
    if not frames.is_utf8_column(frame, id_col):
        check_utf8(ids, f"id column {id_col!r}")
    return ids


def checked_texts(
    frame: Any, req: JobRequest, needed: Sequence[str]
) -> tuple[list[Any], list[int]]:
    """Every row's text, refused naming the rows when it is not a non-empty, valid string.

    Returns the texts and the rows left unsent (null or empty texts, only with `skip_empty`).
    """
    texts = frame_texts(frame, req.text, req.prompt, len(frame))
    where = f"text column {req.text!r}" if req.text else "the rendered prompt"
    skipped = check_texts(texts, where, req.skip_empty)
    if not all(frames.is_utf8_column(frame, c) for c in needed) or not is_utf8(req.prompt or ""):
        check_utf8(texts, where)  # only Python-object columns can hold a lone surrogate
    return texts, skipped


def read_rows(frame: Any, req: JobRequest, needed: Sequence[str]) -> Rows:
    """The checked ids and texts of a job's rows."""
    ids = checked_ids(frame, req.id)
    texts, skipped = checked_texts(frame, req, needed)
    return Rows(ids, texts, skipped)


def frame_texts(frame: Any, text: str | None, prompt: str | None, n: int) -> list[Any]:
    """The text of each row of `frame`: the `text` column as is, or the rendered `prompt`."""
    needed = [text] if text else placeholders(prompt or "")
    columns = {c: frames.column_values(frame, c) for c in needed}
    return build_texts(columns, text, prompt, n)


def placeholders(template: str) -> list[str]:
    """The `{column}` names a prompt template uses."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        msg = f"prompt template is malformed: {exc}\nHint: write literal braces as {{{{ and }}}}."
        raise InputError(msg) from None
    if not fields or not all(fields):
        msg = f"prompt template {template!r} has no usable {{column}} placeholders"
        raise InputError(msg + "\nHint: e.g. prompt='Title: {title}\\n\\n{body}'.")
    return list(dict.fromkeys(fields))


def build_texts(
    columns: dict[str, list[Any]], text: str | None, prompt: str | None, n: int, offset: int = 0
) -> list[Any]:
    """The text of each row: the `text` column as is, or the rendered `prompt` template.

    `offset`: the frame row of the first value (a slice of a larger frame), for the messages.
    """
    if text is not None:
        return columns[text]
    assert prompt is not None
    used = {c: columns[c] for c in placeholders(prompt)}
    for name, values in used.items():
        nulls = [
            i + offset
            for i, v in enumerate(values)
            if v is None or (isinstance(v, float) and v != v)
        ]
        if nulls:
            msg = f"column {name!r} used by the prompt has nulls at rows {shown(nulls)}"
            raise InputError(msg + "\nHint: fill or drop them first.")
    try:
        return render(prompt, used, n)
    except _FORMAT_ERRORS as exc:
        raise _render_error(prompt, used, exc, offset) from None


def _render_error(
    template: str, columns: dict[str, list[Any]], exc: Exception, offset: int = 0
) -> InputError:
    """Which placeholder fails, on which rows, and why (run only once rendering has failed)."""
    names = list(columns)
    rows = [dict(zip(names, v, strict=True)) for v in zip(*columns.values(), strict=True)]
    bad = [i for i, row in enumerate(rows) if _fails(template, row)]
    first = rows[bad[0]] if bad else {}
    pieces = [_piece(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f]
    piece = next((p for p in pieces if _fails(p, first)), template)
    field = re.split(r"[:!]", piece.strip("{}"), maxsplit=1)[0]
    column = re.split(r"[.\[]", field, maxsplit=1)[0]
    at = [i + offset for i in bad]
    msg = f"prompt placeholder {piece!r} cannot format column {column!r} at rows {shown(at)}"
    if field != column:
        hint = "'.' and '[' in a placeholder read an attribute or item; rename such columns."
    else:
        value = first.get(column)
        hint = (
            f"row {at[0] if at else offset} holds {type(value).__name__} {repr(value)[:60]}; fix "
            "the format spec, or convert the column first (e.g. to int for ':d')."
        )
    return InputError(f"{msg}: {exc}\nHint: {hint}")


def _piece(field: str, spec: str | None, conversion: str | None) -> str:
    conv = f"!{conversion}" if conversion else ""
    return "{" + field + conv + (f":{spec}" if spec else "") + "}"


def _fails(template: str, row: dict[str, Any]) -> bool:
    try:
        template.format_map(row)
    except _FORMAT_ERRORS:
        return True
    return False


def check_utf8(values: list[Any], where: str) -> None:
    """Refuse text holding a lone surrogate (not valid UTF-8, so not JSON), naming the rows.

    `str.isascii()` is O(1) in CPython, so only non-ASCII texts are encoded to find them.
    """
    bad = [
        i for i, v in enumerate(values) if isinstance(v, str) and not v.isascii() and not is_utf8(v)
    ]
    if bad:
        msg = (
            f"{where} holds text that is not valid UTF-8 (a lone surrogate such as '\\udc80') "
            f"at rows {shown(bad)}\nHint: repair it, e.g. text.encode('utf-8', 'replace')"
            ".decode(); it often comes from decoding bytes with errors='surrogateescape'."
        )
        raise InputError(msg)


def is_utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (a lone surrogate does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_text(value: Any) -> bool:
    return not isinstance(value, str) and not is_missing(value)


_STR = {str}


def check_texts(texts: list[Any], where: str, skip_empty: bool, offset: int = 0) -> list[int]:
    """Refuse non-string / null / empty texts naming rows; with skip_empty, return those rows
    (`offset`: the frame row of the first text, when `texts` is a slice)."""
    if set(map(type, texts)) <= _STR and "" not in texts and not any(map(str.isspace, texts)):
        return []  # the usual column, in passes that run in C
    bad = [i for i, t in enumerate(texts) if type(t) is not str and _not_text(t)]
    if bad:
        kinds = sorted({type(texts[i]).__name__ for i in bad})
        at = shown([i + offset for i in bad])
        msg = f"{where} holds non-string values ({', '.join(kinds)}) at rows {at}"
        raise InputError(msg + "\nHint: convert the column to strings first.")
    # `isspace()` allocates nothing (`strip()` copies every text); "" is not space
    empty = [i + offset for i, t in enumerate(texts) if not t or type(t) is not str or t.isspace()]
    if empty and not skip_empty:
        msg = f"{where} has {len(empty)} null or empty text(s) at rows {shown(empty)}"
        raise InputError(msg + "\nHint: drop them, or pass skip_empty=True to mark them as errors.")
    return empty


# -- request bodies and lines --------------------------------------------------------------------
def request_bodies(spec: TaskSpec, texts: Sequence[Any]) -> Iterator[bytes]:
    """One request body per text, from the task's body template (as `prepare.write_shards`)."""
    prefix, suffix = body_template(spec)
    for text in texts:
        yield prefix + orjson.dumps(text) + suffix


def request_lines(
    spec: TaskSpec, line: Line, custom_ids: Sequence[str], texts: Sequence[Any]
) -> Iterator[bytes]:
    """One request line per row in the provider's format (`line` is a backend's `line`, which
    JSON-escapes the custom_id, so a quote or a backslash in a user's id stays valid JSON)."""
    bodies = request_bodies(spec, texts)
    for custom_id, body in zip(custom_ids, bodies, strict=True):
        yield line(custom_id, body)
