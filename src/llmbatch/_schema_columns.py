"""From a schema to output columns, and from one answer to one row of values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal, cast

import orjson

from llmbatch._schema_common import (
    Path,
    checked_copy,
    fail,
    is_null_schema,
    resolve_ref,
)

__all__ = ["Column", "column_values", "columns", "flatten_row", "json_text"]

Dtype = Literal["string", "float", "int", "bool", "list", "json"]

_BY_TYPE: dict[str, Dtype] = {
    "string": "string",
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "array": "list",
}


@dataclass(frozen=True)
class Column:
    """One output column: ``name`` is the dotted ``path``; ``dtype`` is its value kind."""

    name: str
    path: tuple[str, ...]
    dtype: Dtype
    nullable: bool


@dataclass(frozen=True)
class _Kind:
    dtype: Dtype | Literal["object"]
    nullable: bool
    node: dict[str, Any] | None = None  # the object schema, when dtype is "object"
    stack: tuple[str, ...] = ()


def columns(schema: dict[str, Any]) -> list[Column]:
    """The columns ``classify()`` adds for a schema, in schema order.

    Nested objects are flattened into ``parent.child`` columns; optional or nullable fields are
    ``nullable``; internal ``$ref``s are followed (a recursive one becomes a ``json`` column).

    Example:
        >>> [c.name for c in columns({"type": "object", "properties": {
        ...     "label": {"type": "string"},
        ...     "scores": {"type": "object", "properties": {"x": {"type": "number"}}}}})]
        ['label', 'scores.x']
    """
    root = checked_copy(schema)
    out: list[Column] = []
    _add_properties(root, root, (), False, ("#",), out)
    seen: set[str] = set()
    for col in out:
        if col.name in seen:
            fail(
                f"two fields flatten to the same column name {col.name!r}",
                None,
                "rename the property whose name contains a dot.",
            )
        seen.add(col.name)
    return out


def _add_properties(
    root: dict[str, Any],
    node: dict[str, Any],
    prefix: tuple[str, ...],
    nullable: bool,
    stack: tuple[str, ...],
    out: list[Column],
) -> None:
    required = set(node.get("required") or [])
    for name, prop in (node.get("properties") or {}).items():
        path = (*prefix, name)
        kind = _kind(root, prop, stack, (*prefix, "properties", name))
        may_be_null = nullable or kind.nullable or name not in required
        if kind.dtype == "object" and kind.node is not None:
            _add_properties(root, kind.node, path, may_be_null, kind.stack, out)
        else:
            dtype: Dtype = "json" if kind.dtype == "object" else kind.dtype
            out.append(Column(".".join(path), path, dtype, may_be_null))


def _kind(root: dict[str, Any], node: object, stack: tuple[str, ...], where: Path) -> _Kind:
    """What a property holds: a scalar dtype, a list, an object to flatten, or json."""
    if not isinstance(node, dict):
        return _Kind("json", True)
    while isinstance(node.get("$ref"), str) or _single_all_of(node):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                return _Kind("json", True)
            stack = (*stack, ref)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**resolve_ref(root, ref, where), **rest}
        else:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            node = {**node["allOf"][0], **rest}
    variants = node.get("anyOf", node.get("oneOf"))
    if isinstance(variants, list):
        return _union(root, variants, stack, where)
    if "const" in node:
        return _from_values([node["const"]])
    if "enum" in node and "type" not in node:
        return _from_values(list(node["enum"]))
    return _from_type(node, stack)


def _single_all_of(node: dict[str, Any]) -> bool:
    all_of = node.get("allOf")
    return isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict)


def _union(root: dict[str, Any], variants: list[Any], stack: tuple[str, ...], where: Path) -> _Kind:
    kinds = [_kind(root, v, stack, where) for v in variants if not is_null_schema(v)]
    nullable = len(kinds) < len(variants) or any(k.nullable for k in kinds)
    if len(kinds) == 1:
        return _Kind(kinds[0].dtype, nullable, kinds[0].node, kinds[0].stack)
    return _Kind(_merged({k.dtype for k in kinds}), nullable)


_SCALAR_DTYPES = frozenset({"string", "float", "int", "bool"})


def _merged(dtypes: set[Dtype | Literal["object"]]) -> Dtype:
    """One column for several kinds of value: numbers as floats; scalars with a string among
    them as text (``'y'`` and ``'67'``, not JSON ``'"y"'``); anything else JSON text."""
    if dtypes == {"int", "float"}:
        return "float"
    if len(dtypes) == 1:
        (only,) = dtypes
        if only != "object":
            return only
    if "string" in dtypes and dtypes <= _SCALAR_DTYPES:
        return "string"
    return "json"


def _from_values(values: list[Any]) -> _Kind:
    present = [v for v in values if v is not None]
    nullable = len(present) < len(values)
    if not present:
        return _Kind("json", nullable)
    return _Kind(_merged({_value_dtype(v) for v in present}), nullable)


def _value_dtype(value: object) -> Dtype | Literal["object"]:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "object"


def _from_type(node: dict[str, Any], stack: tuple[str, ...]) -> _Kind:
    typ = node.get("type")
    types = [t for t in (typ if isinstance(typ, list) else [typ]) if t is not None]
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    if len(types) > 1:
        return _Kind(_merged({_BY_TYPE.get(t, "object") for t in types}), nullable)
    if not types:
        return _Kind("json", True)
    if types[0] == "object":
        has_props = isinstance(node.get("properties"), dict) and bool(node["properties"])
        return _Kind("object", nullable, node if has_props else None, stack)
    return _Kind(_BY_TYPE.get(types[0], "json"), nullable)


def flatten_row(obj: object, cols: list[Column]) -> dict[str, object]:
    """One answer as ``{column name: value}``: missing values are None, ``json`` columns JSON text,
    and a number or bool in a ``string`` column (a string|integer union) its plain text.

    Example:
        >>> cols = [Column("a.b", ("a", "b"), "float", False), Column("c", ("c",), "json", True)]
        >>> flatten_row({"a": {"b": 1}, "c": {"k": [1]}}, cols)
        {'a.b': 1.0, 'c': '{"k":[1]}'}
    """
    return {col.name: column_values([obj], col)[0] for col in cols}


def column_values(objs: list[object], col: Column) -> list[object]:
    """One column of many answers (`flatten_row`'s values, a column at a time: the columnar
    form collect() uses; most schemas are flat, so most columns are one lookup a row)."""
    try:  # every answer an object (the common case): one lookup a row, no Python step
        answers = cast(list[dict[str, Any]], objs)
        values: list[Any] = list(map(dict.get, answers, repeat(col.path[0])))
    except TypeError:
        values = [o.get(col.path[0]) if isinstance(o, dict) else None for o in objs]
    for key in col.path[1:]:
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
    dtype = col.dtype
    if dtype in ("bool", "list"):  # kept as they are
        return values
    kept = _KEPT.get(dtype)
    if kept is not None:  # the common case: a value of the column's own type, kept as is
        return [v if v is None or type(v) is kept else _cell(v, dtype) for v in values]
    return [None if v is None else _cell(v, dtype) for v in values]


_KEPT: dict[str, type] = {"string": str, "float": float, "int": int}  # `_cell` keeps these


def _cell(value: Any, dtype: Dtype) -> Any:
    """One value as its column holds it; a value that does not fit is left for the column
    builder to refuse (that row becomes an error row, the others stay)."""
    if dtype == "json":
        return json_text(value)
    if dtype == "string" and type(value) in (int, float, bool):
        return json_text(value)  # a string|integer union: '67' next to 'y'
    if dtype == "float" and type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return value
    if dtype == "int" and type(value) is float and value.is_integer():
        return int(value)  # JSON Schema counts 2.0 as an integer
    return value


def json_text(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson refuses integers beyond 64 bits; the stdlib does not
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
