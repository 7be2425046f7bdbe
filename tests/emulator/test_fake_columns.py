"""Answers computed a chunk at a time, field by field, are the bytes of the plain answers.

The batch paths answer the rows of a chunk that share a plan column by column
(``fake_chat_columns``, ``fake_anthropic_columns``, flat schemas in ``fake_schema_columns``)
and check Anthropic requests a chunk at a time (``anthropic_row_checks.params_errors``).
These tests hand them whole chunks, uniform ones and ones with odd rows mixed in, and
require every answer to be the plain answer's bytes, every check the plain check's problem.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from golden_samples import ANTHROPIC_CLASSIFY, CLASSIFY, PROMPTS, RICH

from llmbatch.emulator.anthropic_row_checks import params_errors
from llmbatch.emulator.fake_anthropic_columns import messages_columns
from llmbatch.emulator.fake_anthropic_plan import messages_plan
from llmbatch.emulator.fake_chat_columns import chat_columns
from llmbatch.emulator.fake_chat_plan import chat_plan
from llmbatch.emulator.fake_memo import same_rest
from llmbatch.emulator.fake_model import (
    anthropic_answer,
    anthropic_answers_json,
    openai_answer,
    openai_answers_json,
)
from llmbatch.emulator.fake_schema import compile_schema, compiled_text
from llmbatch.emulator.fake_schema_columns import flat_schema
from llmbatch.emulator.fake_text import digest
from llmbatch.emulator.request_checks import anthropic_params_error

CHAT = "/v1/chat/completions"
FLAT = {
    "type": "object",
    "properties": {
        "p": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
        "q": {"type": "number", "minimum": -1e6, "maximum": 1e6},
        "r": {"type": "integer", "exclusiveMinimum": -5.5, "maximum": 3},
        "s": {"type": "boolean"},
        "t": {"const": {"x": [1, "%s"]}},
        "u": {"enum": ["only"]},
        "v": {"enum": [1, "two", {"t": 3}, 2.5, 'quote " and \\ backslash', "ünï"]},
        "w": False,
        "x": {"type": "null"},
        "y": {"minimum": 5},
        "z": {"$ref": "#/$defs/z"},
        "%d": {"type": "integer", "minimum": 7, "maximum": 7},
    },
    "required": ["p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "%d"],
    "$defs": {"z": {"enum": ["a", "b"]}},
}
ANTHROPIC_FLAT = {
    "type": "object",
    "properties": {
        "label": {"enum": ['quote " and \\ backslash', "ünï", "%s"]},
        "flag": {"type": "boolean"},
        "fixed": {"const": "x"},
        "n": {"type": "number"},
        "k": {"type": "integer"},
        "z": {"type": "null"},
    },
    "required": ["label", "flag", "fixed", "n", "k", "z"],
    "additionalProperties": False,
}
NOT_FLAT = [
    RICH,
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"enum": [1, None]}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"type": "integer"}}},
    {"type": "object", "properties": {"a": {"type": ["integer", "null"]}}, "required": ["a"]},
    {
        "type": "object",
        "properties": {"a": {"type": "integer", "multipleOf": 3}},
        "required": ["a"],
    },
    {
        "type": "object",
        "properties": {"a": {"type": "number", "minimum": 1e300}},
        "required": ["a"],
    },
    {"type": "object", "properties": {}, "required": ["a"]},
    {
        "type": "object",
        "properties": {"a": {"type": "boolean"}},
        "required": ["a"],
        "minProperties": 2,
    },
    {"type": "array"},
    {"enum": [{"a": 1}]},
]


EMPTY = {"type": "object", "properties": {}, "required": []}
CONSTANT = {"properties": {"a": {"const": 1}, "b": {"enum": [[2]]}}, "required": ["b", "a"]}


@pytest.mark.parametrize(
    "schema", [CLASSIFY, ANTHROPIC_CLASSIFY, FLAT, ANTHROPIC_FLAT, EMPTY, CONSTANT]
)
def test_a_flat_schema_draws_what_the_walk_draws(schema: dict[str, Any]) -> None:
    compiled = compile_schema(schema)
    flat = flat_schema(compiled)
    assert flat is not None
    seeds = [digest("columns", n) for n in range(700)]
    assert flat.texts(seeds) == [compiled_text(compiled, seed, "").encode() for seed in seeds]


@pytest.mark.parametrize("schema", NOT_FLAT)
def test_schemas_whose_draws_vary_are_left_to_the_walk(schema: dict[str, Any]) -> None:
    assert flat_schema(compile_schema(schema)) is None


def _fmt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}


def _chat_rows(extra: dict[str, Any], count: int) -> list[tuple[Any, Any, Any]]:
    """``count`` plain rows of one plan, every prompt, several messages now and then."""
    rows: list[tuple[Any, Any, Any]] = []
    for index in range(count):
        text = PROMPTS[index % len(PROMPTS)] + f" {index}"
        messages = [{"role": "user", "content": text}]
        if index % 3 == 0:
            messages.insert(0, {"role": "system", "content": "You classify. " * (index % 5)})
        body = {"model": "gpt-4o-mini", "messages": messages, **extra}
        rows.append((body, 1_800_000_000 + index % 2, f"row-{index}"))
    return rows


ODD_MESSAGES: list[Any] = [
    [{"role": "user", "content": "[[refuse]] no"}],
    [{"role": "user", "content": "[[bad_json]] cut"}],
    [{"role": "user", "content": "[[bad_schema]] break"}],
    [{"role": "user", "content": [{"type": "text", "text": "blocks"}]}],
    [{"role": "user", "content": "a"}, {"role": "assistant", "content": "last"}],
    [{"role": "user", "content": "lone \ud800 surrogate"}],
    [{"role": "user", "content": 5}],
    [{"role": "robot", "content": "x"}],
    [{"role": "user", "content": "extra key", "name": "n"}],
    [{"role": "user", "content": ""}],
    [],
    ["not an object"],
    "not a list",
    None,
]


def _check_chat(rows: list[tuple[Any, Any, Any]]) -> int:
    """Assert every shortcut answer is the plain answer's bytes; how many it answered."""
    answered = 0
    for (body, created, salt), fast in zip(rows, openai_answers_json(CHAT, rows), strict=True):
        if fast is None:
            continue
        answered += 1
        status, answer = openai_answer(CHAT, body, created=created, salt=salt)
        assert status == 200, body
        assert fast[0] == orjson.dumps(answer), body
        usage = answer["usage"]
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        assert fast[1] == (usage["prompt_tokens"], cached, usage["completion_tokens"], 0)
    return answered


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"response_format": _fmt(CLASSIFY)},
        {"response_format": _fmt(FLAT)},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
    ],
)
def test_a_chunk_of_one_plan_gets_the_plain_bytes(extra: dict[str, Any]) -> None:
    rows = _chat_rows(extra, 600)  # over 512 ids: drawn with numpy
    assert _check_chat(rows) == len(rows)
    assert None not in chat_columns(chat_plan(rows[0][0]), rows)  # all a column at a time
    same_time = [(body, 1_800_000_000, salt) for body, _, salt in rows]  # one `created`
    assert _check_chat(same_time) == len(rows)
    assert None not in chat_columns(chat_plan(rows[0][0]), same_time)


def test_odd_rows_among_plain_ones_get_the_plain_bytes_or_step_aside() -> None:
    rows = _chat_rows({"response_format": _fmt(CLASSIFY)}, 40)
    for index, messages in enumerate(ODD_MESSAGES):
        body = {"model": "gpt-4o-mini", "messages": messages, "response_format": _fmt(CLASSIFY)}
        rows.insert(index * 3, (body, 1_800_000_000, f"odd-{index}"))
    rows.append((rows[0][0], True, "created-a-bool"))
    rows.append((rows[1][0], 1_800_000_000, 7))  # a salt that is not a str
    assert _check_chat(rows) >= 40


def test_rows_of_several_plans_in_one_chunk_get_the_plain_bytes() -> None:
    rows = []
    for extra in ({}, {"response_format": _fmt(CLASSIFY)}, {"max_tokens": 5}, {"n": 2}):
        rows += _chat_rows(extra, 30)
    rows = rows[::2] + rows[1::2]
    assert _check_chat(rows) >= 60


def _anthropic_rows(extra: dict[str, Any], count: int) -> list[tuple[Any, str]]:
    rows = []
    for index in range(count):
        messages = [{"role": "user", "content": PROMPTS[index % len(PROMPTS)] + f" {index}"}]
        if index % 4 == 1:
            messages[:0] = [
                {"role": "user", "content": "before"},
                {"role": "assistant", "content": "reply"},
            ]
        params = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": messages, **extra}
        rows.append((params, f"row-{index}"))
    return rows


def _check_anthropic(rows: list[tuple[Any, str]]) -> int:
    """Assert the chunk's checks and answers are the plain ones; how many it answered."""
    problems = params_errors([params for params, _ in rows])
    assert problems == [anthropic_params_error(params) for params, _ in rows]
    asked = [(p if e is None else None, s) for (p, s), e in zip(rows, problems, strict=True)]
    answered = 0
    for (params, salt), fast in zip(asked, anthropic_answers_json(asked), strict=True):
        if fast is None:
            continue
        answered += 1
        kind, payload = anthropic_answer(params, salt=salt, checked=True)
        assert orjson.dumps({"type": kind, "message": payload}) == (
            b'{"type":"succeeded","message":' + fast + b"}"
        ), params
    return answered


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"system": "You classify.", "metadata": {"user_id": "u"}},
        {"output_config": {"format": {"type": "json_schema", "schema": ANTHROPIC_CLASSIFY}}},
        {"output_config": {"format": {"type": "json_schema", "schema": ANTHROPIC_FLAT}}},
        {"max_tokens": 12},  # some answers are cut: those take the row path
        {"stop_sequences": ["e"]},
        {"temperature": 5},  # a problem after the messages
        {"model": "claude-nope"},  # a problem before them
    ],
)
def test_an_anthropic_chunk_of_one_plan_gets_the_plain_results(extra: dict[str, Any]) -> None:
    rows = _anthropic_rows(extra, 600)
    answered = _check_anthropic(rows)
    if "temperature" not in extra and "model" not in extra:
        assert answered > 0
    if len(extra) != 1 or "output_config" in extra:  # the plain shapes: all as columns
        assert None not in messages_columns(messages_plan(rows[0][0]), rows)


def test_odd_anthropic_requests_among_plain_ones_get_the_plain_results() -> None:
    schema = {"format": {"type": "json_schema", "schema": ANTHROPIC_CLASSIFY}}
    rows = _anthropic_rows({"output_config": schema}, 40)
    for index, messages in enumerate([*ODD_MESSAGES, [{"role": "system", "content": "x"}]]):
        params = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": messages}
        rows.insert(index * 3, ({**params, "output_config": schema}, f"odd-{index}"))
    rows.append(("not an object", "x"))
    assert _check_anthropic(rows) >= 40


def test_same_rest_tells_rests_apart_by_their_exact_json() -> None:
    base = {"model": "m", "messages": [1], "temperature": 1}
    assert same_rest([base, {**base, "messages": [2]}], "messages")
    assert not same_rest([base, {**base, "temperature": 1.0}], "messages")
    assert not same_rest([base, {**base, "temperature": True}], "messages")
    assert not same_rest([base, {"messages": [1], "model": "m", "temperature": 1}], "messages")
    nan = {**base, "temperature": math.nan}
    none = {**base, "temperature": None}
    assert not same_rest([none, nan], "messages")
    assert not same_rest([nan, nan], "messages")
    assert not same_rest([], "messages")


def test_a_chunk_of_errored_checks_gives_the_plain_problems() -> None:
    rows: list[Any] = [
        {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": messages}
        for messages in ODD_MESSAGES
    ]
    rows += [{"model": "claude-haiku-4-5", "max_tokens": 5, "temperature": math.nan}] * 3
    rows += ["not an object", {"messages": []}]
    assert params_errors(rows) == [anthropic_params_error(params) for params in rows]
    assert params_errors(rows[:1] * 3) == [anthropic_params_error(rows[0])] * 3
