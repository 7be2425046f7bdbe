"""The batch checks of Anthropic ``params``, done once per batch for all but the messages.

:func:`request_checks.anthropic_params_error` runs, in order: unknown and refused fields and
the basics (model, max_tokens, system), then the messages, then the options and the model's
output cap. Only the middle step reads ``messages``, and the requests of a batch usually
differ only there, so :func:`params_error` keys the outer steps by the exact JSON of the
params without their messages (:func:`fake_memo.json_key`) and checks each row's messages
alone. The answer is always the one ``anthropic_params_error`` gives.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import orjson

from llmbatch.emulator.fake_anthropic_checks import check_messages
from llmbatch.emulator.fake_memo import json_key, same_rest
from llmbatch.emulator.request_checks import anthropic_params_error

__all__ = ["params_error", "params_errors"]

Problem = tuple[str, str] | None
_MAX_ENTRIES = 256
_ROLES = frozenset(("user", "assistant"))
_VALID_MESSAGES = [{"role": "user", "content": "x"}]
_MISSING = ("invalid_request_error", check_messages(None))
_outer: dict[bytes, tuple[Problem, Problem]] = {}


def params_error(params: Any) -> Problem:
    """``anthropic_params_error(params)``, the checks that skip the messages memoised."""
    if type(params) is not dict:
        return anthropic_params_error(params)
    rest = dict(params)
    messages = rest.pop("messages", None)
    outer = _outer_of(rest)
    if outer is None:
        return anthropic_params_error(params)
    return _with_messages(outer, messages)


def params_errors(rows: list[Any]) -> list[Problem]:
    """:func:`params_error` of each request, the rest's checks done once when all share it.

    When every request's messages are a non-empty list of ``{"role": "user"|"assistant",
    "content": <non-empty str>}`` objects, ``check_messages`` passes them all unread.
    """
    if set(map(type, rows)) != {dict} or not same_rest(rows, "messages"):
        return [params_error(params) for params in rows]
    rest = dict(rows[0])
    rest.pop("messages", None)
    outer = _outer_of(rest)
    if outer is None:
        return [params_error(params) for params in rows]
    messages = [params.get("messages") for params in rows]
    if outer[0] is None and _plain(messages):
        return [outer[1]] * len(rows)
    return list(map(_with_messages, repeat(outer), messages))


def _outer_of(rest: dict) -> tuple[Problem, Problem] | None:
    """The memoised :func:`_outer_problems` of a rest, or None when it has no exact key."""
    key = json_key(rest)
    if key is None:
        return None
    outer = _outer.get(key)
    if outer is None:
        if len(_outer) >= _MAX_ENTRIES:
            _outer.clear()
        outer = _outer[key] = _outer_problems(orjson.loads(key))
    return outer


def _with_messages(outer: tuple[Problem, Problem], messages: object) -> Problem:
    before, after = outer
    if before is not None:
        return before
    problem = check_messages(messages)
    return ("invalid_request_error", problem) if problem is not None else after


def _plain(messages: list) -> bool:
    """Every request's messages pass ``check_messages`` by its plain case."""
    if set(map(type, messages)) != {list} or not all(messages):
        return False
    flat = [message for row in messages for message in row]
    if set(map(type, flat)) != {dict}:
        return False
    roles = list(map(dict.get, flat, repeat("role")))
    contents = list(map(dict.get, flat, repeat("content")))
    return (
        set(map(type, roles)) == {str}
        and _ROLES.issuperset(roles)
        and set(map(type, contents)) == {str}
        and all(contents)
    )


def _outer_problems(rest: dict) -> tuple[Problem, Problem]:
    """(the problem found before the messages, the problem found after valid ones).

    Without messages, the first problem is either an earlier one or the messages' own
    "Field required"; with plainly valid messages, it is an earlier or a later one.
    """
    first = anthropic_params_error({**rest, "messages": None})
    if first != _MISSING:
        return first, None
    return None, anthropic_params_error({**rest, "messages": _VALID_MESSAGES})


def cache_clear() -> None:
    """Forget every memoised check (tests compare with and without them)."""
    _outer.clear()
