"""Anthropic create-time validation: 400 invalid_request_error (413 when too large)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_helpers import anthropic_request

from llmbatch.emulator import Emulator

PATH = "/v1/messages/batches"


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["request_id"] == response.headers["request-id"]
    expected = "request_too_large" if status == 413 else "invalid_request_error"
    assert body["error"]["type"] == expected
    return str(body["error"]["message"])


def _create(ahttp: httpx.Client, requests: Any) -> httpx.Response:
    return ahttp.post(PATH, json={"requests": requests})


@pytest.mark.parametrize("custom_id", ["has space", "dot.ted", "", "x" * 65, "ünïcode", "slash/id"])
def test_custom_id_pattern(ahttp: httpx.Client, custom_id: str) -> None:
    requests = [anthropic_request("ok"), anthropic_request("ok2"), anthropic_request(custom_id)]
    message = _error(_create(ahttp, requests))
    assert message.startswith("requests.2.custom_id: String should match pattern")


def test_custom_id_at_the_limit_is_accepted(ahttp: httpx.Client) -> None:
    response = _create(ahttp, [anthropic_request("A-z_0" + "9" * 59)])
    assert response.status_code == 200


def test_duplicate_custom_id(ahttp: httpx.Client) -> None:
    requests = [anthropic_request("a"), anthropic_request("b"), anthropic_request("a")]
    message = _error(_create(ahttp, requests))
    assert message.startswith("requests.2.custom_id:")
    assert "'a'" in message and "requests.0" in message


def test_empty_requests(ahttp: httpx.Client) -> None:
    assert "at least 1 item" in _error(_create(ahttp, []))


def test_too_many_requests(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(anthropic_max_requests=3)
    assert _create(ahttp, [anthropic_request(f"r{i}") for i in range(3)]).status_code == 200
    assert "at most 3 items" in _error(
        _create(ahttp, [anthropic_request(f"r{i}") for i in range(4)])
    )


def test_body_too_large_is_413(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(anthropic_max_bytes=2000)
    assert _create(ahttp, [anthropic_request("small")]).status_code == 200
    big = [anthropic_request(f"r{i}") for i in range(40)]
    _error(_create(ahttp, big), 413)
    assert emu.state()["anthropic"]["batch_count"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_tokens": None}, "requests.1.params.max_tokens: Field required"),
        ({"max_tokens": 0}, "requests.1.params.max_tokens: Input should be greater than or equal"),
        ({"max_tokens": "5"}, "requests.1.params.max_tokens: Input should be a valid integer"),
        ({"stream": True}, "requests.1.params.stream:"),
        ({"speed": "fast"}, "requests.1.params.speed:"),
        ({"model": None}, "requests.1.params.model: Field required"),
        ({"messages": None}, "requests.1.params.messages: Field required"),
    ],
)
def test_params_rules(ahttp: httpx.Client, change: dict[str, Any], expected: str) -> None:
    bad = anthropic_request("b")
    params = bad["params"]
    assert isinstance(params, dict)
    for key, value in change.items():
        if value is None:
            del params[key]
        else:
            params[key] = value
    assert _error(_create(ahttp, [anthropic_request("a"), bad])).startswith(expected)


def test_stream_false_is_allowed(ahttp: httpx.Client) -> None:
    assert _create(ahttp, [anthropic_request("a", stream=False)]).status_code == 200


def test_shape_errors(ahttp: httpx.Client) -> None:
    assert "requests: Field required" in _error(ahttp.post(PATH, json={}))
    assert "Extra inputs" in _error(ahttp.post(PATH, json={"requests": [], "x": 1}))
    assert "valid list" in _error(_create(ahttp, {"a": 1}))
    assert "requests.0.params: Field required" in _error(_create(ahttp, [{"custom_id": "a"}]))
    extra = {**anthropic_request("a"), "extra": 1}
    assert "requests.0.extra: Extra inputs" in _error(_create(ahttp, [extra]))
    assert "valid JSON" in _error(ahttp.post(PATH, content=b"{"))


def test_lifecycle_errors(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(validating_seconds=100, cancel_seconds=50)
    batch_id = _create(ahttp, [anthropic_request("a")]).json()["id"]
    assert "ended" in _error(ahttp.get(f"{PATH}/{batch_id}/results"))
    assert "cannot be deleted" in _error(ahttp.delete(f"{PATH}/{batch_id}"))
    ahttp.post(f"{PATH}/{batch_id}/cancel")
    again = ahttp.post(f"{PATH}/{batch_id}/cancel")  # a repeated cancel is a no-op
    assert again.json()["processing_status"] == "canceling"
    emu.advance(50)
    assert ahttp.get(f"{PATH}/{batch_id}").json()["processing_status"] == "ended"
    assert "already ended" in _error(ahttp.post(f"{PATH}/{batch_id}/cancel"))


def test_not_found_and_list_limits(ahttp: httpx.Client) -> None:
    missing = ahttp.get(f"{PATH}/msgbatch_01nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert "limit" in _error(ahttp.get(PATH, params={"limit": 1001}))
    assert "limit" in _error(ahttp.get(PATH, params={"limit": 0}))
    both = ahttp.get(PATH, params={"before_id": "a", "after_id": "b"})
    assert "both" in _error(both)
    assert ahttp.get(PATH, params={"limit": 1000}).json() == {
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }
