"""Anthropic Messages of one plan answered a chunk at a time, field by field.

:mod:`fake_anthropic_line` fills its plan's byte template one request at a time. For the
requests of a chunk that share a plan with no cache marks and no stop sequences, whose
answer is the plain reply or a flat schema's object (:mod:`fake_schema_columns`), and whose
messages are the plainest kind (:func:`fake_columns.plain_contents`), every field is computed
for all of them at once (:mod:`fake_columns`): the bytes ``messages_answer`` gives. Requests
this does not cover, or whose text ``max_tokens`` would cut, get None and take the row path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from llmbatch.emulator.fake_anthropic_plan import MessagesPlan
from llmbatch.emulator.fake_columns import (
    Texts,
    Unwritable,
    id_hashes,
    lengths,
    plain_contents,
    reply_texts,
    row_sums,
    schema_texts,
    tokens,
)
from llmbatch.emulator.fake_text import base62_column

__all__ = ["messages_columns"]

_ROLES = frozenset(("user", "assistant"))
_SORTED = orjson.OPT_SORT_KEYS


def messages_columns(plan: MessagesPlan, rows: Sequence[tuple[dict, str]]) -> list[bytes | None]:
    """Per ``(params, salt)`` (all of ``plan``, checked), its Message bytes or None."""
    texts = _texts_of(plan, rows[0][0]) if rows else None
    if texts is None:
        return [None] * len(rows)
    messages: list[Any] = [params.get("messages") for params, _ in rows]
    contents = plain_contents(messages, _ROLES)
    if contents is not None:
        try:
            return _answers(plan, texts, rows, messages, contents)
        except Unwritable:
            return [None] * len(rows)
    fits = [plain_contents([row], _ROLES) is not None for row in messages]
    picked = [row for row, fit in zip(rows, fits, strict=True) if fit]
    answers = iter(messages_columns(plan, picked) if picked else ())
    return [next(answers) if fit else None for fit in fits]


def _texts_of(plan: MessagesPlan, params: dict) -> Texts | None:
    """How this plan's answers are written a column at a time, or None (the row path).

    ``params`` is any request of the plan (they share all but their messages).
    """
    if plan.template is None or plan.usage_template is None or plan.head is None:
        return None
    if isinstance(params.get("stop_sequences"), (str, list)):
        return None
    if plan.compiled is None:
        return reply_texts
    return schema_texts(plan.compiled)


def _answers(
    plan: MessagesPlan,
    texts: Texts,
    rows: Sequence[tuple[dict, str]],
    messages: list[list[dict]],
    contents: list[str],
) -> list[bytes | None]:
    """The Messages of plain requests, every field a column (None: ``max_tokens`` cuts it)."""
    seeds = _seeds(plan, rows, messages)
    answer, sizes = texts([row[-1]["content"] for row in messages], seeds)
    output = tokens(sizes)
    prompt = row_sums(tokens(lengths(contents)), list(map(len, messages)))
    prompt += plan.rest_tokens + plan.schema_tokens
    ids = base62_column(id_hashes("msg_01", 22, seeds, [salt for _, salt in rows]), 22)
    usage, template = plan.usage_template, plan.template
    assert usage is not None and template is not None
    usages = [usage % pair for pair in zip(prompt.tolist(), output.tolist(), strict=True)]
    fits = (output <= rows[0][0]["max_tokens"]).tolist()
    return [
        template % (b"msg_01" + i, b'[{"type":"text","text":%s}]' % a, b"end_turn", b"null", u)
        if fit
        else None
        for i, a, u, fit in zip(ids, answer, usages, fits, strict=True)
    ]


def _seeds(plan: MessagesPlan, rows: Sequence[tuple[dict, str]], messages: list) -> list[bytes]:
    """``plan.seed`` of each request: its messages' canonical JSON between the plan's parts."""
    head, tail = plan.head or b"", plan.tail
    blake, dumps = hashlib.blake2b, orjson.dumps
    try:
        middles = [dumps([[row]], option=_SORTED, default=repr)[2:-2] for row in messages]
    except orjson.JSONEncodeError:
        return [plan.seed(params) for params, _ in rows]
    return [blake(b"%b%b%b" % (head, middle, tail), digest_size=16).digest() for middle in middles]
