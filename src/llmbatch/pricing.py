"""Prices per token from the genai-prices snapshot installed with llmbatch, and what usage costs.

Every price comes from `genai-prices <https://github.com/pydantic/genai-prices>`_, read
offline: llmbatch never starts its ``UpdatePrices`` updater, so no lookup touches the network.
(If your own code started it, the fetched prices are used and ``Rates.snapshot`` says so.)
An unknown model gives ``None``, never a guessed price; :func:`hint_unknown` says why. So does
every model where genai-prices is not installed (it needs Python 3.11 or later).

    >>> r = rates("openai", "gpt-4.1-mini-2025-04-14", batch=True)
    >>> round(cost(r, input_tokens=1_000_000, output_tokens=0), 2)
    0.2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice

__all__ = ["Rates", "cost", "hint_unknown", "rates", "snapshot_label"]

# genai-prices selects batch prices with this request context (its `price_variants`).
_BATCH_CONTEXT: Mapping[str, str] = {"processing": "batch"}

# The documented batch discount, used only where genai-prices has no batch variant for a model
# (e.g. OpenAI's embedding models). Sources: OpenAI Batch API guide ("50% cost discount compared
# to synchronous APIs", all endpoints, embeddings included); Anthropic Message Batches
# ("all usage is charged at 50% of standard API prices", cache prices included).
_DOCUMENTED_BATCH_FACTOR = {"openai": Decimal("0.5"), "anthropic": Decimal("0.5")}

_PER_MTOK = Decimal(1_000_000)


@dataclass(frozen=True)
class Rates:
    """USD per token for one model, realtime or batch, and where the figures come from.

    ``cache_read``/``cache_write`` are ``None`` when genai-prices has no such price (those
    tokens then cost the input rate, as genai-prices counts them). ``cache_write`` is the
    default 5-minute cache write. ``batch_source`` is ``"genai-prices"`` when the library has
    the model's batch price, ``"documented 50%"`` when llmbatch halved the realtime price, and
    ``None`` for realtime rates.
    """

    input: float
    output: float
    cache_read: float | None
    cache_write: float | None
    model_id: str
    provider: str
    batch: bool
    snapshot: str
    batch_source: str | None = None


def rates(provider: str, model: str, *, batch: bool, at: datetime | None = None) -> Rates | None:
    """The model's prices per token, or ``None`` when genai-prices does not know the model.

    Dated and prefixed names match as genai-prices matches them ("gpt-4.1-mini-2025-04-14" is
    "gpt-4.1-mini"). ``batch=True`` gives the library's batch price where it has one (for
    OpenAI its batch table has no cached-input rate, so cached input keeps the standard rate),
    else the documented 50% of the realtime price (OpenAI and Anthropic; any other provider
    without a batch price gives ``None``). ``at`` picks the prices in force then (default: now).

    Example: ``rates("anthropic", "claude-haiku-4-5", batch=True).input`` is ``5e-07``.
    """
    found = _find(provider, model)
    if found is None:
        return None
    provider_id, info = found
    when = at or datetime.now(tz=timezone.utc)
    prices = info.get_prices(when)
    source = None
    if batch:
        source = "genai-prices" if _has_batch_variant(info, when) else "documented 50%"
        if source == "genai-prices":
            prices = info.get_prices(when, _BATCH_CONTEXT)
        elif provider_id not in _DOCUMENTED_BATCH_FACTOR:
            return None
    factor = _DOCUMENTED_BATCH_FACTOR.get(provider_id, Decimal(1))
    scale = factor if source == "documented 50%" else Decimal(1)
    return _rates_of(prices, scale, info.id, provider_id, batch, source)


def cost(
    rates: Rates,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float:
    """USD for this usage at these rates; ``input_tokens`` as the provider reports them.

    The providers count input differently, and so does this function:

    - OpenAI: ``input_tokens`` (``prompt_tokens``) INCLUDES the cached tokens
      (``prompt_tokens_details.cached_tokens``), so the cached part is priced at
      ``cache_read`` and only the rest at ``input``.
    - Anthropic: ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
      ``cache_creation_input_tokens``, which are reported beside it; each kind is priced at
      its own rate.

    Example: ``cost(r, input_tokens=1000, output_tokens=100, cache_read_tokens=400)``.
    """
    uncached = input_tokens
    if rates.provider == "openai":
        uncached = max(0, input_tokens - cache_read_tokens - cache_write_tokens)
    read_rate = rates.input if rates.cache_read is None else rates.cache_read
    write_rate = rates.input if rates.cache_write is None else rates.cache_write
    return (
        uncached * rates.input
        + cache_read_tokens * read_rate
        + cache_write_tokens * write_rate
        + output_tokens * rates.output
    )


def hint_unknown(provider: str, model: str) -> str:
    """One line saying that genai-prices has no price for the model, and what to do.

    Example: ``hint_unknown("openai", "gpt-x")`` names the model, the provider and the snapshot.
    """
    if _snapshot() is None:
        return (
            f"no price for model {model!r} at provider {provider!r}: genai-prices is not "
            "installed (it needs Python >= 3.11); install it to see costs"
        )
    return (
        f"{snapshot_label()} has no price for model {model!r} at provider {provider!r}; "
        "upgrade genai-prices, or pass a model it knows"
    )


def snapshot_label() -> str:
    """Which price data is in use: ``"genai-prices 0.2.3 (bundled data)"``, or the fetch date.

    genai-prices does not expose the date of its bundled data, so the package version names it
    (the version pins the data exactly). Prices fetched by a running ``UpdatePrices`` are named
    by the date they were fetched.
    """
    snap = _snapshot()
    if snap is None:
        return "genai-prices not installed"
    if snap.from_auto_update:
        return f"genai-prices update fetched {snap.timestamp.date().isoformat()}"
    return f"genai-prices {_version()} (bundled data)"


def _snapshot() -> DataSnapshot | None:
    """The price data genai-prices uses now, or None where it is not installed (Python 3.10)."""
    try:
        from genai_prices import data_snapshot
    except ImportError:
        return None
    return data_snapshot.get_snapshot()


def _version() -> str:
    from genai_prices import __version__

    return __version__


def _find(provider: str, model: str) -> tuple[str, ModelInfo] | None:
    snap = _snapshot()
    if snap is None:
        return None
    try:
        found, info = snap.find_provider_model(model, None, provider, None)
    except LookupError:
        return None
    return found.id, info


def _has_batch_variant(info: ModelInfo, when: datetime) -> bool:
    for variant in info.price_variants or ():
        active = variant.constraint is None or variant.constraint.active(when)
        if active and dict(variant.when) == dict(_BATCH_CONTEXT):
            return True
    return False


def _rates_of(
    prices: ModelPrice,
    scale: Decimal,
    model_id: str,
    provider_id: str,
    batch: bool,
    source: str | None,
) -> Rates | None:
    per_token = {
        key: _per_token(getattr(prices, f"{key}_mtok"), scale)
        for key in ("input", "output", "cache_read", "cache_write")
    }
    if per_token["input"] is None:
        return None  # a model priced by something other than tokens (images, requests...)
    return Rates(
        input=per_token["input"],
        output=per_token["output"] or 0.0,
        cache_read=per_token["cache_read"],
        cache_write=per_token["cache_write"],
        model_id=model_id,
        provider=provider_id,
        batch=batch,
        snapshot=snapshot_label(),
        batch_source=source,
    )


def _per_token(price: Any, scale: Decimal) -> float | None:
    """USD per token from a price per million tokens; a tiered price gives its base tier."""
    if price is None:
        return None
    base = getattr(price, "base", price)  # TieredPrices: the tier below the first threshold
    return float(Decimal(base) * scale / _PER_MTOK)
