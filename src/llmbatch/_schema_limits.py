"""Size limits of the provider forms, checked before sending (reference B.8 and C.7)."""

from __future__ import annotations

from typing import Any, NoReturn

from llmbatch._schema_common import Path, dotted, fail, is_object, iter_subschemas, resolve_ref

__all__ = ["check_anthropic_limits", "check_openai_limits"]

OPENAI_MAX_PROPERTIES = 5000
OPENAI_MAX_DEPTH = 10
OPENAI_MAX_ENUM_VALUES = 1000
OPENAI_MAX_STRING_CHARS = 120_000
OPENAI_LARGE_ENUM = 250
OPENAI_LARGE_ENUM_CHARS = 15_000
ANTHROPIC_MAX_OPTIONAL = 24
ANTHROPIC_MAX_UNIONS = 16


def check_openai_limits(schema: dict[str, Any]) -> None:
    """Properties, nesting, enum values and name lengths within OpenAI strict mode's limits."""
    properties = enum_values = chars = 0
    for node, path in iter_subschemas(schema):
        names = [*(node.get("properties") or {}), *(node.get("$defs") or {})]
        strings = [v for v in node.get("enum") or [] if isinstance(v, str)]
        if isinstance(node.get("const"), str):
            strings.append(node["const"])
        properties += len(node.get("properties") or {})
        enum_values += len(node.get("enum") or [])
        chars += sum(map(len, names)) + sum(map(len, strings))
        large = sum(map(len, strings))
        if len(strings) > OPENAI_LARGE_ENUM and large > OPENAI_LARGE_ENUM_CHARS:
            _over_limit(
                f"an enum of {len(strings)} strings totalling {large} characters "
                f"(over {OPENAI_LARGE_ENUM} values: at most {OPENAI_LARGE_ENUM_CHARS})",
                path,
            )
    if properties > OPENAI_MAX_PROPERTIES:
        _over_limit(f"{properties} properties (at most {OPENAI_MAX_PROPERTIES})", None)
    if enum_values > OPENAI_MAX_ENUM_VALUES:
        _over_limit(f"{enum_values} enum values (at most {OPENAI_MAX_ENUM_VALUES})", None)
    if chars > OPENAI_MAX_STRING_CHARS:
        _over_limit(
            f"{chars} characters of names and enum values (at most {OPENAI_MAX_STRING_CHARS})",
            None,
        )
    depth = _object_depth(schema, schema, ("#",), {})
    if depth > OPENAI_MAX_DEPTH:
        _over_limit(f"objects nested {depth} levels deep (at most {OPENAI_MAX_DEPTH})", None)


def _over_limit(what: str, path: Path | None) -> NoReturn:
    fail(
        f"the schema has {what}, over OpenAI strict mode's limit",
        path,
        "split the task into smaller schemas or flatten nested objects.",
    )


def _object_depth(
    node: dict[str, Any], root: dict[str, Any], stack: tuple[str, ...], memo: dict[str, int]
) -> int:
    """How many objects deep the schema nests, following $refs (a recursion counts once)."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in stack:
            return 0
        if ref not in memo:
            memo[ref] = _object_depth(resolve_ref(root, ref, ()), root, (*stack, ref), memo)
        return memo[ref]
    children = list((node.get("properties") or {}).values())
    children += [node["items"]] if isinstance(node.get("items"), dict) else []
    children += [c for key in ("anyOf", "allOf") for c in node.get(key) or []]
    deepest = max((_object_depth(c, root, stack, memo) for c in children), default=0)
    return deepest + (1 if is_object(node) else 0)


def check_anthropic_limits(schema: dict[str, Any]) -> None:
    """At most 24 optional and 16 union-typed parameters per request (one schema here)."""
    optional: list[str] = []
    unions: list[str] = []
    for node, path in iter_subschemas(schema):
        required = set(node.get("required") or [])
        props = node.get("properties") or {}
        optional += [dotted((*path, "properties", n)) for n in props if n not in required]
        typ = node.get("type")
        if "anyOf" in node or (isinstance(typ, list) and len(typ) > 1):
            unions.append(dotted(path))
    if len(optional) > ANTHROPIC_MAX_OPTIONAL:
        fail(
            f"the schema has {len(optional)} optional properties, over the limit of "
            f"{ANTHROPIC_MAX_OPTIONAL} for Anthropic structured outputs: {optional}",
            None,
            "list more properties under 'required', or split the task into two schemas.",
        )
    if len(unions) > ANTHROPIC_MAX_UNIONS:
        fail(
            f"the schema has {len(unions)} union-typed parts (anyOf or a list of types), over "
            f"the limit of {ANTHROPIC_MAX_UNIONS} for Anthropic structured outputs: {unions}",
            None,
            "make fewer fields nullable or union-typed, or split the task into two schemas.",
        )
