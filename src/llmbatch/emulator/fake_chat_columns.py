"""Chat completions of one plan answered a chunk at a time, field by field.

:mod:`fake_chat_line` fills its plan's byte template one row at a time. For the rows of a
chunk that share a plan whose answer nothing can cut (no token limit, no stop, no reasoning),
that is the plain reply or a flat schema's object (:mod:`fake_schema_columns`), and whose
messages are the plainest kind (:func:`fake_columns.plain_contents`), every field is computed
for all of them at once (:mod:`fake_columns`). Each field is the one ``chat_answer``
computes, so the bytes are its bytes; rows this does not cover get None and take the row path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from llmbatch.emulator.fake_chat_plan import ChatPlan
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

__all__ = ["chat_columns"]

Tokens = tuple[int, int, int, int]
ChatRow = tuple[dict, int, str]

_PLAIN_ROLES = frozenset(("system", "assistant", "user", "function", "developer"))
_SORTED = orjson.OPT_SORT_KEYS
_CACHE_MINIMUM = 1024
_CACHE_STEP = 128
_HOLES = (b"chatcmpl-%s", b"created", b"%s", b"null", b"stop", b"%d", b"%d", b"%d", b"%d", b"0")
"""What each hole of the plan's template becomes when the constants are written in."""


def chat_columns(plan: ChatPlan, rows: Sequence[ChatRow]) -> list[tuple[bytes, Tokens] | None]:
    """Per row (all of ``plan``), its answer bytes and tokens, or None for the row path."""
    texts = _texts_of(plan)
    if texts is None or not rows:
        return [None] * len(rows)
    messages: list[Any] = [body.get("messages") for body, _, _ in rows]
    contents = plain_contents(messages, _PLAIN_ROLES)
    if contents is not None and set(map(type, [created for _, created, _ in rows])) == {int}:
        try:
            return list(_answers(plan, texts, rows, messages, contents))
        except Unwritable:
            return [None] * len(rows)
    fits = [
        type(row[1]) is int and plain_contents([row_messages], _PLAIN_ROLES) is not None
        for row_messages, row in zip(messages, rows, strict=True)
    ]
    picked = [row for row, fit in zip(rows, fits, strict=True) if fit]
    answers = iter(chat_columns(plan, picked) if picked else ())
    return [next(answers) if fit else None for fit in fits]


def _texts_of(plan: ChatPlan) -> Texts | None:
    """How this plan's answers are written a column at a time, or None (the row path)."""
    if plan.template is None or plan.limit is not None or plan.stop is not None:
        return None
    if plan.reasons:
        return None
    if plan.plain_text:
        return reply_texts
    if plan.fmt[0] != "json_schema" or plan.compiled is None:
        return None
    return schema_texts(plan.compiled)


def _answers(
    plan: ChatPlan,
    texts: Texts,
    rows: Sequence[ChatRow],
    messages: list[list[dict]],
    contents: list[str],
) -> list[tuple[bytes, Tokens]]:
    """The answers of plain rows, every field a column."""
    counts = list(map(len, messages))
    joined = row_sums(lengths(contents), counts) + np.array(counts) - 1  # "\n".join(texts)
    prompt = tokens(joined) + plan.extra_tokens
    seeds = _seeds(plan, rows, messages)
    answer, sizes = texts([row[-1]["content"] for row in messages], seeds)
    completion = tokens(sizes)
    cached = _cached(prompt, seeds)
    ids = base62_column(id_hashes("chatcmpl-", 29, seeds, [salt for *_, salt in rows]), 29)
    template = plan.template
    assert template is not None
    prompts, completions = prompt.tolist(), completion.tolist()
    totals, caches = (prompt + completion).tolist(), cached.tolist()
    created = [stamp for _, stamp, _ in rows]
    fixed = _fixed(template, created)
    if fixed is not None:
        return [
            (fixed % (i, a, p, k, t, h), (p, h, k, 0))
            for i, a, p, k, t, h in zip(
                ids, answer, prompts, completions, totals, caches, strict=True
            )
        ]
    return [
        (template % (b"chatcmpl-" + i, c, a, b"null", b"stop", p, k, t, h, 0), (p, h, k, 0))
        for i, c, a, p, k, t, h in zip(
            ids, created, answer, prompts, completions, totals, caches, strict=True
        )
    ]


def _fixed(template: bytes, created: list[int]) -> bytes | None:
    """The template with its constants written in, when every row has one ``created`` (as
    when a batch runs at once): holes left for id, content and the four token counts."""
    parts = template.split(b"%")
    if created.count(created[0]) != len(created) or len(parts) != len(_HOLES) + 1:
        return None  # a "%%" in the model name, or several stamps
    holes = [hole if hole != b"created" else b"%d" % created[0] for hole in _HOLES]
    return parts[0] + b"".join(hole + part[1:] for hole, part in zip(holes, parts[1:], strict=True))


def _seeds(plan: ChatPlan, rows: Sequence[ChatRow], messages: list) -> list[bytes]:
    """``plan.seed`` of each row: the messages' canonical JSON between the plan's parts."""
    head, tail = plan.head or b"", plan.tail
    blake, dumps = hashlib.blake2b, orjson.dumps
    try:
        middles = [dumps([row], option=_SORTED, default=repr)[1:-1] for row in messages]
    except orjson.JSONEncodeError:
        return [
            plan.seed(row, body.get("tools"))
            for row, (body, _, _) in zip(messages, rows, strict=True)
        ]
    return [blake(b"%b%b%b" % (head, middle, tail), digest_size=16).digest() for middle in middles]


def _cached(prompt: np.ndarray, seeds: list[bytes]) -> np.ndarray:
    """``cached_tokens(prompt, seed)[0]``: the 128-token prefix 3 times in 4 from 1024 on."""
    second = np.frombuffer(b"".join(seeds), np.uint8)[1::16]
    prefix = (prompt - 1) // _CACHE_STEP * _CACHE_STEP
    return np.where((prompt >= _CACHE_MINIMUM) & (second % 4 != 0), prefix, 0)
