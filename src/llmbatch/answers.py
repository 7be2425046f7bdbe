"""One reply read as its row's answer: parsed and checked for the task, or why it is none.

`complete` keeps the text (a cut answer too: `.stop_reason` says so), `classify` parses the
JSON and checks it against the schema, `embed` takes the one vector. A refused, filtered or
empty reply is no answer, whatever the task.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable
from typing import Any, cast

import orjson

from llmbatch import schema as schema_mod
from llmbatch._schema_columns import json_text
from llmbatch._schema_validate import fast_check
from llmbatch.tasks import Reply, TaskSpec, answer_schema

__all__ = ["Read", "answer_reader", "classify_texts", "usable_reply"]


def answer_reader(spec: TaskSpec) -> Callable[[Reply], tuple[Any, str | None]]:
    """`spec`'s reading of one reply: its parsed answer, or (None, why it is no answer):
    whatever the reply's shape, a row ends up with exactly one of the two."""
    if spec.kind == "embed":
        return _embedding
    if spec.kind == "complete":
        return functools.partial(_complete_answer, spec)
    assert spec.schema is not None
    return _classify_reader(spec)


def _complete_answer(spec: TaskSpec, reply: Reply) -> tuple[str | None, str | None]:
    problem = _no_answer(spec, reply)
    return (None, problem) if problem is not None else _complete_text(reply)


def _classify_reader(spec: TaskSpec) -> Callable[[Reply], tuple[Any, str | None]]:
    return _classify_parts(spec)[0]


def _classify_parts(
    spec: TaskSpec,
) -> tuple[Callable[[Reply], tuple[Any, str | None]], Callable[[list[str]], Read]]:
    """A classify reply's answer: its JSON parsed and checked against the schema; and the same
    for many texts of replies known to hold no problem (columnar answers, `answer_table`).

    Per row of collect, so the common case (plain text, valid) takes the fewest steps: the
    compiled Rust check first, the full validator only to word a failure.
    """
    schema = answer_schema(spec)
    validate, is_valid = schema_mod.make_validator(schema), fast_check(schema)
    loads = orjson.loads

    def judge(obj: Any) -> tuple[Any, str | None]:
        try:
            if is_valid(obj):
                return obj, None
        except (ValueError, TypeError, OverflowError, RecursionError):
            pass  # `validate` words it (or finds it valid after all)
        problem = validate(obj)
        if problem:
            return None, f"output does not match the schema: {problem}"
        return obj, None

    def from_text(text: str) -> tuple[Any, str | None]:
        try:
            obj = loads(text)
        except orjson.JSONDecodeError as exc:
            return None, f"output is not valid JSON ({exc})"
        return judge(obj)

    def read(reply: Reply) -> tuple[Any, str | None]:
        if reply.refusal or reply.filtered or reply.truncated or not reply.text:
            problem = _no_answer(spec, reply)
            if problem is not None:
                return None, problem
        if reply.data is None:
            return from_text(cast(str, reply.text))
        return judge(reply.data)

    def from_texts(texts: list[str]) -> Read:
        """`from_text` of each, a step at a time over all (`map`, no call of ours a row)."""
        try:
            objs: list[Any] = list(map(loads, texts))
            valid = list(map(is_valid, objs))
        except (orjson.JSONDecodeError, ValueError, TypeError, OverflowError, RecursionError):
            pairs = list(map(from_text, texts))
            objs, errors = [v for v, _ in pairs], {i: e for i, (_, e) in enumerate(pairs) if e}
            return objs, errors
        errors = {}
        if not all(valid):
            for i in [i for i, ok in enumerate(valid) if not ok]:
                objs[i], error = judge(objs[i])
                if error is not None:
                    errors[i] = error
        return objs, errors

    return read, from_texts


Read = tuple[list[Any], dict[int, str]]  # answers (None where none), why not by position


def classify_texts(spec: TaskSpec) -> Callable[[list[str]], Read]:
    """A classify job's reading of many answer texts known to hold no problem (columnar
    answers): each parsed and checked, the errors by position."""
    return _classify_parts(spec)[1]


def _no_answer(spec: TaskSpec, reply: Reply) -> str | None:
    """Why a reply holds no usable answer: refused, filtered, cut, or empty (else None).

    A `complete` answer cut at the output limit keeps its text (it is paid for and usually
    useful; `.stop_reason` says it was cut); structured output cut short is incomplete JSON.
    """
    if reply.refusal:
        return f"refused: {reply.refusal}"
    if reply.filtered:
        return f"content filtered by the provider (stop reason {reply.stop_reason!r})"
    empty = not reply.text and reply.data is None
    if reply.truncated and (empty or spec.kind != "complete"):
        where = " before any text" if empty else ""
        return f"output truncated{where} (stop reason {reply.stop_reason!r}); raise max_tokens"
    if empty:
        return f"empty answer: no text and no tool input (stop reason {reply.stop_reason!r})"
    return None


def _complete_text(reply: Reply) -> tuple[str | None, str | None]:
    """The text of a `complete` answer; a tool call's input (no text) as JSON text."""
    if isinstance(reply.text, str) and reply.text:
        return reply.text, None
    if reply.text:
        return None, f"the answer's text is a {type(reply.text).__name__}, not a string"
    try:
        return json_text(reply.data), None
    except (TypeError, ValueError):
        return None, f"the answer holds no text (a {type(reply.data).__name__})"


def _embedding(reply: Reply) -> tuple[Any, str | None]:
    vectors = reply.data if isinstance(reply.data, list) else []
    if len(vectors) != 1:
        return None, f"expected one embedding, got {len(vectors)}"
    if not isinstance(vectors[0], array):  # see tasks._vector: packed unless not all numbers
        return None, "the embedding is not a list of numbers"
    if not vectors[0]:
        return None, "the embedding is empty"
    return vectors[0], None


def usable_reply(spec: TaskSpec) -> Callable[[Reply], bool]:
    """Whether a reply is an answer collect() keeps: not refused, cut, empty or off-schema."""
    read = answer_reader(spec)
    return lambda reply: read(reply)[1] is None
