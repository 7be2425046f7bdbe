"""A varied sample of request bodies whose fake-model answers are pinned by the golden test.

Each case is a list of bodies (several prompts, so that hash-driven choices vary). Changing a
body here changes the pinned digests: regenerate them with
``.venv/bin/python tests/emulator/test_emu_golden.py --write`` only when an answer change is
intended.
"""

from __future__ import annotations

from typing import Any

PROMPTS = (
    "Review: great product, would buy again. Battery life could be better though.",
    "Classify this support ticket: my parcel never arrived and nobody answers the phone.",
    "hi",
    "",
    "Ünïcødé text — with emoji 🎉 and punctuation!!! ¿Qué tal? 東京",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
    "Return json please: summarise the quarterly report in one sentence.",
    "A much longer prompt. " * 300,
)

CLASSIFY = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["label", "confidence", "stars"],
    "additionalProperties": False,
}

RICH = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["a", "b", "c", "d"]},
        "score": {"type": ["number", "null"], "minimum": -5, "maximum": 5, "multipleOf": 0.25},
        "count": {"type": "integer", "exclusiveMinimum": 0, "maximum": 1000, "multipleOf": 7},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "unique": {
            "type": "array",
            "items": {"enum": [1, 2, 3, 4]},
            "minItems": 2,
            "uniqueItems": True,
        },
        "when": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "mail": {"type": "string", "format": "email"},
        "uuid": {"type": "string", "format": "uuid"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"},
        "short": {"type": "string", "minLength": 3, "maxLength": 8},
        "flag": {"type": "boolean"},
        "nothing": {"type": "null"},
        "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        "huge": {"type": "integer", "minimum": 1e23},
        "author": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                    "required": ["city", "zip"],
                    "additionalProperties": False,
                },
            },
            "required": ["name", "address"],
            "additionalProperties": False,
        },
        "node": {"$ref": "#/$defs/node"},
    },
    "required": ["label", "score", "count", "tags", "author"],
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        }
    },
}

ANTHROPIC_CLASSIFY = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": "number"},
        "stars": {"type": "integer"},
    },
    "required": ["label", "confidence", "stars"],
    "additionalProperties": False,
}

OPTIONAL = {
    "type": "object",
    "properties": {
        "a": {"type": "string"},
        "b": {"type": "integer"},
        "c": {"type": "array", "items": {"type": "number"}},
    },
    "required": ["a"],
}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat_format(schema: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    spec = {"name": "answer", "schema": schema, "strict": strict}
    return {"type": "json_schema", "json_schema": spec}


def _tool(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": schema}}


def _chat_cases() -> dict[str, list[dict[str, Any]]]:
    base = "gpt-4o-mini"
    system = [{"role": "system", "content": "You are terse."}]
    return {
        "chat_plain": [{"model": base, "messages": user(p)} for p in PROMPTS],
        "chat_system": [{"model": base, "messages": system + user(p)} for p in PROMPTS],
        "chat_conversation": [
            {
                "model": "gpt-4o",
                "messages": [
                    *user("first"),
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": [{"type": "text", "text": p}]},
                ],
            }
            for p in PROMPTS
        ],
        "chat_classify": [
            {"model": base, "messages": user(p), "response_format": chat_format(CLASSIFY)}
            for p in PROMPTS
        ],
        "chat_rich_schema": [
            {"model": base, "messages": user(p), "response_format": chat_format(RICH, False)}
            for p in PROMPTS
        ],
        "chat_optional_fields": [
            {"model": base, "messages": user(p), "response_format": chat_format(OPTIONAL, False)}
            for p in PROMPTS
        ],
        "chat_json_object": [
            {
                "model": base,
                "messages": user(p + " json"),
                "response_format": {"type": "json_object"},
            }
            for p in PROMPTS
        ],
        "chat_truncated": [
            {"model": base, "messages": user(p), "max_completion_tokens": 5} for p in PROMPTS
        ]
        + [
            {
                "model": base,
                "messages": user(p),
                "max_tokens": 7,
                "response_format": chat_format(CLASSIFY),
            }
            for p in PROMPTS
        ],
        "chat_markers": [
            {"model": base, "messages": user(f"{p} {m}"), "response_format": chat_format(CLASSIFY)}
            for p in PROMPTS[:3]
            for m in ("[[refuse]]", "[[bad_json]]", "[[bad_schema]]")
        ],
        "chat_reasoning_n_stop": [
            {"model": "o4-mini", "messages": user(p), "reasoning_effort": "low"} for p in PROMPTS
        ]
        + [{"model": base, "messages": user(p), "n": 3, "stop": ["e"]} for p in PROMPTS],
        "chat_tools": [
            {
                "model": base,
                "messages": user(p),
                "tools": [_tool("classify", CLASSIFY), _tool("other", OPTIONAL)],
                "tool_choice": choice,
            }
            for p in PROMPTS
            for choice in ("required", {"type": "function", "function": {"name": "classify"}})
        ],
        "chat_invalid": [
            {"model": base},
            {"model": base, "messages": []},
            {"model": "o3", "messages": user("x"), "max_tokens": 5},
            {"model": base, "messages": user("x"), "temperature": 3},
            {"model": base, "messages": user("x"), "response_format": chat_format(OPTIONAL)},
        ],
    }


def _responses_cases() -> dict[str, list[dict[str, Any]]]:
    fmt = {"type": "json_schema", "name": "answer", "schema": CLASSIFY, "strict": True}
    return {
        "responses_plain": [{"model": "gpt-4.1-mini", "input": p} for p in PROMPTS],
        "responses_format": [
            {"model": "gpt-4.1-mini", "input": user(p), "text": {"format": fmt}} for p in PROMPTS
        ],
        "responses_limits_markers": [
            {"model": "gpt-5-mini", "input": p, "max_output_tokens": 40} for p in PROMPTS
        ]
        + [
            {"model": "gpt-4.1-mini", "input": f"x {m}", "text": {"format": fmt}}
            for m in ("[[refuse]]", "[[bad_json]]", "[[bad_schema]]")
        ],
    }


def _legacy_cases() -> dict[str, list[dict[str, Any]]]:
    model = "gpt-3.5-turbo-instruct"
    return {
        "completions": [{"model": model, "prompt": p} for p in PROMPTS]
        + [
            {"model": model, "prompt": [PROMPTS[0], PROMPTS[1]], "n": 2, "echo": True},
            {"model": model, "prompt": [1, 2, 3], "max_tokens": 100},
        ],
        "moderations": [{"input": p} for p in PROMPTS] + [{"input": ["a [[flag]]", "b"]}],
    }


def _embedding_cases() -> dict[str, list[dict[str, Any]]]:
    small = "text-embedding-3-small"
    words = [p for p in PROMPTS if p]
    return {
        "embeddings_default": [{"model": small, "input": p} for p in words],
        "embeddings_dimensions": [
            {"model": small, "input": words, "dimensions": 256},
            {"model": "text-embedding-3-large", "input": words[0], "dimensions": 1024},
        ],
        "embeddings_base64": [
            {"model": small, "input": p, "encoding_format": "base64", "dimensions": 64}
            for p in words
        ]
        + [{"model": "text-embedding-ada-002", "input": [[1, 2, 3]], "encoding_format": "base64"}],
        "embeddings_invalid": [
            {"model": small, "input": ""},
            {"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
        ],
    }


def openai_cases() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Case name -> (url, bodies)."""
    out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for name, bodies in _chat_cases().items():
        out[name] = ("/v1/chat/completions", bodies)
    for name, bodies in _responses_cases().items():
        out[name] = ("/v1/responses", bodies)
    out["completions"] = ("/v1/completions", _legacy_cases()["completions"])
    out["moderations"] = ("/v1/moderations", _legacy_cases()["moderations"])
    for name, bodies in _embedding_cases().items():
        out[name] = ("/v1/embeddings", bodies)
    return out


def _anthropic(content: object, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": content}]
    return {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": messages, **extra}


def anthropic_cases() -> dict[str, list[dict[str, Any]]]:
    """Case name -> Messages params."""
    fmt = {"format": {"type": "json_schema", "schema": ANTHROPIC_CLASSIFY}}
    tool = {"name": "classify", "description": "Classify.", "input_schema": CLASSIFY}
    system = [
        {
            "type": "text",
            "text": "Shared instructions. " * 200,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    return {
        "anthropic_plain": [_anthropic(p or "x") for p in PROMPTS],
        "anthropic_classify": [_anthropic(p or "x", output_config=fmt) for p in PROMPTS],
        "anthropic_tool": [
            _anthropic(p or "x", tools=[tool], tool_choice={"type": "tool", "name": "classify"})
            for p in PROMPTS
        ]
        + [_anthropic(p or "x", tools=[tool], tool_choice={"type": "any"}) for p in PROMPTS[:3]],
        "anthropic_cache": [_anthropic(p or "x", system=system) for p in PROMPTS]
        + [
            _anthropic(
                p or "x",
                system="Be brief.",
                cache_control={"type": "ephemeral", "ttl": "1h"},
            )
            for p in PROMPTS
        ],
        "anthropic_truncated": [{**_anthropic(p or "x"), "max_tokens": 4} for p in PROMPTS]
        + [{**_anthropic(p or "x", output_config=fmt), "max_tokens": 6} for p in PROMPTS],
        "anthropic_markers": [
            _anthropic(f"x {m}", output_config=fmt)
            for m in ("[[refuse]]", "[[bad_json]]", "[[bad_schema]]")
        ]
        + [
            _anthropic(f"x {m}", tools=[tool], tool_choice={"type": "tool", "name": "classify"})
            for m in ("[[bad_json]]", "[[bad_schema]]")
        ],
        "anthropic_thinking_stop": [
            {
                **_anthropic(p or "x"),
                "max_tokens": 2048,
                "thinking": {"type": "enabled", "budget_tokens": 1024},
            }
            for p in PROMPTS[:3]
        ]
        + [_anthropic(p or "x", stop_sequences=["e"]) for p in PROMPTS],
        "anthropic_invalid": [
            {"model": "claude-haiku-4-5", "messages": user("x")},
            _anthropic("x", output_config={"format": {"type": "json_schema", "schema": OPTIONAL}}),
        ],
    }
