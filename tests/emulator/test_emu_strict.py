"""The emulator fails where the real APIs fail (reference F): control-plane values, cancel
conflicts, auth and version headers, rate-limit headers, and the knobs that reproduce what the
real services were seen to send (empty file ids, expired counts, 404 lag)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from emulator_helpers import anthropic_request, chat_line

from llmbatch.emulator import ConfigError, Emulator, EmulatorConfig

RunBatch = Callable[..., dict[str, Any]]
APATH = "/v1/messages/batches"

# ---- the control plane refuses nonsense, naming the field ---------------------------------


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"seed": "x"}, "seed"),
        ({"seed": True}, "seed"),
        ({"openai_max_requests": 0}, "openai_max_requests"),
        ({"anthropic_max_bytes": -1}, "anthropic_max_bytes"),
        ({"enqueued_token_limit": -5}, "enqueued_token_limit"),
        ({"enqueued_token_limit": {"gpt-4o": 0}}, "enqueued_token_limit"),
        ({"validating_seconds": -1}, "validating_seconds"),
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"request_error_type": "nope"}, "request_error_type"),
        ({"anthropic_not_found_reads": -1}, "anthropic_not_found_reads"),
        ({"openai_empty_file_ids": "yes"}, "openai_empty_file_ids"),
        ({"faults": "x"}, "faults"),
    ],
)
def test_config_nonsense_is_a_400_naming_the_field(
    emu: Emulator, knobs: dict[str, Any], field: str
) -> None:
    with httpx.Client(base_url=emu.url) as client:
        before = client.get("/_emulator/config").json()
        response = client.post("/_emulator/config", json=knobs)
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(f"{field}:")
        assert client.get("/_emulator/config").json() == before
    with pytest.raises(ConfigError, match=f"^{field}:"):
        EmulatorConfig(**knobs)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "429", "calls": [0]}, "calls"),
        ({"kind": "429", "calls": []}, "calls"),
        ({"kind": "429", "calls": ["1"]}, "calls"),
        ({"kind": "slow", "delay": -1}, "delay"),
        ({"kind": "429", "retry_after": -5}, "retry_after"),
        ({"kind": "429", "every": 0}, "every"),
        ({"kind": "429", "rate": 1.5}, "rate"),
        ({"kind": "429", "route": "POST/v1/batches"}, "route"),
        ({"kind": "4xx"}, "kind"),
    ],
)
def test_fault_nonsense_is_a_400_naming_the_field(
    emu: Emulator, rule: dict[str, Any], field: str
) -> None:
    with httpx.Client(base_url=emu.url) as client:
        response = client.post("/_emulator/faults", json=rule)
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(f"fault {field}:")
    assert emu.state()["faults"] == []


def test_sensible_values_are_still_accepted(emu: Emulator) -> None:
    emu.configure(enqueued_token_limit={"gpt-4o": 10}, requests_per_second=2.5, seed=7)
    rule = emu.add_fault(kind=429, route="GET /v1/batches/*", calls=[1, 3], retry_after=0)
    assert (rule.kind, rule.calls) == ("429", (1, 3))
    emu.add_fault(kind="slow", route="*", delay=0)


# ---- OpenAI: cancel conflicts, empty file ids, expired counts ------------------------------


def _cancel(http: httpx.Client, batch_id: str) -> httpx.Response:
    return http.post(f"/v1/batches/{batch_id}/cancel")


def test_cancelling_an_ended_batch_is_a_409(http: httpx.Client, run_batch: RunBatch) -> None:
    completed = run_batch([chat_line("a")])
    failed = run_batch([chat_line("a", model="gpt-nope")])
    for batch in (completed, failed):
        response = _cancel(http, batch["id"])
        assert response.status_code == 409
        message = f"Cannot cancel a batch with status '{batch['status']}'."
        assert response.json()["error"] == {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_cancelling_a_cancelled_batch_is_allowed(
    emu: Emulator, http: httpx.Client, run_batch: RunBatch
) -> None:
    emu.configure(validating_seconds=100)
    batch_id = run_batch([chat_line("a")])["id"]
    _cancel(http, batch_id)
    assert http.get(f"/v1/batches/{batch_id}").json()["status"] == "cancelled"
    again = _cancel(http, batch_id)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_empty_file_ids_knob(emu: Emulator, run_batch: RunBatch) -> None:
    emu.configure(openai_empty_file_ids=True)
    clean = run_batch([chat_line("a")])
    assert clean["status"] == "completed"
    assert clean["output_file_id"].startswith("file-") and clean["error_file_id"] == ""
    all_bad = run_batch([chat_line("a", frobnicate=1)])
    assert all_bad["output_file_id"] == "" and all_bad["error_file_id"].startswith("file-")


def test_expired_batch_without_error_lines(
    emu: Emulator,
    http: httpx.Client,
    run_batch: RunBatch,
    file_lines: Callable[[str | None], list[dict[str, Any]]],
) -> None:
    """F.5: an expired batch whose counts do not add up (completed + failed < total)."""
    emu.configure(
        openai_expired_error_lines=False, requests_per_second=0.5, completion_window_seconds=10
    )
    batch_id = run_batch([chat_line(f"r{i}") for i in range(6)])["id"]
    emu.advance(11)
    batch = http.get(f"/v1/batches/{batch_id}").json()
    assert batch["status"] == "expired"
    assert batch["request_counts"] == {"total": 6, "completed": 5, "failed": 0}
    assert batch["error_file_id"] is None
    assert len(file_lines(batch["output_file_id"])) == 5


# ---- Anthropic: the 404 lag, auth, version, workspace --------------------------------------


def test_not_found_lag_after_create_and_after_end(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(anthropic_not_found_reads=2, validating_seconds=10)
    batch_id = ahttp.post(APATH, json={"requests": [anthropic_request("a")]}).json()["id"]
    statuses = [ahttp.get(f"{APATH}/{batch_id}").status_code for _ in range(3)]
    assert statuses == [404, 404, 200]
    lag = ahttp.get(f"{APATH}/{batch_id}")
    assert lag.json()["processing_status"] == "in_progress"
    emu.advance(11)
    after_end = [ahttp.get(f"{APATH}/{batch_id}").status_code for _ in range(3)]
    assert after_end == [404, 404, 200]
    results = [ahttp.get(f"{APATH}/{batch_id}/results").status_code for _ in range(3)]
    assert results == [404, 404, 200]
    missing = ahttp.get(f"{APATH}/{batch_id}/results")
    assert orjson.loads(missing.content.splitlines()[0])["custom_id"] == "a"


@pytest.mark.parametrize(
    "auth",
    [
        {"x-api-key": "k"},
        {"Authorization": "Bearer k"},
        {"x-api-key": "k", "anthropic-workspace-id": "wrkspc_01abc"},
    ],
)
def test_anthropic_auth_headers(emu: Emulator, auth: dict[str, str]) -> None:
    headers = {**auth, "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=emu.url, headers=headers) as client:
        created = client.post(APATH, json={"requests": [anthropic_request("a")]})
        assert created.status_code == 200, created.text


@pytest.mark.parametrize(("version", "ok"), [("2023-06-01", True), ("2026-10-21", True)])
def test_anthropic_versions(emu: Emulator, version: str, ok: bool) -> None:
    headers = {"x-api-key": "k", "anthropic-version": version}
    with httpx.Client(base_url=emu.url, headers=headers) as client:
        assert client.get(APATH).status_code == 200


def test_unknown_anthropic_version_is_a_400(emu: Emulator) -> None:
    headers = {"x-api-key": "k", "anthropic-version": "2099-01-01"}
    with httpx.Client(base_url=emu.url, headers=headers) as client:
        response = client.get(APATH)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("anthropic-version: '2099-01-01'")


# ---- rate-limit headers on normal answers ---------------------------------------------------


def test_normal_answers_carry_rate_limit_headers(http: httpx.Client, ahttp: httpx.Client) -> None:
    openai_answer = http.get("/v1/batches")
    assert openai_answer.headers["x-request-id"].startswith("req_")
    assert int(openai_answer.headers["x-ratelimit-remaining-requests"]) > 0
    assert openai_answer.headers["x-ratelimit-limit-tokens"].isdigit()
    anthropic_answer = ahttp.get(APATH)
    assert anthropic_answer.headers["request-id"].startswith("req_")
    assert int(anthropic_answer.headers["anthropic-ratelimit-requests-remaining"]) > 0
    assert anthropic_answer.headers["anthropic-ratelimit-tokens-reset"].endswith("Z")


def test_a_429_keeps_its_own_rate_limit_headers(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault(kind="429", route="GET /v1/batches", calls=[1], retry_after=2)
    response = http.get("/v1/batches")
    assert response.status_code == 429
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["retry-after-ms"] == "2000"
