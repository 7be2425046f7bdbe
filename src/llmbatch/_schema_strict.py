"""Provider forms of a JSON Schema: OpenAI strict mode and Anthropic structured outputs.

Both start from `checked_copy` (valid draft 2020-12, object root, internal refs only) and then
rewrite a copy node by node. What a provider would reject raises `SchemaError` naming the
keyword and its path, before anything is sent; with ``relax=True`` the value-only constraints
(bounds, lengths, counts, formats) move into ``description`` instead, as the Anthropic SDK's
``transform_schema`` does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from llmbatch._schema_common import (
    ANNOTATIONS,
    Path,
    accepts_null,
    checked_copy,
    fail,
    find_recursive_ref,
    is_object,
    resolve_ref,
    subject,
)
from llmbatch._schema_limits import check_anthropic_limits, check_openai_limits

__all__ = ["anthropic_format", "openai_strict"]

_OPENAI = "OpenAI strict mode rejects"
_ANTHROPIC = "Anthropic structured outputs reject"

_REWRITE = "rewrite the schema without it; 'anyOf' and 'enum' are supported."
_MAPS = "list the keys under 'properties'; free-form maps cannot be constrained."
_ONE = "write the schema without 'allOf', as one object."
_TUPLES = "use 'items' with one schema for every element, or an object with named properties."

# Keywords that hold subschemas or logic no description can carry: always an error.
_REJECTED: dict[str, str] = {
    "not": _REWRITE,
    "if": _REWRITE,
    "then": _REWRITE,
    "else": _REWRITE,
    "dependentSchemas": _REWRITE,
    "dependencies": _REWRITE,
    "$dynamicRef": _REWRITE,
    "patternProperties": _MAPS,
    "unevaluatedProperties": _MAPS,
    "propertyNames": _MAPS,
    "contains": _TUPLES,
    "prefixItems": _TUPLES,
    "unevaluatedItems": _TUPLES,
    "additionalItems": _TUPLES,
}

# Constraints on values only: an error, or moved into 'description' with relax=True.
_VALUE_ONLY = frozenset(
    {"minLength", "maxLength", "uniqueItems", "minProperties", "maxProperties"}
    | {"minContains", "maxContains", "dependentRequired"}
)
_ANTHROPIC_VALUE_ONLY = _VALUE_ONLY | {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "maxItems",
}
_OPENAI_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_ANTHROPIC_FORMATS = _OPENAI_FORMATS | {"uri"}

_RELAX = " (or pass relax=True to move it into 'description')"
_CONSTRAINT_HINTS = {
    "minimum": "remove it or describe the range in 'description'",
    "maximum": "remove it or describe the range in 'description'",
    "exclusiveMinimum": "remove it or describe the range in 'description'",
    "exclusiveMaximum": "remove it or describe the range in 'description'",
    "multipleOf": "remove it or describe the step in 'description'",
    "minLength": "remove it or describe the length in 'description'",
    "maxLength": "remove it or describe the length in 'description'",
    "minItems": "use minItems 0 or 1, or describe the count in 'description'",
    "maxItems": "remove it or describe the count in 'description'",
}


@dataclass
class _Rules:
    provider: str
    formats: frozenset[str]
    value_only: frozenset[str]
    max_min_items: int | None  # minItems above this is unsupported (None: any)
    multi_all_of: bool
    relax: bool
    keep: bool = False  # leave value-only constraints in place: the form answers are checked by


def openai_strict(schema: dict[str, Any], *, relax: bool = False) -> dict[str, Any]:
    """The OpenAI strict-mode form of a JSON Schema (as ``response_format.json_schema.schema``).

    Every object gets ``additionalProperties: false``; every property becomes required, and
    properties that were optional become nullable; a one-element ``allOf`` is flattened,
    ``oneOf`` becomes ``anyOf``, a ``$ref`` with sibling keys is inlined, ``default: null`` is
    dropped. Keywords strict mode rejects and schemas over its size limits raise `SchemaError`.

    Example:
        >>> strict = openai_strict({"type": "object", "properties": {"n": {"type": "integer"}}})
        >>> strict["required"], strict["properties"]["n"], strict["additionalProperties"]
        (['n'], {'type': ['integer', 'null']}, False)
    """
    rules = _Rules(_OPENAI, _OPENAI_FORMATS, _VALUE_ONLY, None, False, relax)
    source = checked_copy(schema)
    result = _Rewriter(source, rules).node(copy.deepcopy(source), ())
    check_openai_limits(result)
    return result


def answer_form(schema: dict[str, Any], provider: str) -> dict[str, Any]:
    """The provider's form of `schema` with its value-only constraints left in place.

    With ``relax=True`` the provider is not told of ``minimum``, ``pattern`` and the like (they
    move into descriptions), so it cannot enforce them; answers are checked against this form
    instead, and one that breaks a constraint is that row's error.
    """
    openai = provider == "openai"
    rules = (
        _Rules(_OPENAI, _OPENAI_FORMATS, _VALUE_ONLY, None, False, True, keep=True)
        if openai
        else _Rules(_ANTHROPIC, _ANTHROPIC_FORMATS, _ANTHROPIC_VALUE_ONLY, 1, True, True, keep=True)
    )
    source = checked_copy(schema)
    return _Rewriter(source, rules).node(copy.deepcopy(source), ())


def anthropic_format(schema: dict[str, Any], *, relax: bool = False) -> dict[str, Any]:
    """The Anthropic structured-outputs form of a JSON Schema (``output_config.format.schema``).

    Every object gets ``additionalProperties: false`` and ``oneOf`` becomes ``anyOf``; optional
    properties stay optional. Recursive schemas, numeric bounds, string lengths, ``minItems``
    above 1 and the other keywords Anthropic rejects raise `SchemaError`, as do more than 24
    optional or 16 union-typed properties; ``relax=True`` moves the value-only constraints into
    ``description`` instead.

    Example:
        >>> anthropic_format({"type": "object", "properties": {"n": {"type": "integer"}}})
        {'type': 'object', 'properties': {'n': {'type': 'integer'}}, 'additionalProperties': False}
    """
    rules = _Rules(_ANTHROPIC, _ANTHROPIC_FORMATS, _ANTHROPIC_VALUE_ONLY, 1, True, relax)
    source = checked_copy(schema)
    recursive = find_recursive_ref(source)
    if recursive is not None:
        ref, where = recursive
        fail(
            f"$ref {ref!r} makes the schema recursive, which {_ANTHROPIC}",
            where,
            "unroll the recursion to a fixed depth (OpenAI strict mode accepts recursion).",
        )
    result = _Rewriter(source, rules).node(copy.deepcopy(source), ())
    check_anthropic_limits(result)
    return result


@dataclass
class _Rewriter:
    """Rewrites one schema node by node; ``source`` is the untouched copy refs resolve in."""

    source: dict[str, Any]
    rules: _Rules
    inlining: list[str] = field(default_factory=list)

    def node(self, node: object, path: Path) -> dict[str, Any]:
        if not isinstance(node, dict):
            fail(
                f"{subject(path)} is the boolean schema {node!r}, which {self.rules.provider}",
                path,
                "replace it with a typed schema such as {'type': 'string'}.",
            )
        depth = len(self.inlining)
        node = self._normalise(node, path)
        self._check(node, path)
        for key in ("$defs", "definitions", "properties"):
            if isinstance(node.get(key), dict):
                node[key] = {k: self.node(v, (*path, key, k)) for k, v in node[key].items()}
        if "items" in node:
            node["items"] = self.node(node["items"], (*path, "items"))
        for key in ("anyOf", "allOf"):
            if isinstance(node.get(key), list):
                node[key] = [self.node(v, (*path, key, i)) for i, v in enumerate(node[key])]
        if is_object(node):
            node["additionalProperties"] = False
            if self.rules.provider == _OPENAI:
                _require_all(node)
        if self.rules.provider == _OPENAI and "default" in node and node["default"] is None:
            del node["default"]
        del self.inlining[depth:]
        return node

    def _normalise(self, node: dict[str, Any], path: Path) -> dict[str, Any]:
        """Flatten one-element allOf, turn oneOf into anyOf, inline $ref with siblings."""
        while True:
            all_of = node.get("allOf")
            ref = node.get("$ref")
            if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
                node = _merge(all_of[0], {k: v for k, v in node.items() if k != "allOf"}, path)
            elif "oneOf" in node:
                if "anyOf" in node:
                    fail(f"{subject(path)} has both 'oneOf' and 'anyOf'", path, _REWRITE)
                node = {("anyOf" if k == "oneOf" else k): v for k, v in node.items()}
                node.pop("discriminator", None)  # an OpenAPI hint about oneOf, not JSON Schema
            elif isinstance(ref, str) and len(node) > 1 and ref in self.inlining:
                node = self._bare_ref(node, ref, path)
            elif isinstance(ref, str) and len(node) > 1:
                self.inlining.append(ref)
                rest = {k: v for k, v in node.items() if k != "$ref"}
                node = {**copy.deepcopy(resolve_ref(self.source, ref, path)), **rest}
            else:
                return node

    def _bare_ref(self, node: dict[str, Any], ref: str, path: Path) -> dict[str, Any]:
        """A recursive $ref cannot be inlined: keep it bare, dropping only annotations."""
        extra = [k for k in node if k != "$ref" and k not in ANNOTATIONS]
        if extra:
            fail(
                f"recursive $ref {ref!r} has sibling keywords {extra}, which cannot be inlined",
                path,
                "move those keywords into the referenced definition.",
            )
        return {"$ref": ref}

    def _check(self, node: dict[str, Any], path: Path) -> None:
        provider = self.rules.provider
        for key, hint in _REJECTED.items():
            if key in node:
                fail(f"{subject(path)} uses {key!r}, which {provider}", path, hint)
        if isinstance(node.get("items"), list):
            fail(f"{subject(path)} gives 'items' as a list, which {provider}", path, _TUPLES)
        self._check_all_of(node, path)
        self._check_additional(node, path)
        self._check_enum(node, path)
        in_all_of = len(path) >= 2 and path[-2] == "allOf"  # a part of a whole needs no type
        typed = ("type", "enum", "const", "anyOf", "allOf", "$ref")
        if not in_all_of and not any(k in node for k in typed):
            fail(
                f"{subject(path)} has no 'type', which {provider}",
                path,
                "give it a type such as {'type': 'string'} (or an 'enum' or 'anyOf').",
            )
        offenders = self._value_only(node)
        if offenders and self.rules.keep:
            pass
        elif offenders and self.rules.relax:
            _move_to_description(node, offenders)
        elif offenders:
            key = offenders[0]
            hint = _CONSTRAINT_HINTS.get(key, "remove it or describe it in 'description'")
            if key == "format":
                hint = f"use one of {sorted(self.rules.formats)} or remove it"
            fail(
                f"{subject(path)} uses {key!r}: {node[key]!r}, which {provider}",
                path,
                hint + _RELAX + ".",
            )

    def _check_all_of(self, node: dict[str, Any], path: Path) -> None:
        all_of = node.get("allOf")
        if not isinstance(all_of, list):
            return
        if not self.rules.multi_all_of:
            fail(
                f"{subject(path)} uses 'allOf' with {len(all_of)} schemas, which "
                f"{self.rules.provider}",
                path,
                "merge the schemas into one object (a one-element allOf is flattened for you).",
            )
        if any(isinstance(s, dict) and "$ref" in s for s in all_of) or "$ref" in node:
            fail(
                f"{subject(path)} combines 'allOf' with '$ref', which {self.rules.provider}",
                path,
                "inline the referenced schema or merge the allOf entries into one object.",
            )
        objects = sum(1 for s in all_of if isinstance(s, dict) and is_object(s))
        if objects + is_object(node) > 1:
            fail(
                f"{subject(path)} combines objects with 'allOf'; once every object is closed "
                "(additionalProperties: false) no answer can satisfy them all",
                path,
                "merge the objects' properties into one object.",
            )

    def _check_additional(self, node: dict[str, Any], path: Path) -> None:
        extra = node.get("additionalProperties", False)
        if extra is not False:
            shown = "true" if extra is True else "a schema"
            fail(
                f"{subject(path)} sets 'additionalProperties' to {shown}, which "
                f"{self.rules.provider}: every object must be closed",
                path,
                "remove it (llmbatch sets false), or model free-form data as an array of "
                "{key, value} objects.",
            )

    def _check_enum(self, node: dict[str, Any], path: Path) -> None:
        values = node.get("enum")
        if values is None:
            return
        if not values:
            fail(f"{subject(path)} has an empty 'enum'", path, "list at least one value.")
        bad = [v for v in values if not (v is None or isinstance(v, (str, int, float, bool)))]
        if bad:
            fail(
                f"{subject(path)} has enum values that are not strings, numbers, booleans or "
                f"null: {bad!r}, which {self.rules.provider}",
                path,
                "use primitive enum values, or 'anyOf' of object schemas.",
            )

    def _value_only(self, node: dict[str, Any]) -> list[str]:
        keys = [k for k in node if k in self.rules.value_only]
        fmt = node.get("format")
        if fmt is not None and fmt not in self.rules.formats:
            keys.append("format")
        limit = self.rules.max_min_items
        if limit is not None and isinstance(node.get("minItems"), int) and node["minItems"] > limit:
            keys.append("minItems")
        return keys


def _merge(part: dict[str, Any], rest: dict[str, Any], path: Path) -> dict[str, Any]:
    """A one-element allOf folded into its parent; properties and required are unions."""
    merged = dict(part)
    for key, value in rest.items():
        mine = merged.get(key)
        if key not in merged or mine == value or key in ANNOTATIONS:
            merged[key] = value
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "properties" and isinstance(mine, dict) and isinstance(value, dict):
            clash = [n for n in value if n in mine and mine[n] != value[n]]
            if clash:
                fail(f"{subject(path)} defines properties {clash} twice via 'allOf'", path, _ONE)
            merged[key] = {**mine, **value}
        else:
            fail(f"{subject(path)} sets {key!r} both inside and beside 'allOf'", path, _ONE)
    return merged


def _require_all(node: dict[str, Any]) -> None:
    """OpenAI: every property required; those that were optional become nullable."""
    properties = node.get("properties")
    if not isinstance(properties, dict):
        node["required"] = []
        return
    required = set(node.get("required", []))
    for name, prop in properties.items():
        if name not in required and not accepts_null(prop):
            properties[name] = _nullable(prop)
    node["required"] = list(properties)


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` widened to admit null: a type list where it can be, else an anyOf with null."""
    typ = node.get("type")
    if typ is not None and not any(k in node for k in ("enum", "const", "anyOf", "$ref")):
        return {**node, "type": [*(typ if isinstance(typ, list) else [typ]), "null"]}
    if isinstance(node.get("anyOf"), list):
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    outer = {k: node[k] for k in ANNOTATIONS if k in node}
    inner = {k: v for k, v in node.items() if k not in ANNOTATIONS}
    return {**outer, "anyOf": [inner, {"type": "null"}]}


def _move_to_description(node: dict[str, Any], keys: list[str]) -> None:
    """Like the Anthropic SDK: unsupported constraints become ``{key: value}`` description text."""
    text = "{" + ", ".join(f"{key}: {node.pop(key)}" for key in keys) + "}"
    description = node.get("description")
    node["description"] = f"{description}\n\n{text}" if description else text
