"""Fault injection: which call fails (rules and their counters) and what the failure looks like.

Two levels:
- HTTP faults (`FaultRule`): a whole API call answers 429/500/503/529, is slow, loses its
  connection, or has its answer damaged (damage.py). Matching is per rule: each rule counts
  the calls that match its route, and its `calls` / `every` / `rate` say which of those fail.
  The first rule that fires wins.
- Per-request errors (`request_fails`): single lines of a batch fail inside an otherwise
  healthy batch (OpenAI error-file lines, Anthropic `errored` results), and single realtime
  calls answer with that error as their HTTP status (`realtime_error_reply`).

`rate_limit_reply` is the 429 of both a "429" fault and the `realtime_rpm` window.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from llmbatch.emulator.config import FaultRule
from llmbatch.emulator.errors import anthropic_error, openai_error


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from `parts` (seeded coin flips)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def route_matches(pattern: str, method: str, path: str) -> bool:
    """True when "METHOD /path" matches `pattern` ("*", "GET /v1/batches/*", "/v1/files*")."""
    if pattern.strip() == "*":
        return True
    if " " in pattern.strip():
        want_method, want_path = pattern.strip().split(None, 1)
        if not fnmatch.fnmatchcase(method.upper(), want_method.upper()):
            return False
        return fnmatch.fnmatchcase(path, want_path)
    return fnmatch.fnmatchcase(path, pattern.strip())


@dataclass
class _Armed:
    rule: FaultRule
    seen: int = 0
    fired: int = 0


class FaultSet:
    """The active fault rules with their call counters."""

    def __init__(self, rules: tuple[FaultRule, ...], seed: int) -> None:
        self.seed = seed
        self.armed = [_Armed(rule) for rule in rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        """Count this call against every matching rule; return the first rule that fires."""
        chosen: FaultRule | None = None
        for index, armed in enumerate(self.armed):
            if not route_matches(armed.rule.route, method, path):
                continue
            armed.seen += 1
            if chosen is None and self._fires(index, armed):
                armed.fired += 1
                chosen = armed.rule
        return chosen

    def _fires(self, index: int, armed: _Armed) -> bool:
        rule, n = armed.rule, armed.seen
        if rule.calls is not None:
            return n in rule.calls
        if rule.every is not None:
            return n % rule.every == 0
        if rule.rate is not None:
            return _unit(self.seed, "fault", index, n) < rule.rate
        return True

    def describe(self) -> list[dict[str, Any]]:
        """Each rule with how many calls it saw and how many it failed."""
        return [{**a.rule.to_dict(), "seen": a.seen, "fired": a.fired} for a in self.armed]


def fault_reply(rule: FaultRule, provider: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) for an HTTP-status fault ("429", "500", "503", "529")."""
    status = int(rule.kind)
    if status == 429:
        return rate_limit_reply(provider, rule.retry_after)
    headers = retry_headers(rule.retry_after) if status in (503, 529) else {}
    if provider == "anthropic":
        return status, headers, _anthropic_fault_body(status)
    return status, headers, _openai_fault_body(status)


def rate_limit_reply(
    provider: str, wait: float, limit: int | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(429, headers, body) of a request-rate limit: `retry-after` (`wait` seconds), the
    rate-limit headers saying nothing is left, and the provider's error body.

    `limit` is the requests-per-minute budget the message and headers name (None: the
    plausible defaults the fault path uses).
    """
    headers = retry_headers(wait)
    headers.update(ratelimit_headers(provider, wait, exhausted=True, limit=limit))
    if provider == "anthropic":
        return 429, headers, _anthropic_fault_body(429)
    return 429, headers, _openai_rate_body(wait, 60 if limit is None else limit)


def retry_headers(wait: float) -> dict[str, str]:
    """`retry-after` (whole seconds, rounded up, at least 1) and `retry-after-ms`."""
    return {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(round(wait * 1000))}


def _openai_rate_body(wait: float, limit: int) -> dict[str, Any]:
    message = (
        "Rate limit reached for requests in organization org-emulator on requests per min "
        f"(RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in {wait:g}s."
    )
    return openai_error(message, "requests", None, "rate_limit_exceeded")


def _openai_fault_body(status: int) -> dict[str, Any]:
    if status == 503:
        message = "The server is overloaded or not ready yet."
        return openai_error(message, "server_error", None, None)
    if status == 404:
        return openai_error("No such File object", "invalid_request_error", "id", None)
    message = "The server had an error while processing your request. Sorry about that!"
    return openai_error(message, "server_error", None, None)


def _anthropic_fault_body(status: int) -> dict[str, Any]:
    if status == 404:  # e.g. results asked for a moment after the end (reference F.11)
        return anthropic_error("not_found_error", "Not found")
    if status == 429:
        message = "Number of requests has exceeded your rate limit. Please try again later."
        return anthropic_error("rate_limit_error", message)
    if status == 529:
        return anthropic_error("overloaded_error", "Overloaded")
    return anthropic_error("api_error", "Internal server error")


def ratelimit_headers(
    provider: str, wait: float, *, exhausted: bool, limit: int | None = None
) -> dict[str, str]:
    """Plausible rate-limit headers: every answer carries them, a 429 with nothing left.

    OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; Anthropic:
    `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
    (reset as RFC 3339). `limit` replaces the requests limit (the `realtime_rpm` budget).
    """
    if provider == "anthropic":
        reset = datetime.now(timezone.utc) + timedelta(seconds=wait)
        stamp = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {}
        limits = {**_ANTHROPIC_LIMITS, **({} if limit is None else {"requests": limit})}
        for kind, most in limits.items():
            prefix = f"anthropic-ratelimit-{kind}"
            headers[f"{prefix}-limit"] = str(most)
            headers[f"{prefix}-remaining"] = "0" if exhausted else str(most - 1)
            headers[f"{prefix}-reset"] = stamp
        return headers
    return {
        "x-ratelimit-limit-requests": str(limit or 60) if exhausted else "5000",
        "x-ratelimit-limit-tokens": "2000000",
        "x-ratelimit-remaining-requests": "0" if exhausted else "4999",
        "x-ratelimit-remaining-tokens": "2000000",
        "x-ratelimit-reset-requests": f"{wait:g}s",
        "x-ratelimit-reset-tokens": "0s",
    }


_ANTHROPIC_LIMITS = {
    "requests": 50,
    "tokens": 90_000,
    "input-tokens": 50_000,
    "output-tokens": 10_000,
}


# ---- per-request errors inside a batch ------------------------------------------------------

_OPENAI_LINE_ERRORS = {
    "api_error": (500, "server_error", "The server had an error processing your request."),
    "overloaded_error": (503, "server_error", "The engine is currently overloaded."),
    "rate_limit_error": (429, "requests", "Rate limit reached for requests."),
    "invalid_request_error": (400, "invalid_request_error", "Injected invalid request error."),
}

_ANTHROPIC_LINE_ERRORS = {
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of requests has exceeded your rate limit.",
    "invalid_request_error": "Injected invalid request error.",
}


def request_fails(seed: int, batch_seq: int, custom_id: str, rate: float) -> bool:
    """Seeded coin flip: does this request fail with an injected error?

    The batch's sequence number is part of the seed, so a retried row (same custom_id, new
    batch) gets a fresh draw instead of failing forever.
    """
    return rate > 0 and _unit(seed, batch_seq, custom_id) < rate


def openai_line_error(kind: str) -> tuple[int, dict[str, Any]]:
    """(status_code, body) of an injected failing OpenAI request."""
    status, error_type, message = _OPENAI_LINE_ERRORS[kind]
    code = "rate_limit_exceeded" if status == 429 else None
    return status, openai_error(message, error_type, None, code)


def anthropic_line_error(kind: str) -> dict[str, Any]:
    """The `error` of an injected `errored` Anthropic result."""
    return anthropic_error(kind, _ANTHROPIC_LINE_ERRORS[kind])


# The HTTP status of an injected error on a realtime call, per provider and error type.
_REALTIME_STATUS = {
    "openai": {k: v[0] for k, v in _OPENAI_LINE_ERRORS.items()},
    "anthropic": {
        "api_error": 500,
        "overloaded_error": 529,
        "rate_limit_error": 429,
        "invalid_request_error": 400,
    },
}


def realtime_error_reply(provider: str, kind: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) of an injected error on a realtime call (`request_error_type`).

    The body is the batch line's error; 429, 503 and 529 also say `retry-after: 1`, and a 429
    carries the exhausted rate-limit headers, as a real one does.
    """
    status = _REALTIME_STATUS[provider][kind]
    headers = retry_headers(1.0) if status in (429, 503, 529) else {}
    if status == 429:
        headers.update(ratelimit_headers(provider, 1.0, exhausted=True))
    if provider == "anthropic":
        return status, headers, anthropic_line_error(kind)
    return status, headers, openai_line_error(kind)[1]
