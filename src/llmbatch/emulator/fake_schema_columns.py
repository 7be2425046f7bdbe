"""Structured answers for a column of seeds at once, for schemas whose draws never vary.

A classification schema is usually an object whose properties are all required and each an
enum, a number, an integer, a boolean or a const. Its compiled walk (:mod:`fake_schema_plan`)
then draws the same sequence for every row: one ``Rand.below(n)`` per property with more than
one possible value, ``n`` fixed. :class:`FlatSchema` recognises such a schema and answers a
column of rows together: the k-th draw of every row is one keyed blake2b per row (exactly
``Rand``'s), the arithmetic runs in numpy, Python's own ``round`` rounds the numbers and
orjson writes them, so every row's text is the bytes ``compiled_text`` gives. Any other
schema gets None from :func:`flat_schema` and stays on the walk.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from itertools import repeat

import numpy as np
import orjson

from llmbatch.emulator.fake_schema_parts import bounds, infer_type, is_number, span
from llmbatch.emulator.fake_schema_plan import Plan

__all__ = ["FlatSchema", "flat_schema"]

_LIMIT = 1 << 52  # bounds beyond this leave numpy's exact range: the walk answers
_UNIT = 1 << 53
_MAX_ENTRIES = 256
Column = Callable[[list[np.ndarray]], list[bytes]]
"""A property's values as JSON bytes, from the draws it is handed (none, or one array)."""


class FlatSchema:
    """An object schema whose walk draws a fixed sequence; its answers a column at a time."""

    __slots__ = ("columns", "draws", "template")

    def __init__(self, template: bytes, columns: list[tuple[int, Column]]) -> None:
        self.template = template  # the object's JSON with a %s per property
        self.columns = columns  # per property: (the draw it reads, or -1) and its writer
        self.draws = sum(1 for draw, _ in columns if draw >= 0)

    def texts(self, seeds: list[bytes]) -> list[bytes]:
        """The compact JSON of the instance each seed draws (``compiled_text`` as UTF-8)."""
        if not self.columns:
            return [self.template] * len(seeds)
        draws = _draws(seeds, self.draws) if self.draws else []
        values = [
            write(draws[draw : draw + 1] if draw >= 0 else [np.empty(len(seeds))])
            for draw, write in self.columns
        ]
        template = self.template
        return [template % row for row in zip(*values, strict=True)]


def _draws(seeds: list[bytes], count: int) -> list[np.ndarray]:
    """The first ``count`` draws of ``Rand(seed)`` for every seed, as uint64 before the modulo.

    Draw k is ``blake2b(k as 8 bytes, key=seed[:64], digest_size=8)``; from two draws on, a
    copy of each seed's keyed hash costs less than keying it again.
    """
    blake = hashlib.blake2b
    words = [number.to_bytes(8, "little") for number in range(1, count + 1)]
    if count == 1:
        digests = [blake(words[0], key=seed[:64], digest_size=8).digest() for seed in seeds]
        return [np.frombuffer(b"".join(digests), "<u8")]
    keyed = [blake(key=seed[:64], digest_size=8) for seed in seeds]
    columns = []
    for word in words:
        copies = list(map(blake.copy, keyed))
        for _ in map(blake.update, copies, repeat(word)):
            pass
        columns.append(np.frombuffer(b"".join(map(blake.digest, copies)), "<u8"))
    return columns


_known: dict[int, tuple[Plan, FlatSchema | None]] = {}


def flat_schema(compiled: tuple[Plan, object]) -> FlatSchema | None:
    """The :class:`FlatSchema` of a compiled schema, or None when its draws may vary."""
    plan, root = compiled
    known = _known.get(id(plan))
    if known is not None and known[0] is plan:
        return known[1]
    if len(_known) >= _MAX_ENTRIES:
        _known.clear()
    try:
        flat = _flat(plan, root)
    except (TypeError, ValueError, OverflowError):  # no JSON form, NaN bounds...
        flat = None
    _known[id(plan)] = (plan, flat)
    return flat


def _flat(plan: Plan, root: object) -> FlatSchema | None:
    """Mirror of ``Plan._compile`` + ``_object`` for the fixed-draw case, else None."""
    if not isinstance(root, dict) or not root:
        return None
    schema = plan.resolve(root)
    if any(key in schema for key in ("const", "enum", "anyOf", "oneOf")):
        return None
    kind = _kind(schema)
    props, required = schema.get("properties"), schema.get("required")
    if kind != "object" or not isinstance(props, dict) or not isinstance(required, list):
        return None
    names = [name for name in required if isinstance(name, str)]
    minimum = schema.get("minProperties")
    if set(names) != set(props) or (minimum is not None and not _at_most(minimum, len(props))):
        return None
    parts, columns, draw = [], [], 0
    for name, sub in props.items():
        column = _property(plan, sub)
        if column is None:
            return None
        drawn, write = column
        columns.append((draw if drawn else -1, write))
        draw += drawn
        key = orjson.dumps(name).replace(b"%", b"%%")
        parts.append(key + b":%s")
    return FlatSchema(b"{" + b",".join(parts) + b"}", columns)


def _kind(schema: dict) -> str | None:
    """The one kind ``Plan._typed`` builds, or None when it draws among several."""
    types = schema.get("type")
    if isinstance(types, str):
        return types
    if isinstance(types, list) and types:
        return None
    return infer_type(schema)


def _at_most(minimum: object, count: int) -> bool:
    return isinstance(minimum, int) and minimum <= count


def _property(plan: Plan, schema: object) -> tuple[bool, Column] | None:
    """``(draws once, writer)`` of one property compiled as ``Plan._compile`` would."""
    if schema is False:
        return False, _constant(b"null")
    if not isinstance(schema, dict) or not schema:
        return None  # the first word of the prompt
    resolved = plan.resolve(schema)
    if "const" in resolved:
        return False, _constant(orjson.dumps(resolved["const"]))
    enum = resolved.get("enum")
    if isinstance(enum, list) and enum:
        return _enum(enum)
    branches = resolved.get("anyOf", resolved.get("oneOf"))
    if isinstance(branches, list) and branches:
        return None
    kind = _kind(resolved)
    if kind == "boolean":
        return True, lambda draws: [b"true" if x else b"false" for x in (draws[0] % 2 == 0)]
    if kind == "null":
        return False, _constant(b"null")
    if kind == "integer" and not is_number(resolved.get("multipleOf")):
        return _integer(resolved)
    if kind == "number" and resolved.get("multipleOf") is None:
        return _number(resolved)
    return None


def _constant(value: bytes) -> Column:
    return lambda draws: [value] * len(draws[0])


def _enum(enum: list) -> tuple[bool, Column] | None:
    if any(value is None for value in enum):
        return None  # nullable: the draws vary
    values = np.array([orjson.dumps(value) for value in enum], object)
    if len(values) == 1:
        return False, _constant(values[0])
    count = np.uint64(len(values))
    return True, lambda draws: values[(draws[0] % count).astype(np.intp)].tolist()


def _integer(schema: dict) -> tuple[bool, Column] | None:
    """``_integer`` without ``multipleOf``: ``first + below(last - first + 1)``."""
    low, low_open, high, high_open = bounds(schema)
    first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
    last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
    first, last = span(first, last)
    if first <= -_LIMIT or last >= _LIMIT:
        return None
    if last - first + 1 <= 1:
        return False, _constant(b"%d" % first)
    size, start = np.uint64(last - first + 1), np.int64(first)
    return True, lambda draws: _json_list(((draws[0] % size).astype(np.int64) + start).tolist())


def _number(schema: dict) -> tuple[bool, Column] | None:
    """``_number`` without ``multipleOf``: ``round(first + (last - first) * unit, 2)``."""
    low, low_open, high, high_open = bounds(schema)
    first, last = span(low, high)
    if not all(is_number(end) and -_LIMIT < end < _LIMIT for end in (first, last)):
        return None
    middle = (first + last) / 2
    width = np.float64(last - first)

    def write(draws: list[np.ndarray]) -> list[bytes]:
        units = (draws[0] % np.uint64(_UNIT)).astype(np.float64) / _UNIT
        values = list(map(round, (first + width * units).tolist(), repeat(2)))
        held = np.array(values)
        above = held > first if low_open else held >= first
        below = held < last if high_open else held <= last
        if not (above & below).all():
            values = [
                v if a and b else middle for v, a, b in zip(values, above, below, strict=True)
            ]
        return _json_list(values)

    return True, write


def _json_list(values: list) -> list[bytes]:
    """Each number's JSON as orjson writes it (one call for the column; no commas inside)."""
    return orjson.dumps(values)[1:-1].split(b",") if values else []
