"""The official openai and anthropic SDKs call the emulator's realtime routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from jsonschema import Draft202012Validator

from llmbatch.emulator import Emulator

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative"]},
        "score": {"type": "number"},
    },
    "required": ["label", "score"],
    "additionalProperties": False,
}
USER: Any = [{"role": "user", "content": "Review: great product, would buy again."}]
CLAUDE = "claude-haiku-4-5"


@pytest.fixture
def oai(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test", base_url=emu.openai_base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def claude(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="test", base_url=emu.anthropic_base_url, max_retries=0) as sdk:
        yield sdk


def test_chat_completion(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.choices[0].message.content or "").startswith("[synthetic] Review")
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_chat_completion_with_a_json_schema(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "review", "schema": SCHEMA, "strict": True},
        },
    )
    answer = json.loads(completion.choices[0].message.content or "")
    Draft202012Validator(SCHEMA).validate(answer)


def test_responses(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="gpt-4o-mini", input="Say hello in French")
    assert response.status == "completed"
    assert response.output_text.startswith("[synthetic] Say hello in French")


def test_embeddings_with_several_inputs_and_dimensions(oai: openai.OpenAI) -> None:
    result = oai.embeddings.create(
        model="text-embedding-3-small", input=["one", "two", "three"], dimensions=16
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == 16 for item in result.data)
    assert result.data[0].embedding != result.data[1].embedding
    again = oai.embeddings.create(model="text-embedding-3-small", input="two", dimensions=16)
    assert again.data[0].embedding == result.data[1].embedding


def test_openai_bad_request_and_unknown_model(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER,
            extra_body={"frobnicate": True},
        )
    assert bad.value.message.endswith("Unrecognized request argument supplied: frobnicate")
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="gpt-9", messages=USER)
    assert missing.value.code == "model_not_found"


def test_openai_rate_limit_from_the_rpm_knob(emu: Emulator, oai: openai.OpenAI) -> None:
    emu.configure(realtime_rpm=1)
    oai.embeddings.create(model="text-embedding-3-small", input="a")
    with pytest.raises(openai.RateLimitError) as limited:
        oai.embeddings.create(model="text-embedding-3-small", input="b")
    assert limited.value.code == "rate_limit_exceeded"
    assert int(limited.value.response.headers["retry-after"]) >= 1
    emu.advance(60)
    assert oai.embeddings.create(model="text-embedding-3-small", input="b").data


def test_openai_injected_server_error(emu: Emulator, oai: openai.OpenAI) -> None:
    emu.configure(request_error_rate=1.0)
    with pytest.raises(openai.InternalServerError):
        oai.responses.create(model="gpt-4o-mini", input="hi")


def test_message(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model=CLAUDE, max_tokens=128, messages=USER)
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude-haiku-4-5-20251001"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("[synthetic] Review")
    assert message.usage.input_tokens > 0


def test_message_with_a_forced_tool(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=CLAUDE,
        max_tokens=256,
        messages=USER,
        tools=[{"name": "record", "description": "Record it.", "input_schema": SCHEMA}],
        tool_choice={"type": "tool", "name": "record"},
    )
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "record"
    Draft202012Validator(SCHEMA).validate(block.input)


def test_message_with_output_config(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=CLAUDE,
        max_tokens=256,
        messages=USER,
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    assert message.content[0].type == "text"
    Draft202012Validator(SCHEMA).validate(json.loads(message.content[0].text))


def test_anthropic_bad_request(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(
            model="claude-3-haiku-20240307",  # output cap 4096
            max_tokens=8_000,  # the SDK itself refuses non-streaming calls past ~21k
            messages=USER,
        )
    assert "maximum allowed number of output tokens" in bad.value.message
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="claude-x", max_tokens=8, messages=USER)


def test_anthropic_rate_limit_and_overload(emu: Emulator, claude: anthropic.Anthropic) -> None:
    emu.configure(realtime_rpm=1)
    claude.messages.create(model=CLAUDE, max_tokens=8, messages=USER)
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model=CLAUDE, max_tokens=8, messages=USER)
    emu.advance(60)
    emu.configure(request_error_rate=1.0, request_error_type="overloaded_error")
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(model=CLAUDE, max_tokens=8, messages=USER)
    assert overloaded.value.status_code == 529


def test_the_sdk_retries_through_a_429_fault(emu: Emulator) -> None:
    emu.add_fault(kind="429", route="POST /v1/messages", calls=[1], retry_after=0.01)
    with anthropic.Anthropic(api_key="t", base_url=emu.url, max_retries=1) as sdk:
        sdk.messages.create(model=CLAUDE, max_tokens=8, messages=USER)
    assert [entry["status"] for entry in emu.request_log] == [429, 200]
