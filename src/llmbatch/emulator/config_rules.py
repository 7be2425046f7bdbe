"""The value rules of every knob and fault-rule field, as data, and the one pass that checks them.

`EmulatorConfig` and `FaultRule` run `problem()` over their fields when built, so the Python
API, the CLI flags and the control plane (`POST /_emulator/config`, `/_emulator/faults`, which
answer 400) refuse the same nonsense the same way: `calls: [0]` (a call that never comes),
`delay: -1`, `retry_after: -5`, `seed: "x"`, `openai_max_requests: 0`, a negative token limit.
The message names the field, says what it must be and shows the value given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Kinds that run the handler and then damage a successful answer (see damage.py).
DAMAGE_KINDS = ("html", "truncate", "truncate_lines", "null_output_file")
FAULT_KINDS = (
    "404",
    "429",
    "500",
    "503",
    "529",
    "drop",
    "drop_after",
    "slow",
    "slow_after",
    *DAMAGE_KINDS,
)
REQUEST_ERROR_TYPES = ("api_error", "overloaded_error", "rate_limit_error", "invalid_request_error")

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_PLURAL_NAMES = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


@dataclass(frozen=True)
class Rule:
    """What one field accepts.

    Args:
        kind: int, float (any finite number), str or bool; `list` / `dict` with `items` for
            a non-empty list or a string-keyed mapping of such values.
        low, high: inclusive bounds of a number (`above`: strictly greater than `low`).
        choices: the accepted values of a string.
        pattern: a regular expression a string must match (`shape` says it in words).
        nullable: None is accepted.
        alternative: another rule the value may satisfy instead (e.g. an int or a mapping).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    above: bool = False
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    shape: str | None = None
    items: Rule | None = None
    nullable: bool = False
    alternative: Rule | None = None

    def accepts(self, value: Any) -> bool:
        """Whether `value` satisfies this rule (or its alternative)."""
        if value is None:
            return self.nullable
        other = self.alternative
        return self._own(value) or (other is not None and other.accepts(value))

    def _own(self, value: Any) -> bool:
        if self.kind in (list, dict):
            return self._container(value)
        if isinstance(value, bool) != (self.kind is bool):
            return False  # True is not the integer 1 here, nor 1 a boolean
        if self.kind is float:
            return isinstance(value, (int, float)) and math.isfinite(value) and self._bounds(value)
        if not isinstance(value, self.kind):
            return False
        if isinstance(value, int):
            return self._bounds(value)
        if self.choices is not None and value not in self.choices:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, str(value)) is not None

    def _bounds(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def _container(self, value: Any) -> bool:
        assert self.items is not None
        if self.kind is dict:
            return isinstance(value, Mapping) and all(
                isinstance(key, str) and self.items.accepts(item) for key, item in value.items()
            )
        is_list = isinstance(value, (list, tuple)) and bool(value)
        return is_list and all(self.items.accepts(item) for item in value)

    def describe(self) -> str:
        """The rule in words: "an integer >= 1", "a number within 0..1 or null"."""
        text = self._own_words()
        if self.alternative is not None:
            text += f", or {self.alternative.describe()}"
        return text + (" or null" if self.nullable else "")

    def _own_words(self, plural: bool = False) -> str:
        if self.kind in (list, dict):
            assert self.items is not None
            what = "a non-empty list of" if self.kind is list else "a mapping of names to"
            return f"{what} {self.items._own_words(plural=True)}"
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.shape is not None:
            return self.shape
        names = _PLURAL_NAMES if plural else _TYPE_NAMES
        return names[self.kind] + self._bound_words()

    def _bound_words(self) -> str:
        if self.low is not None and self.high is not None:
            return f" within {self.low:g}..{self.high:g}"
        if self.low is not None:
            return f" {'>' if self.above else '>='} {self.low:g}"
        return ""


def problem(rules: Mapping[str, Rule], values: Mapping[str, Any], prefix: str = "") -> str | None:
    """The first field of `values` its rule refuses, in words; None when all are fine."""
    for name, rule in rules.items():
        if name in values and not rule.accepts(values[name]):
            return f"{prefix}{name}: must be {rule.describe()}; got {values[name]!r}"
    return None


_SECONDS = Rule(float, low=0)
_COUNT = Rule(int, low=1)
_TOKENS = Rule(int, low=1, nullable=True, alternative=Rule(dict, items=Rule(int, low=1)))

CONFIG_RULES: dict[str, Rule] = {
    "api_key": Rule(str, nullable=True),
    "seed": Rule(int),
    "validating_seconds": _SECONDS,
    "finalizing_seconds": _SECONDS,
    "requests_per_second": Rule(float, low=0, above=True, nullable=True),
    "cancel_seconds": _SECONDS,
    "completion_window_seconds": Rule(float, low=0, above=True),
    "request_error_rate": Rule(float, low=0, high=1),
    "request_error_type": Rule(str, choices=REQUEST_ERROR_TYPES),
    "realtime_rpm": Rule(int, low=1, nullable=True),
    "enqueued_token_limit": _TOKENS,
    "openai_max_requests": _COUNT,
    "openai_max_bytes": _COUNT,
    "openai_max_embedding_inputs": _COUNT,
    "anthropic_max_requests": _COUNT,
    "anthropic_max_bytes": _COUNT,
    "anthropic_not_found_reads": Rule(int, low=0),
    "openai_empty_file_ids": Rule(bool),
    "openai_expired_error_lines": Rule(bool),
}

FAULT_RULES: dict[str, Rule] = {
    "kind": Rule(str, choices=FAULT_KINDS),
    "route": Rule(
        str,
        pattern=r"\*|([A-Za-z*?]+ )?[/*]\S*",
        shape='"*" or "METHOD /path" (fnmatch wildcards; the path starts with / or *)',
    ),
    "calls": Rule(list, items=Rule(int, low=1), nullable=True),
    "every": Rule(int, low=1, nullable=True),
    "rate": Rule(float, low=0, high=1, nullable=True),
    "retry_after": _SECONDS,
    "delay": _SECONDS,
}
