"""Memoised pure functions of JSON values: per-schema work done once per batch, not per row.

The rows of one batch usually share their schema, tools and model, but every row is parsed
into fresh objects, so identity cannot find earlier work. The key is the value's exact JSON
bytes instead (orjson, so ``1``, ``1.0`` and ``true`` stay distinct and key order counts).
Values that have no such key are not memoised: anything orjson refuses (integers beyond 64
bits, sets, subclasses) and NaN or Infinity (which orjson writes as ``null``). A tuple counts
as the list it is written as. Results are shared between calls: callers treat them as
read-only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson

_R = TypeVar("_R")
_MAX_ENTRIES = 256


def json_key(value: object) -> bytes | None:
    """The exact JSON bytes of ``value``, or None when they would not tell values apart."""
    try:
        key = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return None
    if b"null" in key and (key == b"null" or b":null" in key or b",null" in key or b"[null" in key):
        try:  # a real null, or NaN / Infinity written as one?
            json.dumps(value, allow_nan=False)
        except ValueError:
            return None
    return key


def by_json(function: Callable[[Any], _R]) -> Callable[[Any], _R]:
    """Memoise a one-argument pure function of a JSON-like value (at most 256 entries)."""
    cache: dict[bytes, _R] = {}

    @functools.wraps(function)
    def memoised(value: Any) -> _R:
        key = json_key(value)
        if key is None:
            return function(value)
        return _cached(cache, key, lambda: function(value))

    return memoised


def _cached(cache: dict[bytes, _R], key: bytes, make: Callable[[], _R]) -> _R:
    """`cache[key]`, made by `make()` on a miss (the cache starts over past 256 entries)."""
    try:
        return cache[key]
    except KeyError:
        pass
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    result = cache[key] = make()
    return result


def same_rest(bodies: list[dict], varying: str) -> bool:
    """Whether the bodies (at least one) have exactly the same rest: all but ``varying``.

    The rests (each body with ``varying`` set to ``0``) are written as one JSON array: when
    it is the first one's key repeated, every body has that exact rest (an array parses one
    way). Rests with no exact key (NaN, huge integers...) are never the same.
    """
    if not bodies:
        return False
    rests = [{**body, varying: 0} for body in bodies]
    joined = json_key(rests)
    first = json_key(rests[0])
    return first is not None and joined == b"[" + b",".join([first] * len(rests)) + b"]"


class RestMemo(Generic[_R]):
    """A plan built from a request body without its per-row key, memoised by the rest's bytes.

    The rows of a batch usually differ only in that key (their messages), so the rest is
    checked and prepared once. The plan is built from a private copy of the rest (callers may
    mutate their bodies later); a rest with no exact key gets a plan for that call only. As
    for :func:`by_json`, a tuple counts as the list it is written as (parsed JSON has none).
    """

    def __init__(self, build: Callable[[dict], _R], varying: str) -> None:
        self.build = build
        self.varying = varying
        self._cache: dict[bytes, _R] = {}

    def __call__(self, body: dict) -> _R:
        rest = dict(body)
        rest.pop(self.varying, None)
        key = json_key(rest)
        if key is None:
            return self.build(rest)
        return _cached(self._cache, key, lambda: self.build(orjson.loads(key)))

    def many(self, bodies: list[dict]) -> list[_R]:
        """``[self(body) for body in bodies]``: one plan for them all when their rests are
        the same (:func:`same_rest`)."""
        if not same_rest(bodies, self.varying):
            return [self(body) for body in bodies]
        return [self(bodies[0])] * len(bodies)

    def cache_clear(self) -> None:
        """Forget every plan (tests compare answers with and without them)."""
        self._cache.clear()


def by_rest(varying: str) -> Callable[[Callable[[dict], _R]], RestMemo[_R]]:
    """Decorate a plan builder as a :class:`RestMemo` keyed without ``varying``."""
    return lambda build: RestMemo(build, varying)


_Row = TypeVar("_Row")
_A = TypeVar("_A")


def per_plan(
    rows: Sequence[_Row], plans: list[Any], answer: Callable[[Any, Sequence[_Row]], list[_A]]
) -> list[_A]:
    """`answer(plan, its rows)` for each plan's rows together, back in the rows' order
    (`plans[i]` is row i's plan; plans are told apart by identity)."""
    if plans and plans.count(plans[0]) == len(plans):  # one plan (by identity: no __eq__)
        return answer(plans[0], rows)
    groups: dict[int, list[int]] = {}
    for index, plan in enumerate(plans):
        groups.setdefault(id(plan), []).append(index)
    answers: list[Any] = [None] * len(rows)
    for indices in groups.values():
        found = answer(plans[indices[0]], [rows[index] for index in indices])
        for index, one in zip(indices, found, strict=True):
            answers[index] = one
    return answers
