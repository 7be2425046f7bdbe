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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbatch._exceptions import SchemaError
from llmbatch._schema_builders import (
    schema_array,
    schema_boolean,
    schema_enum,
    schema_integer,
    schema_number,
    schema_object,
    schema_string,
)
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
