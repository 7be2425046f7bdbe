"""Per-batch plans (what a request asks apart from its messages) never change an answer.

A plan is memoised by the exact JSON of the request without its messages, so these tests ask
the same bodies with a warm cache, after other bodies, and with a cold cache, and require
the same answers; bodies whose rests differ in any JSON detail must get their own plan.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import struct
from typing import Any

import pytest
from golden_samples import anthropic_cases, openai_cases

from llmbatch.emulator.fake_anthropic_plan import messages_plan
from llmbatch.emulator.fake_chat_plan import chat_format, chat_plan
from llmbatch.emulator.fake_embeddings import unit_vector, vector_bytes
from llmbatch.emulator.fake_model import anthropic_answer, openai_answer
from llmbatch.emulator.fake_text import digest

CHAT = "/v1/chat/completions"
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
    "required": ["label"],
    "additionalProperties": False,
}


def _chat(schema: object = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Classify: the parcel arrived late."}],
        **extra,
    }
    if schema is not None:
        spec = {"name": "c", "schema": schema, "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    return body


def _cold_openai(url: str, body: dict[str, Any], salt: str) -> object:
    chat_plan.cache_clear()
    return openai_answer(url, body, salt=salt)


def _cold_anthropic(params: dict[str, Any], salt: str) -> object:
    messages_plan.cache_clear()
    return anthropic_answer(params, salt=salt)


def test_every_golden_chat_answer_is_the_same_warm_and_cold() -> None:
    cases = [(url, b) for url, bodies in openai_cases().values() for b in bodies if url == CHAT]
    warm = [openai_answer(url, b, salt=f"s{i}") for i, (url, b) in enumerate(cases)]
    again = [openai_answer(url, b, salt=f"s{i}") for i, (url, b) in enumerate(cases)]
    cold = [_cold_openai(url, b, f"s{i}") for i, (url, b) in enumerate(cases)]
    assert warm == again == cold


def test_every_golden_anthropic_answer_is_the_same_warm_and_cold() -> None:
    cases = [params for bodies in anthropic_cases().values() for params in bodies]
    warm = [anthropic_answer(p, salt=f"s{i}") for i, p in enumerate(cases)]
    again = [anthropic_answer(p, salt=f"s{i}") for i, p in enumerate(cases)]
    cold = [_cold_anthropic(p, f"s{i}") for i, p in enumerate(cases)]
    assert warm == again == cold


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"n": 1}, {"n": True}),  # equal in Python, not in JSON: True is refused
        ({"temperature": 1}, {"temperature": 2.5}),  # above 2: refused
        ({"max_tokens": 50}, {"max_completion_tokens": 2}),  # cut: finish "length"
        ({"model": "gpt-4o-mini"}, {"model": "o3-mini"}),
    ],
)
def test_rests_that_differ_in_json_get_their_own_plan(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    body_a, body_b = _chat(SCHEMA, **first), _chat(SCHEMA, **second)
    warm = [openai_answer(CHAT, b, salt="x") for b in (body_a, body_b, body_a)]
    cold = [_cold_openai(CHAT, b, "x") for b in (body_a, body_b, body_a)]
    assert warm == cold
    assert warm[0] != warm[1]


def test_a_plan_never_answers_with_another_schema() -> None:
    other = {**SCHEMA, "properties": {"label": {"type": "string", "enum": ["c", "d"]}}}
    labels = set()
    for seed in range(20):
        for schema in (SCHEMA, other):
            body = _chat(schema)
            body["messages"][0]["content"] += f" #{seed}"
            status, answer = openai_answer(CHAT, body)
            assert status == 200
            label = answer["choices"][0]["message"]["content"]
            labels.add((schema is SCHEMA, label))
    assert {label for mine, label in labels if mine} <= {'{"label":"a"}', '{"label":"b"}'}
    assert {label for mine, label in labels if not mine} <= {'{"label":"c"}', '{"label":"d"}'}


def test_a_body_mutated_after_its_answer_gets_a_fresh_plan() -> None:
    schema: dict[str, Any] = {**SCHEMA, "properties": {"label": {"enum": ["a"]}}}
    body = _chat(schema)
    assert openai_answer(CHAT, body)[1]["choices"][0]["message"]["content"] == '{"label":"a"}'
    schema["properties"]["label"]["enum"] = ["z"]
    assert openai_answer(CHAT, body)[1]["choices"][0]["message"]["content"] == '{"label":"z"}'


def test_a_shared_plan_hands_out_error_bodies_callers_may_change() -> None:
    body = _chat(SCHEMA, n=0)
    first = openai_answer(CHAT, body)[1]
    first["error"]["message"] = "changed"
    assert openai_answer(CHAT, body)[1]["error"]["message"] != "changed"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "plain"}],
        [{"role": "system", "content": "s"}, {"role": "user", "content": "Ünïcødé 🎉 \u2028"}],
        [{"role": "user", "content": [{"type": "text", "text": "a", "z": 1, "b": [2]}]}],
        [{"role": "user", "content": "x", "extra": 10**30}],  # no JSON form: the slow way
    ],
)
@pytest.mark.parametrize("tools", [None, [{"type": "function", "function": {"name": "f"}}]])
def test_the_chat_seed_is_the_digest_of_the_request_parts(
    messages: list[dict[str, Any]], tools: object
) -> None:
    body = {"model": "gpt-4o-mini", "messages": messages, "tools": tools}
    body["response_format"] = _chat(SCHEMA)["response_format"]
    fmt = chat_format(body["response_format"])
    expected = digest("chat", "gpt-4o-mini", messages, tools, fmt)
    assert chat_plan(body).seed(messages, tools) == expected


def test_a_rest_without_json_form_still_gives_the_seed() -> None:
    body = _chat(SCHEMA, tools=[{"type": "function", "function": {"name": "f", "x": 10**30}}])
    fmt = chat_format(body["response_format"])
    expected = digest("chat", body["model"], body["messages"], body["tools"], fmt)
    assert chat_plan(body).seed(body["messages"], body["tools"]) == expected


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"metadata": {"user_id": "u"}, "service_tier": "auto", "system": "Be brief."},
        {"system": "\x00llmbatch:messages\x00"},  # the plan's own placeholder, twice
        {"temperature": 10**30},
    ],
)
def test_the_anthropic_seed_is_the_digest_of_the_params(extra: dict[str, Any]) -> None:
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hé"}]}],
        **extra,
    }
    seeded = {k: v for k, v in params.items() if k not in ("metadata", "service_tier")}
    assert messages_plan(params).seed(params) == digest("messages", seeded)


def _scalar_vector(seed: bytes, size: int) -> bytes:
    """The embedding definition, one component at a time (as the emulator first wrote it)."""
    normal = statistics.NormalDist()
    top = normal.inv_cdf(0.5 + 127.5 / 256)
    weights = [
        max(1, round((normal.inv_cdf(0.5 + (level + 0.5) / 256) / top) ** 2 * 0xFFFF))
        for level in range(128)
    ] * 2
    raw = hashlib.shake_256(seed).digest(size)
    scale = 1.0 / math.sqrt(sum(weights[b] for b in raw))
    signs = [1.0 if b < 128 else -1.0 for b in raw]
    parts = [math.sqrt(weights[b]) * sign * scale for b, sign in zip(raw, signs, strict=True)]
    return struct.pack(f"<{size}f", *parts)


@pytest.mark.parametrize("size", [1, 3, 256, 1536, 3072])
def test_vectorised_embeddings_are_bit_identical_to_the_scalar_definition(size: int) -> None:
    for number in range(8):
        seed = digest("embedding", number, size=32)
        expected = _scalar_vector(seed, size)
        assert vector_bytes(seed, size) == expected
        assert unit_vector(seed, size) == list(struct.unpack(f"<{size}f", expected))
