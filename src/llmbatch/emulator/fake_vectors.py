"""The synthetic embedding vector: bytes of a hash stream mapped to float32 unit components.

Byte ``b`` of ``shake_256(seed)`` stands for ``sign(b) * sqrt(weight(b))``, 128 half-normal
quantile levels each way; the vector is scaled by ``1 / sqrt(sum of the weights)``, so its
length is 1. Each component is ``float32(level * scale)``, computed with numpy over a
256-entry table scaled once per vector and indexed by the bytes: the very floats the scalar
definition gives (the weights are integers, so their sum is exact in any order).
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Sequence

import numpy as np


def unit_vector(seed: bytes, size: int) -> list[float]:
    """A unit-length vector of ``size`` floats drawn from ``seed`` (prefix-stable in size).

    Example: ``unit_vector(b"seed", 3)`` has length 3 and norm 1 (to float32 precision).
    """
    return unit_array(seed, size).tolist()


def unit_array(seed: bytes, size: int) -> np.ndarray:
    """:func:`unit_vector` as a float64 array (float32 values widened exactly).

    ``orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)`` writes the very bytes of
    ``orjson.dumps(unit_vector(seed, size))``, without building a list of floats.
    """
    raw = _stream(seed, size)
    return _table(raw).astype(np.float64).take(raw)


def unit_arrays(seeds: Sequence[bytes], size: int) -> np.ndarray:
    """:func:`unit_array` of each seed, as the rows of one array (numpy's work done once).

    The same floats: each row's weights are summed exactly and scaled by the same IEEE
    operations as one vector's.
    """
    data = b"".join(hashlib.shake_256(seed).digest(size) for seed in seeds)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(len(seeds), size)
    totals = _WEIGHTS.take(raw).sum(axis=1)  # integers below 2**53: exact
    scales = 1.0 / np.sqrt(totals)
    tables = (_LEVELS * scales[:, None]).astype(np.float32).astype(np.float64)
    return np.take_along_axis(tables, raw.astype(np.intp), axis=1)


def vector_bytes(seed: bytes, size: int) -> bytes:
    """The unit vector as little-endian float32 bytes (what ``encoding_format=base64`` sends)."""
    raw = _stream(seed, size)
    return _table(raw).take(raw).astype("<f4", copy=False).tobytes()


def _stream(seed: bytes, size: int) -> np.ndarray:
    """One byte per component: its sign and level."""
    return np.frombuffer(hashlib.shake_256(seed).digest(size), dtype=np.uint8)


def _table(raw: np.ndarray) -> np.ndarray:
    """Per byte value, its float32 component ``float32(level * scale)`` for this vector."""
    total = int(_WEIGHTS.take(raw).sum())  # integers below 2**53: the float sum is exact
    return (_LEVELS * (1.0 / math.sqrt(total))).astype(np.float32)


def _level_table() -> tuple[np.ndarray, np.ndarray]:
    """Per byte value: its integer weight, and its signed magnitude sqrt(weight)."""
    normal = statistics.NormalDist()
    top = normal.inv_cdf(0.5 + 127.5 / 256)
    weights = [
        max(1, round((normal.inv_cdf(0.5 + (level + 0.5) / 256) / top) ** 2 * 0xFFFF))
        for level in range(128)
    ]
    weights += weights
    levels = [math.sqrt(w) * (1.0 if b < 128 else -1.0) for b, w in enumerate(weights)]
    return np.array(weights, dtype=np.float64), np.array(levels, dtype=np.float64)


_WEIGHTS, _LEVELS = _level_table()
