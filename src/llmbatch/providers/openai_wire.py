"""OpenAI's wire format: endpoints, request bodies, the batch input line, reading an answer.

The one place that knows how an OpenAI request and answer look (reference B.4, B.6, B.7, B.8);
the batch mechanics (`openai_batch`) and the step-by-step API use it.
"""

from __future__ import annotations

import base64
import struct
import sys
from array import array
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from llmbatch import schema as schema_mod
from llmbatch._exceptions import ConfigError
from llmbatch.result_columns import Columnar, ReplyColumns, all_of, field, first_item, yes
from llmbatch.wire import SLOT, Reply, TaskSpec, Wire

__all__ = ["COMPLETIONS_ENDPOINT", "ENDPOINTS", "WIRE", "reply"]

ENDPOINTS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embeddings": "/v1/embeddings",
}
COMPLETIONS_ENDPOINT = "/v1/completions"  # legacy: never sent by the verbs, but read
_OBJECT_ENDPOINT = {
    "chat.completion": ENDPOINTS["chat"],
    "response": ENDPOINTS["responses"],
    "list": ENDPOINTS["embeddings"],
    "text_completion": COMPLETIONS_ENDPOINT,
}


def endpoint(kind: str, api: str) -> str:
    """The endpoint of a verb: embeddings for embed, else `api` ("chat" or "responses")."""
    if kind == "embed":
        return ENDPOINTS["embeddings"]
    if api not in ("chat", "responses"):
        msg = f"api must be 'chat' or 'responses', got {api!r}\nHint: chat is the default."
        raise ConfigError(msg)
    return ENDPOINTS[api]


def wire_schema(spec: TaskSpec) -> dict[str, Any]:
    """The strict-mode schema OpenAI receives."""
    assert spec.schema is not None
    return schema_mod.openai_strict(spec.schema, relax=spec.relax)


def body(spec: TaskSpec) -> dict[str, Any]:
    """The request body, with `SLOT` where the row's text goes."""
    if spec.kind == "embed":
        # base64 float32 is what the service computes anyway; a quarter of the bytes to download
        # and parse (params may override it with encoding_format="float")
        out: dict[str, Any] = {"model": spec.model, "input": SLOT, "encoding_format": "base64"}
        if spec.dimensions is not None:
            out["dimensions"] = spec.dimensions
        return {**out, **spec.params, **spec.extra_body}
    responses = spec.endpoint == ENDPOINTS["responses"]
    out = {"model": spec.model}
    if responses:
        if spec.system_prompt:
            out["instructions"] = spec.system_prompt
        out["input"] = SLOT
    else:
        messages = [{"role": "system", "content": spec.system_prompt}] if spec.system_prompt else []
        out["messages"] = [*messages, {"role": "user", "content": SLOT}]
    if spec.temperature is not None:
        out["temperature"] = spec.temperature
    if spec.max_tokens is not None:
        # max_tokens is rejected by reasoning models; max_completion_tokens works on all chat models
        out["max_output_tokens" if responses else "max_completion_tokens"] = spec.max_tokens
    if spec.kind == "classify":
        name = spec.schema_name or "classification"
        fmt = {"name": name, "schema": wire_schema(spec), "strict": True}
        if responses:
            out["text"] = {"format": {"type": "json_schema", **fmt}}
        else:
            out["response_format"] = {"type": "json_schema", "json_schema": fmt}
    return {**out, **spec.params, **spec.extra_body}


def line(custom_id: str, url: str, body: bytes) -> bytes:
    """One line of a batch input file (B.4); the custom_id is JSON-escaped, whatever it holds."""
    head = b'{"custom_id":' + orjson.dumps(custom_id) + b',"method":"POST","url":'
    return head + orjson.dumps(url) + b',"body":' + body + b"}"


def reply(endpoint: str, body: dict[str, Any]) -> Reply:
    """Read a chat completion, a Responses response, a legacy completion or an embeddings list.

    The body's own `object` decides when it names one; the endpoint otherwise. A line read with
    another endpoint in mind (`steps.openai_parse` defaults to chat) is still read as what it is.
    """
    read_as = _OBJECT_ENDPOINT.get(str(body.get("object")), endpoint)
    usage = body.get("usage") or {}
    if read_as == ENDPOINTS["embeddings"]:
        items = sorted(body["data"], key=lambda d: d["index"])
        vectors = [_vector(d.get("embedding")) for d in items]
        return Reply(data=vectors, input_tokens=usage.get("prompt_tokens"), output_tokens=0)
    if read_as == ENDPOINTS["responses"]:
        return _reply_from_responses(body, usage)
    choice = body["choices"][0]
    finish = choice.get("finish_reason")
    if read_as == COMPLETIONS_ENDPOINT:
        text, refusal = choice.get("text"), None
    else:
        message = choice.get("message") or {}
        calls = message.get("tool_calls")
        text = message.get("content") if not calls else calls[0]["function"]["arguments"]
        refusal = message.get("refusal")
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    # positional (text, data, refusal, stop, input, output, cache read, cache write, cut,
    # filtered): per row of collect, and a third cheaper than keywords
    return Reply(
        text, None, refusal, finish, usage.get("prompt_tokens"), usage.get("completion_tokens"),
        cached, None, finish == "length", finish == "content_filter",
    )  # fmt: skip


def succeeded(line: dict[str, Any]) -> dict[str, Any] | None:
    """The body of a plainly successful output line (HTTP 200, no error), else None: what
    `openai_batch.parse_output_line` reads as ``succeeded``, without its normalising."""
    response = line.get("response")
    if type(response) is dict and response.get("status_code") == 200:
        body = response.get("body")
        if type(body) is dict and line.get("error") is None:
            return body
    return None


_S, _I = pa.string(), pa.int64()
_MESSAGE = pa.struct([("content", _S), ("refusal", _S), ("tool_calls", pa.list_(pa.struct([])))])
_USAGE = pa.struct(
    [("prompt_tokens", _I), ("completion_tokens", _I),
     ("prompt_tokens_details", pa.struct([("cached_tokens", _I)]))]
)  # fmt: skip
_BODY = pa.struct(
    [("object", _S), ("usage", _USAGE),
     ("choices", pa.list_(pa.struct([("finish_reason", _S), ("message", _MESSAGE)])))]
)  # fmt: skip
# a chat completion's output line, as much of it as `reply` reads (tool calls: line by line)
_PLAIN_CHAT = pa.schema(
    [("custom_id", _S), ("error", pa.struct([])),
     ("response", pa.struct([("status_code", _I), ("body", _BODY)]))]
)  # fmt: skip
_NOT_CHAT = (ENDPOINTS["responses"], ENDPOINTS["embeddings"], COMPLETIONS_ENDPOINT)


def _reads_chat(endpoint: str) -> bool:
    return endpoint not in _NOT_CHAT


def _plain_chat(table: pa.RecordBatch, endpoint: str) -> tuple[pa.Array, ReplyColumns]:
    """`succeeded` and `reply` of every line at once, for the plain chat completions: HTTP
    200, no error, read as chat (by `object`, else the endpoint), a first choice, no tool
    call (`result_columns.Columnar`)."""
    response, body = table.column("response"), field(table.column("response"), "body")
    kind = field(body, "object")
    chat = yes(pc.equal(kind, "chat.completion"))
    if _reads_chat(endpoint):  # an object we do not know (or none) is read by the endpoint
        chat = pc.or_(chat, pc.invert(yes(pc.is_in(kind, pa.array(list(_OBJECT_ENDPOINT))))))
    choice, has_choice = first_item(field(body, "choices"))
    message = field(choice, "message")
    no_calls = pc.fill_null(pc.equal(pc.list_value_length(field(message, "tool_calls")), 0), True)
    plain = all_of(
        yes(pc.equal(field(response, "status_code"), 200)),
        pc.is_valid(body),
        pc.is_null(table.column("error")),
        pc.is_valid(table.column("custom_id")),
        chat,
        has_choice,
        pc.is_valid(choice),
        no_calls,
    )
    finish, usage = field(choice, "finish_reason"), field(body, "usage")
    return plain, ReplyColumns(
        field(message, "content"),
        field(message, "refusal"),
        finish,
        field(usage, "prompt_tokens"),
        field(usage, "completion_tokens"),
        field(usage, "prompt_tokens_details", "cached_tokens"),
        pa.nulls(len(table), _I),
        yes(pc.equal(finish, "length")),
        yes(pc.equal(finish, "content_filter")),
    )


COLUMNAR = Columnar(schema=_PLAIN_CHAT, read=_plain_chat, applies=_reads_chat)


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


def realtime_path(endpoint: str) -> str:
    """The realtime route of a batch endpoint, under the base URL (which ends in ``/v1``)."""
    return endpoint.removeprefix("/v1")


def request(line: dict[str, Any]) -> tuple[str, Any]:
    """``(custom_id, body)`` of one batch input line."""
    return str(line["custom_id"]), line["body"]


def result_line(custom_id: str, status: int, body: Any, message: str) -> bytes:
    """A realtime answer as a batch output/error-file line (B.6): the HTTP status and body, or
    (status 0: no HTTP answer at all) a line-level error."""
    if status == 0:
        error = {"code": "connection_error", "message": message}
        return orjson.dumps({"custom_id": custom_id, "response": None, "error": error})
    if not isinstance(body, dict):
        body = {"error": {"message": message, "type": "api_error", "param": None, "code": None}}
    response = {"status_code": status, "request_id": None, "body": body}
    return orjson.dumps({"custom_id": custom_id, "response": response, "error": None})


WIRE = Wire(
    name="openai",
    default_models={
        "embed": "text-embedding-3-small",
        "complete": "gpt-4.1-mini",
        "classify": "gpt-4.1-mini",
    },
    max_temperature=2.0,
    structured=("output_config",),
    endpoint=endpoint,
    schema=wire_schema,
    body=body,
    line=line,
    reply=reply,
    succeeded=succeeded,
    realtime_path=realtime_path,
    request=request,
    result_line=result_line,
    cache_columns=(".cache_read_tokens",),
    columnar=COLUMNAR,
)
