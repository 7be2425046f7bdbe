"""A JSON Schema compiled once into generator closures, so each row only draws and builds.

:class:`Plan` holds one root schema. Each schema node is compiled on first visit into a
function ``(walk, depth) -> value``: everything that depends only on the schema (``$ref``
resolution, ``allOf`` merges, bounds, required keys, branch targets) is computed then, and
the function keeps only the random draws, in exactly the order of the plain walk that
:mod:`fake_schema` describes (a node's answer is a pure function of the node, the depth, the
random stream and the words). Compiled nodes are keyed by the identity of schema objects the
plan keeps alive (its own copy of the schema and the dicts it merged), never of a caller's.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from llmbatch.emulator.fake_pattern import pattern_string
from llmbatch.emulator.fake_schema_parts import (
    FORMATS,
    bounds,
    infer_type,
    int_or,
    is_multiple,
    is_null,
    is_number,
    lookup,
    merge,
    span,
)
from llmbatch.emulator.fake_text import Rand, canonical, words_of

NULL_ONE_IN = 5
DEPTH_SOFT = 6
DEPTH_HARD = 40
DEFAULT_MAX_ITEMS = 3
PATTERN_FALLBACK = "synthetic"


class Walk:
    """The per-row state of a walk: the random stream and the vocabulary for strings.

    The vocabulary is given, or read from ``text`` (:func:`words_of`) on first use: most
    schemas of a classification never draw free text, so most rows never split their prompt.
    """

    __slots__ = ("_text", "_words", "rand")

    def __init__(self, rand: Rand, words: tuple[str, ...] | None, text: str = "") -> None:
        self.rand = rand
        self._words = words
        self._text = text

    @property
    def words(self) -> tuple[str, ...]:
        """The vocabulary (never empty: ``("synthetic",)`` when the text has no words)."""
        if self._words is None:
            self._words = words_of(self._text) or ("synthetic",)
        return self._words

    def null_now(self, depth: int) -> bool:
        """Whether a nullable value is null this time (always, once deep)."""
        return depth >= DEPTH_SOFT or self.rand.below(NULL_ONE_IN) == 0


Gen = Callable[[Walk, int], Any]


def _none(walk: Walk, depth: int) -> None:
    return None


def _first_word(walk: Walk, depth: int) -> object:
    return None if depth > DEPTH_HARD else walk.words[0]


def _boolean(walk: Walk, depth: int) -> bool:
    return walk.rand.chance(1, 2)


def _fresh(value: object) -> Callable[[], object]:
    """A getter for a schema value handed out as an answer (containers copied per answer)."""
    if isinstance(value, (dict, list)):
        return lambda: copy.deepcopy(value)
    return lambda: value


class Plan:
    """One root schema and its compiled nodes."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.root = source if isinstance(source, dict) else {}
        self.nodes: dict[int, Gen] = {}
        self.kept: list[object] = []  # every object a key in `nodes` is the id of

    def build(self, schema: object, walk: Walk, depth: int) -> object:
        """An instance of ``schema`` (an object this plan keeps alive) at ``depth``.

        Past ``DEPTH_HARD`` every node is null; the check is here, once per value, rather
        than in each compiled function.
        """
        if depth > DEPTH_HARD:
            return None
        return self.node(schema)(walk, depth)

    def node(self, schema: object) -> Gen:
        """The compiled function of ``schema``, compiling it on first use."""
        gen = self.nodes.get(id(schema))
        if gen is None:
            gen = self.nodes[id(schema)] = self._compile(schema)
            self.kept.append(schema)
        return gen

    def _compile(self, schema: object) -> Gen:
        if schema is False:
            return _none
        if not isinstance(schema, dict) or not schema:
            return _first_word
        resolved = self.resolve(schema)
        if "const" in resolved:
            return self._const(resolved["const"])
        enum = resolved.get("enum")
        if isinstance(enum, list) and enum:
            return self._enum(enum)
        branches = resolved.get("anyOf", resolved.get("oneOf"))
        if isinstance(branches, list) and branches:
            return self._branches(resolved, branches)
        return self._typed(resolved)

    def resolve(self, schema: dict) -> dict:
        """``schema`` with its ``$ref`` chain followed (siblings kept) and ``allOf`` merged."""
        for _ in range(DEPTH_HARD):
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                break
            target = lookup(self.root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
        parts = schema.get("allOf")
        if isinstance(parts, list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                if isinstance(part, dict):
                    merged = merge(merged, self.resolve(part))
            schema = merged
        return schema

    def _const(self, value: object) -> Gen:
        fresh = _fresh(value)
        return lambda walk, depth: None if depth > DEPTH_HARD else fresh()

    def _enum(self, enum: list) -> Gen:
        values = [_fresh(v) for v in enum if v is not None]
        nullable = len(values) < len(enum)

        def pick(walk: Walk, depth: int) -> object:
            if depth > DEPTH_HARD or not values or (nullable and walk.null_now(depth)):
                return None
            return walk.rand.choice(values)()

        return pick

    def _branches(self, schema: dict, branches: list) -> Gen:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        targets = {id(b): {**rest, **b} if isinstance(b, dict) else b for b in branches}
        self.kept.append(targets)
        nulls = [b for b in branches if is_null(b)]
        others = [b for b in branches if not is_null(b)]
        simple = [b for b in others if isinstance(b, dict) and "$ref" not in b]
        shallow = (simple or others)[0] if others else None

        def pick(walk: Walk, depth: int) -> object:
            if depth > DEPTH_HARD:
                return None
            if nulls and (not others or walk.null_now(depth)):
                branch = nulls[0]
            elif depth >= DEPTH_SOFT:
                branch = shallow
            else:
                branch = walk.rand.choice(others)
            return self.node(targets[id(branch)])(walk, depth)

        return pick

    def _typed(self, schema: dict) -> Gen:
        types = schema.get("type")
        if isinstance(types, str):
            return self._kind(schema, types)  # callers check DEPTH_HARD (see build)
        if not (isinstance(types, list) and types):
            return self._kind(schema, infer_type(schema))
        non_null = [t for t in types if t != "null"]
        nullable = "null" in types
        kinds: dict[object, Gen] = {}

        def pick(walk: Walk, depth: int) -> object:
            if depth > DEPTH_HARD:
                return None
            if not non_null or (nullable and walk.null_now(depth)):
                return None
            kind = walk.rand.choice(non_null)
            gen = kinds.get(kind)
            if gen is None:
                gen = kinds[kind] = self._kind(schema, kind)
            return gen(walk, depth)

        return pick

    def _kind(self, schema: dict, kind: object) -> Gen:
        makers: dict[object, Callable[[dict], Gen]] = {
            "object": self._object,
            "array": self._array,
            "integer": _integer,
            "number": _number,
        }
        if kind == "boolean":
            return _boolean
        if kind == "null":
            return _none
        return makers.get(kind, _string)(schema)

    def _object(self, schema: dict) -> Gen:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        extra = schema.get("additionalProperties")
        filler = extra if isinstance(extra, dict) else {"type": "string"}
        self.kept.append(filler)
        fields = [(name, sub, name in required) for name, sub in props.items()]
        missing = [(name, props.get(name, filler)) for name in required]
        minimum = schema.get("minProperties")
        fill = filler if extra is not False else None
        build = self.build
        compiled: list[tuple[str, Gen, bool]] = []  # on first use: the schema may recurse

        def make(walk: Walk, depth: int) -> dict:
            if len(compiled) < len(fields):
                compiled[:] = [(name, self.node(sub), needed) for name, sub, needed in fields]
            deep = depth >= DEPTH_SOFT
            child = depth + 1
            out: dict[str, object] = {}
            for name, gen, needed in compiled:
                if needed or (not deep and walk.rand.below(4) != 0):
                    out[name] = gen(walk, child) if child <= DEPTH_HARD else None
            for name, sub in missing:
                if name not in out:
                    out[name] = build(sub, walk, depth + 1)
            if isinstance(minimum, int):
                self._fill(out, props, fill, minimum, walk, depth)
            return out

        return make

    def _fill(
        self, out: dict, props: dict, filler: dict | None, minimum: int, walk: Walk, depth: int
    ) -> None:
        for name, sub in props.items():
            if len(out) >= minimum:
                return
            out.setdefault(name, self.build(sub, walk, depth + 1))
        while filler is not None and len(out) < minimum:
            out[f"extra_{len(out)}"] = self.build(filler, walk, depth + 1)

    def _array(self, schema: dict) -> Gen:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft-04 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        self.kept.append(items)
        low = int_or(schema.get("minItems"), 0)
        high = int_or(schema.get("maxItems"), max(low, DEFAULT_MAX_ITEMS))
        unique = schema.get("uniqueItems") is True
        closed = items is False
        build = self.build

        def make(walk: Walk, depth: int) -> list:
            count = _item_count(low, high, walk, depth)
            if closed:
                count = min(count, len(prefix))
            out: list = []
            seen: set[bytes] = set()
            for _ in range(count * 8 + 8):
                if len(out) >= count:
                    break
                sub = prefix[len(out)] if len(out) < len(prefix) else items
                value = build(sub, walk, depth + 1)
                if unique:
                    key = canonical(value)
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(value)
            return out

        return make


def _item_count(low: int, high: int, walk: Walk, depth: int) -> int:
    if depth >= DEPTH_SOFT or high <= low:
        return low
    low = max(low, min(1, high))
    return low + walk.rand.below(high - low + 1)


def _string(schema: dict) -> Gen:
    fmt = schema.get("format")
    pattern = schema.get("pattern")
    low = int_or(schema.get("minLength"), 0)
    high = schema.get("maxLength")
    high = high if isinstance(high, int) else None
    draw: Callable[[Walk], str]
    if isinstance(fmt, str) and fmt in FORMATS:
        by_format = FORMATS[fmt]
        draw = lambda walk: by_format(walk.rand)  # noqa: E731
    elif isinstance(pattern, str):
        draw = lambda walk: pattern_string(pattern, walk.rand) or PATTERN_FALLBACK  # noqa: E731
    else:
        draw = _words

    def make(walk: Walk, depth: int) -> str:
        text = draw(walk)
        if len(text) < low:
            text += "x" * (low - len(text))
        if high is not None and len(text) > high:
            text = text[:high]
        return text

    return make


def _words(walk: Walk) -> str:
    words = walk.words
    start = walk.rand.below(len(words))
    return " ".join(words[start : start + 1 + walk.rand.below(4)])


def _integer(schema: dict) -> Gen:
    low, low_open, high, high_open = bounds(schema)
    first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
    last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
    first, last = span(first, last)
    given = schema.get("multipleOf")
    step = given if is_number(given) and given > 0 else 0
    k_first, k_last = (math.ceil(first / step), math.floor(last / step)) if step else (0, 0)
    tries = 16 if step and k_first <= k_last else 0

    def make(walk: Walk, depth: int) -> int:
        below = walk.rand.below
        for _ in range(tries):
            value = (k_first + below(k_last - k_first + 1)) * step
            if first <= value <= last and float(value).is_integer():
                return int(value)
        return first + below(last - first + 1) if first <= last else first

    return make


def _number(schema: dict) -> Gen:
    low, low_open, high, high_open = bounds(schema)
    first, last = span(low, high)

    def inside(value: float) -> bool:
        above = value > first if low_open else value >= first
        below = value < last if high_open else value <= last
        return above and below

    step = schema.get("multipleOf")
    if is_number(step) and step > 0:
        base = math.ceil(first / step)

        def stepped(walk: Walk, depth: int) -> float | int:
            for k in (base + walk.rand.below(8), base, base + 1, base + 2):
                value = round(k * step, 12) if isinstance(step, float) else k * step
                if inside(value) and is_multiple(value, step):
                    return value
            return first

        return stepped

    def make(walk: Walk, depth: int) -> float | int:
        value = round(first + (last - first) * walk.rand.unit(), 2)
        return value if inside(value) else (first + last) / 2

    return make
