"""Synthetic ``/v1/responses`` answers: a full ``response`` object with every standard key.

Reasoning models (o-series, gpt-5) get a ``reasoning`` output item first and reasoning tokens
that count against ``max_output_tokens``; a cut answer has ``status: "incomplete"`` and
``incomplete_details: {"reason": "max_output_tokens"}``.
"""

from __future__ import annotations

from typing import cast

from llmbatch.emulator.fake_openai import (
    Shaped,
    cached_tokens,
    decide,
    extra_tokens,
    first_int,
    forced_tool,
    is_reasoning_model,
    last_user,
    reasoning_tokens,
    shape,
    snapshot_model,
)
from llmbatch.emulator.fake_openai_checks import check_responses
from llmbatch.emulator.fake_text import content_text, digest, estimate_tokens, make_id


def responses_answer(body: dict, created: int, salt: str) -> tuple[int, dict]:
    """``(status, body)`` for one ``/v1/responses`` request."""
    problem = check_responses(body)
    if problem is not None:
        return 400, problem
    model, instructions = body["model"], body.get("instructions")
    items = _items(body["input"])
    fmt = _text_format(body)
    seed = digest("responses", model, items, instructions, body.get("tools"), fmt)
    prompt = "\n".join([instructions or "", *(_item_text(item) for item in items)])
    prompt_tokens = estimate_tokens(prompt) + extra_tokens(body.get("tools"), fmt[1])
    reasoning = reasoning_tokens(model, _effort(body, model), seed)
    output = decide(last_user(items), seed, fmt, forced_tool(body, seed, nested=False))
    shaped = shape(output, first_int(body, "max_output_tokens"), reasoning)
    answer = _response(body, created, _hex_id("resp_", seed, salt), shaped.finish == "length")
    answer["output"] = _output_items(shaped, reasoning, seed, salt)
    read, written = cached_tokens(prompt_tokens, seed)
    answer["usage"] = {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
        "output_tokens": shaped.tokens + reasoning,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt_tokens + shaped.tokens + reasoning,
    }
    return 200, answer


def _response(body: dict, created: int, response_id: str, incomplete: bool) -> dict:
    """The ``response`` object around the output: every standard key, request values echoed."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "incomplete" if incomplete else "completed",
        "background": False,
        "completed_at": None if incomplete else created,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "metadata": body.get("metadata") or {},
        "model": snapshot_model(body["model"]),
        "output": [],
        "parallel_tool_calls": _given(body, "parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": _effort(body, body["model"]), "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": _given(body, "store", True),
        "temperature": _given(body, "temperature", 1.0),
        "text": {"format": _echo_format(body), "verbosity": "medium"},
        "tool_choice": _given(body, "tool_choice", "auto"),
        "tools": [_echo_tool(tool) for tool in body.get("tools") or []],
        "top_logprobs": 0,
        "top_p": _given(body, "top_p", 1.0),
        "truncation": _given(body, "truncation", "disabled"),
        "usage": None,
        "user": body.get("user"),
    }


def _output_items(shaped: Shaped, reasoning: int, seed: bytes, salt: str) -> list[dict]:
    """A reasoning item (reasoning models), then the answer unless nothing visible was left."""
    incomplete = shaped.finish == "length"
    items = []
    if reasoning:
        items.append({"type": "reasoning", "id": _hex_id("rs_", seed, salt), "summary": []})
    if shaped.text or not incomplete:
        items.append(_output_item(shaped, seed, salt, incomplete))
    return items


def _output_item(shaped: Shaped, seed: bytes, salt: str, incomplete: bool) -> dict:
    status = "incomplete" if incomplete else "completed"
    kind = shaped.output.kind
    if kind == "tool":
        return {
            "type": "function_call",
            "id": _hex_id("fc_", seed, salt),
            "call_id": make_id("call_", 24, seed, salt),
            "name": shaped.output.tool,
            "arguments": shaped.text,
            "status": status,
        }
    if kind == "refusal":
        part: dict = {"type": "refusal", "refusal": shaped.text}
    else:
        part = {"type": "output_text", "text": shaped.text, "annotations": [], "logprobs": []}
    item_id = _hex_id("msg_", seed, salt)
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [part],
    }


def _items(value: object) -> list[dict]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [item for item in cast("list[object]", value) if isinstance(item, dict)]


def _item_text(item: dict) -> str:
    if isinstance(item.get("output"), str):  # function_call_output
        return item["output"]
    return content_text(item.get("content"))


def _text_format(body: dict) -> tuple[str, object]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return "text", None
    return fmt["type"], fmt.get("schema")


def _effort(body: dict, model: str) -> str | None:
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort is None and is_reasoning_model(model):
        return "medium"
    return effort


def _echo_format(body: dict) -> dict:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return {"type": "text"}
    echo = dict(fmt)
    if fmt.get("type") == "json_schema":
        echo.setdefault("description", None)
        echo.setdefault("strict", False)
    return echo


def _echo_tool(tool: object) -> object:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    echo = dict(tool)
    for key, default in (("description", None), ("parameters", None), ("strict", True)):
        echo.setdefault(key, default)
    return echo


def _given(body: dict, key: str, default: object) -> object:
    value = body.get(key)
    return default if value is None else value


def _hex_id(prefix: str, seed: bytes, salt: str) -> str:
    return make_id(prefix, 48, seed, salt, hex_digits=True)
