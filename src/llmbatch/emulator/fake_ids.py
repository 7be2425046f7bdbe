"""Many base-62 ids at once: ``fake_text.base62`` over a column of hashes, with numpy.

A batch draws one id per answer, and the scalar conversion divides a 232-bit number fifteen
times per id. Here the hashes of a chunk of rows are divided together: each number is held
as 24-bit limbs in float64 (exact: every intermediate stays below 2**53), divided by 62**4
limb by limb, and each remainder gives four digits. The digits are those of ``base62``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["base62_many"]

_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8
)
_LIMB = 16777216.0  # 2**24
_FOUR_DIGITS = 62.0**4  # below 2**24, so remainder * 2**24 + limb stays below 2**48


def base62_many(digests: list[bytes], length: int) -> list[bytes]:
    """``base62(data, length)`` of each digest, as ASCII bytes (digests of one size).

    Worth it from a few hundred rows (numpy's per-call cost); see ``fake_text.base62_column``.
    """
    size = len(digests[0])
    limbs = _limbs(b"".join(digests), len(digests), size)
    chunks = -(-length // 4)
    remainders = np.empty((chunks, len(digests)))
    largest = (1 << (8 * size)) - 1
    for chunk in range(chunks):
        remainder = np.zeros(len(digests))
        # limbs above the largest number still possible are zero: skip them
        bits = largest.bit_length()
        start = sum(1 for index in range(len(limbs)) if (len(limbs) - 1 - index) * 24 >= bits)
        for row in limbs[start:]:  # most significant limb first: long division by 62**4
            current = remainder * _LIMB + row
            np.floor(current / _FOUR_DIGITS, out=row)
            remainder = current - row * _FOUR_DIGITS
        remainders[chunk] = remainder
        largest //= 62**4
    digits = np.empty((len(digests), chunks, 4))
    rest = remainders.T
    for place in range(4):
        quotient = np.floor(rest / 62.0)
        digits[:, :, place] = rest - quotient * 62.0
        rest = quotient
    text = _ALPHABET.take(digits.reshape(len(digests), chunks * 4)[:, :length].astype(np.intp))
    flat = text.tobytes()
    return [flat[at : at + length] for at in range(0, len(flat), length)]


def _limbs(data: bytes, count: int, size: int) -> np.ndarray:
    """The numbers as rows of 24-bit limbs in float64, most significant row first."""
    width = -(-size // 3)
    matrix = np.zeros((count, width * 3), np.uint8)
    matrix[:, width * 3 - size :] = np.frombuffer(data, np.uint8).reshape(count, size)
    triples = matrix.reshape(count, width, 3).astype(np.float64)
    limbs = triples[:, :, 0] * 65536.0 + triples[:, :, 1] * 256.0 + triples[:, :, 2]
    return np.ascontiguousarray(limbs.T)
