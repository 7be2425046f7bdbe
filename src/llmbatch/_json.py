"""Reading one JSON line as the provider wrote it, whatever numbers it holds.

orjson (fast, used for every line) refuses a number beyond a double (`1e400`) and reads an
integer beyond 64 bits as a float. One such number in one answer must not make a whole
results file unreadable, so a line orjson refuses is read again by the standard library
(infinity for `1e400`, exact big integers); the row's answer then fails its own checks.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["loads"]


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document; raises `orjson.JSONDecodeError` only if neither parser can."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            pass
        raise
