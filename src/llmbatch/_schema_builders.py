"""The schema builders of `llmbatch.schema`: small JSON Schema pieces with checked arguments.

Each returns a fresh dict; a bad argument raises `SchemaError` with a hint.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from llmbatch._schema_common import fail

__all__ = [
    "schema_array",
    "schema_boolean",
    "schema_enum",
    "schema_integer",
    "schema_number",
    "schema_object",
    "schema_string",
]

_ENUM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}

EnumValue = str | int | float | bool


# --- builders ----------------------------------------------------------------------------


def _base(typ: str, description: str | None, nullable: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": [typ, "null"] if nullable else typ}
    if description is not None:
        if not isinstance(description, str):
            fail(f"description must be a string, not {description!r}", None, "pass text.")
        out["description"] = description
    return out


def schema_string(
    description: str | None = None,
    *,
    enum: Sequence[str] | None = None,
    format: str | None = None,
    pattern: str | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """A string field, optionally limited to ``enum`` values, a ``format`` or a regex ``pattern``.

    Example:
        >>> schema_string("ISO date", format="date")
        {'type': 'string', 'description': 'ISO date', 'format': 'date'}
    """
    out = _base("string", description, nullable)
    if enum is not None:
        values = _enum_values(enum, "string")
        out["enum"] = [*values, None] if nullable else values
    if format is not None:
        out["format"] = format
    if pattern is not None:
        out["pattern"] = pattern
    return out


def schema_enum(
    values: Sequence[EnumValue],
    description: str | None = None,
    *,
    type: Literal["string", "integer", "number", "boolean"] | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """A field that takes one of ``values``; its JSON type is inferred from them unless given.

    Example:
        >>> schema_enum(["positive", "negative"], "sentiment")
        {'type': 'string', 'description': 'sentiment', 'enum': ['positive', 'negative']}
    """
    typ = type if type is not None else _infer_enum_type(values)
    checked = _enum_values(values, typ)
    out = _base(typ, description, nullable)
    out["enum"] = [*checked, None] if nullable else checked
    return out


def _infer_enum_type(values: Sequence[EnumValue]) -> str:
    present = list(values) if isinstance(values, (list, tuple)) else []
    if present and all(isinstance(v, str) for v in present):
        return "string"
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    return "string"  # _enum_values names the values that do not fit


def _enum_values(values: object, typ: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        fail(f"enum values must be a non-empty list, not {values!r}", None, "pass ['a', 'b'].")
    allowed = _ENUM_TYPES.get(typ)
    if allowed is None:
        fail(f"enum type {typ!r} is not supported", None, f"use one of {sorted(_ENUM_TYPES)}.")
    is_bool = typ == "boolean"
    bad = [v for v in values if not isinstance(v, allowed) or isinstance(v, bool) != is_bool]
    if bad:
        fail(
            f"enum values {bad!r} are not of type {typ!r}",
            None,
            "use values of one type, or pass type= to say which JSON type they are.",
        )
    keyed = Counter((v.__class__ is bool, v) for v in values)
    dupes = [v for (_, v), n in keyed.items() if n > 1]
    if dupes:
        fail(f"duplicate enum values: {dupes!r}", None, "list each value once.")
    return list(values)


def _bound(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"{name} must be a number, not {value!r}", None, f"pass a number as {name}=.")
    return value


def _numeric(
    typ: str, description: str | None, minimum: object, maximum: object, nullable: bool
) -> dict[str, Any]:
    low, high = _bound(minimum, "minimum"), _bound(maximum, "maximum")
    if low is not None and high is not None and low > high:
        fail(f"minimum {low!r} is greater than maximum {high!r}", None, "swap them.")
    out = _base(typ, description, nullable)
    if low is not None:
        out["minimum"] = low
    if high is not None:
        out["maximum"] = high
    return out


def schema_number(
    description: str | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """A number field (a float column), optionally bounded.

    Anthropic rejects ``minimum``/``maximum``: leave them out there, or use ``relax=True``.

    Example:
        >>> schema_number("confidence", minimum=0, maximum=1)
        {'type': 'number', 'description': 'confidence', 'minimum': 0, 'maximum': 1}
    """
    return _numeric("number", description, minimum, maximum, nullable)


def schema_integer(
    description: str | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """An integer field (an int column), optionally bounded.

    Example:
        >>> schema_integer("stars", minimum=1, maximum=5)
        {'type': 'integer', 'description': 'stars', 'minimum': 1, 'maximum': 5}
    """
    return _numeric("integer", description, minimum, maximum, nullable)


def schema_boolean(description: str | None = None, *, nullable: bool = False) -> dict[str, Any]:
    """A true/false field (a bool column).

    Example:
        >>> schema_boolean("mentions a refund")
        {'type': 'boolean', 'description': 'mentions a refund'}
    """
    return _base("boolean", description, nullable)


def schema_array(
    items: dict[str, Any],
    description: str | None = None,
    *,
    min_items: int | None = None,
    max_items: int | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """A list field whose elements all follow ``items`` (a list column).

    Example:
        >>> schema_array(schema_string(), "topics", max_items=3)
        {'type': 'array', 'description': 'topics', 'items': {'type': 'string'}, 'maxItems': 3}
    """
    if not isinstance(items, dict):
        fail(f"array items must be a schema dict, not {items!r}", None, "pass schema_string().")
    for name, value in (("min_items", min_items), ("max_items", max_items)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            fail(f"{name} must be a non-negative integer, not {value!r}", None, f"fix {name}=.")
    if min_items is not None and max_items is not None and min_items > max_items:
        fail(f"min_items {min_items} is greater than max_items {max_items}", None, "swap them.")
    out = _base("array", description, nullable)
    out["items"] = copy.deepcopy(items)
    if min_items is not None:
        out["minItems"] = min_items
    if max_items is not None:
        out["maxItems"] = max_items
    return out


def schema_object(
    properties: Mapping[str, dict[str, Any]] | None = None,
    /,
    *,
    required: Sequence[str] | None = None,
    description: str | None = None,
    additional_properties: bool = False,
    **kw_properties: dict[str, Any],
) -> dict[str, Any]:
    """An object with named fields (flattened to ``parent.child`` columns when nested).

    Fields come from the ``properties`` mapping and/or keyword arguments, in that order; use the
    mapping for names that are not identifiers or clash with this function's keywords.
    ``required=None`` makes every field required.

    Example:
        >>> schema_object(label=schema_string(), score=schema_number())["required"]
        ['label', 'score']
    """
    merged: dict[str, dict[str, Any]] = dict(properties or {})
    clash = sorted(set(merged) & set(kw_properties))
    if clash:
        fail(f"fields {clash} are given twice", None, "pass each field once.")
    merged.update(kw_properties)
    bad = [name for name, value in merged.items() if not isinstance(value, dict)]
    if bad:
        fail(f"fields {bad} are not schema dicts", None, "pass e.g. schema_string().")
    names = list(merged) if required is None else list(required)
    unknown = [name for name in names if name not in merged]
    if unknown:
        fail(f"required names {unknown} are not fields", None, f"fields are {list(merged)}.")
    out = _base("object", description, False)
    out["properties"] = copy.deepcopy(merged)
    out["required"] = names
    out["additionalProperties"] = bool(additional_properties)
    return out
