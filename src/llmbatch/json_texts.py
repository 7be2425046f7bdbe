"""Texts as JSON strings, a chunk at a time, as Arrow columns: the bytes `orjson.dumps` gives.

Prepare's hot path puts every row's dumped text between fixed bytes three times: the request
line, the request key (`reuse`) and the job's identity digests. Per row in Python that is some
3 µs of formatting a row; as Arrow columns it is a few C passes over a chunk. The texts are
taken as UTF-8, the bytes JSON must escape (`"`, `\\` and the controls below U+0020) are found
by a few scans in C, and each one that occurs is replaced column-wide by orjson's own escape
(`_ESCAPES`, checked against orjson byte for byte in the tests). orjson escapes nothing else:
not `/`, DEL, U+2028 or any non-ASCII character.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ROW_BUDGET",
    "characters",
    "chunk_size",
    "dumped",
    "joined",
    "numbers",
    "offsets",
    "values",
]

ROW_BUDGET = 16 << 20  # bytes of output a chunk aims at (its columns are in memory at once)
_MIN_ROWS, _MAX_ROWS = 512, 65_536
_BINARY = pa.large_binary()
_STR = {str}

_SHORT = {0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r"}
# every byte JSON must escape → orjson's escape for it; the backslash comes first, since every
# other replacement writes one
_ESCAPES = {0x5C: b"\\\\", 0x22: b'\\"'} | {c: _SHORT.get(c, b"\\u%04x" % c) for c in range(0x20)}


def chunk_size(fixed_bytes: int) -> int:
    """Rows a chunk should hold when each row's output is `fixed_bytes` plus its text."""
    return max(_MIN_ROWS, min(_MAX_ROWS, ROW_BUDGET // (fixed_bytes + 256)))


def dumped(texts: Sequence[Any]) -> pa.Array | None:
    """`orjson.dumps(t)` for each text, as one large_binary array; None when Arrow can't take
    every value as a string (not a str, None, a lone surrogate): the caller goes per row.
    Only exact `str` values: Arrow would also take bytes, which orjson refuses."""
    if not set(map(type, texts)) <= _STR:
        return None
    try:
        raw = pa.array(texts, type=pa.large_string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None
    if raw.null_count:
        return None
    arr = raw.cast(_BINARY)
    for byte in _escaped_bytes(values(arr)):
        arr = pc.replace_substring(arr, pattern=bytes([byte]), replacement=_ESCAPES[byte])
    return joined(b'"', arr, b'"')


def _escaped_bytes(data: memoryview) -> list[int]:
    """The bytes in `data` that JSON escapes, the backslash first (each replacement after it
    writes one). Three fast scans (a minimum and two `find`s) where there are no controls."""
    flat = np.frombuffer(data, dtype=np.uint8)
    if not flat.size:
        return []
    raw = data.tobytes()
    found = [c for c in (0x5C, 0x22) if raw.find(c) != -1]
    if flat.min() < 0x20:
        found += np.unique(flat[flat < 0x20]).tolist()
    return found


def characters(dumped: pa.Array) -> np.ndarray:
    """Each value's length in characters (its bytes are UTF-8: `dumped`'s are)."""
    return pc.utf8_length(dumped.cast(pa.large_string())).to_numpy(zero_copy_only=False)


def joined(*parts: pa.Array | bytes) -> pa.Array:
    """Each row's parts end to end: arrays give the row's value, bytes the same for every row."""
    return pc.binary_join_element_wise(
        *[pa.scalar(p, _BINARY) if isinstance(p, bytes) else p for p in parts],
        pa.scalar(b"", _BINARY),
    )


def numbers(rows: Sequence[int]) -> pa.Array:
    """Row positions in decimal (`b"%d" % row`), as a large_binary array."""
    return pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.large_string()).cast(_BINARY)


def offsets(arr: pa.Array) -> np.ndarray:
    """Where each row starts in `values(arr)`, and where the last one ends (len(arr) + 1)."""
    raw = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    return raw - raw[0]


def values(arr: pa.Array) -> memoryview:
    """Every row's bytes end to end (one buffer, no copy)."""
    raw = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    first, last = int(raw[arr.offset]), int(raw[arr.offset + len(arr)])
    data = arr.buffers()[2]
    return memoryview(data)[first:last] if data is not None else memoryview(b"")
