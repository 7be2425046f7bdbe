"""The batch checks of Anthropic ``params``, done once per batch for all but the messages.

:func:`request_checks.anthropic_params_error` runs, in order: unknown and refused fields and
the basics (model, max_tokens, system), then the messages, then the options and the model's
output cap. Only the middle step reads ``messages``, and the requests of a batch usually
differ only there, so :func:`params_error` keys the outer steps by the exact JSON of the
params without their messages (:func:`fake_memo.json_key`) and checks each row's messages
alone. The answer is always the one ``anthropic_params_error`` gives.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmbatch.emulator.fake_anthropic_checks import check_messages
from llmbatch.emulator.fake_memo import json_key
from llmbatch.emulator.request_checks import anthropic_params_error

__all__ = ["params_error"]

Problem = tuple[str, str] | None
_MAX_ENTRIES = 256
_VALID_MESSAGES = [{"role": "user", "content": "x"}]
_MISSING = ("invalid_request_error", check_messages(None))
_outer: dict[bytes, tuple[Problem, Problem]] = {}


def params_error(params: Any) -> Problem:
    """``anthropic_params_error(params)``, the checks that skip the messages memoised."""
    if type(params) is not dict:
        return anthropic_params_error(params)
    rest = dict(params)
    messages = rest.pop("messages", None)
    key = json_key(rest)
    if key is None:
        return anthropic_params_error(params)
    outer = _outer.get(key)
    if outer is None:
        if len(_outer) >= _MAX_ENTRIES:
            _outer.clear()
        outer = _outer[key] = _outer_problems(orjson.loads(key))
    before, after = outer
    if before is not None:
        return before
    problem = check_messages(messages)
    return ("invalid_request_error", problem) if problem is not None else after


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
