"""embed / complete / classify: build one request body, read one answer.

A task knows one request and one result; it knows nothing of HTTP, files or frames. Bodies are
built from a template serialised once: the row's text is spliced into the pre-serialised bytes
(`prefix + orjson(text) + suffix`), so building a million lines costs one `orjson.dumps` per row.
"""

from __future__ import annotations

import base64
import struct
import sys
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

from llmbatch import schema as schema_mod
from llmbatch._endpoint_params import check_body_params, check_extra_body
from llmbatch._exceptions import ConfigError, InputError
from llmbatch._schema_strict import answer_form

__all__ = ["DEFAULT_MODELS", "Reply", "TaskSpec", "body_template", "render"]

Kind = Literal["embed", "complete", "classify"]

DEFAULT_MODELS: dict[tuple[str, str], str] = {
    ("openai", "embed"): "text-embedding-3-small",
    ("openai", "complete"): "gpt-4.1-mini",
    ("openai", "classify"): "gpt-4.1-mini",
    ("anthropic", "complete"): "claude-haiku-4-5",
    ("anthropic", "classify"): "claude-haiku-4-5",
}
ANTHROPIC_MAX_TOKENS = 1024
OPENAI_ENDPOINTS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embeddings": "/v1/embeddings",
}
_SLOT = "\x00llmbatch-text\x00"


@dataclass
class TaskSpec:
    """Everything that decides the request body; stored in the manifest as plain JSON."""

    kind: Kind
    provider: str
    model: str
    endpoint: str
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    dimensions: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    schema_name: str | None = None
    structured: Literal["output_config", "tool"] = "output_config"
    relax: bool = False  # classify: value-only schema constraints go into descriptions
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged as is, never checked

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; the newer fields only when set, so older jobs keep their identity."""
        out = asdict(self)
        for key, default in (("relax", False), ("extra_body", {})):
            if out[key] == default:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(**d)

    def wire_schema(self) -> dict[str, Any]:
        """The schema as the provider receives it (strict form for OpenAI)."""
        assert self.schema is not None
        if self.provider == "openai":
            return schema_mod.openai_strict(self.schema, relax=self.relax)
        return schema_mod.anthropic_format(self.schema, relax=self.relax)

    def answer_schema(self) -> dict[str, Any]:
        """The schema answers are checked against: the wire form, with the constraints that
        `relax=True` kept from the provider put back (it could not enforce them; we do)."""
        assert self.schema is not None
        if not self.relax:
            return self.wire_schema()
        return answer_form(self.schema, self.provider)


def check_params(spec: TaskSpec) -> None:
    """Refuse bad model / temperature / max_tokens / dimensions / body parameters up front."""
    if not isinstance(spec.model, str) or not spec.model.strip():
        msg = f"model must be a non-empty string, got {spec.model!r}"
        raise ConfigError(msg + "\nHint: e.g. model='gpt-4.1-mini'.")
    top = 2.0 if spec.provider == "openai" else 1.0
    t = spec.temperature
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= top
    ):
        msg = f"temperature must be a number in [0, {top:g}] for {spec.provider}, got {t!r}"
        raise ConfigError(msg + f"\nHint: {spec.provider} accepts 0 to {top:g}.")
    for name, value in (("max_tokens", spec.max_tokens), ("dimensions", spec.dimensions)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            msg = f"{name} must be a positive integer, got {value!r}\nHint: e.g. {name}=256."
            raise ConfigError(msg)
    if spec.system_prompt is not None and not isinstance(spec.system_prompt, str):
        msg = f"system_prompt must be a string, got {type(spec.system_prompt).__name__}"
        raise ConfigError(msg + "\nHint: pass text, or None for no system prompt.")
    if not isinstance(spec.relax, bool) or (spec.relax and spec.kind != "classify"):
        msg = f"relax= takes True or False, for classify() only; got {spec.relax!r}"
        raise ConfigError(f"{msg} for {spec.kind}()\nHint: drop relax=, or pass relax=True.")
    check_body_params(spec.kind, spec.endpoint, spec.params)
    spec.extra_body = check_extra_body(spec.extra_body, spec.endpoint)
    _check_encodable(spec)


def _check_encodable(spec: TaskSpec) -> None:
    """The body template must serialise (a lone surrogate in system_prompt does not)."""
    try:
        body_template(spec)
    except orjson.JSONEncodeError as exc:
        msg = f"the request parameters cannot be sent as JSON: {exc}"
        hint = "\nHint: check system_prompt= and the schema for text that is not valid UTF-8."
        raise InputError(msg + hint) from None


def _openai_body(spec: TaskSpec) -> dict[str, Any]:
    if spec.kind == "embed":
        # base64 float32 is what the service computes anyway; a quarter of the bytes to download
        # and parse (params may override it with encoding_format="float")
        body: dict[str, Any] = {"model": spec.model, "input": _SLOT, "encoding_format": "base64"}
        if spec.dimensions is not None:
            body["dimensions"] = spec.dimensions
        return {**body, **spec.params, **spec.extra_body}
    responses = spec.endpoint == OPENAI_ENDPOINTS["responses"]
    body = {"model": spec.model}
    if responses:
        if spec.system_prompt:
            body["instructions"] = spec.system_prompt
        body["input"] = _SLOT
    else:
        messages = [{"role": "system", "content": spec.system_prompt}] if spec.system_prompt else []
        body["messages"] = [*messages, {"role": "user", "content": _SLOT}]
    if spec.temperature is not None:
        body["temperature"] = spec.temperature
    if spec.max_tokens is not None:
        # max_tokens is rejected by reasoning models; max_completion_tokens works on all chat models
        body["max_output_tokens" if responses else "max_completion_tokens"] = spec.max_tokens
    if spec.kind == "classify":
        name = spec.schema_name or "classification"
        fmt = {"name": name, "schema": spec.wire_schema(), "strict": True}
        if responses:
            body["text"] = {"format": {"type": "json_schema", **fmt}}
        else:
            body["response_format"] = {"type": "json_schema", "json_schema": fmt}
    return {**body, **spec.params, **spec.extra_body}


def _anthropic_body(spec: TaskSpec) -> dict[str, Any]:
    assert spec.kind != "embed", "refused earlier, in create._spec"
    body: dict[str, Any] = {
        "model": spec.model,
        "max_tokens": spec.max_tokens or ANTHROPIC_MAX_TOKENS,
    }
    if spec.system_prompt:
        # one cached system block: identical in every request, so the batch shares the cache
        block = {"type": "text", "text": spec.system_prompt, "cache_control": {"type": "ephemeral"}}
        body["system"] = [block]
    body["messages"] = [{"role": "user", "content": _SLOT}]
    if spec.temperature is not None:
        body["temperature"] = spec.temperature
    if spec.kind == "classify":
        wire = spec.wire_schema()
        if spec.structured == "tool":
            name = spec.schema_name or "classification"
            tool = {"name": name, "description": "Record the answer.", "input_schema": wire}
            body["tools"] = [{**tool, "strict": True}]
            body["tool_choice"] = {"type": "tool", "name": name}
        else:
            body["output_config"] = {"format": {"type": "json_schema", "schema": wire}}
    return {**body, **spec.params, **spec.extra_body}


def body_template(spec: TaskSpec) -> tuple[bytes, bytes]:
    """(prefix, suffix) such that `prefix + orjson.dumps(text) + suffix` is one request body."""
    body = _openai_body(spec) if spec.provider == "openai" else _anthropic_body(spec)
    raw = orjson.dumps(body)
    prefix, sep, suffix = raw.partition(orjson.dumps(_SLOT))
    if not sep or orjson.dumps(_SLOT) in suffix:
        msg = "extra_body must not replace the text slot (input / messages)"
        msg += "\nHint: drop it from extra_body; the text comes from text= or prompt=."
        raise InputError(msg)
    return prefix, suffix


def render(template: str, columns: dict[str, list[Any]], n: int) -> list[str]:
    """Fill a `{column}` template for every row (plain Python, no per-row pandas)."""
    names = list(columns)
    rows = zip(*(columns[c] for c in names), strict=True) if names else ([()] * n)
    return [template.format_map(dict(zip(names, values, strict=True))) for values in rows]


COMPLETIONS_ENDPOINT = "/v1/completions"  # legacy: never sent by the verbs, but read


@dataclass(slots=True)
class Reply:
    """What one successful provider answer says, whatever the provider.

    `truncated`: cut at the output limit (the text so far is kept); `filtered`: stopped by the
    provider's content filter. Whether either makes the row an error is the verb's call
    (`results`), not the reader's.
    """

    text: str | None = None
    data: Any = None  # tool input (already parsed) or embedding vectors (see _vector)
    refusal: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    truncated: bool = False
    filtered: bool = False


def reply_from_openai(endpoint: str, body: dict[str, Any]) -> Reply:
    """Read a chat completion, a Responses response, a legacy completion or an embeddings list.

    The body's own `object` decides when it names one; the endpoint otherwise. A line read with
    another endpoint in mind (`steps.openai_parse` defaults to chat) is still read as what it is.
    """
    read_as = _OBJECT_ENDPOINT.get(str(body.get("object")), endpoint)
    usage = body.get("usage") or {}
    if read_as == OPENAI_ENDPOINTS["embeddings"]:
        items = sorted(body["data"], key=lambda d: d["index"])
        vectors = [_vector(d.get("embedding")) for d in items]
        return Reply(data=vectors, input_tokens=usage.get("prompt_tokens"), output_tokens=0)
    if read_as == OPENAI_ENDPOINTS["responses"]:
        return _reply_from_responses(body, usage)
    choice = body["choices"][0]
    finish = choice.get("finish_reason")
    reply = Reply(
        stop_reason=finish,
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cache_read_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
        truncated=finish == "length",
        filtered=finish == "content_filter",
    )
    if read_as == COMPLETIONS_ENDPOINT:
        reply.text = choice.get("text")
        return reply
    message = choice.get("message") or {}
    calls = message.get("tool_calls") or []
    reply.text = message.get("content") if not calls else calls[0]["function"]["arguments"]
    reply.refusal = message.get("refusal")
    return reply


_OBJECT_ENDPOINT = {
    "chat.completion": OPENAI_ENDPOINTS["chat"],
    "response": OPENAI_ENDPOINTS["responses"],
    "list": OPENAI_ENDPOINTS["embeddings"],
    "text_completion": COMPLETIONS_ENDPOINT,
}


def _vector(value: Any) -> Any:
    """An embedding packed: `array('d')` from a JSON list, `array('f')` from base64.

    A list of Python floats takes four times the memory, and every garbage collection walks
    it: at 200,000 vectors of 256 that made collect() 2.5 GB heavier. `struct.pack` converts
    floats several times faster than `array('d', list)` does.
    """
    if type(value) is list:
        try:
            return array("d", struct.pack(f"{len(value)}d", *value))
        except (struct.error, TypeError, OverflowError):
            pass
    if isinstance(value, str):  # encoding_format "base64": little-endian float32, kept packed
        floats = array("f", base64.b64decode(value))
        if sys.byteorder == "big":
            floats.byteswap()
        return floats
    return value


def _reply_from_responses(body: dict[str, Any], usage: dict[str, Any]) -> Reply:
    texts: list[str] = []
    refusal = None
    for item in body.get("output") or []:
        for part in item.get("content") or []:
            if part.get("type") == "output_text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "refusal":
                refusal = part.get("refusal")
    incomplete = body.get("status") == "incomplete"
    reason = (body.get("incomplete_details") or {}).get("reason") if incomplete else "stop"
    return Reply(
        text="".join(texts) if texts else None,
        refusal=refusal,
        stop_reason=reason,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens"),
        truncated=incomplete and reason != "content_filter",
        filtered=reason == "content_filter",
    )


def reply_from_anthropic(message: dict[str, Any]) -> Reply:
    """Read an Anthropic Message: text blocks, or the input of a forced tool call."""
    usage = message.get("usage") or {}
    texts = [b.get("text", "") for b in message.get("content") or [] if b.get("type") == "text"]
    tools = [b for b in message.get("content") or [] if b.get("type") == "tool_use"]
    stop = message.get("stop_reason")
    return Reply(
        text="".join(texts) if texts else None,
        data=tools[0].get("input") if tools else None,
        refusal="the model refused (stop_reason 'refusal')" if stop == "refusal" else None,
        stop_reason=stop,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_tokens=usage.get("cache_read_input_tokens"),
        cache_write_tokens=usage.get("cache_creation_input_tokens"),
        truncated=stop in ("max_tokens", "model_context_window_exceeded"),
    )
