"""Answers written straight to JSON bytes are the bytes of the plain answers, odd rows included.

The batch runner answers the plain rows of a batch from byte templates, a chunk at a time
(``fake_model.openai_answers_json``, ``fake_model.anthropic_answers_json``; one row:
``*_answer_json``) and every other row the plain way (``openai_answer``/
``anthropic_answer``, then ``orjson.dumps``). These
tests ask both for the same requests, warm and cold plans, and require the same bytes
whenever the shortcut answers, and the shortcut to step aside (None) for every row it must
not answer (invalid ones, several choices, forced tools...). A whole batch over HTTP mixes
both kinds of line and must match the plain answers line by line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from emulator_helpers import anthropic_request, chat_line, jsonl
from golden_samples import PROMPTS, anthropic_cases, openai_cases

from llmbatch.emulator import anthropic_row_checks
from llmbatch.emulator.fake_anthropic_plan import messages_plan
from llmbatch.emulator.fake_chat_plan import chat_plan
from llmbatch.emulator.fake_embeddings import unit_vector
from llmbatch.emulator.fake_ids import base62_many
from llmbatch.emulator.fake_model import (
    anthropic_answer,
    anthropic_answer_json,
    openai_answer,
    openai_answer_json,
    openai_answers_json,
)
from llmbatch.emulator.fake_text import base62, base62_column
from llmbatch.emulator.fake_vectors import unit_arrays
from llmbatch.emulator.request_checks import anthropic_params_error, anthropic_result_error

CHAT = "/v1/chat/completions"
CLASSIFY = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["yes", "no"]},
        "why": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["label", "why", "score"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "c", "schema": CLASSIFY, "strict": True}}
ODD_TEXTS = (
    *PROMPTS,
    "[[refuse]] please",
    "[[bad_json]] classify this",
    "[[bad_schema]] classify this",
    'quotes " and \\ backslashes \n newlines \t tabs \x00 nul \u2028 separators',
    "percent %s %d %% signs",
    "stop here STOP and after",
)


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _odd_chat_bodies() -> list[dict[str, Any]]:
    """Chat bodies the shortcut covers and bodies it must leave to the plain path."""
    bodies: list[dict[str, Any]] = []
    for text in ODD_TEXTS:
        for extra in (
            {},
            {"response_format": FORMAT},
            {"max_tokens": 3},
            {"max_completion_tokens": 1, "response_format": FORMAT},
            {"stop": "STOP"},
            {"stop": ["", "e", "zz"]},
            {"stop": 5},
            {"model": "o3-mini", "max_completion_tokens": 40},
            {"model": "gpt-5", "reasoning_effort": "minimal"},
            {"model": "gpt-4o%s"},
            {"n": 2},
            {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"},
            {"response_format": {"type": "json_object"}},
            {"temperature": 3},
            {"n": True},
            {"unknown": 1},
        ):
            bodies.append({"model": "gpt-4o-mini", "messages": _user(text), **extra})
    system = {"role": "system", "content": "You classify."}
    blocks = [{"type": "text", "text": "block one"}, {"type": "text", "text": "two"}]
    for messages in (
        [system, *_user("a"), {"role": "assistant", "content": "b"}, *_user("c")],
        [system],
        [{"role": "user", "content": blocks}],
        [{"role": "user", "content": ""}],
        [],
        [{"role": "user"}],
        [{"role": "robot", "content": "x"}],
        [{"role": "tool", "content": "x"}],
        [{"role": "tool", "content": "x", "tool_call_id": "t"}, *_user("after a tool")],
        [{"role": "assistant", "content": None, "tool_calls": [{"id": "t"}]}, *_user("q")],
        ["not an object"],
        "not a list",
        [{"role": "user", "content": 5}],
        [{"role": "user", "content": "lone \ud800 surrogate"}],
    ):
        bodies.append({"model": "gpt-4o-mini", "messages": messages})
    bodies.append({"messages": _user("no model")})
    bodies.append({"model": 5, "messages": _user("model not a string")})
    bodies.append({"model": "gpt-4o-mini"})
    return bodies


def _same_chat(body: dict[str, Any], salt: str, created: int) -> bool:
    """Assert the shortcut's bytes equal the plain answer's; True if the shortcut answered."""
    fast = openai_answer_json(CHAT, body, created=created, salt=salt)
    status, answer = openai_answer(CHAT, body, created=created, salt=salt)
    if fast is None:
        return False
    assert status == 200, body
    assert fast[0] == orjson.dumps(answer), body
    usage = answer["usage"]
    assert fast[1] == (
        usage["prompt_tokens"],
        usage["prompt_tokens_details"]["cached_tokens"],
        usage["completion_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"],
    )
    return True


@pytest.mark.parametrize("cold", [False, True])
def test_chat_shortcut_gives_the_plain_bytes(cold: bool) -> None:
    bodies = _odd_chat_bodies()
    golden = [b for url, group in openai_cases().values() if url == CHAT for b in group]
    answered = 0
    for index, body in enumerate([*bodies, *golden]):
        if cold:
            chat_plan.cache_clear()
        answered += _same_chat(body, f"row-{index}", 1_800_000_000 + index)
    assert answered >= len(ODD_TEXTS) * 8  # the plain shapes were answered by the shortcut


def test_chat_shortcut_steps_aside_for_rows_it_must_not_answer() -> None:
    def fast(**extra: Any) -> object:
        body = {"model": "gpt-4o-mini", "messages": _user("x"), **extra}
        return openai_answer_json(CHAT, body, created=0, salt="s")

    assert fast() is not None
    assert fast(n=2) is None
    assert fast(temperature=3) is None  # a 400: the plain path words it
    assert fast(response_format={"type": "json_object"}) is None
    assert fast(messages=[]) is None
    assert fast(messages=[{"role": "tool", "content": "x", "tool_call_id": "t"}]) is None
    plain = {"model": "m", "messages": _user("x")}
    assert openai_answer_json(CHAT, plain, created=True, salt="") is None  # created: a bool
    responses = {"model": "m", "input": "x"}
    assert openai_answer_json("/v1/responses", responses, created=0, salt="") is None
    assert openai_answer_json(CHAT, "not a body", created=0, salt="") is None


def _odd_embedding_bodies() -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for text in ODD_TEXTS[:6]:
        for extra in (
            {},
            {"dimensions": 3},
            {"dimensions": 256, "encoding_format": "base64"},
            {"encoding_format": "float"},
            {"encoding_format": None},
            {"model": "text-embedding-3-large", "dimensions": 1024},
            {"model": "text-embedding-ada-002"},
            {"model": "text-embedding-ada-002", "dimensions": 8},  # a 400
            {"model": "my-own%model", "dimensions": 9000},  # unknown model: up to 8192
            {"encoding_format": "hex"},
            {"dimensions": 0},
            {"dimensions": True},
        ):
            bodies.append({"model": "text-embedding-3-small", "input": text, **extra})
    for value in (["a", "b", "c"], [1, 2, 3], [[1, 2], [3]], ["a", [5, 6]], [], [""], "", 5):
        bodies.append({"model": "text-embedding-3-small", "input": value, "dimensions": 4})
    bodies.append({"model": "text-embedding-3-small"})
    bodies.append({"input": "no model"})
    return bodies


def test_embeddings_shortcut_gives_the_plain_bytes() -> None:
    url = "/v1/embeddings"
    golden = [b for u, group in openai_cases().values() if u == url for b in group]
    answered = 0
    for index, body in enumerate([*_odd_embedding_bodies(), *golden]):
        fast = openai_answer_json(url, body, created=0, salt=f"row-{index}")
        status, answer = openai_answer(url, body, created=0, salt=f"row-{index}")
        if fast is None:
            assert status == 400, body
            continue
        answered += 1
        assert fast[0] == orjson.dumps(answer), body
        tokens = answer["usage"]["prompt_tokens"]
        assert fast[1] == (tokens, 0, 0, 0)
    assert answered >= 6 * 7


@pytest.mark.parametrize(("size", "length"), [(29, 29), (22, 22), (16, 10), (16, 30), (64, 64)])
def test_many_ids_at_once_are_the_one_by_one_ids(size: int, length: int) -> None:
    digests = [hashlib.blake2b(b"%d" % i, digest_size=size).digest() for i in range(600)]
    digests += [b"\xff" * size, b"\x00" * size, b"\x01" + b"\x00" * (size - 1)]
    expected = [base62(data, length).encode() for data in digests]
    assert base62_many(digests, length) == expected
    assert base62_column(digests, length) == expected
    assert base62_column(digests[:3], length) == expected[:3]
    assert base62_column([], length) == []


def test_many_embeddings_at_once_are_the_one_by_one_answers() -> None:
    url = "/v1/embeddings"
    golden = [b for u, group in openai_cases().values() if u == url for b in group]
    bodies = [*_odd_embedding_bodies(), *golden] * 4  # over 256 vectors of one size
    rows = [(body, 0, f"row-{i}") for i, body in enumerate(bodies)]
    for (body, _, salt), fast in zip(rows, openai_answers_json(url, rows), strict=True):
        status, answer = openai_answer(url, body, salt=salt)
        assert (fast is None) == (status != 200), body
        if fast is not None:
            assert fast[0] == orjson.dumps(answer), body


def test_unit_arrays_hold_the_one_by_one_vectors() -> None:
    seeds = [hashlib.blake2b(b"%d" % i, digest_size=32).digest() for i in range(300)]
    for size in (1, 3, 256, 1536):
        rows = unit_arrays(seeds, size)
        for seed, row in zip(seeds, rows, strict=True):
            assert row.tolist() == unit_vector(seed, size)


def test_base62_is_the_pairwise_definition() -> None:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for size in (0, 1, 16, 22, 24, 29, 32, 64):
        for fill in range(0, 256, 37):
            data = bytes((fill + 11 * i) % 256 for i in range(size))
            for length in (0, 1, 9, 10, 11, 22, 24, 29):
                number, digits = int.from_bytes(data, "big"), []
                for _ in range(length):
                    number, rest = divmod(number, 62)
                    digits.append(alphabet[rest])
                assert base62(data, length) == "".join(digits)


def _odd_anthropic_params() -> list[Any]:
    base: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 64}
    schema = {"format": {"type": "json_schema", "schema": CLASSIFY}}
    params: list[Any] = []
    for text in ODD_TEXTS:
        for extra in (
            {},
            {"output_config": schema},
            {"max_tokens": 2},
            {"max_tokens": 3, "output_config": schema},
            {"stop_sequences": ["STOP", "e"]},
            {"system": "You classify.", "metadata": {"user_id": "u"}},
            {
                "system": [
                    {"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}
                ]
            },
            {"cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
            {"tools": [{"name": "f", "input_schema": CLASSIFY}], "tool_choice": {"type": "any"}},
            {"temperature": 5},
            {"model": "claude-nope"},
            {"max_tokens": 10**6},
            {"unknown": 1},
            {"max_tokens": "many"},
        ):
            params.append({**base, "messages": _user(text), **extra})
    blocks = [{"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}}]
    for messages in (
        [*_user("a"), {"role": "assistant", "content": "b"}, *_user("c")],
        [{"role": "user", "content": blocks}],
        [],
        [{"role": "system", "content": "x"}],
        [{"role": "user", "content": ""}],
        "not a list",
        [{"role": "user", "content": "lone \ud800 surrogate"}],
    ):
        params.append({**base, "messages": messages})
    params.append(dict(base))
    params.append("not an object")
    return params


def _plain_result(params: Any, salt: str) -> bytes:
    """The ``result`` of one request as the batch writes it the plain way (no injected errors)."""
    problem = anthropic_params_error(params)
    if problem is not None:
        return orjson.dumps({"type": "errored", "error": anthropic_result_error(*problem)})
    kind, payload = anthropic_answer(params, salt=salt, checked=True)
    return orjson.dumps({"type": kind, "message": payload})


@pytest.mark.parametrize("cold", [False, True])
def test_anthropic_shortcut_gives_the_plain_bytes(cold: bool) -> None:
    golden = [p for group in anthropic_cases().values() for p in group]
    answered = 0
    for index, params in enumerate([*_odd_anthropic_params(), *golden]):
        if cold:
            messages_plan.cache_clear()
        if anthropic_params_error(params) is not None:
            continue  # the batch never asks the model
        salt = f"row-{index}"
        fast = anthropic_answer_json(params, salt=salt)
        if fast is None:
            continue
        answered += 1
        expected = _plain_result(params, salt)
        assert b'{"type":"succeeded","message":' + fast + b"}" == expected, params
    assert answered >= len(ODD_TEXTS) * 6


@pytest.mark.parametrize("cold", [False, True])
def test_memoised_params_checks_give_the_plain_problem(cold: bool) -> None:
    golden = [p for group in anthropic_cases().values() for p in group]
    odd = _odd_anthropic_params()
    extra: list[Any] = [
        {"messages": _user("x")},
        {"model": "claude-haiku-4-5", "messages": _user("x")},
        {"model": "claude-haiku-4-5", "max_tokens": 5, "stream": True, "messages": []},
        {"model": "claude-haiku-4-5", "max_tokens": 5, "zzz": 1, "messages": "bad"},
        {"model": "claude-haiku-4-5", "max_tokens": 5, "huge": 10**30, "messages": []},
        {"model": "claude-haiku-4-5", "max_tokens": 5, "temperature": float("nan")},
        {"model": "claude-haiku-4-5", "max_tokens": 5, "system": 5, "messages": 5},
    ]
    for params in [*odd, *golden, *extra, *odd]:
        if cold:
            anthropic_row_checks.cache_clear()
        assert anthropic_row_checks.params_error(params) == anthropic_params_error(params), params


def _sendable(value: object) -> bool:
    """Whether a request can travel as JSON (a lone surrogate cannot)."""
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _lines_by_id(content: bytes) -> dict[str, dict[str, Any]]:
    return {row["custom_id"]: row for row in map(orjson.loads, content.splitlines())}


@pytest.mark.parametrize("copies", [1, 5])  # 5: over 512 plain rows, ids drawn with numpy
def test_a_chat_batch_mixes_shortcut_and_plain_lines_exactly(
    http: httpx.Client, upload: Callable[..., str], copies: int
) -> None:
    bodies = [b for b in _odd_chat_bodies() if b.get("model") == "gpt-4o-mini" and _sendable(b)]
    bodies = [b for b in bodies if "messages" in b] * copies  # else the batch fails validation
    lines = [
        {"custom_id": f"é-{i}", "method": "POST", "url": CHAT, "body": b}
        for i, b in enumerate(bodies)
    ]
    lines.append(chat_line("plain-helper"))
    file_id = upload(jsonl(lines))
    body = {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h"}
    batch = http.get(f"/v1/batches/{http.post('/v1/batches', json=body).json()['id']}").json()
    assert batch["status"] == "completed", batch["errors"]
    rows: dict[str, dict[str, Any]] = {}
    for key in ("output_file_id", "error_file_id"):
        rows.update(_lines_by_id(http.get(f"/v1/files/{batch[key]}/content").content))
    assert len(rows) == len(lines)
    usage = {"input_tokens": 0, "output_tokens": 0}
    for line in lines:
        row = rows[line["custom_id"]]
        created = row["response"]["body"].get("created", 0)
        status, answer = openai_answer(CHAT, line["body"], created=created, salt=line["custom_id"])
        if "unknown" in line["body"]:
            status, answer = 400, row["response"]["body"]
        assert row["response"]["status_code"] == status
        assert orjson.dumps(row["response"]["body"]) == orjson.dumps(answer)
        assert row["error"] is None and row["id"].startswith("batch_req_")
        if status == 200:
            usage["input_tokens"] += answer["usage"]["prompt_tokens"]
            usage["output_tokens"] += answer["usage"]["completion_tokens"]
    for name, total in usage.items():
        assert batch["usage"][name] == total


@pytest.mark.parametrize("copies", [1, 7])  # 7: over 512 plain rows, ids drawn with numpy
def test_an_anthropic_batch_mixes_shortcut_and_plain_results_exactly(
    ahttp: httpx.Client, copies: int
) -> None:
    params = [p for p in _odd_anthropic_params() if isinstance(p, dict) and _sendable(p)]
    params *= copies
    requests = [anthropic_request(f"u-{i}", **p) for i, p in enumerate(params)]
    created = ahttp.post("/v1/messages/batches", json={"requests": requests})
    assert created.status_code == 200, created.text
    batch_id = created.json()["id"]
    assert ahttp.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
    rows = _lines_by_id(ahttp.get(f"/v1/messages/batches/{batch_id}/results").content)
    assert len(rows) == len(requests)
    for request in requests:
        result = rows[request["custom_id"]]["result"]
        assert orjson.dumps(result) == _plain_result(request["params"], request["custom_id"])
