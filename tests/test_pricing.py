"""Prices from the genai-prices snapshot: lookup, batch prices, cost per provider, offline."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import genai_prices
import pytest
from genai_prices import Usage, calc_price

from llmbatch.pricing import Rates, cost, hint_unknown, rates

DEFAULT_MODELS = [
    ("openai", "gpt-4.1-mini"),
    ("openai", "text-embedding-3-small"),
    ("anthropic", "claude-haiku-4-5"),
]
BATCH = {"processing": "batch"}


def _rates(provider: str, model: str, *, batch: bool) -> Rates:
    found = rates(provider, model, batch=batch)
    assert found is not None, hint_unknown(provider, model)
    return found


@pytest.mark.parametrize(("provider", "model"), DEFAULT_MODELS)
def test_default_models_have_realtime_and_batch_rates(provider: str, model: str) -> None:
    for batch in (False, True):
        r = _rates(provider, model, batch=batch)
        assert (r.model_id, r.provider, r.batch) == (model, provider, batch)
        assert r.input > 0
        assert genai_prices.__version__ in r.snapshot


@pytest.mark.parametrize(("provider", "model"), DEFAULT_MODELS)
def test_batch_halves_input_and_output(provider: str, model: str) -> None:
    realtime, batch = _rates(provider, model, batch=False), _rates(provider, model, batch=True)
    assert batch.input == pytest.approx(realtime.input / 2)
    assert batch.output == pytest.approx(realtime.output / 2)
    assert realtime.batch_source is None
    assert batch.batch_source in ("genai-prices", "documented 50%")


def test_batch_price_source_is_the_library_where_it_has_one() -> None:
    assert _rates("openai", "gpt-4.1-mini", batch=True).batch_source == "genai-prices"
    assert _rates("anthropic", "claude-haiku-4-5", batch=True).batch_source == "genai-prices"
    embed = _rates("openai", "text-embedding-3-small", batch=True)
    assert embed.batch_source == "documented 50%"


def test_anthropic_batch_halves_cache_prices_too() -> None:
    realtime = _rates("anthropic", "claude-haiku-4-5", batch=False)
    batch = _rates("anthropic", "claude-haiku-4-5", batch=True)
    assert realtime.cache_read is not None and realtime.cache_write is not None
    assert batch.cache_read == pytest.approx(realtime.cache_read / 2)
    assert batch.cache_write == pytest.approx(realtime.cache_write / 2)


@pytest.mark.parametrize(
    ("provider", "dated", "plain"),
    [
        ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ],
)
def test_dated_model_names_match_the_plain_model(provider: str, dated: str, plain: str) -> None:
    assert _rates(provider, dated, batch=True) == _rates(provider, plain, batch=True)


def test_openai_cost_counts_cached_tokens_inside_input() -> None:
    r = _rates("openai", "gpt-4.1-mini", batch=True)
    got = cost(r, input_tokens=1000, output_tokens=100, cache_read_tokens=400)
    assert r.cache_read is not None
    assert got == pytest.approx(600 * r.input + 400 * r.cache_read + 100 * r.output)
    usage = Usage(input_tokens=1000, cache_read_tokens=400, output_tokens=100)
    expected = calc_price(usage, "gpt-4.1-mini", provider_id="openai", price_context=BATCH)
    assert got == pytest.approx(float(expected.total_price))


def test_anthropic_cost_prices_each_kind_of_input_on_its_own() -> None:
    r = _rates("anthropic", "claude-haiku-4-5", batch=True)
    got = cost(
        r, input_tokens=500, output_tokens=100, cache_read_tokens=400, cache_write_tokens=100
    )
    assert r.cache_read is not None and r.cache_write is not None
    by_hand = 500 * r.input + 400 * r.cache_read + 100 * r.cache_write + 100 * r.output
    assert got == pytest.approx(by_hand)
    # genai-prices counts input_tokens as the total input, cache reads and writes included.
    usage = Usage(
        input_tokens=1000, cache_read_tokens=400, cache_write_tokens=100, output_tokens=100
    )
    expected = calc_price(usage, "claude-haiku-4-5", provider_id="anthropic", price_context=BATCH)
    assert got == pytest.approx(float(expected.total_price))


def test_realtime_cost_matches_the_library_without_batch_context() -> None:
    r = _rates("anthropic", "claude-haiku-4-5", batch=False)
    usage = Usage(input_tokens=300, output_tokens=50)
    expected = calc_price(usage, "claude-haiku-4-5", provider_id="anthropic")
    assert cost(r, input_tokens=300, output_tokens=50) == pytest.approx(float(expected.total_price))


def test_embedding_cost_has_no_output_price() -> None:
    r = _rates("openai", "text-embedding-3-small", batch=True)
    assert cost(r, input_tokens=1_000_000, output_tokens=0) == pytest.approx(r.input * 1_000_000)


@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-nope-9"), ("nowhere", "x-1")])
def test_unknown_model_gives_none_and_a_hint_naming_it(provider: str, model: str) -> None:
    assert rates(provider, model, batch=True) is None
    hint = hint_unknown(provider, model)
    assert repr(model) in hint and provider in hint
    assert genai_prices.__version__ in hint


def test_lookups_make_no_network_call() -> None:
    """In a fresh interpreter whose audit hook refuses any socket connect or name lookup."""
    code = textwrap.dedent(
        """
        import sys

        def refuse(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
                raise RuntimeError(f"network call: {event} {args}")

        sys.addaudithook(refuse)
        from llmbatch.pricing import cost, rates
        for provider, model in [("openai", "gpt-4.1-mini"), ("anthropic", "claude-haiku-4-5"),
                                ("openai", "text-embedding-3-small"), ("openai", "nope")]:
            for batch in (False, True):
                r = rates(provider, model, batch=batch)
                if r is not None:
                    cost(r, input_tokens=10, output_tokens=10)
        print("offline ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "offline ok"


def test_without_genai_prices_every_model_is_unknown_with_a_hint() -> None:
    """Where genai-prices cannot be installed (Python 3.10), prices are None, never an error."""
    code = textwrap.dedent(
        """
        import sys

        sys.modules["genai_prices"] = None  # what an interpreter without it sees: ImportError
        from llmbatch.pricing import hint_unknown, rates

        assert rates("openai", "gpt-4.1-mini", batch=True) is None
        print(hint_unknown("openai", "gpt-4.1-mini"))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "genai-prices is not installed" in done.stdout
    assert "'gpt-4.1-mini'" in done.stdout


def test_prices_in_force_at_a_given_time() -> None:
    when = datetime(2025, 6, 1, tzinfo=timezone.utc)
    realtime = rates("openai", "gpt-4.1-mini", batch=False, at=when)
    batch = rates("openai", "gpt-4.1-mini", batch=True, at=when)
    assert realtime is not None and batch is not None
    assert batch.input == pytest.approx(realtime.input / 2)
