"""The pieces that make the emulator fast keep answers exact: memo keys, plans, chunked reads."""

from __future__ import annotations

import io
import math

import orjson
import pytest

from llmbatch.emulator.fake_memo import by_json, json_key
from llmbatch.emulator.fake_schema import schema_instance
from llmbatch.emulator.fake_text import Rand, base62, digest
from llmbatch.emulator.openai_batch import read_lines

SEEDS = [digest("speed", n) for n in range(20)]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"x": "1"}, {"x": 1}),
        ([None], []),
    ],
)
def test_json_key_tells_equal_python_values_apart_when_their_json_differs(
    left: object, right: object
) -> None:
    assert json_key(left) is not None
    assert json_key(left) != json_key(right)


@pytest.mark.parametrize(
    "value", [math.nan, {"minimum": math.inf}, [1, -math.inf], 10**30, {1, 2}, b"x"]
)
def test_json_key_refuses_values_without_an_exact_json_form(value: object) -> None:
    assert json_key(value) is None


def test_by_json_computes_once_per_distinct_value_and_never_caches_unkeyed_ones() -> None:
    calls: list[object] = []

    @by_json
    def size(value: object) -> int:
        calls.append(value)
        return len(orjson.dumps(value, default=repr))

    assert size({"a": [1, 2]}) == size({"a": [1, 2]}) == 11
    assert size({"a": None}) == size({"a": None})
    assert len(calls) == 2
    size({"a": math.nan})
    size({"a": math.nan})
    assert len(calls) == 4


def test_plans_are_private_copies_so_a_mutated_schema_gets_fresh_answers() -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"enum": ["a", "b"]}},
        "required": ["label"],
    }
    before = [schema_instance(schema, seed) for seed in SEEDS]
    schema["properties"]["label"]["enum"] = ["c"]
    assert {value["label"] for value in [schema_instance(schema, s) for s in SEEDS]} == {"c"}  # type: ignore[index]
    schema["properties"]["label"]["enum"] = ["a", "b"]
    assert [schema_instance(schema, seed) for seed in SEEDS] == before


def test_answers_holding_schema_containers_do_not_share_them() -> None:
    schema = {"type": "object", "properties": {"k": {"const": {"deep": [1]}}}, "required": ["k"]}
    first = schema_instance(schema, SEEDS[0])
    first["k"]["deep"].append(2)  # type: ignore[index]
    assert schema_instance(schema, SEEDS[0]) == {"k": {"deep": [1]}}


def test_unkeyed_schemas_still_get_their_answers() -> None:
    schema = {"type": "integer", "minimum": 10**30, "maximum": 10**30 + 5}
    values = {schema_instance(schema, seed) for seed in SEEDS}
    assert values <= set(range(10**30, 10**30 + 6))
    assert len(values) > 1


def _reference_base62(data: bytes, length: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number, chars = int.from_bytes(data, "big"), []
    for _ in range(length):
        number, rest = divmod(number, 62)
        chars.append(alphabet[rest])
    return "".join(chars)


@pytest.mark.parametrize("length", [0, 1, 2, 21, 22, 29, 64])
def test_base62_takes_one_digit_at_a_time_in_effect(length: int) -> None:
    for seed in SEEDS:
        data = digest("id", seed, size=64)
        assert base62(data, length) == _reference_base62(data, length)


def test_rand_draws_are_keyed_blake2b_of_a_counter() -> None:
    import hashlib

    for seed in SEEDS:
        rand = Rand(seed)
        for count in range(1, 6):
            word = hashlib.blake2b(count.to_bytes(8, "little"), key=seed, digest_size=8)
            assert rand.below(1000) == int.from_bytes(word.digest(), "little") % 1000


@pytest.mark.parametrize("chunk", [1, 10, 40, 1 << 20])
def test_read_lines_gives_every_line_whatever_the_chunk_size(chunk: int) -> None:
    lines = [b'{"n":1}', b"", b'{"n":22}', b'{"n":333}' * 5, b'{"n":4}']
    data = b"\n".join(lines) + b"\n"
    refs, offset = [], 0
    for number, line in enumerate(lines):
        if line:
            refs.append((f"c{number}", offset, len(line) + 1))
        offset += len(line) + 1
    got = list(read_lines(io.BytesIO(data), refs, 1, len(refs), chunk))
    assert [custom_id for custom_id, _ in got] == [ref[0] for ref in refs[1:]]
    assert [bytes(view).rstrip(b"\n") for _, view in got] == [line for line in lines if line][1:]
