"""The control plane over HTTP and its Python mirror."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from emulator_helpers import anthropic_request, chat_line

from llmbatch.emulator import ConfigError, Emulator, EmulatorConfig


@pytest.fixture
def control(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{emu.url}/_emulator") as client:
        yield client


def test_state_counts_files_batches_and_calls(
    emu: Emulator,
    control: httpx.Client,
    run_batch: Callable[..., dict[str, Any]],
    ahttp: httpx.Client,
) -> None:
    empty = control.get("/state").json()
    assert empty["openai"] == {"files": [], "batches": [], "file_count": 0, "batch_count": 0}
    assert empty["anthropic"] == {"batches": [], "batch_count": 0}
    assert empty["calls"] == {} and empty["total_calls"] == 0

    batch = run_batch([chat_line("a")])
    ahttp.post("/v1/messages/batches", json={"requests": [anthropic_request("a")]})
    state = control.get("/state").json()
    assert state["openai"]["batch_count"] == 1
    assert state["openai"]["batches"] == [{"id": batch["id"], "status": "completed"}]
    assert state["openai"]["file_count"] == 2  # input + output
    assert state["anthropic"]["batches"][0]["status"] == "ended"  # state() advances time too
    assert state["calls"] == {
        "POST /v1/files": 1,
        "POST /v1/batches": 1,
        "GET /v1/batches/{batch_id}": 1,
        "POST /v1/messages/batches": 1,
    }
    assert state["total_calls"] == 4
    assert emu.state() == control.get("/state").json()
    assert emu.call_count("POST /v1/batches") == 1 and emu.call_count() == 4
    assert emu.call_count("GET /v1/batches/*") == 1  # fault-style patterns work too
    assert emu.call_count("* /v1/messages/*") == 1
    assert emu.call_count("*") == 4


def test_request_log(emu: Emulator, control: httpx.Client, http: httpx.Client) -> None:
    http.get("/v1/batches/batch_nope", params={"api-version": "v1"}, headers={"X-Trace": "t1"})
    [entry] = control.get("/requests").json()["requests"]
    headers = entry.pop("headers")
    assert headers["x-trace"] == "t1" and "authorization" in headers
    assert entry == {
        "method": "GET",
        "path": "/v1/batches/batch_nope",
        "route": "GET /v1/batches/{batch_id}",
        "status": 404,
        "fault": None,
        "query": {"api-version": "v1"},
    }
    entry["headers"] = headers
    assert emu.request_log == [entry]


def test_config_read_and_patch(emu: Emulator, control: httpx.Client) -> None:
    config = control.get("/config").json()
    assert config == EmulatorConfig().to_dict()
    assert config["openai_max_requests"] == 50_000
    assert config["anthropic_max_bytes"] == 256 * 1024 * 1024
    patched = control.post(
        "/config",
        json={"validating_seconds": 3, "faults": [{"kind": "500", "route": "GET /v1/files"}]},
    ).json()
    assert patched["validating_seconds"] == 3
    assert patched["faults"][0]["kind"] == "500"
    assert emu.config.validating_seconds == 3
    assert emu.config.faults[0].route == "GET /v1/files"
    assert control.post("/config", json={"nope": 1}).status_code == 400
    assert control.post("/config", json={"request_error_rate": 2}).status_code == 400
    assert control.post("/config", json=[1]).status_code == 400


def test_faults_endpoint(emu: Emulator, control: httpx.Client, http: httpx.Client) -> None:
    added = control.post("/faults", json={"kind": "503", "route": "GET /v1/files", "calls": [1]})
    assert added.json()["rule"]["calls"] == [1]
    assert http.get("/v1/files").status_code == 503
    assert http.get("/v1/files").status_code == 200
    [rule] = control.get("/state").json()["faults"]
    assert (rule["seen"], rule["fired"]) == (2, 1)
    assert control.post("/faults", json={"kind": "nope"}).status_code == 400
    assert control.delete("/faults").json() == {"ok": True}
    assert emu.config.faults == ()


def test_reset_restores_the_starting_emulator(
    emu: Emulator, control: httpx.Client, run_batch: Callable[..., dict[str, Any]]
) -> None:
    run_batch([chat_line("a")])
    emu.configure(validating_seconds=9)
    emu.add_fault(kind="500")
    emu.advance(100)
    assert control.post("/reset").json() == {"ok": True}
    state = control.get("/state").json()
    assert state["openai"]["batch_count"] == 0 and state["openai"]["file_count"] == 0
    assert state["total_calls"] == 0 and state["faults"] == [] and state["clock_offset"] == 0
    assert emu.config == EmulatorConfig()


def test_advance_endpoint(emu: Emulator, control: httpx.Client) -> None:
    assert control.post("/advance", json={"seconds": 30}).json()["clock_offset"] == 30
    assert control.post("/advance", json={"seconds": -1}).status_code == 400
    assert control.get("/nowhere").status_code == 404


def test_control_calls_are_not_counted_or_faulted(emu: Emulator, control: httpx.Client) -> None:
    emu.add_fault(kind="500", route="*")
    assert control.get("/state").status_code == 200
    assert emu.call_count() == 0


def test_python_configure_rejects_unknown_knobs(emu: Emulator) -> None:
    with pytest.raises(ConfigError):
        emu.configure(validating_secs=1)
    with pytest.raises(ConfigError):
        emu.configure(request_error_type="teapot")
    with pytest.raises(ConfigError):
        emu.configure(requests_per_second=0)
