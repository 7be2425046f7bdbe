"""Create-time validation of an Anthropic Message Batch (C.1).

Unlike OpenAI, Anthropic rejects a bad batch synchronously: HTTP 400 `invalid_request_error`
whose message names the offending field the way the real API does, e.g.
`requests.3.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`. The first
problem found is reported.
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
    _check_params(params, f"{where}.params")
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


def _check_params(params: dict[str, Any], where: str) -> None:
    for name in ("model", "max_tokens", "messages"):
        if name not in params:
            raise anthropic_invalid(f"{where}.{name}: Field required")
    if not isinstance(params["model"], str) or not params["model"]:
        raise anthropic_invalid(f"{where}.model: Input should be a valid string")
    max_tokens = params["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise anthropic_invalid(f"{where}.max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise anthropic_invalid(f"{where}.max_tokens: Input should be greater than or equal to 1")
    if not isinstance(params["messages"], list):
        raise anthropic_invalid(f"{where}.messages: Input should be a valid list")
    if params.get("stream"):
        message = f"{where}.stream: Streaming is not supported in the Message Batches API"
        raise anthropic_invalid(message)
    if params.get("speed") is not None:
        message = f"{where}.speed: Fast mode is not supported in the Message Batches API"
        raise anthropic_invalid(message)
