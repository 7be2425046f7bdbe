"""Pure pieces of the schema walk: bounds, spans, ``$ref`` lookup, ``allOf`` merge, formats.

Nothing here draws more than it is asked to: each function is a pure function of the schema
(or of the random stream it is handed), so the compiled plans of :mod:`fake_schema_plan` can
call them once per schema node instead of once per row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TypeGuard
from urllib.parse import unquote

from llmbatch.emulator.fake_text import Rand

SPAN = 100


def infer_type(schema: dict) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def is_null(schema: object) -> bool:
    if not isinstance(schema, dict):
        return False
    return schema.get("type") == "null" or ("const" in schema and schema["const"] is None)


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_multiple(value: float, step: float) -> bool:
    """The way jsonschema checks ``multipleOf`` (float quotient must be integral)."""
    if isinstance(step, float):
        quotient = value / step
        return int(quotient) == quotient
    return value % step == 0


def int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def bounds(schema: Mapping) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive), draft-04 booleans understood."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low = low if is_number(low) else None
    high = high if is_number(high) else None
    low_open = high_open = False
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if ex_low is True:
        low_open = low is not None
    elif is_number(ex_low) and (low is None or ex_low >= low):
        low, low_open = ex_low, True
    if ex_high is True:
        high_open = high is not None
    elif is_number(ex_high) and (high is None or ex_high <= high):
        high, high_open = ex_high, True
    return low, low_open, high, high_open


def span(low: float | None, high: float | None) -> tuple:
    """Default the missing ends of a range to a span of 100."""
    if high is None:
        return (0, SPAN) if low is None else (low, low + SPAN)
    if low is None:
        return high - SPAN, high
    return low, high


def merge(into: dict, part: dict) -> dict:
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


def lookup(root: dict, ref: str) -> dict:
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


FORMATS: dict[str, Callable[[Rand], str]] = {
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
