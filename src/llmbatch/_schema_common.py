"""Shared pieces of the schema layer: error messages with JSON paths, `$ref` resolution, walks.

Paths are tuples of keys and indices into the schema, shown dotted in messages
(``properties.score.anyOf.0``). Every problem is raised as `SchemaError` with a `Hint:` line.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from llmbatch._exceptions import SchemaError

Path = tuple[str | int, ...]

# Keywords whose values are data (instances), never subschemas: never walk into them.
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})

# Annotations that describe a schema rather than constrain it; they move with a wrapper.
ANNOTATIONS = ("title", "description", "default", "examples")


def dotted(path: Path) -> str:
    """``('properties', 'score')`` -> ``'properties.score'``; the empty path is the root."""
    return ".".join(str(part) for part in path) if path else "the root"


def subject(path: Path) -> str:
    """How a message names the place: a property by its name, else the schema."""
    if len(path) >= 2 and path[-2] == "properties":
        return f"schema property {path[-1]!r}"
    if len(path) >= 2 and path[-2] in ("$defs", "definitions"):
        return f"schema definition {path[-1]!r}"
    return "the schema root" if not path else "the schema"


def fail(message: str, path: Path | None, hint: str) -> NoReturn:
    """Raise `SchemaError` with the path (when given) and a hint line."""
    where = f" (at {dotted(path)})" if path is not None else ""
    raise SchemaError(f"{message}{where}\nHint: {hint}")


def resolve_ref(root: dict[str, Any], ref: object, path: Path) -> dict[str, Any]:
    """The subschema an internal ``$ref`` (a JSON pointer such as ``#/$defs/Item``) points at."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        fail(
            f"$ref {ref!r} points outside the schema",
            path,
            "inline the referenced schema, or put it under '$defs' and use '#/$defs/<name>'.",
        )
    pointer = ref[1:]
    if pointer and not pointer.startswith("/"):
        fail(
            f"$ref {ref!r} uses an anchor, which llmbatch cannot resolve",
            path,
            "use a JSON pointer such as '#/$defs/<name>'.",
        )
    node: Any = root
    for part in pointer_parts(ref):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            fail(f"$ref {ref!r} does not resolve", path, "check the name under '$defs'.")
    if not isinstance(node, dict):
        fail(f"$ref {ref!r} does not point at a schema object", path, "point it at a schema.")
    return node


def pointer_parts(ref: str) -> list[str]:
    """``'#/$defs/a~1b'`` -> ``['$defs', 'a/b']`` (JSON pointer unescaping)."""
    raw = ref[1:].split("/")[1:] if ref.startswith("#/") else []
    return [unquote(part).replace("~1", "/").replace("~0", "~") for part in raw]


def iter_refs(node: object, path: Path = ()) -> Iterator[tuple[object, Path]]:
    """Every ``$ref`` value in ``node`` (recursively), with the path of the schema holding it."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"], path
        for key, value in node.items():
            if key not in DATA_KEYWORDS and isinstance(value, (dict, list)):
                yield from iter_refs(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                yield from iter_refs(value, (*path, i))


def find_recursive_ref(root: dict[str, Any]) -> tuple[str, Path] | None:
    """The first ``$ref`` that leads back to a schema it is inside of, or None (depth first)."""
    done: set[str] = set()

    def visit(node: dict[str, Any], base: Path, stack: tuple[str, ...]) -> tuple[str, Path] | None:
        for ref, where in iter_refs(node, base):
            key = ref if isinstance(ref, str) else repr(ref)
            if key in stack:
                return key, where
            if key in done:
                continue
            target = resolve_ref(root, ref, where)
            hit = visit(target, tuple(pointer_parts(key)), (*stack, key))
            if hit is not None:
                return hit
            done.add(key)
        return None

    return visit(root, (), ("#",))


def is_object(node: dict[str, Any]) -> bool:
    """Whether a schema describes an object (by type, or by having properties)."""
    typ = node.get("type")
    return typ == "object" or (isinstance(typ, list) and "object" in typ) or "properties" in node


def accepts_null(node: dict[str, Any]) -> bool:
    """Whether a schema (as written, without following `$ref`) admits ``null``."""
    typ = node.get("type")
    if typ == "null" or (isinstance(typ, list) and "null" in typ):
        return True
    if "enum" in node and None in node["enum"] and "type" not in node:
        return True
    if "const" in node and node["const"] is None:
        return True
    variants = node.get("anyOf") or node.get("oneOf") or []
    return any(isinstance(v, dict) and accepts_null(v) for v in variants)


def is_null_schema(node: object) -> bool:
    """``{"type": "null"}`` and its spellings (``enum: [null]``, ``const: null``)."""
    if not isinstance(node, dict):
        return False
    return (
        node.get("type") == "null"
        or node.get("enum") == [None]
        or ("const" in node and node["const"] is None)
    )


# Where subschemas live (draft 2020-12, plus draft-07 'definitions'/'dependencies').
_MAP_KEYWORDS = ("$defs", "definitions", "properties", "patternProperties", "dependentSchemas")
_ONE_KEYWORDS = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems", "items")


def iter_subschemas(node: object, path: Path = ()) -> Iterator[tuple[dict[str, Any], Path]]:
    """``node`` and every schema nested in it (not following `$ref`), depth first."""
    if not isinstance(node, dict):
        return
    yield node, path
    for key in _MAP_KEYWORDS:
        children = node.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                yield from iter_subschemas(child, (*path, key, name))
    for key in _ONE_KEYWORDS:
        yield from iter_subschemas(node.get(key), (*path, key))
    for key in _LIST_KEYWORDS:
        children = node.get(key)
        if isinstance(children, list):
            for i, child in enumerate(children):
                yield from iter_subschemas(child, (*path, key, i))


@functools.lru_cache(maxsize=1)
def _meta_validator() -> Draft202012Validator:
    # No format checking: 'pattern' is an ECMA-262 regex, which Python's `re` would misjudge.
    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


def checked_copy(schema: object) -> dict[str, Any]:
    """A deep copy of a user's JSON Schema after every check that holds for all providers.

    Meta-validates against draft 2020-12, inlines a root-level ``$ref`` (as pydantic emits for
    recursive models), requires an object root with properties, resolves every ``$ref``
    internally, and checks that ``required`` names exist.
    """
    if not isinstance(schema, dict):
        fail(
            f"a JSON Schema must be a dict, not {type(schema).__name__}",
            None,
            "pass a dict such as schema_object(label=schema_string()).",
        )
    error = best_match(_meta_validator().iter_errors(schema))
    if error is not None:
        fail(
            f"schema is not valid JSON Schema: {error.message}",
            tuple(error.absolute_path),
            "fix the schema so it is valid JSON Schema (draft 2020-12).",
        )
    root = copy.deepcopy(schema)
    if "$ref" in root and "type" not in root:
        rest = {k: v for k, v in root.items() if k != "$ref"}
        root = {**copy.deepcopy(resolve_ref(root, root["$ref"], ())), **rest}
    _check_root(root)
    for ref, where in iter_refs(root):
        resolve_ref(root, ref, where)
    for node, where in iter_subschemas(root):
        _check_required(node, where)
    return root


def _check_root(root: dict[str, Any]) -> None:
    typ = root.get("type")
    if typ != "object":
        shown = f"type {typ!r}" if typ is not None else "no 'type'"
        fail(
            f"the schema root must be an object with properties, but it has {shown}",
            (),
            "wrap it in an object, e.g. schema_object(answer=<your schema>).",
        )
    if not isinstance(root.get("properties"), dict) or not root["properties"]:
        fail(
            "the schema root is an object without properties",
            (),
            "list the answer's fields under 'properties', e.g. schema_object(label=...).",
        )


def _check_required(node: dict[str, Any], path: Path) -> None:
    properties, required = node.get("properties"), node.get("required")
    if not isinstance(properties, dict) or not isinstance(required, list):
        return
    if node.get("additionalProperties", False) is not False:
        return
    if any(key in node for key in ("allOf", "anyOf", "oneOf", "patternProperties")):
        return
    unknown = [name for name in required if name not in properties]
    if unknown:
        fail(
            f"'required' names {unknown!r}, which are not in 'properties'",
            (*path, "required"),
            "add them to 'properties' or remove them from 'required'.",
        )
