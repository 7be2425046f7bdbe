"""Input-token estimates from text length alone: no tokenizer, no network, ~1 s per million texts.

The estimate is linear in three totals over the column, each one C-level pass over the texts::

    tokens ~ per_char * chars + per_extra_byte * (utf8_bytes - chars)
             + per_wide_char * (chars - latin1_chars)

The UTF-8 surplus and the characters beyond Latin-1 carry the script: ASCII adds nothing,
accented Latin one byte a character, Cyrillic one byte and one wide character, CJK two bytes
and one wide character, and tokenizers spend more tokens per character on exactly those.
The coefficients are fits against real tokenizers by ``benchmarks/bench_tokens.py`` on 4,200
texts of 7 kinds (reviews, short and long English prose, Python code, Latin-script,
Cyrillic and CJK text), minimising the worst error of a kind's TOTAL. Worst error of the
total over a kind: o200k_base 8.5%, cl100k_base 12.7%, Anthropic's published (pre-Claude-3)
tokenizer 18.1%. The band adds to that the spread of single texts (95% of texts fall within
about ±45% of their estimate), which shrinks with the square root of the number of texts.

    >>> estimate_text_tokens(["The battery barely lasts an afternoon."], "openai").tokens
    9
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CHARS_PER_TOKEN",
    "TokenEstimate",
    "estimate_text_tokens",
    "queue_tokens",
    "request_overhead",
]

CHARS_PER_TOKEN = 4  # the enqueued-token estimate's rule of thumb (`quota`)


def queue_tokens(chars: int) -> int:
    """A request body's enqueued-token estimate from its compact JSON's length in characters
    (`quota`: one token per `CHARS_PER_TOKEN`, at least one)."""
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


@dataclass(frozen=True)
class TokenEstimate:
    """Estimated tokens, a band the true count falls in, and how the figure was made."""

    tokens: int
    low: int
    high: int
    method: str


@dataclass(frozen=True)
class _Calibration:
    per_char: float
    per_extra_byte: float
    per_wide_char: float
    bias: float  # the worst relative error of a kind's total, rounded up (the band's floor)
    name: str


# Fitted by `benchmarks/bench_tokens.py --fit` (600 texts per kind, seed 11). Anthropic: the
# only tokenizer Anthropic published is the pre-Claude-3 one; Claude 3 and later use another.
# Its band is that fit's worst 18% plus as much again for the unpublished tokenizer, a
# judgement: o200k's fit and that tokenizer differ on a kind's total by 4-12% on English
# and code and by 27-35% on other scripts.
_COEFFS = {
    "o200k_base": _Calibration(0.22575, 0.3282, -0.17062, 0.10, "o200k_base"),
    "cl100k_base": _Calibration(0.23298, 0.83681, -0.58583, 0.15, "cl100k_base"),
    "anthropic": _Calibration(0.24732, 0.97477, -0.71542, 0.35, "Anthropic pre-Claude-3"),
}
_LATIN1 = operator.methodcaller("encode", "latin-1", "ignore")
_SINGLE_TEXT_SPREAD = 0.45  # half-width of the band holding 95% of single texts, worst kind

# Messages framing per request on chat-like endpoints (OpenAI's counting recipe for chat
# models: 3 tokens for the assistant reply's priming, 3 + 1 for the role per message).
_PRIMING = 3
_PER_MESSAGE = 4
_CHAT_ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/messages")


def estimate_text_tokens(
    texts: Iterable[str], provider: str, *, model: str | None = None
) -> TokenEstimate:
    """Estimate the tokens of all ``texts`` together, with the band the true total falls in.

    ``model`` matters only for OpenAI's embedding models (``text-embedding-*`` use
    ``cl100k_base``; chat models ``o200k_base``). Anthropic's figure is fitted to its older,
    published tokenizer and has a wider band: the one Claude 3+ uses is not public.

    Example: ``estimate_text_tokens(df["body"], "openai")`` -> ``TokenEstimate(tokens=..., ...)``.
    """
    items = texts if isinstance(texts, list) else list(texts)
    chars = sum(map(len, items))
    extra = sum(map(len, map(str.encode, items))) - chars
    wide = chars - sum(map(len, map(_LATIN1, items)))
    cal = _calibration(provider, model)
    raw = cal.per_char * chars + cal.per_extra_byte * extra + cal.per_wide_char * wide
    tokens = max(0, round(raw))
    band = cal.bias + _SINGLE_TEXT_SPREAD / math.sqrt(max(1, len(items)))
    return TokenEstimate(
        tokens=tokens,
        low=math.floor(tokens * (1 - band)) if band < 1 else 0,
        high=math.ceil(tokens * (1 + band)),
        method=_method(cal, band),
    )


def request_overhead(provider: str, endpoint: str, *, messages: int = 1) -> int:
    """Tokens one request adds around its texts: the messages framing, none for embeddings.

    OpenAI documents this for chat models (3 tokens of reply priming, 4 per message with its
    role); Anthropic does not publish its framing, so the same figure stands in for it.
    Texts of the messages (system prompt included) are counted separately.

    Example: ``request_overhead("openai", "/v1/chat/completions", messages=2)`` is 11.
    """
    del provider  # same framing figure for both providers (see above)
    if not endpoint.endswith(_CHAT_ENDPOINTS):
        return 0
    return _PRIMING + _PER_MESSAGE * messages


def _calibration(provider: str, model: str | None) -> _Calibration:
    if provider == "anthropic":
        return _COEFFS["anthropic"]
    if provider == "openai" and model is not None and model.startswith("text-embedding"):
        return _COEFFS["cl100k_base"]
    return _COEFFS["o200k_base"]


def _method(cal: _Calibration, band: float) -> str:
    return (
        f"length and UTF-8 width fitted to the {cal.name} tokenizer; band ±{band:.0%} "
        f"(±{cal.bias:.0%} for a column's total, wider for few texts)"
    )
