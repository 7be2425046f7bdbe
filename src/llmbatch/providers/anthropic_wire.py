"""Anthropic's wire format: the Messages request body, the batch request, reading a Message.

The one place that knows how an Anthropic request and answer look (reference C.1, C.4–C.7);
the batch mechanics (`anthropic_batch`) and the step-by-step API use it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from llmbatch import schema as schema_mod
from llmbatch._exceptions import ConfigError
from llmbatch.result_columns import Columnar, ReplyColumns, all_of, field, first_item, yes
from llmbatch.wire import SLOT, Reply, TaskSpec, Wire

__all__ = ["ENDPOINT", "MAX_TOKENS", "WIRE", "reply"]

ENDPOINT = "/v1/messages"
MAX_TOKENS = 1024  # Anthropic requires max_tokens; this is ours when none is given


def endpoint(kind: str, api: str) -> str:
    """Every Anthropic verb is a Message; there is no embeddings API."""
    if kind == "embed":
        msg = (
            "Anthropic has no embeddings API\nHint: use provider='openai' for embed(), "
            "or llmbatch.OpenAI(base_url=...) for an OpenAI-compatible service."
        )
        raise ConfigError(msg)
    return ENDPOINT


def wire_schema(spec: TaskSpec) -> dict[str, Any]:
    """The schema as Anthropic's structured outputs accept it."""
    assert spec.schema is not None
    return schema_mod.anthropic_format(spec.schema, relax=spec.relax)


def body(spec: TaskSpec) -> dict[str, Any]:
    """The Messages request body, with `SLOT` where the row's text goes."""
    out: dict[str, Any] = {"model": spec.model, "max_tokens": spec.max_tokens or MAX_TOKENS}
    if spec.system_prompt:
        # one cached system block: identical in every request, so the batch shares the cache
        block = {"type": "text", "text": spec.system_prompt, "cache_control": {"type": "ephemeral"}}
        out["system"] = [block]
    out["messages"] = [{"role": "user", "content": SLOT}]
    if spec.temperature is not None:
        out["temperature"] = spec.temperature
    if spec.kind == "classify":
        wire = wire_schema(spec)
        if spec.structured == "tool":
            name = spec.schema_name or "classification"
            tool = {"name": name, "description": "Record the answer.", "input_schema": wire}
            out["tools"] = [{**tool, "strict": True}]
            out["tool_choice"] = {"type": "tool", "name": name}
        else:
            out["output_config"] = {"format": {"type": "json_schema", "schema": wire}}
    return {**out, **spec.params, **spec.extra_body}


def line(custom_id: str, url: str, body: bytes) -> bytes:
    """One request of a Message Batch (C.1); the custom_id is JSON-escaped."""
    return b'{"custom_id":' + orjson.dumps(custom_id) + b',"params":' + body + b"}"


def reply(endpoint: str, message: dict[str, Any]) -> Reply:
    """Read an Anthropic Message: text blocks, or the input of a forced tool call."""
    usage = message.get("usage") or {}
    blocks = message.get("content") or []
    texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
    tools = [b for b in blocks if b.get("type") == "tool_use"]
    stop = message.get("stop_reason")
    # positional, as `openai_wire.reply` (per row of collect)
    return Reply(
        "".join(texts) if texts else None,
        tools[0].get("input") if tools else None,
        "the model refused (stop_reason 'refusal')" if stop == "refusal" else None,
        stop,
        usage.get("input_tokens"),
        usage.get("output_tokens"),
        usage.get("cache_read_input_tokens"),
        usage.get("cache_creation_input_tokens"),
        stop in ("max_tokens", "model_context_window_exceeded"),
        False,
    )


def succeeded(line: dict[str, Any]) -> dict[str, Any] | None:
    """The Message of a plainly successful results line, else None: what
    `anthropic_batch.parse_result_line` reads as ``succeeded``, without its normalising."""
    result = line.get("result")
    if type(result) is dict and result.get("type") == "succeeded":
        message = result.get("message")
        if type(message) is dict and message:
            return message
    return None


_S, _I = pa.string(), pa.int64()
_USAGE = pa.struct(
    [("input_tokens", _I), ("output_tokens", _I), ("cache_read_input_tokens", _I),
     ("cache_creation_input_tokens", _I)]
)  # fmt: skip
_MESSAGE = pa.struct(
    [("content", pa.list_(pa.struct([("type", _S), ("text", _S)]))), ("stop_reason", _S),
     ("usage", _USAGE)]
)  # fmt: skip
# a succeeded results line, as much of it as `reply` reads
_PLAIN = pa.schema(
    [("custom_id", _S), ("result", pa.struct([("type", _S), ("message", _MESSAGE)]))]
)
_CUT = pa.array(["max_tokens", "model_context_window_exceeded"])


def _plain_message(table: pa.RecordBatch, endpoint: str) -> tuple[pa.Array, ReplyColumns]:
    """`succeeded` and `reply` of every line at once, for the plain Messages: succeeded, with
    no content or one text block (`result_columns.Columnar`)."""
    result = table.column("result")
    message = field(result, "message")
    content = field(message, "content")
    block, has_block = first_item(content)
    one_text = all_of(
        yes(pc.equal(pc.list_value_length(content), 1)),
        yes(pc.equal(field(block, "type"), "text")),
        pc.is_valid(field(block, "text")),
    )
    no_block = pc.invert(has_block)
    plain = all_of(
        yes(pc.equal(field(result, "type"), "succeeded")),
        pc.is_valid(message),
        pc.is_valid(table.column("custom_id")),
        pc.or_(one_text, no_block),
    )
    stop, usage = field(message, "stop_reason"), field(message, "usage")
    refused = yes(pc.equal(stop, "refusal"))
    why = pa.scalar("the model refused (stop_reason 'refusal')")
    return plain, ReplyColumns(
        pc.if_else(one_text, field(block, "text"), pa.scalar(None, _S)),
        pc.if_else(refused, why, pa.scalar(None, _S)),
        stop,
        field(usage, "input_tokens"),
        field(usage, "output_tokens"),
        field(usage, "cache_read_input_tokens"),
        field(usage, "cache_creation_input_tokens"),
        yes(pc.is_in(stop, _CUT)),
        pa.array([False] * len(table), pa.bool_()),
    )


COLUMNAR = Columnar(schema=_PLAIN, read=_plain_message, applies=lambda endpoint: True)


def realtime_path(endpoint: str) -> str:
    """Messages are created at ``/v1/messages`` (the base URL has no version)."""
    return ENDPOINT


def request(line: dict[str, Any]) -> tuple[str, Any]:
    """``(custom_id, params)`` of one Message Batch request."""
    return str(line["custom_id"]), line["params"]


def result_line(custom_id: str, status: int, body: Any, message: str) -> bytes:
    """A realtime answer as a Message Batch results line (C.4): ``succeeded`` with the
    Message, or ``errored`` with the error envelope the API answered (or one we write)."""
    if 200 <= status < 300 and isinstance(body, dict):
        result: dict[str, Any] = {"type": "succeeded", "message": body}
    else:
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            kind = "api_error" if status else "connection_error"
            body = {"type": "error", "error": {"type": kind, "message": message}}
        result = {"type": "errored", "error": body}
    return orjson.dumps({"custom_id": custom_id, "result": result})


WIRE = Wire(
    name="anthropic",
    default_models={"complete": "claude-haiku-4-5", "classify": "claude-haiku-4-5"},
    max_temperature=1.0,
    structured=("output_config", "tool"),
    endpoint=endpoint,
    schema=wire_schema,
    body=body,
    line=line,
    reply=reply,
    succeeded=succeeded,
    realtime_path=realtime_path,
    request=request,
    result_line=result_line,
    cache_columns=(".cache_read_tokens", ".cache_write_tokens"),
    columnar=COLUMNAR,
)
