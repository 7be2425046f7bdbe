"""An Anthropic Message answered straight to JSON bytes: the batch runner's path for plain rows.

For a request its :class:`~fake_anthropic_plan.MessagesPlan` covers (no thinking, no forced
tool, plain text or a compiled output schema), :func:`messages_json` fills the plan's byte
template with what :func:`fake_anthropic.messages_answer` computes, in the same order: the
bytes ``orjson.dumps`` writes for its Message. Other requests get None and take that path.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from llmbatch.emulator.fake_anthropic import last_user_text, message_usage
from llmbatch.emulator.fake_anthropic_plan import MessagesPlan, messages_plan
from llmbatch.emulator.fake_memo import per_plan
from llmbatch.emulator.fake_schema import compiled_text
from llmbatch.emulator.fake_text import (
    REFUSAL_TEXT,
    REFUSE_MARKER,
    base62_column,
    cut_at_stop,
    estimate_tokens,
    fit_tokens,
    id_digest,
    reply_text,
    text_tokens,
)

__all__ = ["messages_json"]

_NO_BLOCKS = b"[]"
_ID_PREFIX = "msg_01"
_ID_LENGTH = 22


def messages_json(rows: Sequence[tuple[dict, str]]) -> list[bytes | None]:
    """Per ``(params, salt)``, the Message of ``messages_answer(params, salt, checked=True)``
    as JSON bytes, or None when the plan's template does not cover it.

    The ``params`` have passed the batch checks (``request_checks.anthropic_params_error``).
    """
    plans = messages_plan.many([params for params, _ in rows])
    answers = _by_columns(rows, plans)
    if None not in answers:
        return answers
    left = [index for index, answer in enumerate(answers) if answer is None]
    drafts = [_draft(*rows[index], plans[index]) for index in left]
    ready = [draft for draft in drafts if draft is not None]
    ids = iter(base62_column([draft[1] for draft in ready], _ID_LENGTH))
    for index, draft in zip(left, drafts, strict=True):
        if draft is not None:
            answers[index] = draft[0] % (b"msg_01" + next(ids), *draft[2])
    return answers


def _by_columns(rows: Sequence[tuple[dict, str]], plans: list[MessagesPlan]) -> list[bytes | None]:
    """The Messages :func:`messages_columns` gives, each plan's rows together (None: the rest)."""
    from llmbatch.emulator.fake_anthropic_columns import (
        messages_columns,  # numpy on first use: a lean start
    )

    return per_plan(rows, plans, messages_columns)


def _draft(
    params: dict, salt: str, plan: MessagesPlan
) -> tuple[bytes, bytes, tuple[bytes, ...]] | None:
    """``(template, id hash, the other holes)`` of one Message, or None."""
    template = plan.template
    messages = params.get("messages")
    if template is None or type(messages) is not list:
        return None
    seed = plan.seed(params)
    user = last_user_text(messages)
    budget = params["max_tokens"]
    sequence = None
    if REFUSE_MARKER in user:
        text, _ = fit_tokens(REFUSAL_TEXT, budget)
        stop = "refusal"
    else:
        text, cut = fit_tokens(_text(plan, user, seed), budget)
        stop = "max_tokens"
        if not cut:
            text, sequence = cut_at_stop(text, params.get("stop_sequences"))
            stop = "end_turn" if sequence is None else "stop_sequence"
    try:
        blocks = b'[{"type":"text","text":%s}]' % orjson.dumps(text)
        stop_sequence = orjson.dumps(sequence)
    except orjson.JSONEncodeError:
        return None
    if not text and stop != "refusal":
        blocks = _NO_BLOCKS
    usage = _usage(params, plan, messages, seed, text_tokens(text))
    holes = (blocks, stop.encode(), stop_sequence, usage)
    return template, id_digest(_ID_PREFIX, _ID_LENGTH, seed, salt), holes


def _text(plan: MessagesPlan, user: str, seed: bytes) -> str:
    if plan.compiled is not None:
        return compiled_text(plan.compiled, seed, user)
    return reply_text(user, seed)


def _usage(params: dict, plan: MessagesPlan, messages: list, seed: bytes, tokens: int) -> bytes:
    """``usage`` as JSON: from the plan's template when nothing marks a cache prefix."""
    usage = plan.usage_template
    if usage is not None:
        total = plan.rest_tokens + plan.schema_tokens
        for message in messages:
            content = message["content"]
            if type(content) is not str:
                break
            total += estimate_tokens(content)
        else:
            return usage % (total, tokens)
    return orjson.dumps(message_usage(params, plan, seed, tokens))
