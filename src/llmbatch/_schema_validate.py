"""Per-answer validation, fast: a schema compiled once into plain Python checks.

``jsonschema`` takes ~40 µs per small answer; at millions of rows that is minutes. The schemas
llmbatch sends use a small set of keywords, so they compile into closures that answer "valid?"
in a few µs. Anything outside that set (``pattern``, ``not``, ``uniqueItems`` ...) falls back to
``jsonschema`` for the whole schema. ``jsonschema`` also writes every error message, so the fast
path only has to be exact about *valid*, and it is tested against ``jsonschema`` for that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from llmbatch._schema_common import checked_copy, resolve_ref

__all__ = ["make_validator"]

Check = Callable[[Any], bool]

_MAX_MESSAGE = 300

# Keywords that never reject anything (annotations; 'format' is not asserted).
_IGNORED = frozenset(
    {"title", "description", "default", "examples", "format", "$comment", "$defs"}
    | {"definitions", "$schema", "deprecated", "readOnly", "writeOnly", "discriminator"}
    | {"contentMediaType", "contentEncoding", "contentSchema"}
)
_OBJECT = frozenset(
    {"properties", "additionalProperties", "required", "minProperties", "maxProperties"}
)
_ARRAY = frozenset({"items", "minItems", "maxItems"})
_NUMBER = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_STRING = frozenset({"minLength", "maxLength"})
_OTHER = frozenset({"type", "enum", "const", "anyOf", "allOf", "oneOf", "$ref"})


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    if isinstance(x, float):
        return x.is_integer()
    return isinstance(x, int) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "number": _is_number,
    "integer": _is_integer,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
}


class _GiveUp(Exception):
    """The schema uses a keyword the fast path does not handle."""


def make_validator(schema: dict[str, Any]) -> Callable[[object], str | None]:
    """Compile a schema once into a per-answer check: None if valid, else a short message.

    Formats are not checked (the provider already constrains them, and format checks are slow).

    Example:
        >>> check = make_validator({"type": "object", "properties": {"score": {"type": "number"}}})
        >>> check({"score": 0.5}) is None, check({"score": "x"})
        (True, "at score: 'x' is not of type 'number'")
    """
    checked_copy(schema)  # a broken schema fails here, not on the first row
    validator = Draft202012Validator(schema)
    try:
        fast = _Compiler(schema).compile(schema)
    except _GiveUp:
        fast = validator.is_valid

    def validate(instance: object) -> str | None:
        try:
            if fast(instance):
                return None
        except RecursionError:  # an absurdly deep answer: let jsonschema judge it
            pass
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return None
        where = ".".join(str(p) for p in error.absolute_path) or "the root"
        message = f"at {where}: {error.message}"
        return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."

    return validate


def _all(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(x: Any) -> bool:
        return all(c(x) for c in checks)

    return check


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: true is not 1, but 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, node: Any) -> Check:
        if node is True:
            return lambda x: True
        if node is False:
            return lambda x: False
        if not isinstance(node, dict):
            raise _GiveUp
        unknown = set(node) - _IGNORED - _OBJECT - _ARRAY - _NUMBER - _STRING - _OTHER
        if unknown:
            raise _GiveUp
        checks: list[Check] = []
        if "type" in node:
            checks.append(self._type(node["type"]))
        if "enum" in node:
            checks.append(self._enum(node["enum"]))
        if "const" in node:
            checks.append(self._enum([node["const"]]))
        if "$ref" in node:
            checks.append(self._ref(node["$ref"]))
        if not _OBJECT.isdisjoint(node):
            checks.append(self._object(node))
        if not _ARRAY.isdisjoint(node):
            checks.append(self._array(node))
        if not _NUMBER.isdisjoint(node) or not _STRING.isdisjoint(node):
            checks.append(_bounds(node))
        checks += self._combinators(node)
        return _all(checks) if checks else (lambda x: True)

    def _type(self, typ: Any) -> Check:
        names = typ if isinstance(typ, list) else [typ]
        tests = [_TYPES[name] for name in names]
        return tests[0] if len(tests) == 1 else (lambda x: any(t(x) for t in tests))

    def _enum(self, values: list[Any]) -> Check:
        if any(isinstance(v, (dict, list)) for v in values):
            raise _GiveUp
        if all(isinstance(v, str) for v in values):
            allowed = frozenset(values)
            return lambda x: isinstance(x, str) and x in allowed
        return lambda x: any(_json_equal(x, v) for v in values)

    def _ref(self, ref: str) -> Check:
        if ref not in self.refs:
            cell: list[Check] = []
            self.refs[ref] = lambda x: cell[0](x)  # a recursive ref sees this until it is built
            cell.append(self.compile(resolve_ref(self.root, ref, ())))
            self.refs[ref] = cell[0]
        return self.refs[ref]

    def _combinators(self, node: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "anyOf" in node:
            any_of = [self.compile(s) for s in node["anyOf"]]
            out.append(lambda x: any(c(x) for c in any_of))
        if "allOf" in node:
            out.append(_all([self.compile(s) for s in node["allOf"]]))
        if "oneOf" in node:
            one_of = [self.compile(s) for s in node["oneOf"]]
            out.append(lambda x: sum(1 for c in one_of if c(x)) == 1)
        return out

    def _object(self, node: dict[str, Any]) -> Check:
        props = {k: self.compile(v) for k, v in (node.get("properties") or {}).items()}
        required = tuple(node.get("required") or ())
        extra_schema = node.get("additionalProperties", True)
        extra = None if extra_schema is True else self.compile(extra_schema)
        low, high = node.get("minProperties"), node.get("maxProperties")

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name in required:
                if name not in x:
                    return False
            for key, value in x.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(value):
                        return False
                elif extra is not None and not extra(value):
                    return False
            return (low is None or len(x) >= low) and (high is None or len(x) <= high)

        return check

    def _array(self, node: dict[str, Any]) -> Check:
        item = self.compile(node["items"]) if "items" in node else None
        low, high = node.get("minItems"), node.get("maxItems")

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if (low is not None and len(x) < low) or (high is not None and len(x) > high):
                return False
            return item is None or all(item(v) for v in x)

        return check


def _bounds(node: dict[str, Any]) -> Check:
    lo, hi = node.get("minimum"), node.get("maximum")
    xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    short, long = node.get("minLength"), node.get("maxLength")

    def check(x: Any) -> bool:
        if isinstance(x, str):
            return (short is None or len(x) >= short) and (long is None or len(x) <= long)
        if not _is_number(x):
            return True
        return (
            (lo is None or x >= lo)
            and (hi is None or x <= hi)
            and (xlo is None or x > xlo)
            and (xhi is None or x < xhi)
        )

    return check
