"""Schemas for ``classify()``: build them, normalise what users pass, and shape them per provider.

```python
from llmbatch import schema as s

sentiment = s.schema_object(
    label=s.schema_enum(["positive", "negative", "neutral"], "overall sentiment"),
    confidence=s.schema_number("0 to 1"),
    topics=s.schema_array(s.schema_string()),
)
spec = s.to_json_schema(sentiment, name="sentiment")   # also: a dict, a pydantic model, labels
s.openai_strict(spec.schema)        # what OpenAI receives (strict mode)
s.anthropic_format(spec.schema)     # what Anthropic receives (structured outputs)
s.columns(spec.schema)              # label, confidence, topics
```

Every function returns fresh dicts and never mutates its input; every problem raises
`llmbatch.SchemaError` naming the value and its JSON path, with a hint.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmbatch._exceptions import SchemaError
from llmbatch._schema_columns import Column, columns, flatten_row
from llmbatch._schema_common import checked_copy, fail
from llmbatch._schema_strict import anthropic_format, openai_strict
from llmbatch._schema_validate import make_validator

__all__ = [
    "Column",
    "JsonSchema",
    "SchemaLike",
    "anthropic_format",
    "columns",
    "create_json_schema",
    "flatten_row",
    "make_validator",
    "openai_strict",
    "schema_array",
    "schema_boolean",
    "schema_enum",
    "schema_integer",
    "schema_number",
    "schema_object",
    "schema_string",
    "to_json_schema",
]

DEFAULT_NAME = "classification"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_WRAPPER_KEYS = frozenset({"name", "schema", "strict", "description", "type"})
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


# --- the named schema --------------------------------------------------------------------


@dataclass(frozen=True)
class JsonSchema:
    """A named JSON Schema, as OpenAI's ``response_format.json_schema`` carries it."""

    name: str
    schema: dict[str, Any]
    strict: bool = True
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "schema", "strict"[, "description"]}`` as a fresh dict.

        Example:
            >>> create_json_schema("s", schema_object(a=schema_string())).to_dict()["name"]
            's'
        """
        out: dict[str, Any] = {
            "name": self.name,
            "schema": copy.deepcopy(self.schema),
            "strict": self.strict,
        }
        if self.description is not None:
            out["description"] = self.description
        return out


SchemaLike = dict[str, Any] | JsonSchema | type | Sequence[str]
"""What ``classify()`` accepts as its schema (see `to_json_schema`)."""


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        fail(
            f"schema name {name!r} is not allowed",
            None,
            "use 1 to 64 letters, digits, '_' or '-', e.g. 'sentiment'.",
        )
    return name


def create_json_schema(
    name: str, schema: dict[str, Any], *, strict: bool = True, description: str | None = None
) -> JsonSchema:
    """Name a schema (checked now: valid JSON Schema, an object root with properties).

    Example:
        >>> create_json_schema("sentiment", schema_object(label=schema_string())).name
        'sentiment'
    """
    if description is not None and not isinstance(description, str):
        fail(f"description must be a string, not {description!r}", None, "pass text.")
    return JsonSchema(_check_name(name), checked_copy(schema), bool(strict), description)


def to_json_schema(
    schema: SchemaLike, *, label_column: str = "label", name: str | None = None
) -> JsonSchema:
    """Normalise whatever a user passed to ``classify()`` into a checked `JsonSchema`.

    Accepts a JSON Schema dict, a ``{"name", "schema", "strict"}`` wrapper (or a whole OpenAI
    ``response_format`` / Anthropic ``output_config.format``), a `JsonSchema`, a pydantic model
    class, or a list of labels (one string enum column named ``label_column``).

    Example:
        >>> to_json_schema(["positive", "negative"]).schema["properties"]
        {'label': {'type': 'string', 'enum': ['positive', 'negative']}}
    """
    if isinstance(schema, JsonSchema):
        base = schema
    elif isinstance(schema, dict):
        base = _from_dict(schema)
    elif isinstance(schema, type) and callable(getattr(schema, "model_json_schema", None)):
        base = _from_model(schema)
    elif isinstance(schema, (list, tuple)):
        base = JsonSchema(DEFAULT_NAME, _labels_schema(schema, label_column))
    else:
        shown = "a single string" if isinstance(schema, str) else type(schema).__name__
        fail(
            f"classify() got {shown} as its schema",
            None,
            "pass a JSON Schema dict, a pydantic model class, or a list of labels such as "
            "['positive', 'negative'].",
        )
    final = _check_name(name) if name is not None else base.name
    return dataclasses.replace(base, name=final, schema=checked_copy(base.schema))


def _from_dict(data: dict[str, Any]) -> JsonSchema:
    if data.get("type") == "json_schema" and isinstance(data.get("json_schema"), dict):
        data = data["json_schema"]  # a whole OpenAI response_format
    is_wrapper = isinstance(data.get("schema"), dict) and set(data) <= _WRAPPER_KEYS
    if not is_wrapper or data.get("type", "json_schema") != "json_schema":
        return JsonSchema(DEFAULT_NAME, data)
    strict = data.get("strict", True)
    if not isinstance(strict, bool):
        fail(f"'strict' must be true or false, not {strict!r}", None, "pass a bool.")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        fail(f"description must be a string, not {description!r}", None, "pass text.")
    name = _check_name(data["name"]) if "name" in data else DEFAULT_NAME
    return JsonSchema(name, data["schema"], strict, description)


def _from_model(model: type) -> JsonSchema:
    try:
        generated = model.model_json_schema()  # type: ignore[attr-defined]
    except Exception as exc:  # pydantic raises several kinds; all mean "no schema"
        msg = f"pydantic could not build a JSON Schema for {model.__name__}: {exc}"
        raise SchemaError(f"{msg}\nHint: use JSON-compatible field types.") from exc
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", model.__name__)[:64] or DEFAULT_NAME
    return JsonSchema(name, generated)


def _labels_schema(labels: Sequence[object], label_column: str) -> dict[str, Any]:
    if not isinstance(label_column, str) or not label_column:
        fail(f"label_column must be a non-empty string, not {label_column!r}", None, "fix it.")
    if not labels:
        fail("the list of labels is empty", None, "pass at least one label, e.g. ['yes', 'no'].")
    bad = [label for label in labels if not isinstance(label, str) or not label.strip()]
    if bad:
        fail(f"labels must be non-empty strings; got {bad!r}", None, "fix or drop those labels.")
    dupes = [label for label, n in Counter(labels).items() if n > 1]
    if dupes:
        fail(f"duplicate labels: {dupes!r}", None, "list each label once.")
    return {
        "type": "object",
        "properties": {label_column: {"type": "string", "enum": list(labels)}},
        "required": [label_column],
        "additionalProperties": False,
    }
