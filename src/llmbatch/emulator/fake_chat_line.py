"""Chat completions answered straight to JSON bytes: the batch runner's path for plain rows.

:func:`fake_openai.chat_answer` builds a dict that the batch line then serialises; for the
rows of a batch that their :class:`~fake_chat_plan.ChatPlan` covers (one choice, no forced
tool, plain messages), :func:`chat_answers_json` fills the plan's byte template instead: the
same draws in the same order, the same bytes ``orjson.dumps`` writes for that dict. The ids
of a chunk of rows are written out together (``fake_text.base62_column``). Any row it does
not cover (an invalid one included) gets None, and the caller takes the dict path, so errors
keep a single source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import orjson

from llmbatch.emulator.fake_chat_plan import ChatPlan, chat_plan
from llmbatch.emulator.fake_memo import per_plan
from llmbatch.emulator.fake_openai import cached_tokens, decide, reasoning_draw, shape
from llmbatch.emulator.fake_text import (
    REFUSAL_TEXT,
    REFUSE_MARKER,
    base62_column,
    content_text,
    estimate_tokens,
    id_digest,
    reply_text,
)

__all__ = ["ChatRow", "Tokens", "chat_answers_json"]

Tokens = tuple[int, int, int, int]
"""``(prompt, cached, completion, reasoning)`` tokens of one answer (the batch's usage)."""
ChatRow = tuple[dict, int, str]
"""``(body, created, salt)`` of one request."""

_ID_PREFIX = "chatcmpl-"
_ID_LENGTH = 29
_PLAIN_ROLES = frozenset(("system", "assistant", "user", "function", "developer"))
_FINISH = {"stop": b"stop", "length": b"length", "tool_calls": b"tool_calls"}


class _Draft(NamedTuple):
    """A row's answer but for its id: the template, the id's hash, the other holes."""

    template: bytes
    id_hash: bytes
    holes: tuple[object, ...]
    tokens: Tokens


def chat_answers_json(rows: Sequence[ChatRow]) -> list[tuple[bytes, Tokens] | None]:
    """Per row, the 200 body of ``chat_answer(body, created, salt)`` as JSON bytes and its
    tokens, or None when the plan's template does not cover the row (the caller then answers
    it the plain way, which also finds its 400).

    Rows of one plan in the plainest shape are answered a column at a time
    (:mod:`fake_chat_columns`), the others one by one.
    """
    plans = chat_plan.many([body for body, _, _ in rows])
    answers = _by_columns(rows, plans)
    if None not in answers:
        return answers
    left = [index for index, answer in enumerate(answers) if answer is None]
    drafts = [_draft(*rows[index], plans[index]) for index in left]
    ready = [draft for draft in drafts if draft is not None]
    ids = iter(base62_column([draft.id_hash for draft in ready], _ID_LENGTH))
    for index, draft in zip(left, drafts, strict=True):
        if draft is not None:
            answers[index] = (
                draft.template % (b"chatcmpl-" + next(ids), *draft.holes),
                draft.tokens,
            )
    return answers


def _by_columns(
    rows: Sequence[ChatRow], plans: list[ChatPlan]
) -> list[tuple[bytes, Tokens] | None]:
    """The answers :func:`chat_columns` gives, each plan's rows together (None: the rest)."""
    from llmbatch.emulator.fake_chat_columns import chat_columns  # numpy on first use: a lean start

    return per_plan(rows, plans, chat_columns)


def _draft(body: dict, created: int, salt: str, plan: ChatPlan) -> _Draft | None:
    template = plan.template
    messages = body.get("messages")
    if template is None or type(created) is not int or type(messages) is not list:
        return None
    texts, user = _plain_texts(messages)
    if texts is None:
        return None
    prompt = estimate_tokens("\n".join(texts)) + plan.extra_tokens
    seed = plan.seed(messages, body.get("tools"))
    reasoning = reasoning_draw(seed) if plan.reasons else 0
    kind, answer, finish, tokens = _output(plan, user, seed, reasoning)
    try:
        text = orjson.dumps(answer)
    except orjson.JSONEncodeError:
        return None
    content, refusal = (text, b"null") if kind == "text" else (b"null", text)
    completion = tokens + reasoning
    cached = cached_tokens(prompt, seed)[0]
    holes = (
        created,
        content,
        refusal,
        _FINISH[finish],
        prompt,
        completion,
        prompt + completion,
        cached,
        reasoning,
    )
    id_hash = id_digest(_ID_PREFIX, _ID_LENGTH, seed, salt)
    return _Draft(template, id_hash, holes, (prompt, cached, completion, reasoning))


def _output(plan: ChatPlan, user: str, seed: bytes, reasoning: int) -> tuple[str, str, str, int]:
    """``(kind, text, finish reason, tokens)`` of the one choice, as ``decide`` + ``shape``."""
    if plan.plain_text:  # nothing can cut it: skip building the Output and Shaped tuples
        if REFUSE_MARKER in user:
            return "refusal", REFUSAL_TEXT, "stop", estimate_tokens(REFUSAL_TEXT)
        text = reply_text(user, seed)
        return "text", text, "stop", estimate_tokens(text)
    output = decide(user, seed, plan.fmt, None, plan.compiled)
    shaped = shape(output, plan.limit, reasoning, plan.stop)
    return output.kind, shaped.text, shaped.finish, shaped.tokens


def _plain_texts(messages: list) -> tuple[list[str] | None, str]:
    """Each message's text and the last user message's, or None past a message that is not
    a plain ``{"role", "content"}`` object (the plain checks then decide)."""
    texts: list[str] = []
    user = ""
    for message in messages:
        if type(message) is not dict:
            return None, ""
        role = message.get("role")
        content = message.get("content")
        if type(role) is not str or role not in _PLAIN_ROLES or content is None:
            return None, ""
        text = content if type(content) is str else content_text(content)
        texts.append(text)
        if role == "user":
            user = text
    if not texts:
        return None, ""
    return texts, user
