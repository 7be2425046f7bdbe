"""The emulator's knobs: timing, limits, per-request errors, quota and fault rules.

`EmulatorConfig` is frozen; every batch keeps the config it was created under, so changing a
knob mid-run only affects batches created afterwards and a running batch stays deterministic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmbatch.emulator.config_rules import (
    CONFIG_RULES,
    DAMAGE_KINDS,
    FAULT_KINDS,
    FAULT_RULES,
    REQUEST_ERROR_TYPES,
    problem,
)

__all__ = [
    "DAMAGE_KINDS",
    "FAULT_KINDS",
    "REQUEST_ERROR_TYPES",
    "ConfigError",
    "EmulatorConfig",
    "FaultRule",
]


class ConfigError(ValueError):
    """A knob or fault rule has an invalid value."""


def _refuse(message: str | None) -> None:
    if message is not None:
        raise ConfigError(message)


@dataclass(frozen=True)
class FaultRule:
    """One fault-injection rule.

    Args:
        kind: "429", "500", "503", "529", "drop" (connection closed before the handler runs),
            "drop_after" (the handler runs, then the connection is closed mid-response) or
            "slow" (wait `delay` seconds, then run the handler and answer normally),
            "slow_after" (run the handler, then wait `delay` seconds before answering), or one
            of the damage kinds, which run the handler and then spoil its answer: "html" (a
            200 text/html gateway page replaces any answer), "truncate" (a 2xx body cut to
            its first half of bytes), "truncate_lines" (a 2xx body cut to the first half of
            its lines) or "null_output_file" (`output_file_id` set to null in a 2xx JSON
            object). Damaged answers are complete HTTP responses with a matching
            Content-Length.
        route: "*" or "METHOD /path" with fnmatch wildcards, e.g. "GET /v1/batches/*".
            A pattern without a method ("/v1/files*") matches every method.
        calls: 1-based numbers of the matching calls that fail (counted per rule).
        every: every Nth matching call fails.
        rate: seeded probability (0..1) that a matching call fails.
        retry_after: seconds sent in `retry-after` / `retry-after-ms` (429, 503, 529).
        delay: seconds to wait for "slow" / "slow_after".

    With none of `calls`, `every`, `rate`, every matching call fails.
    """

    kind: str
    route: str = "*"
    calls: tuple[int, ...] | None = None
    every: int | None = None
    rate: float | None = None
    retry_after: float = 1.0
    delay: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", str(self.kind))  # {"kind": 429} reads as "429"
        _refuse(problem(FAULT_RULES, dataclasses.asdict(self), "fault "))
        if self.calls is not None:
            object.__setattr__(self, "calls", tuple(self.calls))
        chosen = [x for x in (self.calls, self.every, self.rate) if x is not None]
        if len(chosen) > 1:
            raise ConfigError("a fault rule takes at most one of calls, every, rate")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the control plane's shape)."""
        data = dataclasses.asdict(self)
        if self.calls is not None:
            data["calls"] = list(self.calls)
        return data

    @classmethod
    def from_value(cls, value: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Build a rule from a rule or a dict (as sent to the control plane)."""
        if isinstance(value, FaultRule):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"a fault rule must be an object of fields; got {value!r}")
        unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown fault rule keys: {sorted(unknown)}")
        if "kind" not in value:
            raise ConfigError("a fault rule needs a 'kind'")
        return cls(**value)


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of the emulator; the defaults are instant timing and the real limits.

    Timing (seconds; 0 = instant): `validating_seconds` before an OpenAI batch is validated (and
    before an Anthropic batch starts), `requests_per_second` (None = all at once),
    `finalizing_seconds` after the last request, `cancel_seconds` spent cancelling,
    `completion_window_seconds` before a batch expires (real: 86400).

    Realtime calls (`POST /v1/chat/completions`, `/v1/messages`, ...): `realtime_rpm` requests
    per minute per provider over a sliding 60 s window of the emulator clock (None = no limit);
    `request_error_rate` / `request_error_type` apply to them too.
    """

    api_key: str | None = None
    seed: int = 0
    validating_seconds: float = 0.0
    finalizing_seconds: float = 0.0
    requests_per_second: float | None = None
    cancel_seconds: float = 0.0
    completion_window_seconds: float = 86400.0
    request_error_rate: float = 0.0
    request_error_type: str = "api_error"
    realtime_rpm: int | None = None
    enqueued_token_limit: int | Mapping[str, int] | None = None
    openai_max_requests: int = 50_000
    openai_max_bytes: int = 200 * 1024 * 1024
    openai_max_embedding_inputs: int = 50_000
    anthropic_max_requests: int = 100_000
    anthropic_max_bytes: int = 256 * 1024 * 1024
    anthropic_not_found_reads: int = 0
    openai_empty_file_ids: bool = False
    openai_expired_error_lines: bool = True
    faults: tuple[FaultRule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.faults, (list, tuple)):
            raise ConfigError(f"faults: must be a list of fault rules; got {self.faults!r}")
        faults = tuple(FaultRule.from_value(f) for f in self.faults)
        object.__setattr__(self, "faults", faults)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        _refuse(problem(CONFIG_RULES, values))

    def token_limit_for(self, model: str) -> int | None:
        """The enqueued-token limit for `model` (an int applies to every model)."""
        limit = self.enqueued_token_limit
        if limit is None or isinstance(limit, int):
            return limit
        return limit.get(model)

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with `changes` applied; unknown names raise ConfigError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown emulator config keys: {sorted(unknown)}")
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (GET /_emulator/config)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["faults"] = [rule.to_dict() for rule in self.faults]
        if isinstance(self.enqueued_token_limit, Mapping):
            data["enqueued_token_limit"] = dict(self.enqueued_token_limit)
        return data
