"""Synthetic Anthropic Messages answers, as a Message Batch result line carries them.

Prompt caching: the prompt is read as segments in the API's order (tools, system blocks,
message content blocks). When any segment carries ``cache_control`` (or ``params`` has a
top-level ``cache_control``, which marks the last segment), the tokens up to and including
the last marked segment are the cached prefix. With no state to remember earlier requests,
a hash of the whole request decides whether that prefix was warm: 3 times in 4 it is read
(``cache_read_input_tokens``), otherwise it is written (``cache_creation_input_tokens`` and
``cache_creation.ephemeral_5m_input_tokens`` or ``ephemeral_1h_input_tokens`` per ``ttl``).
``input_tokens`` holds only the uncached rest.
"""

from __future__ import annotations

import base64

from llmbatch.emulator.fake_anthropic_checks import check_messages, check_params, custom_tools
from llmbatch.emulator.fake_anthropic_plan import (
    MessagesPlan,
    Segment,
    block_segment,
    messages_plan,
    rest_segments,
)
from llmbatch.emulator.fake_schema import (
    break_instance,
    compiled_text,
    schema_instance,
    structured_text,
)
from llmbatch.emulator.fake_text import (
    BAD_JSON_MARKER,
    BAD_SCHEMA_MARKER,
    REFUSAL_TEXT,
    REFUSE_MARKER,
    Rand,
    content_text,
    cut_at_stop,
    digest,
    estimate_tokens,
    fit_tokens,
    make_id,
    reply_text,
    text_tokens,
    words_of,
)

_WARM_IN_FOUR = 3


def anthropic_error(message: str) -> dict:
    """The ``error`` of an ``errored`` result: an ``invalid_request_error`` ErrorResponse."""
    error = {"type": "invalid_request_error", "message": message}
    return {"type": "error", "error": error, "request_id": None}


def messages_answer(params: dict, salt: str, *, checked: bool = False) -> tuple[str, dict]:
    """``("succeeded", Message)`` or ``("errored", ErrorResponse)`` for one request.

    ``checked``: ``params`` already passed :func:`check_params` (skip running it again).
    What the params ask apart from their messages is checked and prepared once per batch
    (:mod:`fake_anthropic_plan`).
    """
    if not isinstance(params, dict):
        return "errored", anthropic_error(check_params(params) or "")
    plan = messages_plan(params)
    problem = None
    if not checked:
        problem = plan.basics_problem or check_messages(params.get("messages"))
        problem = problem or plan.options_problem
    if problem is not None:
        return "errored", anthropic_error(problem)
    seed = plan.seed(params)
    blocks, stop_reason, stop_sequence, output_tokens = _content(params, plan, seed, salt)
    message = {
        "id": make_id("msg_01", 22, seed, salt),
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": message_usage(params, plan, seed, output_tokens),
    }
    return "succeeded", message


def _content(
    params: dict, plan: MessagesPlan, seed: bytes, salt: str
) -> tuple[list[dict], str, str | None, int]:
    """``(blocks, stop_reason, stop_sequence, output tokens)``."""
    user = last_user_text(params["messages"])
    blocks, spent = _thinking(params, user, seed)
    budget = params["max_tokens"] - spent
    if REFUSE_MARKER in user:
        text, _ = fit_tokens(REFUSAL_TEXT, budget)
        return [*blocks, _text_block(text)], "refusal", None, spent + text_tokens(text)
    tool = _forced_tool(params, seed)
    if tool is not None:
        block, tokens = _tool_use(tool, user, seed, salt, budget)
        stop = "tool_use" if tokens <= budget else "max_tokens"
        return [*blocks, block], stop, None, spent + min(tokens, budget)
    found = plan.found
    if found is None:
        text = reply_text(user, seed)
    elif plan.compiled is not None:
        text = compiled_text(plan.compiled, seed, user)
    else:
        text = structured_text(found[1]["schema"], seed, words_of(user), user)  # type: ignore[index]
    text, cut = fit_tokens(text, budget)
    stop, sequence = ("max_tokens", None) if cut else ("end_turn", None)
    if not cut:
        text, sequence = cut_at_stop(text, params.get("stop_sequences"))
        stop = "end_turn" if sequence is None else "stop_sequence"
    visible = [_text_block(text)] if text else []
    return [*blocks, *visible], stop, sequence, spent + text_tokens(text)


def _tool_use(tool: dict, user: str, seed: bytes, salt: str, budget: int) -> tuple[dict, int]:
    """A ``tool_use`` block whose input conforms to the tool's schema, and its token cost.

    ``[[bad_json]]`` and ``[[bad_schema]]`` both give an input that breaks the schema (the
    API hands ``input`` over already parsed, so it cannot be invalid JSON). Past the token
    budget the input is left empty, as for a cut-off tool call.
    """
    value = schema_instance(tool.get("input_schema") or {}, seed, words_of(user))
    if BAD_JSON_MARKER in user or BAD_SCHEMA_MARKER in user:
        value = break_instance(value)
    tokens = estimate_tokens(value)
    block = {
        "type": "tool_use",
        "id": make_id("toolu_01", 22, seed, salt),
        "name": tool["name"],
        "input": value if tokens <= budget else {},
    }
    return block, tokens


def _thinking(params: dict, user: str, seed: bytes) -> tuple[list[dict], int]:
    """A ``thinking`` block when extended thinking is on, and its token cost."""
    thinking = params.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return [], 0
    text = f"[synthetic reasoning] The request asks: {' '.join(user.split()[:24])}"
    signature = base64.b64encode(digest("signature", text, seed, size=64)).decode()
    block = {"type": "thinking", "thinking": text, "signature": signature}
    return [block], estimate_tokens(text)


def _forced_tool(params: dict, seed: bytes) -> dict | None:
    choice = params.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("tool", "any"):
        return None  # nothing forced (the common case): skip looking at the tools
    tools = custom_tools(params)
    if kind == "tool":
        return next(t for t in tools if t.get("name") == choice["name"])  # type: ignore[index]
    if kind == "any" and tools:
        return Rand(seed).choice(tools)
    return None


def message_usage(params: dict, plan: MessagesPlan, seed: bytes, output_tokens: int) -> dict:
    """``usage``: uncached input tokens, cache reads or writes (see module doc), output."""
    segments = _segments(params, plan)
    total = sum(tokens for tokens, _ in segments)
    schema_tokens = plan.schema_tokens
    marked = [i for i, (_, mark) in enumerate(segments) if isinstance(mark, dict)]
    auto = params.get("cache_control")
    if isinstance(auto, dict) and segments:
        marked.append(len(segments) - 1)
    prefix, ttl = 0, "5m"
    if marked:
        last = max(marked)
        prefix = sum(tokens for tokens, _ in segments[: last + 1])
        mark = segments[last][1] if isinstance(segments[last][1], dict) else auto
        ttl = mark.get("ttl", "5m")  # type: ignore[union-attr]
    warm = prefix > 0 and seed[0] % 4 < _WARM_IN_FOUR
    written = 0 if warm else prefix
    return {
        "input_tokens": total - prefix + schema_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": prefix if warm else 0,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 0 if ttl == "1h" else written,
            "ephemeral_1h_input_tokens": written if ttl == "1h" else 0,
        },
        "server_tool_use": None,
        "service_tier": "batch",
    }


def _segments(params: dict, plan: MessagesPlan) -> list[Segment]:
    """``(tokens, cache_control)`` per prompt piece: tools, system blocks, content blocks."""
    segments = list(rest_segments(params) if plan.segments is None else plan.segments)
    for message in params["messages"]:
        content = message["content"]
        if isinstance(content, str):
            segments.append((estimate_tokens(content), None))
        else:
            segments.extend(map(block_segment, content))
    return segments


def _text_block(text: str) -> dict:
    return {"type": "text", "text": text}


def last_user_text(messages: list) -> str:
    """The text of the last user message (validated messages)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""
