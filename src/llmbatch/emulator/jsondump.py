"""JSON bytes for any value a fake answer can hold, integers beyond 64 bits included.

orjson refuses an integer outside int64/uint64 (a schema with `minimum: 1e23` asks for one);
the real APIs send such numbers as plain JSON digits, so the emulator does too.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps"]


def dumps(value: Any) -> bytes:
    """Compact JSON bytes of `value` (orjson, or the standard library for huge integers)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
