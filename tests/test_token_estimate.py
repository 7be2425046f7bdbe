"""Token estimates from text length: known texts fall in the band, edge cases, framing."""

from __future__ import annotations

import pytest

from llmbatch.token_estimate import TokenEstimate, estimate_text_tokens, request_overhead

# (kind, o200k_base tokens, cl100k_base tokens, text): counts measured with js-tiktoken 1.0.21,
# the real BPE ranks, as benchmarks/bench_tokens.py does.
KNOWN = [
    (
        "review",
        35,
        35,
        (
            "I bought this and it works exactly as described. Shipping took a "
            "week. The colour is a bit darker than in the photos, but the build "
            "quality is better than expected."
        ),
    ),
    (
        "news",
        40,
        40,
        (
            "The central bank held interest rates steady on Thursday, saying "
            "inflation had eased more slowly than expected over the summer while "
            "unemployment stayed near a record low. Officials signalled that cuts "
            "were unlikely before the spring."
        ),
    ),
    (
        "code",
        89,
        89,
        (
            'def merge(left, right):\n    """Merge two sorted lists into one sorted '
            'list."""\n    out, i, j = [], 0, 0\n    while i < len(left) and j < '
            "len(right):\n        if left[i] <= right[j]:\n            "
            "out.append(left[i]); i += 1\n        else:\n            "
            "out.append(right[j]); j += 1\n    return out + left[i:] + right[j:]\n"
        ),
    ),
    (
        "german",
        28,
        37,
        (
            "Die Lieferung kam zwei Tage zu spät, aber das Gerät funktioniert "
            "einwandfrei. Die Anleitung ist leider nur auf Englisch und etwas "
            "knapp geraten."
        ),
    ),
    (
        "french",
        26,
        33,
        (
            "Le produit est arrivé rapidement et correspond exactement à la "
            "description. Je le recommande à tous ceux qui cherchent un appareil "
            "simple et fiable."
        ),
    ),
    (
        "japanese",
        34,
        50,
        (
            "配送はとても早く、商品も説明どおりでした。ただし説明書が英語だけなので、少し分かりにくかったです。"
        ),
    ),
    (
        "russian",
        22,
        46,
        (
            "Доставка заняла неделю, но устройство работает отлично. Инструкция "
            "короткая и понятная, рекомендую."
        ),
    ),
]


def _inside(estimate: TokenEstimate, true: int) -> bool:
    return estimate.low <= true <= estimate.high


@pytest.mark.parametrize(("kind", "o200k", "cl100k", "text"), KNOWN, ids=[k[0] for k in KNOWN])
def test_each_known_text_falls_in_its_band(kind: str, o200k: int, cl100k: int, text: str) -> None:
    assert _inside(estimate_text_tokens([text], "openai"), o200k)
    assert _inside(estimate_text_tokens([text], "openai", model="text-embedding-3-small"), cl100k)


def test_a_column_total_falls_in_the_band() -> None:
    texts = [row[3] for row in KNOWN] * 50
    chat = estimate_text_tokens(texts, "openai")
    embed = estimate_text_tokens(texts, "openai", model="text-embedding-3-small")
    assert _inside(chat, 50 * sum(row[1] for row in KNOWN))
    assert _inside(embed, 50 * sum(row[2] for row in KNOWN))
    assert chat.low < chat.tokens < chat.high


def test_the_band_narrows_with_more_texts_but_keeps_the_calibration_floor() -> None:
    text = KNOWN[0][3]
    one, many = (
        estimate_text_tokens([text], "openai"),
        estimate_text_tokens([text] * 10_000, "openai"),
    )
    width = lambda e: (e.high - e.low) / e.tokens  # noqa: E731
    assert width(many) < width(one)
    assert width(many) >= 0.2  # ±10%: the worst error of a column's total in the calibration


def test_anthropic_has_a_wider_band_and_says_why() -> None:
    texts = [row[3] for row in KNOWN] * 100
    openai, anthropic = (
        estimate_text_tokens(texts, "openai"),
        estimate_text_tokens(texts, "anthropic"),
    )
    assert (anthropic.high - anthropic.low) / anthropic.tokens > (
        openai.high - openai.low
    ) / openai.tokens
    assert "Anthropic" in anthropic.method
    assert "o200k_base" in openai.method


def test_wide_scripts_cost_more_tokens_per_character() -> None:
    english, japanese = KNOWN[0][3], KNOWN[5][3]
    per_char = lambda t: estimate_text_tokens([t], "openai").tokens / len(t)  # noqa: E731
    assert per_char(japanese) > 2 * per_char(english)


def test_empty_input_is_zero() -> None:
    for texts in ([], [""], iter([])):
        assert estimate_text_tokens(texts, "openai") == TokenEstimate(
            0, 0, 0, estimate_text_tokens([], "openai").method
        )


def test_any_iterable_of_strings_gives_the_same_estimate() -> None:
    texts = [row[3] for row in KNOWN]
    assert estimate_text_tokens(iter(texts), "anthropic") == estimate_text_tokens(
        texts, "anthropic"
    )
    assert estimate_text_tokens(tuple(texts), "openai") == estimate_text_tokens(texts, "openai")


def test_request_overhead_is_message_framing_and_nothing_for_embeddings() -> None:
    assert request_overhead("openai", "/v1/embeddings") == 0
    assert request_overhead("openai", "/v1/chat/completions") == 7
    assert request_overhead("openai", "/v1/chat/completions", messages=2) == 11
    assert request_overhead("anthropic", "/v1/messages") == 7
