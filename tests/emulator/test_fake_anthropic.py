"""The synthetic model's Anthropic Messages answers: shapes, caching, validation."""

from __future__ import annotations

import re

import orjson
import pytest
from anthropic.types import Message
from jsonschema import Draft202012Validator

from llmbatch.emulator.fake_model import anthropic_answer, estimate_tokens

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": ["number", "null"]},
        "topics": {"type": "array", "items": {"type": "string"}},
        "author": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "required": ["label", "confidence", "topics", "author"],
    "additionalProperties": False,
}
REVIEW = "Review: great product, would buy again. Battery life could be better though."
LONG_CONTEXT = "Shared instructions for every request in the batch. " * 60


def params(content: object = REVIEW, **extra: object) -> dict:
    messages = [{"role": "user", "content": content}]
    return {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": messages, **extra}


def succeeded(request: dict, salt: str = "") -> dict:
    kind, message = anthropic_answer(request, salt=salt)
    assert kind == "succeeded", message
    Message.model_validate(message)
    return message


def errored(request: object) -> str:
    kind, payload = anthropic_answer(request)  # type: ignore[arg-type]
    assert kind == "errored"
    assert payload["type"] == "error"
    assert payload["request_id"] is None
    assert payload["error"]["type"] == "invalid_request_error"
    return payload["error"]["message"]


def structured(schema: dict = SCHEMA) -> dict:
    return {"format": {"type": "json_schema", "schema": schema}}


def test_message_shape() -> None:
    message = succeeded(params())
    assert re.fullmatch(r"msg_01[0-9A-Za-z]{22}", message["id"])
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-haiku-4-5-20251001"
    (block,) = message["content"]
    assert block["type"] == "text"
    assert block["text"].startswith("[synthetic] Review: great product,")
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert message["usage"] == {
        "input_tokens": estimate_tokens(REVIEW),
        "output_tokens": estimate_tokens(block["text"]),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": None,
        "service_tier": "batch",
    }


def test_determinism_and_salt() -> None:
    first = succeeded(params())
    assert succeeded(params()) == first
    salted = succeeded(params(), salt="row-1")
    assert salted["id"] != first["id"]
    assert salted["content"] == first["content"]
    assert succeeded(params(metadata={"user_id": "u"}))["content"] == first["content"]
    other = succeeded(params(REVIEW + " Shipping was slow."))
    assert other["content"] != first["content"]


def test_unknown_models_blocks_and_system_forms() -> None:
    blocks = [{"type": "text", "text": "Hello"}, {"type": "image", "source": {"type": "base64"}}]
    message = succeeded({**params(blocks), "model": "claude-future-9", "system": "Be kind."})
    assert message["model"] == "claude-future-9"
    assert message["content"][0]["text"].startswith("[synthetic] Hello [")
    system = [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]
    assert succeeded(params(system=system))["usage"]["input_tokens"] == (
        estimate_tokens("Part one.") + estimate_tokens("Part two.") + estimate_tokens(REVIEW)
    )


def test_conversation_takes_the_last_user_message() -> None:
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}]},
    ]
    message = succeeded({"model": "m", "max_tokens": 64, "messages": messages})
    assert message["content"][0]["text"].startswith("[synthetic] 42 [")


def test_max_tokens_truncation() -> None:
    message = succeeded(params(max_tokens=3))
    assert message["stop_reason"] == "max_tokens"
    assert message["content"][0]["text"] == "[synthetic] "
    assert message["usage"]["output_tokens"] == 3


def test_stop_sequences() -> None:
    message = succeeded(params(stop_sequences=["product"]))
    assert message["stop_reason"] == "stop_sequence"
    assert message["stop_sequence"] == "product"
    assert message["content"][0]["text"] == "[synthetic] Review: great "


def test_structured_output_conforms() -> None:
    check = Draft202012Validator(SCHEMA)
    labels = set()
    for n in range(20):
        message = succeeded(params(f"{n}. {REVIEW}", output_config=structured()))
        (block,) = message["content"]
        value = orjson.loads(block["text"])
        check.validate(value)
        assert list(value) == ["label", "confidence", "topics", "author"]
        labels.add(value["label"])
    assert len(labels) > 1


def test_legacy_output_format_is_understood() -> None:
    message = succeeded(params(output_format={"type": "json_schema", "schema": SCHEMA}))
    Draft202012Validator(SCHEMA).validate(orjson.loads(message["content"][0]["text"]))


def test_structured_output_cut_by_max_tokens_is_invalid_json() -> None:
    message = succeeded(params(output_config=structured(), max_tokens=4))
    assert message["stop_reason"] == "max_tokens"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(message["content"][0]["text"])


def test_markers_in_structured_output() -> None:
    bad = succeeded(params("[[bad_json]]", output_config=structured()))
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad["content"][0]["text"])
    wrong = succeeded(params("[[bad_schema]]", output_config=structured()))
    assert not Draft202012Validator(SCHEMA).is_valid(orjson.loads(wrong["content"][0]["text"]))


def test_refusal_marker() -> None:
    message = succeeded(params("Please [[refuse]]", output_config=structured()))
    assert message["stop_reason"] == "refusal"
    assert message["content"] == [{"type": "text", "text": "I'm sorry, I can't help with that."}]


def tool(name: str, schema: dict = SCHEMA, **extra: object) -> dict:
    return {"name": name, "description": "Record it.", "input_schema": schema, **extra}


def test_forced_tool_use() -> None:
    request = params(
        tools=[tool("other"), tool("record", strict=True)],
        tool_choice={"type": "tool", "name": "record"},
    )
    message = succeeded(request)
    assert message["stop_reason"] == "tool_use"
    (block,) = message["content"]
    assert block["type"] == "tool_use"
    assert re.fullmatch(r"toolu_01[0-9A-Za-z]{22}", block["id"])
    assert block["name"] == "record"
    Draft202012Validator(SCHEMA).validate(block["input"])
    assert message["usage"]["output_tokens"] == estimate_tokens(block["input"])


def test_any_tool_choice_auto_and_server_tools() -> None:
    request = params(tools=[tool("a"), tool("b")], tool_choice={"type": "any"})
    assert succeeded(request)["content"][0]["name"] in ("a", "b")
    auto = succeeded(params(tools=[tool("a"), {"type": "web_search_20250305", "name": "w"}]))
    assert auto["stop_reason"] == "end_turn"


def test_tool_use_markers_and_truncation() -> None:
    choice = {"type": "tool", "name": "record"}
    for marker in ("[[bad_json]]", "[[bad_schema]]"):
        block = succeeded(params(marker, tools=[tool("record")], tool_choice=choice))["content"][0]
        assert not Draft202012Validator(SCHEMA).is_valid(block["input"])
    cut = succeeded(params(tools=[tool("record")], tool_choice=choice, max_tokens=2))
    assert cut["stop_reason"] == "max_tokens"
    assert cut["content"][0]["input"] == {}
    assert cut["usage"]["output_tokens"] == 2


def test_extended_thinking_comes_first() -> None:
    message = succeeded(
        params(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
    )
    thinking, text = message["content"]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"].startswith("[synthetic reasoning]")
    assert thinking["signature"]
    assert text["type"] == "text"
    spent = estimate_tokens(thinking["thinking"]) + estimate_tokens(text["text"])
    assert message["usage"]["output_tokens"] == spent


def cached_system(ttl: str | None = None) -> list[dict]:
    mark = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [
        {"type": "text", "text": LONG_CONTEXT, "cache_control": mark},
        {"type": "text", "text": "Uncached tail of the system prompt."},
    ]


def test_cache_tokens_read_or_written_for_the_marked_prefix() -> None:
    prefix = estimate_tokens(LONG_CONTEXT)
    reads = writes = 0
    for n in range(24):
        usage = succeeded(params(f"{n}. {REVIEW}", system=cached_system()))["usage"]
        rest = estimate_tokens("Uncached tail of the system prompt.") + estimate_tokens(
            f"{n}. {REVIEW}"
        )
        assert usage["input_tokens"] == rest
        if usage["cache_read_input_tokens"]:
            assert usage["cache_read_input_tokens"] == prefix
            assert usage["cache_creation_input_tokens"] == 0
            reads += 1
        else:
            assert usage["cache_creation_input_tokens"] == prefix
            assert usage["cache_creation"]["ephemeral_5m_input_tokens"] == prefix
            assert usage["cache_creation"]["ephemeral_1h_input_tokens"] == 0
            writes += 1
    assert reads > writes > 0


def test_cache_ttl_one_hour() -> None:
    writes = []
    for n in range(24):
        usage = succeeded(params(f"{n}", system=cached_system("1h")))["usage"]
        if usage["cache_creation_input_tokens"]:
            writes.append(usage["cache_creation"])
    assert writes
    for creation in writes:
        assert creation["ephemeral_5m_input_tokens"] == 0
        assert creation["ephemeral_1h_input_tokens"] > 0


def test_cache_breakpoints_in_tools_messages_and_top_level() -> None:
    marked_tool = tool("t", cache_control={"type": "ephemeral"})
    usage = succeeded(params(tools=[marked_tool]))["usage"]
    cached = usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    tool_body = {k: v for k, v in marked_tool.items() if k != "cache_control"}
    assert cached == estimate_tokens(tool_body)
    blocks = [
        {"type": "text", "text": LONG_CONTEXT, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "question"},
    ]
    usage = succeeded(params(blocks))["usage"]
    assert usage["input_tokens"] == estimate_tokens("question")
    automatic = succeeded(params(cache_control={"type": "ephemeral"}))["usage"]
    assert automatic["input_tokens"] == 0
    total = automatic["cache_read_input_tokens"] + automatic["cache_creation_input_tokens"]
    assert total == estimate_tokens(REVIEW)


SYSTEM_ROLE = (
    'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
    'parameter, not "system" as an input message role.'
)
EMPTY = "all messages must have non-empty content except for the optional final assistant message"
OPEN = {"type": "object", "properties": {"x": {"type": "string"}}}
BOUNDED_NUMBER = {"type": "number", "maximum": 1, "minimum": 0}
BOUNDED_STRING = {"type": "string", "maxLength": 5, "minLength": 1}
MANY_OPTIONAL = {
    "type": "object",
    "properties": {f"p{i}": {"type": "string"} for i in range(25)},
    "additionalProperties": False,
}
M5 = {"model": "m", "max_tokens": 5}


def closed(**properties: object) -> dict:
    """A closed object schema (every property required, nothing else allowed)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ("not a dict", "params: Input should be a valid dictionary"),
        ({"max_tokens": 5, "messages": []}, "model: Field required"),
        ({**params(), "model": 7}, "model: Input should be a valid string"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]},
         "max_tokens: Field required"),
        (params(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (params(max_tokens="9"), "max_tokens: Input should be a valid integer"),
        ({"model": "m", "max_tokens": 5}, "messages: Field required"),
        ({**M5, "messages": []}, "messages: at least one message is required"),
        ({**M5, "messages": "hi"}, "messages: Input should be a valid list"),
        ({**M5, "messages": ["hi"]}, "messages.0: Input should be a valid dictionary"),
        ({**M5, "messages": [{"content": "x"}]}, "messages.0.role: Field required"),
        ({**M5, "messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({**M5, "messages": [{"role": "system", "content": "x"}]}, SYSTEM_ROLE),
        (
            {**M5, "messages": [{"role": "bot", "content": "x"}]},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            {**M5, "messages": [{"role": "user", "content": 3}]},
            "messages.0.content: Input should be a valid list",
        ),
        ({**M5, "messages": [{"role": "user", "content": ""}]}, f"messages.0: {EMPTY}"),
        (params(temperature=1.5), "temperature: Input should be less than or equal to 1"),
        (params(temperature=-0.1), "temperature: Input should be greater than or equal to 0"),
        (params(temperature="warm"), "temperature: Input should be a valid number"),
        (params(system=5), "system: Input should be a valid string"),
        (params(thinking={"type": "enabled"}), "thinking.enabled.budget_tokens: Field required"),
        (
            params(thinking={"type": "enabled", "budget_tokens": 512}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            params(thinking={"type": "enabled", "budget_tokens": 2048}),
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            "#max-tokens-and-context-window-size",
        ),
        (params(tools="x"), "tools: Input should be a valid list"),
        (params(tools=["x"]), "tools.0: Input should be a valid dictionary"),
        (params(tools=[{"input_schema": SCHEMA}]), "tools.0.custom.name: Field required"),
        (params(tools=[{"name": "t"}]), "tools.0.custom.input_schema: Field required"),
        (
            params(tools=[tool("t", OPEN, strict=True)]),
            "tools.0.custom.input_schema: For 'object' type, 'additionalProperties' must be "
            "explicitly set to false",
        ),
        (
            params(tools=[tool("t")], tool_choice={"type": "sometimes"}),
            "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', "
            "'tool', 'none'",
        ),
        (
            params(tool_choice={"type": "any"}),
            "tool_choice: tool_choice may only be specified while providing tools",
        ),
        (
            params(tools=[tool("t")], tool_choice={"type": "tool", "name": "u"}),
            "tool_choice.name: Tool 'u' not found in the provided tools",
        ),
        (
            params(
                max_tokens=4096,
                thinking={"type": "enabled", "budget_tokens": 2048},
                tools=[tool("t")],
                tool_choice={"type": "tool", "name": "t"},
            ),
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        (params(output_config={"format": {"type": "json"}}),
         "output_config.format.type: Input should be 'json_schema'"),
        (params(output_config={"format": {"type": "json_schema"}}),
         "output_config.format.schema: Field required"),
        (
            params(output_config=structured(OPEN)),
            "output_config.format.schema: For 'object' type, 'additionalProperties' must be "
            "explicitly set to false",
        ),
        (
            params(output_config=structured(closed(n={"type": "integer", "minimum": 1}))),
            "output_config.format.schema: For 'integer' type, property 'minimum' is not supported",
        ),
        (
            params(output_config=structured(closed(s=BOUNDED_STRING))),
            "output_config.format.schema: For 'string' type, properties maxLength, minLength are "
            "not supported",
        ),
        (
            params(output_config=structured(closed(a={"type": "array", "minItems": 3}))),
            "output_config.format.schema: For 'array' type, 'minItems' values other than 0 or 1 "
            "are not supported",
        ),
        (
            params(output_format={"type": "json_schema", "schema": closed(n=BOUNDED_NUMBER)}),
            "output_format.schema: For 'number' type, properties maximum, minimum are not "
            "supported",
        ),
        (
            params(output_config=structured(MANY_OPTIONAL)),
            "Schemas contains too many optional parameters (25), which would make grammar "
            "compilation inefficient. Reduce the number of optional parameters in your tool "
            "schemas (limit: 24).",
        ),
    ],
)  # fmt: skip
def test_validation_errors(request_: object, message: str) -> None:
    assert errored(request_) == message


def test_final_assistant_prefill_may_be_empty_and_thinking_may_be_disabled() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]
    succeeded({"model": "m", "max_tokens": 50, "messages": messages})
    request = params(
        tools=[tool("t")],
        tool_choice={"type": "tool", "name": "t"},
        thinking={"type": "disabled"},
    )
    assert succeeded(request)["stop_reason"] == "tool_use"
