"""Schema-conforming JSON instances for the synthetic model's structured output.

:func:`schema_instance` walks a JSON Schema and returns a value that conforms to it, every
choice drawn from a seed: ``enum``/``const``; strings (``format`` date, date-time, time,
duration, email, hostname, uri, ipv4, ipv6, uuid; ``minLength``/``maxLength``; ``pattern``
for simple regexes, else the fixed string ``"synthetic"``); numbers and integers within
``minimum``/``maximum``/``exclusive*``/``multipleOf``; booleans; arrays (``minItems`` to
``maxItems``, 1 to 3 items by default, ``uniqueItems``); objects with keys in schema order;
nullable types (``["string", "null"]`` or ``anyOf`` with null: null about one time in five);
``anyOf``/``oneOf``/``allOf``; internal ``$ref`` (``#``, ``#/$defs/...``, ``#/definitions/...``),
recursion included. Past depth 6 it takes the shortest way out (null, fewest items, required
keys only). Schemas with no instance (contradictions) get a best-effort value.

Each distinct schema is compiled once (:mod:`fake_schema_plan`) and its plan reused by every
row that carries an equal schema (keyed by exact JSON bytes, :mod:`fake_memo`), so a batch
pays for ``$ref`` resolution, bounds and required keys once, and each row only draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from llmbatch.emulator.fake_memo import json_key
from llmbatch.emulator.fake_schema_plan import Plan, Walk
from llmbatch.emulator.fake_text import BAD_JSON_MARKER, BAD_SCHEMA_MARKER, Rand
from llmbatch.emulator.jsondump import dumps

_MAX_PLANS = 256
_plans: dict[bytes, Plan] = {}


def schema_instance(schema: object, seed: bytes, words: Sequence[str] = ()) -> object:
    """A JSON value that conforms to ``schema``, chosen deterministically from ``seed``.

    Args:
        schema: a JSON Schema (dict or bool).
        seed: bytes every choice is drawn from (same seed, same value).
        words: vocabulary for free-text strings, usually the words of the prompt.

    Example: ``schema_instance({"enum": ["a", "b"]}, b"seed")`` is ``"a"`` or ``"b"``.
    """
    plan, root = compile_schema(schema)
    return plan.build(root, Walk(Rand(seed), tuple(words) or ("synthetic",)), 0)


def compile_schema(schema: object) -> tuple[Plan, object]:
    """The compiled plan of ``schema`` (shared by equal schemas) and the root to walk.

    Callers that answer many rows with one schema hold on to this and skip the lookup.
    """
    key = json_key(schema)
    if key is None:  # no exact key: compile this one for this call only
        return Plan(schema), schema
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        plan = _plans[key] = Plan(orjson.loads(key))  # a private copy: callers may mutate
    return plan, plan.source


def structured_value(schema: object, seed: bytes, words: Sequence[str], user: str) -> object:
    """The structured answer: a conforming instance, or a broken one for ``[[bad_schema]]``."""
    value = schema_instance(schema, seed, words)
    return break_instance(value) if BAD_SCHEMA_MARKER in user else value


def structured_text(schema: object, seed: bytes, words: Sequence[str], user: str) -> str:
    """The structured answer as compact JSON text; cut in half (invalid) for ``[[bad_json]]``."""
    return _as_text(structured_value(schema, seed, words, user), user)


def compiled_text(compiled: tuple[Plan, object], seed: bytes, user: str) -> str:
    """:func:`structured_text` for a schema compiled beforehand, the words read from ``user``."""
    plan, root = compiled
    value = plan.build(root, Walk(Rand(seed), None, user), 0)
    return _as_text(break_instance(value) if BAD_SCHEMA_MARKER in user else value, user)


def _as_text(value: object, user: str) -> str:
    text = dumps(value).decode()
    if BAD_JSON_MARKER not in user:
        return text
    cut = text[: max(1, len(text) // 2)]
    try:
        orjson.loads(cut)
    except orjson.JSONDecodeError:
        return cut
    return cut + ","


def break_instance(value: object) -> dict:
    """A JSON object that breaks a strict schema: first key dropped, an unexpected key added."""
    broken = dict(list(value.items())[1:]) if isinstance(value, dict) else {"value": value}
    broken["__unexpected__"] = True
    return broken
