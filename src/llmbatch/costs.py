"""What a job will cost before it is sent (`Estimate`), and what it cost (`Usage`).

Prices come from genai-prices' bundled data (`pricing`), at the provider's batch prices for a
batch job and realtime prices for a sync job; every figure names the price data it used. An
unknown model gives no figure (None) and a hint, never a made-up number.

The estimate counts input tokens with a length-based approximation calibrated against a real
tokenizer (`token_estimate`, its band shown), plus per request the system prompt, the schema
and the message framing. Output has a bound only where `max_tokens` sets one (Anthropic always
has one: llmbatch sends 1024 when none is given); the typical figure is a rough guess per verb.
The cost range runs from the fewest input tokens in the band with one output token an answer
and the shared system prompt served from the cache (where the provider caches it), through a
typical figure, to the most input tokens in the band with the output bound and no cache hit
(Anthropic: every request writing the cache). Without `max_tokens`, OpenAI output has no bound:
twice the typical figure stands in for it, and the estimate says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from llmbatch.manifest import Shard
from llmbatch.pricing import Rates, cost, hint_unknown, rates, snapshot_label
from llmbatch.providers.anthropic_wire import MAX_TOKENS as ANTHROPIC_MAX_TOKENS
from llmbatch.status import usd
from llmbatch.tasks import wire_schema
from llmbatch.token_estimate import TokenEstimate, estimate_text_tokens, request_overhead
from llmbatch.wire import TaskSpec

__all__ = ["Estimate", "Usage", "estimate", "usage_of"]

TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
_CACHE_MIN = {"openai": 1024, "anthropic": 1024}  # shortest prefix a provider caches, tokens
_CHUNK = 100_000  # texts estimated at a time
_TYPICAL_COMPLETE = 150  # tokens of a typical free-text answer (a rough guess)


def _prices(r: Rates | None, batch: bool) -> str:
    kind = "batch" if batch else "realtime"
    return f"{kind} prices, {snapshot_label()}" if r is not None else f"{kind} prices"


@dataclass(frozen=True)
class Estimate:
    """A job's requests, tokens and cost range before it is sent (see the module docstring).

    `cost_low` / `cost_high` are USD (None: the price library does not know the model; `hint`
    says so). `output_bound` is None when nothing bounds the output (no `max_tokens`).
    """

    model: str
    requests: int
    reused: int
    input_tokens: TokenEstimate
    output_bound: int | None
    output_typical: int
    cost_low: float | None
    cost_typical: float | None
    cost_high: float | None
    prices: str
    hint: str | None = None

    @property
    def upper(self) -> float | None:
        """The figure `max_cost=` is held against."""
        return self.cost_high

    def __str__(self) -> str:
        t = self.input_tokens
        band = (t.high - t.tokens) / t.tokens if t.tokens else 0.0
        sent = f"{self.requests:,} requests"
        if self.reused:
            sent += f" ({self.reused:,} rows reused, not sent)"
        bound = (
            "unbounded (no max_tokens)" if self.output_bound is None else f"≤ {self.output_bound:,}"
        )
        lines = [
            f"estimate for {self.model}: {sent}",
            f"  input  ≈ {t.tokens:,} tokens (±{band:.0%})",
            f"  output {bound}, typically ≈ {self.output_typical:,} tokens",
            f"  cost   {usd(self.cost_low)} – {usd(self.cost_high)}, typically "
            f"{usd(self.cost_typical)}, at {self.prices}",
        ]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + str(self).replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


@dataclass(frozen=True)
class Usage:
    """Tokens a job's own requests used, by kind, and their cost in USD (None: no price)."""

    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: float | None
    prices: str
    reused: int = 0
    hint: str | None = None

    def __str__(self) -> str:
        text = (
            f"{self.requests:,} answers: {self.input_tokens:,} input, {self.output_tokens:,} "
            f"output, {self.cache_read_tokens:,} cache-read, {self.cache_write_tokens:,} "
            f"cache-write tokens; cost {usd(self.cost)} at {self.prices}"
        )
        if self.reused:
            text += f"; {self.reused:,} rows reused at no cost"
        return text + (f"\nHint: {self.hint}" if self.hint else "")


def estimate(spec: TaskSpec, texts: Iterable[str], *, batch: bool, reused: int = 0) -> Estimate:
    """The estimate for sending one request per text of `texts` with `spec` (read once, a
    chunk at a time: a million texts are never all held for it)."""
    provider = spec.provider
    text, n = _text_tokens(texts, spec)
    fixed = _fixed_tokens(spec)
    messages = 2 if spec.system_prompt and spec.kind != "embed" else 1
    framing = request_overhead(provider, spec.endpoint, messages=messages) * n
    total = TokenEstimate(
        tokens=text.tokens + n * fixed.tokens + framing,
        low=text.low + n * fixed.low + framing,
        high=text.high + n * fixed.high + framing,
        method=text.method,
    )
    per_row = _max_output(spec)
    bound = None if per_row is None else per_row * n
    typical = n * _typical_output(spec, per_row)
    r = rates(provider, spec.model, batch=batch)
    low = mid = high = None
    if r is not None:
        system = _system_tokens(spec) if n > 1 else 0
        cached = system * (n - 1) if system >= _CACHE_MIN.get(provider, 1024) else 0
        least = 0 if spec.kind == "embed" else n  # an answer is at least one token
        low = _input_cost(r, total.low, cached, 0) + least * r.output
        mid = _input_cost(r, total.tokens, cached, 0) + typical * r.output
        writes = cached + system if provider == "anthropic" and cached else 0
        out_high = bound if bound is not None else 2 * typical
        high = _input_cost(r, total.high, 0, writes) + out_high * r.output
    return Estimate(
        model=spec.model,
        requests=n,
        reused=reused,
        input_tokens=total,
        output_bound=bound,
        output_typical=typical,
        cost_low=low,
        cost_typical=mid,
        cost_high=high,
        prices=_prices(r, batch),
        hint=None if r is not None else hint_unknown(provider, spec.model),
    )


def _text_tokens(texts: Iterable[str], spec: TaskSpec) -> tuple[TokenEstimate, int]:
    """The texts' token estimate, summed chunk by chunk, and how many texts there were."""
    tokens = low = high = n = 0
    method = ""
    it = iter(texts)
    chunk = list(itertools.islice(it, _CHUNK))
    while chunk:
        part = estimate_text_tokens(chunk, spec.provider, model=spec.model)
        tokens, low, high = tokens + part.tokens, low + part.low, high + part.high
        n, method = n + len(chunk), part.method
        chunk = list(itertools.islice(it, _CHUNK))
    return TokenEstimate(tokens, low, high, method), n


def _input_cost(r: Rates, tokens: int, cached: int, written: int) -> float:
    """Input priced as the provider reports it (see `pricing.cost`)."""
    if r.provider == "anthropic":
        plain = max(tokens - cached - written, 0)
        return cost(r, input_tokens=plain, output_tokens=0, cache_read_tokens=cached,
                    cache_write_tokens=written)  # fmt: skip
    return cost(r, input_tokens=tokens, output_tokens=0, cache_read_tokens=min(cached, tokens))


def _fixed_tokens(spec: TaskSpec) -> TokenEstimate:
    """Tokens every request carries besides its text: the system prompt and the schema."""
    parts = [spec.system_prompt or ""]
    if spec.kind == "classify" and spec.schema is not None:
        parts.append(orjson.dumps(wire_schema(spec)).decode())
    return estimate_text_tokens(["".join(parts)], spec.provider, model=spec.model)


def _system_tokens(spec: TaskSpec) -> int:
    if not spec.system_prompt:
        return 0
    return estimate_text_tokens([spec.system_prompt], spec.provider, model=spec.model).tokens


def _max_output(spec: TaskSpec) -> int | None:
    if spec.kind == "embed":
        return 0
    if spec.max_tokens is not None:
        return spec.max_tokens
    return ANTHROPIC_MAX_TOKENS if spec.provider == "anthropic" else None


def _typical_output(spec: TaskSpec, per_row: int | None) -> int:
    """A rough typical answer length: classify ≈ the answer object, complete ≈ a paragraph."""
    if spec.kind == "embed":
        return 0
    if spec.kind == "classify":
        props = (spec.schema or {}).get("properties") or {}
        guess = 6 + 8 * max(len(props), 1)
    else:
        guess = _TYPICAL_COMPLETE
    return guess if per_row is None else min(guess, per_row)


def shard_tokens(replies: Iterable[Any]) -> dict[str, int]:
    """Tokens by kind over replies (`wire.Reply`), for a shard's tally."""
    out = dict.fromkeys(TOKEN_KINDS, 0)
    for reply in replies:
        out["input"] += reply.input_tokens or 0
        out["output"] += reply.output_tokens or 0
        out["cache_read"] += reply.cache_read_tokens or 0
        out["cache_write"] += reply.cache_write_tokens or 0
    return out


def usage_of(spec: TaskSpec, shards: Sequence[Shard], *, batch: bool) -> Usage:
    """What the job's own requests used (reused rows cost nothing here), priced."""
    totals = dict.fromkeys(TOKEN_KINDS, 0)
    answers = reused = 0
    for shard in shards:
        if shard.reused:
            reused += shard.n
            continue
        answers += int(shard.counts.get("completed") or 0) if shard.collected else 0
        for kind in TOKEN_KINDS:
            totals[kind] += int((shard.tokens or {}).get(kind) or 0)
    r = rates(spec.provider, spec.model, batch=batch)
    usd = None
    if r is not None:
        usd = cost(r, input_tokens=totals["input"], output_tokens=totals["output"],
                   cache_read_tokens=totals["cache_read"],
                   cache_write_tokens=totals["cache_write"])  # fmt: skip
    return Usage(
        model=spec.model,
        requests=answers,
        input_tokens=totals["input"],
        output_tokens=totals["output"],
        cache_read_tokens=totals["cache_read"],
        cache_write_tokens=totals["cache_write"],
        cost=usd,
        prices=_prices(r, batch),
        reused=reused,
        hint=None if r is not None else hint_unknown(spec.provider, spec.model),
    )
