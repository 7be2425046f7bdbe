"""The providers' structured-output schema rules, as the synthetic model enforces them.

OpenAI strict mode (``strict: true``): the root is an object; every object has
``additionalProperties: false`` and lists every property in ``required``; ``allOf``, ``not``,
``if``/``then``/``else``, ``dependentRequired``, ``dependentSchemas`` and ``patternProperties``
are not permitted; ``$ref`` must resolve inside the schema. Problems are worded like the API's
``In context=('properties', 'x'), ...`` messages.

The checks are memoised per schema (:mod:`fake_memo`): a batch's rows share their schemas.

Anthropic (``output_config.format`` and strict tools): every object has
``additionalProperties: false``; numbers take no ``minimum``/``maximum``/``exclusive*``/
``multipleOf``, strings no ``minLength``/``maxLength``; ``minItems`` is 0 or 1; no recursion,
no external ``$ref``; at most 24 optional and 16 union-typed parameters per request.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmbatch.emulator.fake_memo import by_json

_OPENAI_FORBIDDEN = (
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
)
_ANTHROPIC_UNSUPPORTED = {
    "number": ("exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"),
    "integer": ("exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"),
    "string": ("maxLength", "minLength"),
}
_CHILD_MAPS = ("properties", "$defs", "definitions")
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_CHILD_SINGLE = ("items", "additionalProperties", "not")
MAX_OPTIONAL = 24
MAX_UNIONS = 16
_REQUIRED_ALL = "'required' is required to be supplied and to be an array including every key"


@by_json
def openai_schema_problem(schema: object) -> str | None:
    """Why OpenAI strict mode rejects ``schema``, or None.

    The text follows ``Invalid schema for response_format 'NAME': `` in the API's message.
    Example: ``openai_schema_problem({"type": "object"})`` names ``additionalProperties``.
    """
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind != "object" or "anyOf" in schema:  # type: ignore[operator]
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'."
    return _openai_walk(schema, (), schema)  # type: ignore[arg-type]


def _openai_walk(node: object, context: tuple[str, ...], root: dict) -> str | None:
    where = f"In context={context!r}, "
    if not isinstance(node, dict):
        return where + "schema must be a JSON Schema object."
    for keyword in _OPENAI_FORBIDDEN:
        if keyword in node:
            return where + f"'{keyword}' is not permitted."
    ref = node.get("$ref")
    if ref is not None:
        if not (isinstance(ref, str) and _resolves(root, ref)):
            return where + f"reference to component '{ref}' which was not found in the schema."
        return None
    kinds = _types(node)
    if not kinds and not any(k in node for k in ("anyOf", "enum", "const")):
        return where + "schema must have a 'type' key."
    if "object" in kinds:
        problem = _openai_object(node)
        if problem is not None:
            return where + problem
    for child, path in _children(node):
        problem = _openai_walk(child, context + path, root)
        if problem is not None:
            return problem
    return None


def _openai_object(node: dict) -> str | None:
    if node.get("additionalProperties") is not False:
        return "'additionalProperties' is required to be supplied and to be false."
    props = node.get("properties") or {}
    required = node.get("required") or []
    absent = [key for key in props if key not in required]
    if absent:
        return f"{_REQUIRED_ALL} in properties. Missing '{absent[0]}'."
    extra = [key for key in required if key not in props]
    if extra:
        return f"{_REQUIRED_ALL} in properties. Extra required key '{extra[0]}' supplied."
    return None


@by_json
def anthropic_schema_problem(schema: object) -> str | None:
    """Why Anthropic structured outputs reject ``schema``, or None.

    The text follows the field path in the API's message, e.g.
    ``output_config.format.schema: For 'object' type, 'additionalProperties' must be
    explicitly set to false``.
    """
    if not isinstance(schema, dict):
        return "Input should be a valid dictionary"
    if _is_recursive(schema, schema, frozenset(), set()):
        return "Recursive schemas are not supported"
    return _anthropic_walk(schema)


def _anthropic_walk(node: object) -> str | None:
    if not isinstance(node, dict):
        return None
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        return f"External $ref '{ref}' is not supported; use internal references (#/$defs/...)"
    for kind in _types(node) or (["object"] if "properties" in node else []):
        problem = _anthropic_type(node, kind)
        if problem is not None:
            return problem
    for child, _ in _children(node):
        problem = _anthropic_walk(child)
        if problem is not None:
            return problem
    return None


def _anthropic_type(node: dict, kind: str) -> str | None:
    if kind == "object":
        if "additionalProperties" not in node:
            return "For 'object' type, 'additionalProperties' must be explicitly set to false"
        if node["additionalProperties"] is not False:
            return (
                "For 'object' type, 'additionalProperties: true' is not supported. "
                "Please set 'additionalProperties' to false"
            )
    if kind == "array":
        least = node.get("minItems")
        if isinstance(least, int) and least > 1:
            return "For 'array' type, 'minItems' values other than 0 or 1 are not supported"
    bad = [key for key in _ANTHROPIC_UNSUPPORTED.get(kind, ()) if key in node]
    if len(bad) == 1:
        return f"For '{kind}' type, property '{bad[0]}' is not supported"
    if bad:
        return f"For '{kind}' type, properties {', '.join(bad)} are not supported"
    return None


@by_json
def anthropic_limits_problem(schemas: list[object]) -> str | None:
    """Whether all strict schemas of one request together exceed Anthropic's grammar limits."""
    optional = sum(_count(schema, _optional_here) for schema in schemas)
    if optional > MAX_OPTIONAL:
        return (
            f"Schemas contains too many optional parameters ({optional}), which would make "
            "grammar compilation inefficient. Reduce the number of optional parameters in "
            f"your tool schemas (limit: {MAX_OPTIONAL})."
        )
    unions = sum(_count(schema, _union_here) for schema in schemas)
    if unions > MAX_UNIONS:
        return (
            f"Schemas contains too many parameters with union types ({unions}), which would "
            "make grammar compilation inefficient. Reduce the number of parameters with union "
            f"types in your tool schemas (limit: {MAX_UNIONS})."
        )
    return None


def _optional_here(node: dict) -> int:
    props = node.get("properties")
    required = node.get("required") or []
    return sum(1 for key in props if key not in required) if isinstance(props, dict) else 0


def _union_here(node: dict) -> int:
    kinds = node.get("type")
    return int("anyOf" in node or (isinstance(kinds, list) and len(kinds) > 1))


def _count(node: object, here: object) -> int:
    if not isinstance(node, dict):
        return 0
    return here(node) + sum(_count(child, here) for child, _ in _children(node))  # type: ignore[operator]


def _children(node: dict) -> Iterator[tuple[object, tuple[str, ...]]]:
    """Sub-schemas of ``node`` with their context path, in a stable order."""
    for key in _CHILD_MAPS:
        value = node.get(key)
        if isinstance(value, dict):
            for name, child in value.items():
                yield child, (key, name)
    for key in _CHILD_SINGLE:
        value = node.get(key)
        if isinstance(value, dict):
            yield value, (key,)
    for key in _CHILD_LISTS:
        value = node.get(key)
        if isinstance(value, list):
            for index, child in enumerate(value):
                yield child, (key, str(index))


def _types(node: dict) -> list[str]:
    """The node's ``type`` as a list, in the schema's order."""
    kinds = node.get("type")
    if isinstance(kinds, str):
        return [kinds]
    return [k for k in kinds if isinstance(k, str)] if isinstance(kinds, list) else []


def _resolves(root: dict, ref: str) -> bool:
    return _target(root, ref) is not None


def _target(root: dict, ref: str) -> dict | None:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: object = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _is_recursive(node: object, root: dict, active: frozenset[str], safe: set[str]) -> bool:
    """True when following internal ``$ref`` from ``node`` can lead back to itself."""
    if not isinstance(node, dict):
        return False
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        if ref in active:
            return True
        target = _target(root, ref)
        if ref not in safe and target is not None:
            if _is_recursive(target, root, active | {ref}, safe):
                return True
            safe.add(ref)
    children = (child for child, path in _children(node) if path[0] not in ("$defs", "definitions"))
    return any(_is_recursive(child, root, active, safe) for child in children)
