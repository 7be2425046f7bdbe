"""Fields of many answers computed together: the column helpers of the batch paths.

The batch paths (:mod:`fake_chat_columns`, :mod:`fake_anthropic_columns`) answer the rows of
a chunk that share one plan field by field, one comprehension or numpy expression per field,
instead of a function call per row. These are the fields both providers share: the plain
messages' texts, the reply texts, structured texts as JSON strings, the ids' hashes and the
token counts. Each is exactly what the one-row code computes (:mod:`fake_text`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from itertools import accumulate, repeat
from typing import Any

import numpy as np
import orjson

from llmbatch.emulator.fake_schema_columns import flat_schema
from llmbatch.emulator.fake_text import id_digest, id_size

__all__ = [
    "Texts",
    "Unwritable",
    "id_hashes",
    "json_strings",
    "plain_contents",
    "reply_texts",
    "row_sums",
    "schema_texts",
    "tokens",
]

_SNIPPET_WORDS = 12


class Unwritable(Exception):
    """A row's text has no JSON form (a lone surrogate): the rows take the one-row path,
    which finds which row it is."""


def plain_contents(messages: list, roles: frozenset[str]) -> list[str] | None:
    """Every message's text, all rows' in order, when every row is a non-empty list of
    ``{"role": <one of roles>, "content": str}`` objects ending with the user's, no ``[[``
    marker in that last message; else None."""
    if set(map(type, messages)) != {list}:
        return None
    flat = [message for row in messages for message in row]
    if set(map(type, flat)) != {dict}:
        return None
    kinds = list(map(dict.get, flat, repeat("role")))
    contents: list[Any] = list(map(dict.get, flat, repeat("content")))
    if set(map(type, kinds)) != {str} or set(map(type, contents)) != {str}:
        return None
    counts = list(map(len, messages))
    if 0 in counts or not roles.issuperset(kinds):
        return None
    ends = [end - 1 for end in accumulate(counts)]
    if {kinds[end] for end in ends} != {"user"}:
        return None
    if "[[" in "\x00".join([contents[end] for end in ends]):
        return None
    return contents


def row_sums(values: np.ndarray, counts: list[int]) -> np.ndarray:
    """The sum of each row's values (``counts`` of them each, none zero), in order."""
    starts = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return np.add.reduceat(values, starts)


def tokens(lengths: np.ndarray) -> np.ndarray:
    """``estimate_tokens`` of texts of these lengths: a token per 4 characters, at least 1."""
    return np.maximum(1, (lengths + 3) // 4)


def lengths(texts: Sequence[str]) -> np.ndarray:
    """Each text's length in characters."""
    return np.fromiter(map(len, texts), np.int64, len(texts))


def reply_texts(users: list[str], seeds: list[bytes]) -> tuple[list[bytes], np.ndarray]:
    """``orjson.dumps(reply_text(user, seed))`` of each row, and the texts' lengths."""
    words = [user.split() for user in users]
    snippets = [
        " ".join(row[:_SNIPPET_WORDS]) + " …"
        if len(row) > _SNIPPET_WORDS
        else " ".join(row) or "(empty input)"
        for row in words
    ]
    digits = b"".join(seeds).hex()
    texts = [
        f"[synthetic] {snippet} [{digits[at : at + 8]}]"
        for snippet, at in zip(snippets, range(0, len(digits), 32), strict=True)
    ]
    try:
        strings = list(map(orjson.dumps, texts))
    except orjson.JSONEncodeError as exc:
        raise Unwritable from exc
    return strings, lengths(texts)


def json_strings(texts: list[bytes]) -> tuple[list[bytes], np.ndarray]:
    """``orjson.dumps(text.decode())`` of each JSON text orjson wrote, and its length.

    Such a text holds no raw control character, so only ``"`` and ``\\`` need escaping: one
    pass over the joined column does every row.
    """
    joined = b"\n".join(texts)
    sizes = np.fromiter(map(len, texts), np.int64, len(texts))
    if not joined.isascii():
        sizes = lengths([text.decode() for text in texts])
    joined = joined.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return (b'"' + joined.replace(b"\n", b'"\n"') + b'"').split(b"\n"), sizes


def id_hashes(prefix: str, length: int, seeds: list[bytes], salts: list[str]) -> list[bytes]:
    """``id_digest(prefix, length, seed, salt)`` of each row."""
    size = id_size(length)
    if set(map(type, salts)) == {str}:
        blake, dumps = hashlib.blake2b, orjson.dumps
        try:
            return [
                blake(dumps(("id", prefix, repr(seed), salt)), digest_size=size).digest()
                for seed, salt in zip(seeds, salts, strict=True)
            ]
        except orjson.JSONEncodeError:
            pass
    return [id_digest(prefix, length, seed, salt) for seed, salt in zip(seeds, salts, strict=True)]


Texts = Callable[[list[str], list[bytes]], tuple[list[bytes], np.ndarray]]
"""The answers as JSON strings and their lengths in characters, from the users' texts and the
seeds."""


def schema_texts(compiled: Any) -> Texts | None:
    """The answers of a structured plan written a column at a time, or None when its schema
    draws differently row by row (the schema walk writes them)."""
    flat = flat_schema(compiled)
    if flat is None:
        return None
    return lambda users, seeds: json_strings(flat.texts(seeds))
