"""Synthetic OpenAI answers: chat completions, Responses, legacy completions, moderations.

Every body is validated first (:mod:`fake_openai_checks`); a bad one gets the 400 envelope.
Otherwise the answer is derived from the request alone (see :mod:`fake_model` for the rules).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, cast

from llmbatch.emulator.catalog import OPENAI_ALIASES
from llmbatch.emulator.fake_chat_plan import chat_plan
from llmbatch.emulator.fake_openai_checks import (
    check_chat_options,
    check_completions,
    check_messages,
    check_moderations,
    forced_tool_name,
    is_reasoning_model,
)
from llmbatch.emulator.fake_schema import compiled_text, structured_text
from llmbatch.emulator.fake_schema_plan import Plan
from llmbatch.emulator.fake_text import (
    FLAG_MARKER,
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

_CACHE_MINIMUM = 1024
_CACHE_STEP = 128
_COMPLETIONS_DEFAULT_MAX = 16
_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = frozenset(
    {
        "self-harm",
        "self-harm/instructions",
        "self-harm/intent",
        "sexual",
        "violence",
        "violence/graphic",
    }
)


def snapshot_model(model: str) -> str:
    """The dated snapshot a model alias resolves to (unknown names are returned as given)."""
    return OPENAI_ALIASES.get(model, model)


class Output(NamedTuple):
    """What one choice says: ``kind`` is ``text``, ``refusal`` or ``tool`` (then JSON args)."""

    kind: str
    text: str
    tool: str | None = None


class Shaped(NamedTuple):
    """An :class:`Output` after the token limit and stop sequences were applied."""

    output: Output
    text: str
    finish: str
    tokens: int


def decide(
    user: str,
    seed: bytes,
    fmt: tuple[str, object],
    tool: tuple[str, object] | None,
    compiled: tuple[Plan, object] | None = None,
) -> Output:
    """The answer to a request whose last user message is ``user`` (markers honoured).

    ``compiled``: the json_schema format's schema, compiled beforehand (the same answer).
    """
    if REFUSE_MARKER in user:
        return Output("refusal", REFUSAL_TEXT)
    if tool is not None:
        return Output("tool", structured_text(tool[1], seed, words_of(user), user), tool[0])
    kind, schema = fmt
    if kind == "json_schema" and compiled is not None:
        return Output("text", compiled_text(compiled, seed, user))
    if kind == "json_schema":
        schema = schema or {"type": "object"}
        return Output("text", structured_text(schema, seed, words_of(user), user))
    if kind == "json_object":
        answer = {"type": "object", "properties": {"answer": {"const": reply_text(user, seed)}}}
        return Output("text", structured_text(answer, seed, words_of(user), user))
    return Output("text", reply_text(user, seed))


def shape(output: Output, limit: int | None, reasoning: int, stop: object = None) -> Shaped:
    """Cut ``output`` to the visible-token budget (``limit`` minus reasoning) and at stops."""
    if limit is None and stop is None:  # the usual case: nothing can cut the text
        text = output.text
        finish = "tool_calls" if output.kind == "tool" else "stop"
        return Shaped(output, text, finish, text_tokens(text))
    budget = None if limit is None else limit - reasoning
    text, cut = fit_tokens(output.text, budget)
    if cut:
        return Shaped(output, text, "length", text_tokens(text))
    if output.kind == "text":
        text, _ = cut_at_stop(text, stop)
    finish = "tool_calls" if output.kind == "tool" else "stop"
    return Shaped(output, text, finish, text_tokens(text))


def reasoning_tokens(model: str, effort: object, seed: bytes) -> int:
    """Hidden reasoning tokens: 32 to 127 for reasoning models, 0 otherwise or with no effort."""
    if not is_reasoning_model(model) or effort in ("none", "minimal"):
        return 0
    return reasoning_draw(seed)


def reasoning_draw(seed: bytes) -> int:
    """The hidden reasoning tokens of a reasoning model: 32 to 127, from the seed."""
    return 32 + int.from_bytes(seed[2:4], "little") % 96


def cached_tokens(prompt_tokens: int, seed: bytes) -> tuple[int, int]:
    """``(read, written)`` prompt-cache tokens, decided by a hash bit of the request.

    Prompts of 1024+ tokens have a cacheable prefix (a multiple of 128): read from the cache
    3 times in 4, written to it otherwise.
    """
    if prompt_tokens < _CACHE_MINIMUM:
        return 0, 0
    prefix = (prompt_tokens - 1) // _CACHE_STEP * _CACHE_STEP
    return (0, prefix) if seed[1] % 4 == 0 else (prefix, 0)


def chat_answer(body: dict, created: int, salt: str) -> tuple[int, dict]:
    """``(status, body)`` for one ``/v1/chat/completions`` request.

    What the body asks apart from its messages is checked and prepared once per batch
    (:mod:`fake_chat_plan`); the row checks and answers its messages.
    """
    plan = chat_plan(body)
    problem = plan.model_problem or check_messages(body)
    if problem is None:
        problem = check_chat_options(body) if plan.options_per_row else plan.problem
    if problem is not None:
        return 400, {"error": dict(problem["error"])}  # a copy: the plan's is shared
    messages = body["messages"]
    seed = plan.seed(messages, body.get("tools"))
    user, prompt_tokens = read_messages(messages)
    prompt_tokens += plan.extra_tokens
    reasoning = reasoning_draw(seed) if plan.reasons else 0
    choices, completion, copies = [], 0, plan.copies
    for index in range(copies):
        choice_seed = seed if index == 0 else digest(seed, index)
        tool = forced_tool(body, choice_seed, nested=True) if plan.forces_tool else None
        output = decide(user, choice_seed, plan.fmt, tool, plan.compiled)
        shaped = shape(output, plan.limit, reasoning, plan.stop)
        choices.append(_chat_choice(index, shaped, choice_seed, salt))
        completion += shaped.tokens + reasoning
    answer = {
        "id": make_id("chatcmpl-", 29, seed, salt),
        "object": "chat.completion",
        "created": created,
        "model": plan.snapshot,
        "choices": choices,
        "usage": _chat_usage(prompt_tokens, completion, reasoning * copies, seed),
        "service_tier": "default",
        "system_fingerprint": plan.fingerprint,
    }
    return 200, answer


def _chat_choice(index: int, shaped: Shaped, seed: bytes, salt: str) -> dict:
    message: dict = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    kind = shaped.output.kind
    if kind == "text":
        message["content"] = shaped.text
    elif kind == "refusal":
        message["refusal"] = shaped.text
    else:
        function = {"name": shaped.output.tool, "arguments": shaped.text}
        call = {"id": make_id("call_", 24, seed, salt), "type": "function", "function": function}
        message["tool_calls"] = [call]
    return {"index": index, "message": message, "logprobs": None, "finish_reason": shaped.finish}


def _chat_usage(prompt: int, completion: int, reasoning: int, seed: bytes) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": cached_tokens(prompt, seed)[0],
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completions_answer(body: dict, created: int, salt: str) -> tuple[int, dict]:
    """``(status, body)`` for one legacy ``/v1/completions`` request (max_tokens defaults to 16)."""
    problem = check_completions(body)
    if problem is not None:
        return 400, problem
    model, prompts = body["model"], _prompts(body["prompt"])
    limit = first_int(body, "max_tokens")
    limit = _COMPLETIONS_DEFAULT_MAX if limit is None else limit
    seed = digest("completions", model, body["prompt"])
    choices, completion = [], 0
    copies = body.get("n") or 1
    for number, (prompt, _) in enumerate(prompts):
        for copy in range(copies):
            index = number * copies + copy
            shaped = shape(Output("text", reply_text(prompt, digest(seed, index))), limit, 0)
            text = prompt + shaped.text if body.get("echo") is True else shaped.text
            choice = {"text": text, "index": index, "logprobs": None}
            choices.append({**choice, "finish_reason": shaped.finish})
            completion += shaped.tokens
    prompt_tokens = sum(tokens for _, tokens in prompts)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    answer = {
        "id": make_id("cmpl-", 29, seed, salt),
        "object": "text_completion",
        "created": created,
        "model": snapshot_model(model),
        "choices": choices,
        "usage": usage,
        "system_fingerprint": fingerprint(model),
    }
    return 200, answer


def moderations_answer(body: dict, salt: str) -> tuple[int, dict]:
    """``(status, body)`` for one ``/v1/moderations`` request (flagged only with ``[[flag]]``)."""
    problem = check_moderations(body)
    if problem is not None:
        return 400, problem
    value = body["input"]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        has_image = any(v.get("type") == "image_url" for v in value)
        results = [_moderation(content_text(value), has_image)]
    else:
        items = [value] if isinstance(value, str) else value
        results = [_moderation(item if isinstance(item, str) else "", False) for item in items]
    model = body.get("model") or "omni-moderation-latest"
    answer = {"id": make_id("modr-", 29, value, salt), "model": model, "results": results}
    return 200, answer


def _moderation(text: str, has_image: bool) -> dict:
    flagged = FLAG_MARKER in text
    rand = Rand(digest("moderation", text))
    scores = {name: round(rand.below(1000) / 1_000_000 + 1e-6, 8) for name in _CATEGORIES}
    if flagged:
        scores["violence"] = 0.9 + rand.below(1000) / 100_000
    categories = {name: flagged and name == "violence" for name in _CATEGORIES}
    applied = {
        name: ["text", "image"] if has_image and name in _IMAGE_CATEGORIES else ["text"]
        for name in _CATEGORIES
    }
    return {
        "flagged": flagged,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


def forced_tool(body: dict, seed: bytes, *, nested: bool) -> tuple[str, object] | None:
    """``(name, parameters)`` of the function ``tool_choice`` forces, or None."""
    if body.get("tool_choice") is None:
        return None  # nothing forced (the common case): skip looking at the tools
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    specs = [t.get("function", {}) if nested else t for t in tools]
    choice = body.get("tool_choice")
    wanted = forced_tool_name(choice)
    if choice == "required" and specs:
        wanted = Rand(seed).choice(specs)["name"]
    if wanted is None:
        return None  # validated function tools all have a name, so none would match
    for spec in specs:
        if spec.get("name") == wanted:
            return wanted, spec.get("parameters") or {"type": "object", "properties": {}}
    return None


def read_messages(messages: list) -> tuple[str, int]:
    """The last user message's text and the prompt's tokens (every text, one per line).

    ``messages`` are validated chat messages (objects).
    """
    texts = [c if type(c) is str else content_text(c) for c in [m.get("content") for m in messages]]
    user = ""
    for message, text in zip(reversed(messages), reversed(texts), strict=True):
        if message.get("role") == "user":
            user = text
            break
    return user, estimate_tokens("\n".join(texts))


def last_user(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def extra_tokens(tools: object, schema: object) -> int:
    return (estimate_tokens(tools) if tools else 0) + (estimate_tokens(schema) if schema else 0)


def first_int(body: dict, *names: str) -> int | None:
    for name in names:
        if isinstance(body.get(name), int):
            return body[name]
    return None


def _prompts(value: object) -> list[tuple[str, int]]:
    """Each prompt as ``(text, prompt tokens)``; token-id prompts read as a placeholder."""
    if isinstance(value, str):
        return [(value, estimate_tokens(value))]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        value = [value]
    prompts = []
    for item in cast("list[object]", value):  # already validated: a list
        if isinstance(item, str):
            prompts.append((item, estimate_tokens(item)))
        else:
            count = len(item) if isinstance(item, list) else 1
            prompts.append((f"<{count} prompt tokens>", max(1, count)))
    return prompts


@functools.lru_cache(maxsize=256)
def fingerprint(model: str) -> str:
    return "fp_" + digest("fingerprint", model).hex()[:10]
