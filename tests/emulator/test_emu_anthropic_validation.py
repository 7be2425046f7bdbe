"""Anthropic create-time validation: 400 invalid_request_error (413 when too large)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
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


def _errored(ahttp: httpx.Client, requests: list[Any]) -> dict[str, dict[str, Any]]:
    """Create a batch (which must succeed), then its results: custom_id -> result."""
    created = _create(ahttp, requests)
    assert created.status_code == 200, created.text
    results = ahttp.get(f"{PATH}/{created.json()['id']}/results")
    assert results.status_code == 200, results.text
    lines = [orjson.loads(line) for line in results.content.splitlines()]
    return {line["custom_id"]: line["result"] for line in lines}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal"),
        ({"max_tokens": "5"}, "max_tokens: Input should be a valid integer"),
        ({"stream": True}, "stream: Streaming is not supported"),
        ({"speed": "fast"}, "speed: Fast mode is not supported"),
        ({"model": None}, "model: Field required"),
        ({"messages": None}, "messages: Field required"),
        ({"frobnicate": 3}, "frobnicate: Extra inputs are not permitted"),
        (
            {"max_tokens": 100_000},
            "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens "
            "for claude-haiku-4-5-20251001",
        ),
    ],
)
def test_params_are_checked_per_request_after_the_create(
    ahttp: httpx.Client, change: dict[str, Any], expected: str
) -> None:
    """F.8: a bad `params` does not fail the create; that one request ends errored."""
    bad = anthropic_request("b")
    params = bad["params"]
    assert isinstance(params, dict)
    for key, value in change.items():
        if value is None:
            del params[key]
        else:
            params[key] = value
    results = _errored(ahttp, [anthropic_request("a"), bad])
    assert results["a"]["type"] == "succeeded"
    assert results["b"]["type"] == "errored"
    error = results["b"]["error"]["error"]
    assert error == {
        "type": "invalid_request_error",
        "message": error["message"],
        "details": {"error_visibility": "user_facing"},
    }
    assert error["message"] == expected or error["message"].startswith(expected)


@pytest.mark.parametrize(
    ("model", "max_tokens", "ok"),
    [
        ("claude-haiku-4-5", 64_000, True),
        ("claude-haiku-4-5-20251001", 64_001, False),
        ("claude-opus-4-1", 32_001, False),
        ("claude-opus-4-6", 128_000, True),
        ("claude-sonnet-4-6", 128_001, False),
    ],
)
def test_output_caps_per_model(ahttp: httpx.Client, model: str, max_tokens: int, ok: bool) -> None:
    request = anthropic_request("a", model=model, max_tokens=max_tokens)
    result = _errored(ahttp, [request])["a"]
    assert result["type"] == ("succeeded" if ok else "errored"), result


def test_unknown_model_is_a_not_found_result(ahttp: httpx.Client) -> None:
    results = _errored(ahttp, [anthropic_request("a", model="claude-nope-9")])
    error = results["a"]["error"]["error"]
    assert (error["type"], error["message"]) == ("not_found_error", "model: claude-nope-9")


def test_injected_errors_carry_details(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(request_error_rate=1.0, request_error_type="overloaded_error")
    error = _errored(ahttp, [anthropic_request("a")])["a"]["error"]["error"]
    assert error["type"] == "overloaded_error"
    assert error["details"] == {"error_visibility": "user_facing"}


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
