"""What a request and an answer are, whatever the provider: `TaskSpec`, `Reply` and `Wire`.

`TaskSpec` is everything that decides a request body (stored in the manifest as plain JSON);
`Reply` is what one successful answer says; `Wire` is what each provider's wire module
(`providers/<name>_wire.py`) provides: its endpoints, default models, request body, batch line
and answer reader. Data only: the provider modules import this one, never the other way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["SLOT", "Kind", "Reply", "TaskSpec", "Wire"]

Kind = Literal["embed", "complete", "classify"]
Structured = Literal["output_config", "tool"]
# where the row's text goes in a body template: serialised once, then replaced per row
SLOT = "\x00llmbatch-text\x00"


@dataclass
class TaskSpec:
    """Everything that decides the request body; stored in the manifest as plain JSON."""

    kind: Kind
    provider: str
    model: str
    endpoint: str
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    dimensions: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    schema_name: str | None = None
    structured: Structured = "output_config"
    relax: bool = False  # classify: value-only schema constraints go into descriptions
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged as is, never checked

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; the newer fields only when set, so older jobs keep their identity."""
        out = asdict(self)
        for key, default in (("relax", False), ("extra_body", {})):
            if out[key] == default:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(**d)


@dataclass(slots=True)
class Reply:
    """What one successful provider answer says, whatever the provider.

    `truncated`: cut at the output limit (the text so far is kept); `filtered`: stopped by the
    provider's content filter. Whether either makes the row an error is the verb's call
    (`results`), not the reader's.
    """

    text: str | None = None
    data: Any = None  # tool input (already parsed) or embedding vectors
    refusal: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    truncated: bool = False
    filtered: bool = False


@dataclass(frozen=True)
class Wire:
    """One provider's wire format.

    Args:
        name: the provider's name (``"openai"``).
        default_models: the model each verb uses when none is given; a verb missing here
            is one the provider does not offer.
        max_temperature: the top of the provider's temperature range.
        structured: the structured-output mechanisms it accepts (the first is the default).
        endpoint: ``(kind, api) -> endpoint path``; raises ConfigError for a bad ``api``.
        schema: ``spec -> the classify schema as the provider receives it``.
        body: ``spec -> request body`` with `SLOT` where the row's text goes.
        line: ``(custom_id, endpoint, body bytes) -> one line of a batch input``.
        reply: ``(endpoint, successful payload) -> Reply``.
        succeeded: ``decoded result line -> its payload`` when the line is a plain success
            (the common case, read without the backend's normalising), else None.
        realtime_path: ``endpoint -> the realtime path`` (relative to the provider's base URL)
            that takes the same body as a batch line (sync mode).
        request: ``batch input line -> (custom_id, body)``, the inverse of `line`.
        cache_columns: the cache token columns its answers report (`collect(to=)` writes
            them all, whatever a window holds).
        result_line: ``(custom_id, HTTP status, answer body or None, message) -> one line`` in
            the shape of the provider's batch results, so a realtime answer is read like a
            batch answer (status 0: the request never got an HTTP answer).
    """

    name: str
    default_models: Mapping[str, str]
    max_temperature: float
    structured: tuple[Structured, ...]
    endpoint: Callable[[str, str], str]
    schema: Callable[[TaskSpec], dict[str, Any]]
    body: Callable[[TaskSpec], dict[str, Any]]
    line: Callable[[str, str, bytes], bytes]
    reply: Callable[[str, dict[str, Any]], Reply]
    realtime_path: Callable[[str], str]
    request: Callable[[dict[str, Any]], tuple[str, Any]]
    result_line: Callable[[str, int, Any, str], bytes]
    succeeded: Callable[[dict[str, Any]], dict[str, Any] | None]
    cache_columns: tuple[str, ...] = ()
    columnar: Any = None  # `result_columns.Columnar`: its plain-success lines read a file at once
