"""The body parameters each endpoint documents: what the verbs accept as keyword arguments.

Like the official SDKs, a verb takes the parameters its endpoint documents and refuses any other
keyword; a field llmbatch does not know goes through ``extra_body={...}`` deliberately. The
lists are data, read from the SDKs' ``create`` parameters (openai 3.57: ``CompletionCreateParams``,
``ResponseCreateParams``, ``EmbeddingCreateParams``; anthropic 2.14: ``MessageCreateParams``, plus
``temperature``/``top_p``/``top_k``, which the ``anthropic-version`` we pin still documents).
Each value is the JSON kind checked before sending; a trailing ``?`` also admits None.
"""

from __future__ import annotations

import difflib
from typing import Any

import orjson

from llmbatch._exceptions import ConfigError

__all__ = ["ENDPOINT_PARAMS", "check_body_params", "check_extra_body"]

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"
MESSAGES = "/v1/messages"

_SHARED_OPENAI = {
    "metadata": "object?",
    "prompt_cache_key": "str?",
    "prompt_cache_options": "any",
    "prompt_cache_retention": "str?",
    "safety_identifier": "str?",
    "service_tier": "str?",
    "store": "bool?",
    "stream": "bool?",  # documented; only False/None pass _NOT_IN_BATCH
    "top_logprobs": "int?",
    "top_p": "number?",
    "user": "str",
    "moderation": "any",
    "tool_choice": "any",
    "tools": "array",
}

ENDPOINT_PARAMS: dict[str, dict[str, str]] = {
    CHAT: {
        **_SHARED_OPENAI,
        "audio": "any",
        "frequency_penalty": "number?",
        "function_call": "any",
        "functions": "array",
        "logit_bias": "object?",
        "logprobs": "bool?",
        "max_completion_tokens": "int?",
        "modalities": "array?",
        "n": "int?",
        "parallel_tool_calls": "bool",
        "prediction": "any",
        "presence_penalty": "number?",
        "reasoning_effort": "str?",
        "response_format": "any",
        "seed": "int?",
        "stop": "any",
        "verbosity": "str?",
        "web_search_options": "any",
    },
    RESPONSES: {
        **_SHARED_OPENAI,
        "access_programs": "any",
        "background": "bool?",
        "background_options": "any",
        "context_management": "array?",
        "conversation": "any",
        "image": "any",
        "include": "array?",
        "max_output_tokens": "int?",
        "max_tool_calls": "int?",
        "parallel_tool_calls": "bool?",
        "previous_response_id": "str?",
        "reasoning": "any",
        "text": "any",
        "truncation": "str?",
    },
    EMBEDDINGS: {"encoding_format": "str", "user": "str"},
    MESSAGES: {
        "cache_control": "any",
        "container": "any",
        "diagnostics": "any",
        "inference_geo": "str?",
        "metadata": "object",
        "output_config": "any",
        "service_tier": "str",
        "stop_sequences": "array",
        "stream": "bool",
        "temperature": "number",
        "thinking": "any",
        "tool_choice": "any",
        "tools": "array",
        "top_k": "int",
        "top_p": "number",
    },
}

# Documented, but set by the verb from its own arguments: the argument to use instead.
_MESSAGES = "text= or prompt= (and system_prompt=)"
_SET_BY_VERB: dict[str, dict[str, str]] = {
    CHAT: {"messages": _MESSAGES},
    RESPONSES: {"input": "text= or prompt=", "instructions": "system_prompt="},
    EMBEDDINGS: {"input": "text="},
    MESSAGES: {"messages": _MESSAGES, "system": "system_prompt="},
}
# What classify() sets from its schema: a second answer format would break the columns.
_SET_BY_CLASSIFY: dict[str, frozenset[str]] = {
    CHAT: frozenset({"response_format", "tools", "tool_choice", "functions", "function_call"}),
    RESPONSES: frozenset({"text", "tools", "tool_choice"}),
    MESSAGES: frozenset({"output_config", "tools", "tool_choice"}),
}
# Refused even through extra_body: the Batch APIs cannot do them (reference B.4, C.1).
_NOT_IN_BATCH: dict[str, str] = {
    "stream": "the Batch API does not stream answers; results arrive as one file",
    "stream_options": "the Batch API does not stream answers; results arrive as one file",
    "speed": "Anthropic refuses fast mode (speed=) inside a Message Batch",
}
# Arguments of one llmbatch verb that land in another verb's **params: say whose they are.
_OTHER_VERBS: dict[str, str] = {
    "relax": "classify()",
    "schema": "classify()",
    "label_column": "classify()",
    "structured": "classify()",
    "content_column": "complete()",
    "wide": "embed()",
    "dimensions": "embed()",
    "prompt": "complete() and classify()",
    "system_prompt": "complete() and classify()",
    "temperature": "complete() and classify()",
    "max_tokens": "complete() and classify()",
    "api": "complete() and classify()",
}
# The arguments every verb takes itself (never body fields), for "did you mean" only.
_COMMON_ARGS = ("text", "id", "provider", "model", "suffix", "skip_empty", "force", "submit",
                "name", "folder", "extra_body")  # fmt: skip
# Documented by the SDK, but sent as HTTP headers, not as fields of each request body.
_HEADERS = {
    "user_profile_id": "anthropic-user-profile-id",
    "workspace_id": "anthropic-workspace-id",
}

_KINDS: dict[str, tuple[str, Any]] = {
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "bool": ("True or False", lambda v: isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "object": ("a dict", lambda v: isinstance(v, dict)),
    "array": ("a list", lambda v: isinstance(v, list | tuple)),
    "any": ("a JSON value", lambda v: True),
}


def check_body_params(verb: str, endpoint: str, params: dict[str, Any]) -> None:
    """Refuse a keyword the endpoint does not document, or a value of the wrong JSON kind.

    Raises:
        ConfigError: naming the parameter, with a hint (`extra_body=` for unknown ones).
    """
    known = ENDPOINT_PARAMS.get(endpoint, {})
    for name, value in params.items():
        _refuse_in_batch(name, value, endpoint)
        if verb == "classify" and name in _SET_BY_CLASSIFY.get(endpoint, ()):
            msg = f"classify() sets {name!r} itself, from its schema"
            raise ConfigError(msg + f"\nHint: drop {name}=; use complete() to send your own.")
        instead = _SET_BY_VERB.get(endpoint, {}).get(name)
        if instead is not None:
            msg = f"{verb}() sets {name!r} of the {endpoint} body itself"
            raise ConfigError(msg + f"\nHint: pass {instead} instead.")
        if name not in known:
            _refuse_unknown(verb, endpoint, name, value, known)
        _check_kind(name, value, known[name])


def check_extra_body(extra_body: object, endpoint: str) -> dict[str, Any]:
    """``extra_body=`` as a dict of JSON values; its names are deliberately not checked."""
    if extra_body is None:
        return {}
    if not isinstance(extra_body, dict) or not all(isinstance(k, str) for k in extra_body):
        msg = f"extra_body must be a dict with string keys, got {type(extra_body).__name__}"
        raise ConfigError(msg + "\nHint: e.g. extra_body={'my_field': 1}.")
    for name, value in extra_body.items():
        _refuse_in_batch(name, value, endpoint)
        _check_json(f"extra_body[{name!r}]", value)
    return dict(extra_body)


def _refuse_in_batch(name: str, value: Any, endpoint: str) -> None:
    if name == "stream" and not value:
        return  # stream=False asks for what a batch does anyway
    if name == "n" and endpoint == CHAT and value not in (None, 1):
        msg = f"n={value!r} asks for {value!r} answers per row: each is paid, one column reads one"
        raise ConfigError(
            msg + "\nHint: n must be 1; leave n= out (send a row twice under "
            "another id if you want two answers)."
        )
    if name == "speed" and endpoint != MESSAGES:
        return
    if name in _NOT_IN_BATCH:
        msg = f"{name}={value!r} cannot be sent in a batch: {_NOT_IN_BATCH[name]}"
        raise ConfigError(msg + f"\nHint: drop {name}=.")


def _refuse_unknown(verb: str, endpoint: str, name: str, value: Any, known: dict[str, str]) -> None:
    if name in _HEADERS:
        msg = f"{name}= is sent as the {_HEADERS[name]} header, not in each request body"
        raise ConfigError(msg + "\nHint: llmbatch does not set it per batch; drop it.")
    owner = _OTHER_VERBS.get(name)
    if owner is not None:
        msg = f"{verb}() got an unknown parameter {name!r}: it is an argument of {owner}"
        raise ConfigError(msg + f"\nHint: drop {name}=; only {owner} takes it.")
    close = difflib.get_close_matches(name, known, n=3) or difflib.get_close_matches(
        name, [*_OTHER_VERBS, *_COMMON_ARGS], n=3
    )  # the endpoint's fields first, else a typo of one of the verbs' own arguments
    guess = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    shown = repr(value) if len(repr(value)) <= 40 else "..."
    msg = (
        f"{verb}() got an unknown parameter {name!r}: the {endpoint} endpoint does not "
        f"document it\nHint: {guess}To send it anyway, pass extra_body={{{name!r}: {shown}}}."
    )
    raise ConfigError(msg)


def _check_kind(name: str, value: Any, kind: str) -> None:
    nullable = kind.endswith("?")
    label, fits = _KINDS[kind.rstrip("?")]
    if (value is None and nullable) or (value is not None and fits(value)):
        _check_json(name, value)
        return
    msg = f"{name} must be {label}{' or None' if nullable else ''}, got {_shown(value)}"
    raise ConfigError(msg + f"\nHint: pass {name}= as {label}, or leave it out.")


def _check_json(name: str, value: Any) -> None:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        msg = f"{name} cannot be sent as JSON ({exc}): got {_shown(value)}"
        raise ConfigError(msg + "\nHint: pass plain strings, numbers, lists and dicts.") from None


def _shown(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:59] + "…"
    return f"{type(value).__name__} {text}"
