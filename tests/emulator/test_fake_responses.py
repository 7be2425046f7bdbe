"""The synthetic model's Responses, legacy completions and moderations answers."""

from __future__ import annotations

import re

import orjson
import pytest
from jsonschema import Draft202012Validator
from openai.types import Completion, ModerationCreateResponse
from openai.types.responses import Response

from llmbatch.emulator.fake_model import estimate_tokens, openai_answer

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "score": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    },
    "required": ["label", "score"],
    "additionalProperties": False,
}
OPEN_OBJECT = {"type": "object", "properties": {"x": {"type": "string"}}}
REVIEW = "Review: great product, would buy again. Battery life could be better though."
MISSING = "Missing required parameter: '{}'."
MISSING_CODE = "missing_required_parameter"


def ok(url: str, body: dict) -> dict:
    status, answer = openai_answer(url, body)
    assert status == 200, answer
    return answer


def error(url: str, body: dict) -> dict:
    status, answer = openai_answer(url, body)
    assert status == 400, answer
    assert set(answer["error"]) == {"message", "type", "param", "code"}
    return answer["error"]


# --- responses ------------------------------------------------------------------------------


def responses(value: object = REVIEW, **extra: object) -> dict:
    return {"model": "gpt-4.1-mini", "input": value, **extra}


def text_format(schema: dict = SCHEMA, **extra: object) -> dict:
    return {"format": {"type": "json_schema", "name": "review", "schema": schema, **extra}}


def test_response_shape() -> None:
    answer = ok("/v1/responses", responses(instructions="Be brief.", metadata={"k": "v"}))
    parsed = Response.model_validate(answer)
    assert re.fullmatch(r"resp_[0-9a-f]{48}", parsed.id)
    assert answer["object"] == "response"
    assert answer["status"] == "completed"
    assert answer["error"] is None
    assert answer["incomplete_details"] is None
    assert answer["instructions"] == "Be brief."
    assert answer["metadata"] == {"k": "v"}
    assert answer["model"] == "gpt-4.1-mini-2025-04-14"
    (item,) = answer["output"]
    assert item["type"] == "message"
    assert re.fullmatch(r"msg_[0-9a-f]{48}", item["id"])
    assert item["status"] == "completed"
    assert item["role"] == "assistant"
    (part,) = item["content"]
    assert part["type"] == "output_text"
    assert part["annotations"] == []
    assert part["logprobs"] == []
    assert part["text"] == parsed.output_text
    assert part["text"].startswith("[synthetic] Review:")
    usage = answer["usage"]
    assert usage["input_tokens"] == estimate_tokens("Be brief.\n" + REVIEW)
    assert usage["output_tokens"] == estimate_tokens(part["text"])
    assert usage["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    for key in ("max_output_tokens", "previous_response_id", "text", "tools", "tool_choice"):
        assert key in answer


def test_response_message_list_input() -> None:
    items = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "input_text", "text": "What is 2+2?"}]},
        {"type": "function_call_output", "call_id": "c", "output": "4"},
    ]
    answer = ok("/v1/responses", responses(items))
    assert answer["output"][0]["content"][0]["text"].startswith("[synthetic] What is 2+2? [")


def test_response_structured_output() -> None:
    answer = ok("/v1/responses", responses(text=text_format(strict=True)))
    Response.model_validate(answer)
    Draft202012Validator(SCHEMA).validate(orjson.loads(answer["output"][0]["content"][0]["text"]))
    assert answer["text"]["format"]["name"] == "review"


def test_response_truncation_is_incomplete() -> None:
    wide = {
        "type": "object",
        "properties": {f"field_{n}": {"type": "string"} for n in range(8)},
        "required": [f"field_{n}" for n in range(8)],
        "additionalProperties": False,
    }
    answer = ok("/v1/responses", responses(text=text_format(wide), max_output_tokens=16))
    Response.model_validate(answer)
    assert answer["status"] == "incomplete"
    assert answer["incomplete_details"] == {"reason": "max_output_tokens"}
    assert answer["output"][0]["status"] == "incomplete"
    assert answer["usage"]["output_tokens"] == 16


def test_response_reasoning_model() -> None:
    answer = ok("/v1/responses", {"model": "o3", "input": REVIEW})
    Response.model_validate(answer)
    assert [item["type"] for item in answer["output"]] == ["reasoning", "message"]
    assert answer["reasoning"]["effort"] == "medium"
    reasoning = answer["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert reasoning > 0
    starved = ok("/v1/responses", {"model": "o3", "input": REVIEW, "max_output_tokens": 16})
    assert starved["status"] == "incomplete"
    assert [item["type"] for item in starved["output"]] == ["reasoning"]


def test_response_refusal_and_function_call() -> None:
    refused = ok("/v1/responses", responses("[[refuse]]"))
    Response.model_validate(refused)
    assert refused["output"][0]["content"] == [
        {"type": "refusal", "refusal": "I'm sorry, I can't help with that."}
    ]
    tools = [{"type": "function", "name": "record", "parameters": SCHEMA, "strict": True}]
    body = responses(tools=tools, tool_choice={"type": "function", "name": "record"})
    answer = ok("/v1/responses", body)
    Response.model_validate(answer)
    (call,) = answer["output"]
    assert call["type"] == "function_call"
    assert re.fullmatch(r"fc_[0-9a-f]{48}", call["id"])
    assert call["name"] == "record"
    Draft202012Validator(SCHEMA).validate(orjson.loads(call["arguments"]))


@pytest.mark.parametrize(
    ("body", "message", "param", "code"),
    [
        ({"input": "x"}, MISSING.format("model"), "model", MISSING_CODE),
        ({"model": "gpt-4.1"}, MISSING.format("input"), "input", MISSING_CODE),
        (
            responses(7),
            "Invalid type for 'input': expected a string or an array of input items, but got an "
            "integer instead.",
            "input",
            "invalid_type",
        ),
        (
            responses([{"role": "robot", "content": "x"}]),
            "Invalid value: 'robot'. Supported values are: 'assistant', 'system', 'developer', "
            "and 'user'.",
            "input[0].role",
            "invalid_value",
        ),
        (
            responses([{"content": "x"}]),
            "Missing required parameter: 'input[0].role'.",
            "input[0].role",
            "missing_required_parameter",
        ),
        (
            responses(max_output_tokens=5),
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
            "but got 5 instead.",
            "max_output_tokens",
            "integer_below_min_value",
        ),
        (
            {"model": "gpt-5", "input": "x", "temperature": 0.5},
            "Unsupported parameter: 'temperature' is not supported with this model.",
            "temperature",
            "unsupported_parameter",
        ),
        (
            responses(text={"format": {"type": "json_object"}}),
            "Response input messages must contain the word 'json' in some form to use "
            "'text.format' of type 'json_object'.",
            "input",
            None,
        ),
        (
            responses(text={"format": {"type": "json_schema", "schema": SCHEMA}}),
            "Missing required parameter: 'text.format.name'.",
            "text.format.name",
            "missing_required_parameter",
        ),
        (
            responses(text=text_format(OPEN_OBJECT, strict=True)),
            "Invalid schema for response_format 'review': In context=(), 'additionalProperties' "
            "is required to be supplied and to be false.",
            "text.format.schema",
            "invalid_json_schema",
        ),
        (
            responses(tools=[{"type": "function", "name": "f", "parameters": OPEN_OBJECT,
                              "strict": True}]),
            "Invalid schema for function 'f': In context=(), 'additionalProperties' is required "
            "to be supplied and to be false.",
            "tools[0].parameters",
            "invalid_function_parameters",
        ),
    ],
)  # fmt: skip
def test_response_errors(body: dict, message: str, param: str | None, code: str | None) -> None:
    assert error("/v1/responses", body) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


def test_response_json_object_and_builtin_tools() -> None:
    body = responses("reply in json please", text={"format": {"type": "json_object"}})
    text = ok("/v1/responses", body)["output"][0]["content"][0]["text"]
    assert "answer" in orjson.loads(text)
    search = ok("/v1/responses", responses(tools=[{"type": "web_search"}]))
    assert search["output"][0]["type"] == "message"


# --- completions and moderations ------------------------------------------------------------


def test_completion_shape_and_default_limit() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time, far away, " * 3}
    answer = ok("/v1/completions", body)
    Completion.model_validate(answer)
    assert re.fullmatch(r"cmpl-[0-9A-Za-z]{29}", answer["id"])
    assert answer["object"] == "text_completion"
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "length"  # max_tokens defaults to 16
    assert len(choice["text"]) == 64
    assert answer["usage"]["completion_tokens"] == 16
    roomy = ok("/v1/completions", {**body, "max_tokens": 200})
    assert roomy["choices"][0]["finish_reason"] == "stop"


def test_completion_prompt_lists_echo_and_tokens() -> None:
    body = {"model": "davinci-002", "prompt": ["a", "b"], "n": 2, "max_tokens": 100}
    answer = ok("/v1/completions", body)
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2, 3]
    echoed = ok("/v1/completions", {"model": "m", "prompt": "Hi", "echo": True, "max_tokens": 50})
    assert echoed["choices"][0]["text"].startswith("Hi[synthetic]")
    tokens = ok("/v1/completions", {"model": "m", "prompt": [[1, 2, 3], [4]], "max_tokens": 50})
    assert tokens["usage"]["prompt_tokens"] == 4
    assert len(tokens["choices"]) == 2


def test_completion_errors() -> None:
    assert error("/v1/completions", {"model": "m"})["param"] == "prompt"
    assert error("/v1/completions", {"prompt": "x"})["message"] == (
        "you must provide a model parameter"
    )
    assert error("/v1/completions", {"model": "m", "prompt": 3})["code"] == "invalid_type"


def test_moderation_shape() -> None:
    answer = ok("/v1/moderations", {"input": ["hello there", "I will [[flag]] this"]})
    parsed = ModerationCreateResponse.model_validate(answer)
    assert answer["model"] == "omni-moderation-latest"
    calm, flagged = parsed.results
    assert not calm.flagged
    assert not any(answer["results"][0]["categories"].values())
    assert max(answer["results"][0]["category_scores"].values()) < 0.01
    assert flagged.flagged
    assert flagged.categories.violence
    assert flagged.category_scores.violence > 0.9
    assert ok("/v1/moderations", {"input": "hello there"})["results"] == [answer["results"][0]]


def test_moderation_multimodal_and_errors() -> None:
    value = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]
    answer = ok("/v1/moderations", {"model": "omni-moderation-latest", "input": value})
    ModerationCreateResponse.model_validate(answer)
    (result,) = answer["results"]
    assert result["category_applied_input_types"]["violence"] == ["text", "image"]
    assert result["category_applied_input_types"]["hate"] == ["text"]
    assert error("/v1/moderations", {})["message"] == "Missing required parameter: 'input'."
    assert error("/v1/moderations", {"input": 5})["code"] == "invalid_type"
