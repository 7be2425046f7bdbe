"""Shared pieces of the synthetic model: stable hashes, ids, token estimates and reply text.

Everything here is a pure function of its arguments. Hashes are blake2b over a canonical JSON
form (sorted keys), never Python's ``hash()``, so results are the same in every process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TypeVar

import orjson

_T = TypeVar("_T")

REFUSE_MARKER = "[[refuse]]"
"""In the last user message: the model refuses (OpenAI ``refusal``, Anthropic ``refusal``)."""
BAD_JSON_MARKER = "[[bad_json]]"
"""In the last user message: structured output is cut in half, so it is not valid JSON."""
BAD_SCHEMA_MARKER = "[[bad_schema]]"
"""In the last user message: structured output is valid JSON that breaks the schema."""
FLAG_MARKER = "[[flag]]"
"""In a moderation input: the input is flagged for violence."""

REFUSAL_TEXT = "I'm sorry, I can't help with that."
DEFAULT_CREATED = 1767225600
"""2026-01-01T00:00:00Z: the ``created`` stamp when the caller does not pass its clock."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_PAIRS = tuple(low + high for high in _BASE62 for low in _BASE62)  # 62 * high + low
_TEN_DIGITS = 62**10
_COLUMN_MINIMUM = 512  # fewer ids than this: numpy's per-call cost outweighs its speed
_SNIPPET_WORDS = 12
_WORD = re.compile(r"[^\W_]+")
_MAX_WORDS = 64
_COUNTED = 256
_COUNTS = tuple(count.to_bytes(8, "little") for count in range(_COUNTED))


def canonical(value: object) -> bytes:
    """The stable byte form of a JSON-like value: compact JSON with sorted keys."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=repr)
    except orjson.JSONEncodeError:  # e.g. integers beyond 64 bits
        return repr(value).encode()


def digest(*parts: object, size: int = 16) -> bytes:
    """A blake2b digest of ``parts``: the seed every synthetic choice is drawn from."""
    return hashlib.blake2b(canonical(parts), digest_size=size).digest()


class Rand:
    """A deterministic stream of numbers drawn from a seed (blake2b in counter mode).

    Example: ``Rand(digest("x")).below(6)`` is the same die roll in every process.
    """

    __slots__ = ("_count", "_keyed")

    def __init__(self, seed: bytes) -> None:
        # A keyed blake2b holds its key as a pending first block, so copying the keyed state
        # and adding the counter equals hashing the counter with that key afresh, for less.
        self._keyed = hashlib.blake2b(key=seed[:64], digest_size=8)
        self._count = 0

    def below(self, n: int) -> int:
        """An integer in ``0..n-1`` (0 when ``n <= 1``)."""
        if n <= 1:
            return 0
        self._count = count = self._count + 1
        word = self._keyed.copy()
        word.update(_COUNTS[count] if count < _COUNTED else count.to_bytes(8, "little"))
        return int.from_bytes(word.digest(), "little") % n

    def chance(self, numerator: int, denominator: int) -> bool:
        """True about ``numerator`` times in ``denominator``."""
        return self.below(denominator) < numerator

    def choice(self, options: Sequence[_T]) -> _T:
        """One element of a non-empty sequence."""
        return options[self.below(len(options))]

    def unit(self) -> float:
        """A float in ``[0, 1)``."""
        return self.below(1 << 53) / (1 << 53)


def base62(data: bytes, length: int) -> str:
    """``length`` base-62 characters taken from ``data`` (give at least 6 bits per char).

    The least significant digit comes first; two digits are taken per division.
    """
    number = int.from_bytes(data, "big")
    pairs = _BASE62_PAIRS
    out: list[str] = []
    # Ten digits at a time off the big number, then five pairs off that small one (below
    # 2**60): the same digits for fewer divisions of the long number.
    for _ in range((length + 9) // 10):
        number, chunk = divmod(number, _TEN_DIGITS)
        chunk, a = divmod(chunk, 3844)
        chunk, b = divmod(chunk, 3844)
        chunk, c = divmod(chunk, 3844)
        e, d = divmod(chunk, 3844)
        out += (pairs[a], pairs[b], pairs[c], pairs[d], pairs[e])
    return "".join(out)[:length]


def base62_column(digests: list[bytes], length: int) -> list[bytes]:
    """``base62(data, length)`` of each digest (all of one size), as ASCII bytes.

    Many at once go through numpy (:mod:`fake_ids`, imported on first use), a few one by one.
    """
    if len(digests) < _COLUMN_MINIMUM:
        return [base62(data, length).encode() for data in digests]
    from llmbatch.emulator.fake_ids import base62_many

    return base62_many(digests, length)


def make_id(prefix: str, length: int, *parts: object, hex_digits: bool = False) -> str:
    """A realistic, deterministic object id such as ``chatcmpl-<29 base62>``."""
    data = id_digest(prefix, length, *parts)
    body = data.hex()[:length] if hex_digits else base62(data, length)
    return prefix + body


def id_digest(prefix: str, length: int, *parts: object) -> bytes:
    """The hash :func:`make_id` writes out (``id_size(length)`` bytes)."""
    size = id_size(length)
    return _seed_salt_digest(prefix, parts, size) or digest("id", prefix, *parts, size=size)


def id_size(length: int) -> int:
    """How many hash bytes an id of ``length`` characters is drawn from."""
    return min(64, max(16, length))


def _seed_salt_digest(prefix: str, parts: tuple, size: int) -> bytes | None:
    """``digest("id", prefix, seed, salt)`` for the usual bytes seed and str salt, or None.

    The canonical form writes bytes as their ``repr``; passing it ready skips orjson's
    fallback call.
    """
    if len(parts) != 2 or type(parts[0]) is not bytes or type(parts[1]) is not str:
        return None
    try:
        data = orjson.dumps(("id", prefix, repr(parts[0]), parts[1]))
    except orjson.JSONEncodeError:  # e.g. a lone surrogate in the salt
        return None
    return hashlib.blake2b(data, digest_size=size).digest()


def estimate_tokens(value: object) -> int:
    """About one token per 4 characters of the text (or of its compact JSON), at least 1.

    Example: ``estimate_tokens("hello world")`` is 3.
    """
    if isinstance(value, str):
        return max(1, -(-len(value) // 4))
    try:  # key order does not change the length, so the canonical form need not be sorted
        data = orjson.dumps(value, default=repr)
    except orjson.JSONEncodeError:
        data = canonical(value)
    return max(1, -(-len(data.decode("utf-8", "replace")) // 4))


def text_tokens(text: str) -> int:
    """Like :func:`estimate_tokens`, but an empty output costs nothing."""
    return estimate_tokens(text) if text else 0


def content_text(content: object) -> str:
    """The text of a message ``content``: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(text for text in map(_part_text, content) if text)


def _part_text(part: object) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    if part.get("type") == "tool_result":
        return content_text(part.get("content"))
    for key in ("text", "refusal", "input_text"):
        value = part.get(key)
        if isinstance(value, str):
            return value
    return ""


def words_of(text: str) -> tuple[str, ...]:
    """Up to 64 words of ``text`` (markers and punctuation dropped): vocabulary for strings."""
    return tuple(_WORD.findall(text)[:_MAX_WORDS])


def reply_text(prompt: str, seed: bytes) -> str:
    """The synthetic answer: ``[synthetic] <first words of the prompt> [<8 hex of the seed>]``."""
    words = prompt.split()
    snippet = " ".join(words[:_SNIPPET_WORDS]) or "(empty input)"
    if len(words) > _SNIPPET_WORDS:
        snippet += " …"
    return f"[synthetic] {snippet} [{seed.hex()[:8]}]"


def fit_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut to about ``max_tokens`` tokens (4 characters each); True when cut."""
    if max_tokens is None or estimate_tokens(text) <= max_tokens or not text:
        return text, False
    return text[: max(0, max_tokens) * 4], True


def cut_at_stop(text: str, stops: object) -> tuple[str, str | None]:
    """``text`` up to the first stop sequence it contains, and that sequence (or None)."""
    if isinstance(stops, str):
        stops = [stops]
    if not isinstance(stops, list):
        return text, None
    hits = [(text.find(stop), stop) for stop in stops if isinstance(stop, str) and stop]
    hits = [(at, stop) for at, stop in hits if at >= 0]
    if not hits:
        return text, None
    at, stop = min(hits)
    return text[:at], stop
