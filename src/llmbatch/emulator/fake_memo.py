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
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

_R = TypeVar("_R")
_MAX_ENTRIES = 256


def json_key(value: object) -> bytes | None:
    """The exact JSON bytes of ``value``, or None when they would not tell values apart."""
    try:
        key = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return None
    if key == b"null" or b":null" in key or b",null" in key or b"[null" in key:
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
        try:
            return cache[key]
        except KeyError:
            pass
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        result = cache[key] = function(value)
        return result

    return memoised
