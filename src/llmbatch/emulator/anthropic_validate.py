"""Create-time validation of an Anthropic Message Batch: the envelope only (C.1, F.8).

The create fails synchronously, with HTTP 400 `invalid_request_error` whose message names the
offending field the way the real API does (e.g. `requests.3.custom_id: String should match
pattern '^[a-zA-Z0-9_-]{1,64}$'`), only for the envelope: the body's shape, the number of
requests, each request's `custom_id` (pattern, duplicates) and `params` being an object. The
`params` themselves are checked asynchronously, request by request (request_checks.py): a bad
one ends `errored`. The first problem found is reported.
"""

from __future__ import annotations

import re
from typing import Any

from llmbatch.emulator.errors import anthropic_invalid

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CREATE_KEYS = {"requests"}
REQUEST_KEYS = {"custom_id", "params"}


def check_create(body: Any, max_requests: int) -> list[tuple[str, dict[str, Any]]]:
    """The `(custom_id, params)` pairs of a valid create body; a 400 ApiError otherwise."""
    if not isinstance(body, dict):
        raise anthropic_invalid("Input should be a valid dictionary")
    for key in body:
        if key not in CREATE_KEYS:
            raise anthropic_invalid(f"{key}: Extra inputs are not permitted")
    requests = body.get("requests")
    if requests is None:
        raise anthropic_invalid("requests: Field required")
    if not isinstance(requests, list):
        raise anthropic_invalid("requests: Input should be a valid list")
    if not requests:
        message = "requests: List should have at least 1 item after validation, not 0"
        raise anthropic_invalid(message)
    if len(requests) > max_requests:
        message = (
            f"requests: List should have at most {max_requests} items after validation, "
            f"not {len(requests)}"
        )
        raise anthropic_invalid(message)
    seen: dict[str, int] = {}
    return [_check_request(item, index, seen) for index, item in enumerate(requests)]


def _check_request(item: Any, index: int, seen: dict[str, int]) -> tuple[str, dict[str, Any]]:
    where = f"requests.{index}"
    if not isinstance(item, dict):
        raise anthropic_invalid(f"{where}: Input should be a valid dictionary")
    for key in item:
        if key not in REQUEST_KEYS:
            raise anthropic_invalid(f"{where}.{key}: Extra inputs are not permitted")
    custom_id = _check_custom_id(item.get("custom_id"), where, index, seen)
    params = item.get("params")
    if params is None:
        raise anthropic_invalid(f"{where}.params: Field required")
    if not isinstance(params, dict):
        raise anthropic_invalid(f"{where}.params: Input should be a valid dictionary")
    return custom_id, params


def _check_custom_id(value: Any, where: str, index: int, seen: dict[str, int]) -> str:
    if value is None:
        raise anthropic_invalid(f"{where}.custom_id: Field required")
    if not isinstance(value, str):
        raise anthropic_invalid(f"{where}.custom_id: Input should be a valid string")
    if not CUSTOM_ID.match(value):
        message = f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        raise anthropic_invalid(message)
    if value in seen:
        message = (
            f"{where}.custom_id: Duplicate custom_id {value!r} (also used by "
            f"requests.{seen[value]}); each custom_id must be unique within a batch."
        )
        raise anthropic_invalid(message)
    seen[value] = index
    return value
