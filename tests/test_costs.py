"""Cost before (estimate, max_cost) and after (usage, status), from the price library."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import genai_prices
import pandas as pd
import pytest

import llmbatch
from llmbatch import BudgetExceededError, ConfigError
from llmbatch.pricing import rates


def frame(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "doc": range(n),
            "body": [f"review {i}: the kettle boils fast and looks good" for i in range(n)],
        }
    )


def by_hand(model: str, provider: str, usage: llmbatch.costs.Usage, batch: bool) -> float:
    """genai-prices' own figure for these tokens (halved for batch where that is the source)."""
    r = rates(provider, model, batch=batch)
    assert r is not None
    library_batch = batch and r.batch_source == "genai-prices"
    total = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            if provider == "anthropic"
            else usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        ),
        model_ref=model,
        provider_id=provider,
        price_context={"processing": "batch"} if library_batch else None,
    ).total_price
    if batch and r.batch_source == "documented 50%":
        total = total * Decimal("0.5")
    return float(total)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_estimate_before_sending_brackets_what_it_cost(emu: Any, provider: str) -> None:
    job = frame().llmbatch.classify(
        ["good", "bad"], text="body", id="doc", provider=provider, submit=False,
        system_prompt="Label the review.", max_tokens=50,
    )  # fmt: skip
    guess = job.estimate()
    assert emu.call_count() == 0
    assert guess.requests == 200 and guess.output_bound == 200 * 50
    assert guess.cost_low is not None and guess.cost_high is not None
    assert guess.cost_low <= guess.cost_typical <= guess.cost_high  # type: ignore[operator]
    assert "batch prices" in guess.prices and "genai-prices" in guess.prices
    out = job.wait(poll_interval=0, progress=False)
    spent = job.usage()
    assert spent.cost is not None
    assert guess.cost_low <= spent.cost <= guess.cost_high
    assert spent.input_tokens == out[".input_tokens"].sum()  # (the emulator's own token count)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_usage_is_the_token_columns_priced_by_the_library(emu: Any, provider: str) -> None:
    model = "gpt-4.1-mini" if provider == "openai" else "claude-haiku-4-5"
    job = frame(50).llmbatch.complete(text="body", id="doc", provider=provider, model=model)
    out = job.wait(poll_interval=0, progress=False)
    spent = job.usage()
    assert spent.input_tokens == out[".input_tokens"].sum()
    assert spent.output_tokens == out[".output_tokens"].sum()
    for kind in ("cache_read", "cache_write"):
        column = out.get(f".{kind}_tokens")
        assert getattr(spent, f"{kind}_tokens") == (0 if column is None else column.sum())
    assert spent.requests == 50
    assert spent.cost == pytest.approx(by_hand(model, provider, spent, batch=True), rel=1e-9)
    assert "cost so far: $" in str(job.status())
    assert "cost so far" in job.status()._repr_html_()


def test_a_sync_job_is_priced_at_realtime_prices(emu: Any) -> None:
    job = frame(20).llmbatch.complete(text="body", id="doc", mode="sync")
    spent = job.usage()
    assert "realtime prices" in spent.prices
    assert spent.cost == pytest.approx(by_hand("gpt-4.1-mini", "openai", spent, batch=False))
    batch = rates("openai", "gpt-4.1-mini", batch=True)
    realtime = rates("openai", "gpt-4.1-mini", batch=False)
    assert batch is not None and realtime is not None and batch.input < realtime.input


def test_max_cost_below_the_estimate_is_refused_before_anything_is_sent(emu: Any) -> None:
    with pytest.raises(BudgetExceededError) as caught:
        frame().llmbatch.classify(["good", "bad"], text="body", id="doc", max_cost=0.000001)
    assert emu.call_count() == 0
    assert caught.value.estimate.upper > 0.000001
    assert "nothing was sent" in str(caught.value) and "Hint:" in str(caught.value)
    assert llmbatch.jobs() == [] or all(j.n_rows != 200 for j in llmbatch.jobs())
    job = frame().llmbatch.classify(["good", "bad"], text="body", id="doc", max_cost=100)
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()


def test_max_cost_counts_only_what_is_sent(emu: Any) -> None:
    frame(200).llmbatch.classify(["good", "bad"], text="body", id="doc").wait(poll_interval=0)
    alone = frame(201).llmbatch.classify(["good", "bad"], text="body", id="doc", submit=False,
                                         reuse=False, name="alone").estimate()  # fmt: skip
    job = frame(201).llmbatch.classify(
        ["good", "bad"], text="body", id="doc", max_cost=alone.cost_high / 10
    )  # one row to send: well under a tenth of 201 rows
    assert job.estimate().requests == 1 and job.estimate().reused == 200


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "5", True])
def test_max_cost_must_be_a_positive_number(emu: Any, bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_cost must be a positive number"):
        frame(3).llmbatch.complete(text="body", id="doc", max_cost=bad)
    assert emu.call_count() == 0


def test_an_unknown_model_has_no_price_and_says_so(emu: Any) -> None:
    job = frame(3).llmbatch.complete(text="body", id="doc", model="my-own-model", submit=False)
    guess = job.estimate()
    assert guess.cost_low is None and guess.cost_high is None
    assert "my-own-model" in (guess.hint or "")
    with pytest.raises(ConfigError, match="needs a price"):
        frame(3).llmbatch.complete(text="body", id="doc", model="my-own-model", max_cost=5)
    assert emu.call_count() == 0
    assert job.usage().cost is None  # (the emulator refuses the model too: not sent here)
    assert "cost so far: unknown" in str(job.status(refresh=False))
