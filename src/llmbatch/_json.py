"""Reading one JSON line as the provider wrote it, whatever numbers it holds.

orjson (fast, used for every line) refuses a number beyond a double (`1e400`) and reads an
integer beyond 64 bits as a float. One such number in one answer must not make a whole
results file unreadable, so a line orjson refuses is read again by the standard library
(infinity for `1e400`, exact big integers); the row's answer then fails its own checks.

The standard library also lets through a lone surrogate escape (`"\\ud800"`, which a model cut
mid-emoji can write), a string no UTF-8 file or Arrow column can hold: it becomes U+FFFD, the
replacement character, as any UTF-8 decoder would make of it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["loads"]

_LONE = re.compile("[\ud800-\udfff]")  # after parsing, every surrogate left is a lone one


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document; raises `orjson.JSONDecodeError` only if neither parser can."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            pass
        else:
            return (
                _whole(value)
                if _LONE.search(raw if isinstance(raw, str) else "")
                or (isinstance(raw, bytes) and b"\\ud" in raw.lower())
                else value
            )
        raise


def _whole(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) made U+FFFD."""
    if isinstance(value, str):
        return _LONE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, dict):
        return {_whole(k): _whole(v) for k, v in value.items()}
    return value
