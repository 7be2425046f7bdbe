"""embed / complete / classify: check what a task asks and build its request body template.

A task knows one request; it knows nothing of HTTP, files or frames, and nothing of a
provider's format either: that is the provider's wire module (`providers/<name>_wire.py`),
found here by name in `WIRES`. Bodies are built from a template serialised once: the row's
text is spliced into the pre-serialised bytes (`prefix + orjson(text) + suffix`), so building
a million lines costs one `orjson.dumps` per row.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmbatch._endpoint_params import check_body_params, check_extra_body
from llmbatch._exceptions import ConfigError, InputError
from llmbatch._schema_strict import answer_form
from llmbatch.providers import anthropic_wire, openai_wire
from llmbatch.wire import SLOT, Kind, Reply, TaskSpec, Wire

__all__ = [
    "WIRES",
    "Kind",
    "Reply",
    "TaskSpec",
    "answer_schema",
    "body_template",
    "render",
    "wire_for",
    "wire_schema",
]

# every provider's wire format, by name (the registry pairs each with its config and backend)
WIRES: dict[str, Wire] = {wire.name: wire for wire in (openai_wire.WIRE, anthropic_wire.WIRE)}


def wire_for(provider: str) -> Wire:
    """The wire format of a provider named in a spec."""
    return WIRES[provider]


def wire_schema(spec: TaskSpec) -> dict[str, Any]:
    """The classify schema as the provider receives it (strict form for OpenAI)."""
    return wire_for(spec.provider).schema(spec)


def answer_schema(spec: TaskSpec) -> dict[str, Any]:
    """The schema answers are checked against: the wire form, with the constraints that
    `relax=True` kept from the provider put back (it could not enforce them; we do)."""
    assert spec.schema is not None
    if not spec.relax:
        return wire_schema(spec)
    return answer_form(spec.schema, spec.provider)


def check_params(spec: TaskSpec) -> None:
    """Refuse bad model / temperature / max_tokens / dimensions / body parameters up front."""
    if not isinstance(spec.model, str) or not spec.model.strip():
        msg = f"model must be a non-empty string, got {spec.model!r}"
        raise ConfigError(msg + "\nHint: e.g. model='gpt-4.1-mini'.")
    top = wire_for(spec.provider).max_temperature
    t = spec.temperature
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= top
    ):
        msg = f"temperature must be a number in [0, {top:g}] for {spec.provider}, got {t!r}"
        raise ConfigError(msg + f"\nHint: {spec.provider} accepts 0 to {top:g}.")
    for name, value in (("max_tokens", spec.max_tokens), ("dimensions", spec.dimensions)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            msg = f"{name} must be a positive integer, got {value!r}\nHint: e.g. {name}=256."
            raise ConfigError(msg)
    if spec.system_prompt is not None and not isinstance(spec.system_prompt, str):
        msg = f"system_prompt must be a string, got {type(spec.system_prompt).__name__}"
        raise ConfigError(msg + "\nHint: pass text, or None for no system prompt.")
    if not isinstance(spec.relax, bool) or (spec.relax and spec.kind != "classify"):
        msg = f"relax= takes True or False, for classify() only; got {spec.relax!r}"
        raise ConfigError(f"{msg} for {spec.kind}()\nHint: drop relax=, or pass relax=True.")
    check_body_params(spec.kind, spec.endpoint, spec.params)
    spec.extra_body = check_extra_body(spec.extra_body, spec.endpoint)
    _check_encodable(spec)


def _check_encodable(spec: TaskSpec) -> None:
    """The body template must serialise (a lone surrogate in system_prompt does not)."""
    try:
        body_template(spec)
    except orjson.JSONEncodeError as exc:
        msg = f"the request parameters cannot be sent as JSON: {exc}"
        hint = "\nHint: check system_prompt= and the schema for text that is not valid UTF-8."
        raise InputError(msg + hint) from None


def body_template(spec: TaskSpec) -> tuple[bytes, bytes]:
    """(prefix, suffix) such that `prefix + orjson.dumps(text) + suffix` is one request body."""
    raw = orjson.dumps(wire_for(spec.provider).body(spec))
    prefix, sep, suffix = raw.partition(orjson.dumps(SLOT))
    if not sep or orjson.dumps(SLOT) in suffix:
        msg = "extra_body must not replace the text slot (input / messages)"
        msg += "\nHint: drop it from extra_body; the text comes from text= or prompt=."
        raise InputError(msg)
    return prefix, suffix


def render(template: str, columns: dict[str, list[Any]], n: int) -> list[str]:
    """Fill a `{column}` template for every row (plain Python, no per-row pandas)."""
    names = list(columns)
    rows = zip(*(columns[c] for c in names), strict=True) if names else ([()] * n)
    return [template.format_map(dict(zip(names, values, strict=True))) for values in rows]
