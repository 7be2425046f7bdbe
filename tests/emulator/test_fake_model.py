"""The synthetic model's OpenAI answers: shapes (parsed by the SDK), determinism, validation."""

from __future__ import annotations

import base64
import math
import os
import re
import struct
import subprocess
import sys

import orjson
import pytest
from jsonschema import Draft202012Validator
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion

from llmbatch.emulator import fake_model
from llmbatch.emulator.fake_model import embedding_input_count, estimate_tokens, openai_answer

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "score": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["label", "score", "tags", "stars"],
    "additionalProperties": False,
}
REVIEW = "Review: great product, would buy again. Battery life could be better though."


def chat(content: str = REVIEW, **extra: object) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


def json_schema_format(schema: dict = SCHEMA, strict: bool = True, name: str = "review") -> dict:
    spec = {"name": name, "schema": schema, "strict": strict}
    return {"type": "json_schema", "json_schema": spec}


def ok(url: str, body: dict) -> dict:
    status, answer = openai_answer(url, body)
    assert status == 200, answer
    return answer


def error(url: str, body: dict) -> dict:
    status, answer = openai_answer(url, body)
    assert status == 400, answer
    assert set(answer) == {"error"}
    assert set(answer["error"]) == {"message", "type", "param", "code"}
    assert answer["error"]["type"] == "invalid_request_error"
    return answer["error"]


def norm(vector: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


# --- shared helpers -------------------------------------------------------------------------


def test_estimate_tokens() -> None:
    assert estimate_tokens("hello world") == 3
    assert estimate_tokens("") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens({"a": [1, 2]}) == 3  # {"a":[1,2]} is 11 characters
    assert estimate_tokens(2**70) >= 1


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ({"input": "one"}, 1),
        ({"input": ["a", "b", "c"]}, 3),
        ({"input": [1, 2, 3]}, 1),
        ({"input": [[1, 2], [3]]}, 2),
        ({}, 1),
    ],
)
def test_embedding_input_count(body: dict, count: int) -> None:
    assert embedding_input_count(body) == count


def test_unknown_url_and_bad_body() -> None:
    assert error("/v1/images/generations", {"model": "x"})["code"] == "unknown_url"
    status, _ = openai_answer("/v1/chat/completions", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert status == 400


def test_markers_are_exported() -> None:
    assert fake_model.REFUSE_MARKER == "[[refuse]]"
    assert fake_model.BAD_JSON_MARKER == "[[bad_json]]"
    assert fake_model.BAD_SCHEMA_MARKER == "[[bad_schema]]"
    assert fake_model.FLAG_MARKER == "[[flag]]"


# --- embeddings -----------------------------------------------------------------------------


def embed(value: object, model: str = "text-embedding-3-small", **extra: object) -> dict:
    return ok("/v1/embeddings", {"model": model, "input": value, **extra})


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("text-embedding-3-small", 1536),
        ("text-embedding-3-large", 3072),
        ("text-embedding-ada-002", 1536),
        ("my-local-model", 1536),
    ],
)
def test_embedding_default_dimensions(model: str, size: int) -> None:
    answer = embed("hello", model)
    parsed = CreateEmbeddingResponse.model_validate(answer)
    assert parsed.model == model
    assert len(parsed.data[0].embedding) == size
    assert norm(parsed.data[0].embedding) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("size", [1, 2, 3, 64, 256, 1024, 3072])
def test_embedding_dimensions_are_unit_vectors(size: int) -> None:
    vector = embed("some text", "text-embedding-3-large", dimensions=size)["data"][0]["embedding"]
    assert len(vector) == size
    assert all(isinstance(x, float) for x in vector)
    assert norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_embedding_shape_and_usage() -> None:
    answer = embed(["first text", "second, longer text"])
    assert answer["object"] == "list"
    assert [d["index"] for d in answer["data"]] == [0, 1]
    assert {d["object"] for d in answer["data"]} == {"embedding"}
    tokens = estimate_tokens("first text") + estimate_tokens("second, longer text")
    assert answer["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_same_text_same_vector_in_any_batch() -> None:
    alone = embed("the same text")["data"][0]["embedding"]
    batch = embed(["other", "the same text", "more"])["data"][1]["embedding"]
    assert alone == batch
    assert embed("the same text")["data"][0]["embedding"] == alone


def test_different_texts_and_models_point_elsewhere() -> None:
    a = embed("a cat sat on the mat")["data"][0]["embedding"]
    b = embed("quarterly revenue grew")["data"][0]["embedding"]
    c = embed("a cat sat on the mat", "text-embedding-3-large", dimensions=1536)
    assert abs(cosine(a, b)) < 0.2
    assert abs(cosine(a, c["data"][0]["embedding"])) < 0.2


def test_smaller_dimensions_are_a_renormalised_prefix() -> None:
    full = embed("prefix text", dimensions=1536)["data"][0]["embedding"]
    small = embed("prefix text", dimensions=256)["data"][0]["embedding"]
    assert cosine(full[:256], small) == pytest.approx(1.0, abs=1e-6)


def test_embedding_base64_is_little_endian_float32() -> None:
    floats = embed("encode me", dimensions=8)["data"][0]["embedding"]
    answer = embed("encode me", dimensions=8, encoding_format="base64")
    raw = base64.b64decode(answer["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == floats


def test_embedding_token_inputs() -> None:
    single = embed([1, 2, 3])
    assert len(single["data"]) == 1
    assert single["usage"]["prompt_tokens"] == 3
    several = embed([[1, 2], [3, 4, 5]])
    assert len(several["data"]) == 2
    assert several["data"][0]["embedding"] == embed([1, 2])["data"][0]["embedding"]


INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


@pytest.mark.parametrize(
    ("body", "message", "param", "code"),
    [
        ({"input": "x"}, "you must provide a model parameter", None, None),
        (
            {"model": "text-embedding-3-small"},
            "Missing required parameter: 'input'.",
            "input",
            "missing_required_parameter",
        ),
        ({"model": "text-embedding-3-small", "input": ""}, INVALID_INPUT, None, None),
        ({"model": "text-embedding-3-small", "input": []}, INVALID_INPUT, None, None),
        ({"model": "text-embedding-3-small", "input": ["a", ""]}, INVALID_INPUT, None, None),
        ({"model": "text-embedding-3-small", "input": ["a", 3.5]}, INVALID_INPUT, None, None),
        ({"model": "text-embedding-3-small", "input": [[1], []]}, INVALID_INPUT, None, None),
        ({"model": "text-embedding-3-small", "input": {"a": 1}}, INVALID_INPUT, None, None),
        (
            {"model": "text-embedding-3-small", "input": ["a"] * 2049},
            "Invalid 'input': array too long. Expected an array with maximum length 2048, "
            "but got an array with length 2049 instead.",
            "input",
            "array_above_max_length",
        ),
        (
            {"model": "text-embedding-3-small", "input": "word " * 7000},
            "This model's maximum context length is 8192 tokens, however you requested 8750 "
            "tokens (8750 in your prompt; 0 for the completion). Please reduce your prompt; "
            "or completion length.",
            None,
            None,
        ),
        (
            {"model": "text-embedding-ada-002", "input": "x", "dimensions": 256},
            "This model does not support specifying dimensions.",
            None,
            None,
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "dimensions": 1537},
            "Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, "
            "but got 1537 instead.",
            "dimensions",
            "integer_above_max_value",
        ),
        (
            {"model": "text-embedding-3-large", "input": "x", "dimensions": 0},
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, "
            "but got 0 instead.",
            "dimensions",
            "integer_below_min_value",
        ),
        (
            {"model": "text-embedding-3-large", "input": "x", "dimensions": "256"},
            "Invalid type for 'dimensions': expected an integer, but got '256' instead.",
            "dimensions",
            "invalid_type",
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"},
            "Invalid value: 'int8'. Supported values are: 'float' and 'base64'.",
            "encoding_format",
            "invalid_value",
        ),
    ],
)
def test_embedding_errors(body: dict, message: str, param: str | None, code: str | None) -> None:
    assert error("/v1/embeddings", body) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


def test_unknown_embedding_models_take_any_dimensions_up_to_8192() -> None:
    assert len(embed("x", "bge-m3", dimensions=4096)["data"][0]["embedding"]) == 4096
    assert error("/v1/embeddings", {"model": "bge-m3", "input": "x", "dimensions": 8193})


# --- chat completions -----------------------------------------------------------------------


def test_chat_completion_shape() -> None:
    answer = ok("/v1/chat/completions", chat())
    parsed = ChatCompletion.model_validate(answer)
    assert re.fullmatch(r"chatcmpl-[0-9A-Za-z]{29}", parsed.id)
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "gpt-4o-mini-2024-07-18"
    assert answer["service_tier"] == "default"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", answer["system_fingerprint"])
    choice = answer["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": choice["message"]["content"],
        "refusal": None,
        "annotations": [],
    }
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].startswith("[synthetic] Review: great product,")
    usage = answer["usage"]
    assert usage["prompt_tokens"] == estimate_tokens(REVIEW)
    assert usage["completion_tokens"] == estimate_tokens(choice["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert usage["completion_tokens_details"] == {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }


def test_chat_is_deterministic_and_salt_only_changes_ids() -> None:
    first = ok("/v1/chat/completions", chat())
    assert ok("/v1/chat/completions", chat()) == first
    _, salted = openai_answer("/v1/chat/completions", chat(), salt="row-7", created=1_800_000_000)
    assert salted["id"] != first["id"]
    assert salted["created"] == 1_800_000_000
    assert salted["choices"] == first["choices"]
    other = ok("/v1/chat/completions", chat(REVIEW + " Also: shipping was slow."))
    assert other["choices"][0]["message"]["content"] != first["choices"][0]["message"]["content"]


def test_chat_unknown_models_and_multipart_content() -> None:
    parts = [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": "x"}}]
    body = {"model": "llama-3-8b", "messages": [{"role": "user", "content": parts}]}
    answer = ok("/v1/chat/completions", body)
    assert answer["model"] == "llama-3-8b"
    assert answer["choices"][0]["message"]["content"].startswith("[synthetic] Describe [")


@pytest.mark.parametrize("limit_key", ["max_tokens", "max_completion_tokens"])
def test_chat_truncation(limit_key: str) -> None:
    answer = ok("/v1/chat/completions", chat(**{limit_key: 3}))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "[synthetic] "
    assert answer["usage"]["completion_tokens"] == 3


def test_chat_stop_sequence_cuts_the_text() -> None:
    answer = ok("/v1/chat/completions", chat(stop=["great"]))
    assert answer["choices"][0]["message"]["content"] == "[synthetic] Review: "
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_chat_n_choices_differ() -> None:
    answer = ok("/v1/chat/completions", chat(n=3))
    contents = [c["message"]["content"] for c in answer["choices"]]
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2]
    assert len(set(contents)) == 3
    assert answer["usage"]["completion_tokens"] == sum(estimate_tokens(c) for c in contents)


def test_reasoning_models_spend_hidden_tokens() -> None:
    body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": REVIEW}]}
    answer = ok("/v1/chat/completions", body)
    ChatCompletion.model_validate(answer)
    reasoning = answer["usage"]["completion_tokens_details"]["reasoning_tokens"]
    visible = estimate_tokens(answer["choices"][0]["message"]["content"])
    assert 32 <= reasoning < 128
    assert answer["usage"]["completion_tokens"] == reasoning + visible
    starved = ok("/v1/chat/completions", {**body, "max_completion_tokens": reasoning})
    assert starved["choices"][0]["message"]["content"] == ""
    assert starved["choices"][0]["finish_reason"] == "length"
    minimal = ok("/v1/chat/completions", {**body, "reasoning_effort": "minimal"})
    assert minimal["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_long_prompts_report_cached_tokens_sometimes() -> None:
    cached = []
    for n in range(12):
        answer = ok("/v1/chat/completions", chat(f"{n} " + "long shared context " * 300))
        prompt = answer["usage"]["prompt_tokens"]
        value = answer["usage"]["prompt_tokens_details"]["cached_tokens"]
        assert value in (0, (prompt - 1) // 128 * 128)
        cached.append(value)
    assert 0 in cached
    assert any(cached)


def test_chat_structured_output_conforms() -> None:
    check = Draft202012Validator(SCHEMA)
    labels = set()
    for n in range(20):
        body = chat(f"{n}: {REVIEW}", response_format=json_schema_format())
        content = ok("/v1/chat/completions", body)["choices"][0]["message"]["content"]
        value = orjson.loads(content)
        check.validate(value)
        assert list(value) == ["label", "score", "tags", "stars"]
        labels.add(value["label"])
    assert len(labels) > 1


def test_chat_non_strict_schema_is_not_checked() -> None:
    loose = {"type": "object", "properties": {"x": {"type": "integer"}}}
    body = chat(response_format=json_schema_format(loose, strict=False))
    content = ok("/v1/chat/completions", body)["choices"][0]["message"]["content"]
    Draft202012Validator(loose).validate(orjson.loads(content))


def test_chat_json_object_mode() -> None:
    body = chat("Answer in JSON: " + REVIEW, response_format={"type": "json_object"})
    content = ok("/v1/chat/completions", body)["choices"][0]["message"]["content"]
    assert orjson.loads(content)["answer"].startswith("[synthetic] Answer in JSON:")


def test_chat_refusal_marker() -> None:
    body = chat("Please [[refuse]] this", response_format=json_schema_format())
    answer = ok("/v1/chat/completions", body)
    ChatCompletion.model_validate(answer)
    message = answer["choices"][0]["message"]
    assert message["content"] is None
    assert message["refusal"] == "I'm sorry, I can't help with that."
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_chat_bad_json_and_bad_schema_markers() -> None:
    bad = chat("x [[bad_json]]", response_format=json_schema_format())
    content = ok("/v1/chat/completions", bad)["choices"][0]["message"]["content"]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(content)
    wrong = chat("x [[bad_schema]]", response_format=json_schema_format())
    content = ok("/v1/chat/completions", wrong)["choices"][0]["message"]["content"]
    assert not Draft202012Validator(SCHEMA).is_valid(orjson.loads(content))


def test_structured_output_truncated_by_max_tokens_is_invalid_json() -> None:
    body = chat(response_format=json_schema_format(), max_tokens=5)
    answer = ok("/v1/chat/completions", body)
    assert answer["choices"][0]["finish_reason"] == "length"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer["choices"][0]["message"]["content"])


def tool(name: str, parameters: dict = SCHEMA, **extra: object) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": parameters, **extra}}


def test_forced_tool_call() -> None:
    choice = {"type": "function", "function": {"name": "record"}}
    body = chat(tools=[tool("other", {"type": "object"}), tool("record")], tool_choice=choice)
    answer = ok("/v1/chat/completions", body)
    ChatCompletion.model_validate(answer)
    first = answer["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    assert first["message"]["content"] is None
    (call,) = first["message"]["tool_calls"]
    assert re.fullmatch(r"call_[0-9A-Za-z]{24}", call["id"])
    assert call["type"] == "function"
    assert call["function"]["name"] == "record"
    Draft202012Validator(SCHEMA).validate(orjson.loads(call["function"]["arguments"]))


def test_required_tool_choice_and_auto() -> None:
    body = chat(tools=[tool("a"), tool("b")], tool_choice="required")
    call = ok("/v1/chat/completions", body)["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] in ("a", "b")
    auto = ok("/v1/chat/completions", chat(tools=[tool("a")]))["choices"][0]
    assert auto["finish_reason"] == "stop"
    assert "tool_calls" not in auto["message"]


def test_tool_arguments_with_bad_json_marker() -> None:
    choice = {"type": "function", "function": {"name": "record"}}
    body = chat("[[bad_json]]", tools=[tool("record")], tool_choice=choice)
    call = ok("/v1/chat/completions", body)["choices"][0]["message"]["tool_calls"][0]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(call["function"]["arguments"])


REASONING_MAX_TOKENS = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)
OPEN_OBJECT = {"type": "object", "properties": {"x": {"type": "string"}}}
NO_MODEL = "you must provide a model parameter"
MISSING = "Missing required parameter: '{}'."
MISSING_CODE = "missing_required_parameter"


@pytest.mark.parametrize(
    ("body", "message", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, NO_MODEL, None, None),
        ({"model": "gpt-4o"}, MISSING.format("messages"), "messages", MISSING_CODE),
        (
            {"model": "gpt-4o", "messages": []},
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "messages",
            "empty_array",
        ),
        (
            {"model": "gpt-4o", "messages": "hi"},
            "Invalid type for 'messages': expected an array of objects, but got a string instead.",
            "messages",
            "invalid_type",
        ),
        (
            {"model": "gpt-4o", "messages": ["hi"]},
            "Invalid type for 'messages[0]': expected an object, but got a string instead.",
            "messages[0]",
            "invalid_type",
        ),
        (
            {"model": "gpt-4o", "messages": [{"content": "x"}]},
            "Missing required parameter: 'messages[0].role'.",
            "messages[0].role",
            "missing_required_parameter",
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "bot", "content": "x"}]},
            "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', "
            "'function', 'tool', and 'developer'.",
            "messages[0].role",
            "invalid_value",
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}, {"role": "user"}]},
            "Missing required parameter: 'messages[1].content'.",
            "messages[1].content",
            "missing_required_parameter",
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "tool", "content": "x"}]},
            "Missing required parameter: 'messages[0].tool_call_id'.",
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
        (
            {**chat(), "model": "o3-mini", "max_tokens": 100},
            REASONING_MAX_TOKENS,
            "max_tokens",
            "unsupported_parameter",
        ),
        (
            {**chat(), "model": "gpt-5", "temperature": 0.2},
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the "
            "default (1) value is supported.",
            "temperature",
            "unsupported_value",
        ),
        (
            {**chat(), "model": "o1", "temperature": 0},
            "Unsupported value: 'temperature' does not support 0 with this model. Only the "
            "default (1) value is supported.",
            "temperature",
            "unsupported_value",
        ),
        (
            chat(temperature=2.5),
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got "
            "2.5 instead.",
            "temperature",
            "decimal_above_max_value",
        ),
        (
            chat(temperature=-1),
            "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got "
            "-1 instead.",
            "temperature",
            "decimal_below_min_value",
        ),
        (
            chat(temperature="hot"),
            "Invalid type for 'temperature': expected a decimal, but got a string instead.",
            "temperature",
            "invalid_type",
        ),
        (
            chat(max_tokens=0),
            "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got "
            "0 instead.",
            "max_tokens",
            "integer_below_min_value",
        ),
        (
            chat(max_completion_tokens=1.5),
            "Invalid type for 'max_completion_tokens': expected an integer, but got a decimal "
            "instead.",
            "max_completion_tokens",
            "invalid_type",
        ),
        (
            chat(n=0),
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
            "n",
            "integer_below_min_value",
        ),
        (
            chat(response_format={"type": "xml"}),
            "Invalid value: 'xml'. Supported values are: 'text', 'json_object', and "
            "'json_schema'.",
            "response_format.type",
            "invalid_value",
        ),
        (
            chat(response_format={"type": "json_object"}),
            "'messages' must contain the word 'json' in some form, to use 'response_format' of "
            "type 'json_object'.",
            "messages",
            None,
        ),
        (
            chat(response_format={"type": "json_schema"}),
            "Missing required parameter: 'response_format.json_schema'.",
            "response_format.json_schema",
            "missing_required_parameter",
        ),
        (
            chat(response_format={"type": "json_schema", "json_schema": {"schema": SCHEMA}}),
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
            "missing_required_parameter",
        ),
        (
            chat(response_format=json_schema_format(name="has space")),
            "Invalid 'response_format.json_schema.name': string does not match pattern. "
            "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            "response_format.json_schema.name",
            "invalid_value",
        ),
        (
            chat(response_format=json_schema_format(name="n" * 65)),
            "Invalid 'response_format.json_schema.name': string too long. Expected a string "
            "with maximum length 64, but got a string with length 65 instead.",
            "response_format.json_schema.name",
            "string_above_max_length",
        ),
        (
            chat(response_format=json_schema_format(OPEN_OBJECT, name="Review")),
            "Invalid schema for response_format 'Review': In context=(), 'additionalProperties' "
            "is required to be supplied and to be false.",
            "response_format",
            None,
        ),
        (
            chat(tool_choice="required"),
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
            None,
        ),
        (
            chat(tools=[tool("a")], tool_choice={"type": "function", "function": {"name": "b"}}),
            "Invalid value for 'tool_choice': function 'b' not found in 'tools'.",
            "tool_choice",
            "invalid_value",
        ),
        (
            chat(tools=[tool("get", OPEN_OBJECT, strict=True)]),
            "Invalid schema for function 'get': In context=(), 'additionalProperties' is "
            "required to be supplied and to be false.",
            "tools[0].function.parameters",
            "invalid_function_parameters",
        ),
        (
            chat(tools=[{"type": "function", "function": {"parameters": {}}}]),
            "Missing required parameter: 'tools[0].function.name'.",
            "tools[0].function.name",
            "missing_required_parameter",
        ),
        (
            chat(tools=[{"type": "function"}]),
            "Missing required parameter: 'tools[0].function'.",
            "tools[0].function",
            "missing_required_parameter",
        ),
        (
            chat(tools={"a": 1}),
            "Invalid type for 'tools': expected an array of objects, but got an object instead.",
            "tools",
            "invalid_type",
        ),
    ],
)  # fmt: skip
def test_chat_errors(body: dict, message: str, param: str | None, code: str | None) -> None:
    assert error("/v1/chat/completions", body) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


def test_reasoning_models_accept_default_temperature_and_assistant_tool_calls() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c", "content": "sunny"},
    ]
    body = {"model": "o4-mini", "messages": messages, "temperature": 1}
    assert ok("/v1/chat/completions", body)["model"] == "o4-mini-2025-04-16"


# --- determinism across processes and speed -------------------------------------------------

_PROBE = """
import hashlib, orjson
from llmbatch.emulator.fake_model import anthropic_answer, openai_answer
schema = {"type": "object", "properties": {"a": {"type": ["string", "null"]},
          "b": {"enum": [1, 2, 3]}}, "required": ["a", "b"], "additionalProperties": False}
fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}}
answers = [
    openai_answer("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["x", "y"]}),
    openai_answer("/v1/chat/completions", {"model": "gpt-4o", "response_format": fmt,
                  "messages": [{"role": "user", "content": "hello"}]}),
    anthropic_answer({"model": "claude-haiku-4-5", "max_tokens": 50,
                      "messages": [{"role": "user", "content": "hello"}]}),
]
print(hashlib.sha256(orjson.dumps(answers)).hexdigest())
"""


def test_answers_are_the_same_in_every_process() -> None:
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
        )
        digests.add(run.stdout.strip())
    assert len(digests) == 1
