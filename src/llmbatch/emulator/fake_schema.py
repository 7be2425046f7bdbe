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
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TypeGuard
from urllib.parse import unquote

import orjson

from llmbatch.emulator.fake_pattern import pattern_string
from llmbatch.emulator.fake_text import BAD_JSON_MARKER, BAD_SCHEMA_MARKER, Rand, canonical
from llmbatch.emulator.jsondump import dumps

_NULL_ONE_IN = 5
_DEPTH_SOFT = 6
_DEPTH_HARD = 40
_SPAN = 100
_DEFAULT_MAX_ITEMS = 3
_PATTERN_FALLBACK = "synthetic"
_SCALARS = ("string", "number", "integer", "boolean")


def schema_instance(schema: object, seed: bytes, words: Sequence[str] = ()) -> object:
    """A JSON value that conforms to ``schema``, chosen deterministically from ``seed``.

    Args:
        schema: a JSON Schema (dict or bool).
        seed: bytes every choice is drawn from (same seed, same value).
        words: vocabulary for free-text strings, usually the words of the prompt.

    Example: ``schema_instance({"enum": ["a", "b"]}, b"seed")`` is ``"a"`` or ``"b"``.
    """
    root = schema if isinstance(schema, dict) else {}
    return _Builder(root, Rand(seed), tuple(words) or ("synthetic",)).build(schema, 0)


def structured_value(schema: object, seed: bytes, words: Sequence[str], user: str) -> object:
    """The structured answer: a conforming instance, or a broken one for ``[[bad_schema]]``."""
    value = schema_instance(schema, seed, words)
    return break_instance(value) if BAD_SCHEMA_MARKER in user else value


def structured_text(schema: object, seed: bytes, words: Sequence[str], user: str) -> str:
    """The structured answer as compact JSON text; cut in half (invalid) for ``[[bad_json]]``."""
    text = dumps(structured_value(schema, seed, words, user)).decode()
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


class _Builder:
    """One walk over one schema; holds the root (for ``$ref``) and the random stream."""

    def __init__(self, root: dict, rand: Rand, words: tuple[str, ...]) -> None:
        self.root = root
        self.rand = rand
        self.words = words
        self.kinds: dict[str, Callable[[dict, int], object]] = {
            "object": self.object,
            "array": self.array,
            "string": self.string,
            "integer": self.integer,
            "number": self.number,
            "boolean": lambda _schema, _depth: self.rand.chance(1, 2),
            "null": lambda _schema, _depth: None,
        }

    def build(self, schema: object, depth: int) -> object:
        """An instance of ``schema`` at nesting ``depth``."""
        if depth > _DEPTH_HARD or schema is False:
            return None
        if not isinstance(schema, dict) or not schema:
            return self.words[0]
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return self.pick_enum(enum, depth)
        branches = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(branches, list) and branches:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            branch = self.pick_branch(branches, depth)
            return self.build({**rest, **branch} if isinstance(branch, dict) else branch, depth)
        kind = self.pick_type(schema, depth)
        return self.kinds.get(kind, self.string)(schema, depth)

    def resolve(self, schema: dict) -> dict:
        """``schema`` with its ``$ref`` chain followed (siblings kept) and ``allOf`` merged."""
        for _ in range(_DEPTH_HARD):
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                break
            target = _lookup(self.root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
        parts = schema.get("allOf")
        if isinstance(parts, list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                if isinstance(part, dict):
                    merged = _merge(merged, self.resolve(part))
            schema = merged
        return schema

    def pick_enum(self, enum: list, depth: int) -> object:
        values = [v for v in enum if v is not None]
        if not values or (len(values) < len(enum) and self.null_now(depth)):
            return None
        return self.rand.choice(values)

    def null_now(self, depth: int) -> bool:
        """Whether a nullable value is null this time (always, once deep)."""
        return depth >= _DEPTH_SOFT or self.rand.below(_NULL_ONE_IN) == 0

    def pick_branch(self, branches: list, depth: int) -> object:
        nulls = [b for b in branches if _is_null(b)]
        others = [b for b in branches if not _is_null(b)]
        if nulls and (not others or self.null_now(depth)):
            return nulls[0]
        if depth >= _DEPTH_SOFT:
            simple = [b for b in others if isinstance(b, dict) and "$ref" not in b]
            return (simple or others)[0]
        return self.rand.choice(others)

    def pick_type(self, schema: dict, depth: int) -> str:
        types = schema.get("type")
        if isinstance(types, str):
            return types
        if isinstance(types, list) and types:
            non_null = [t for t in types if t != "null"]
            if not non_null or ("null" in types and self.null_now(depth)):
                return "null"
            return self.rand.choice(non_null)
        return _infer_type(schema)

    def object(self, schema: dict, depth: int) -> dict:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        deep = depth >= _DEPTH_SOFT
        out: dict[str, object] = {}
        for name, sub in props.items():
            if name in required or (not deep and self.rand.below(4) != 0):
                out[name] = self.build(sub, depth + 1)
        extra = schema.get("additionalProperties")
        filler = extra if isinstance(extra, dict) else {"type": "string"}
        for name in required:
            if name not in out:
                out[name] = self.build(props.get(name, filler), depth + 1)
        minimum = schema.get("minProperties")
        if isinstance(minimum, int):
            self.fill_properties(out, props, filler if extra is not False else None, minimum, depth)
        return out

    def fill_properties(
        self, out: dict, props: dict, filler: dict | None, minimum: int, depth: int
    ) -> None:
        for name, sub in props.items():
            if len(out) >= minimum:
                return
            out.setdefault(name, self.build(sub, depth + 1))
        while filler is not None and len(out) < minimum:
            out[f"extra_{len(out)}"] = self.build(filler, depth + 1)

    def array(self, schema: dict, depth: int) -> list:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft-04 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        count = self.item_count(schema, depth)
        if items is False:
            count = min(count, len(prefix))
        unique = schema.get("uniqueItems") is True
        out: list = []
        seen: set[bytes] = set()
        for _ in range(count * 8 + 8):
            if len(out) >= count:
                break
            sub = prefix[len(out)] if len(out) < len(prefix) else items
            value = self.build(sub, depth + 1)
            key = canonical(value)
            if unique and key in seen:
                continue
            seen.add(key)
            out.append(value)
        return out

    def item_count(self, schema: dict, depth: int) -> int:
        low = _int_or(schema.get("minItems"), 0)
        high = _int_or(schema.get("maxItems"), max(low, _DEFAULT_MAX_ITEMS))
        if depth >= _DEPTH_SOFT or high <= low:
            return low
        low = max(low, min(1, high))
        return low + self.rand.below(high - low + 1)

    def string(self, schema: dict, _depth: int) -> str:
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        if isinstance(fmt, str) and fmt in _FORMATS:
            text = _FORMATS[fmt](self.rand)
        elif isinstance(pattern, str):
            text = pattern_string(pattern, self.rand) or _PATTERN_FALLBACK
        else:
            start = self.rand.below(len(self.words))
            text = " ".join(self.words[start : start + 1 + self.rand.below(4)])
        low = _int_or(schema.get("minLength"), 0)
        high = schema.get("maxLength")
        if len(text) < low:
            text += "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text

    def integer(self, schema: dict, _depth: int) -> int:
        low, low_open, high, high_open = _bounds(schema)
        first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
        last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
        first, last = _span(first, last)
        step = schema.get("multipleOf")
        if _is_number(step) and step > 0:
            k_first, k_last = math.ceil(first / step), math.floor(last / step)
            for _ in range(16 if k_first <= k_last else 0):
                value = (k_first + self.rand.below(k_last - k_first + 1)) * step
                if first <= value <= last and float(value).is_integer():
                    return int(value)
        return first + self.rand.below(last - first + 1) if first <= last else first

    def number(self, schema: dict, _depth: int) -> float | int:
        low, low_open, high, high_open = _bounds(schema)
        first, last = _span(low, high)

        def inside(value: float) -> bool:
            above = value > first if low_open else value >= first
            below = value < last if high_open else value <= last
            return above and below

        step = schema.get("multipleOf")
        if _is_number(step) and step > 0:
            base = math.ceil(first / step)
            for k in (base + self.rand.below(8), base, base + 1, base + 2):
                value = round(k * step, 12) if isinstance(step, float) else k * step
                if inside(value) and _is_multiple(value, step):
                    return value
            return first
        value = round(first + (last - first) * self.rand.unit(), 2)
        return value if inside(value) else (first + last) / 2


def _infer_type(schema: dict) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _is_null(schema: object) -> bool:
    if not isinstance(schema, dict):
        return False
    return schema.get("type") == "null" or ("const" in schema and schema["const"] is None)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_multiple(value: float, step: float) -> bool:
    """The way jsonschema checks ``multipleOf`` (float quotient must be integral)."""
    if isinstance(step, float):
        quotient = value / step
        return int(quotient) == quotient
    return value % step == 0


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bounds(schema: Mapping) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive), draft-04 booleans understood."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low = low if _is_number(low) else None
    high = high if _is_number(high) else None
    low_open = high_open = False
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if ex_low is True:
        low_open = low is not None
    elif _is_number(ex_low) and (low is None or ex_low >= low):
        low, low_open = ex_low, True
    if ex_high is True:
        high_open = high is not None
    elif _is_number(ex_high) and (high is None or ex_high <= high):
        high, high_open = ex_high, True
    return low, low_open, high, high_open


def _span(low: float | None, high: float | None) -> tuple:
    """Default the missing ends of a range to a span of 100."""
    if high is None:
        return (0, _SPAN) if low is None else (low, low + _SPAN)
    if low is None:
        return high - _SPAN, high
    return low, high


def _merge(into: dict, part: dict) -> dict:
    """Shallow ``allOf`` merge: properties joined, required united, other keys first wins."""
    merged = dict(into)
    for key, value in part.items():
        if key == "properties" and isinstance(value, dict):
            merged["properties"] = {**merged.get("properties", {}), **value}
        elif key == "required" and isinstance(value, list):
            merged["required"] = [*merged.get("required", []), *value]
        else:
            merged.setdefault(key, value)
    return merged


def _lookup(root: dict, ref: str) -> dict:
    """The target of an internal ``$ref``; ``{}`` (anything) when it cannot be found."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return {}
    node: object = root
    for raw in ref[2:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node if isinstance(node, dict) else {}


def _date(rand: Rand) -> str:
    return f"{2020 + rand.below(7)}-{1 + rand.below(12):02d}-{1 + rand.below(28):02d}"


def _uuid(rand: Rand) -> str:
    return str(uuid.UUID(int=rand.below(1 << 64) << 64 | rand.below(1 << 64), version=4))


def _time(rand: Rand) -> str:
    return f"{rand.below(24):02d}:{rand.below(60):02d}:{rand.below(60):02d}Z"


_FORMATS: dict[str, Callable[[Rand], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda rand: f"{_date(rand)}T{_time(rand)}",
    "duration": lambda rand: f"P{1 + rand.below(30)}DT{rand.below(24)}H",
    "email": lambda rand: f"user{rand.below(10000)}@example.com",
    "idn-email": lambda rand: f"user{rand.below(10000)}@example.com",
    "hostname": lambda rand: f"host-{rand.below(10000)}.example.com",
    "uri": lambda rand: f"https://example.com/item/{rand.below(100000)}",
    "url": lambda rand: f"https://example.com/item/{rand.below(100000)}",
    "ipv4": lambda rand: f"192.0.2.{1 + rand.below(254)}",
    "ipv6": lambda rand: f"2001:db8::{rand.below(0xFFFF):x}",
    "uuid": _uuid,
}
