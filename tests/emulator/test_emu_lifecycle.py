"""State machines over (emulated) time: progress, finalizing, expiry, cancel, result files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
from emulator_helpers import anthropic_request, chat_line

from llmbatch.emulator import Emulator

Lines = Callable[[str | None], list[dict[str, Any]]]
OPENAI_KEYS = {
    "id", "object", "endpoint", "model", "errors", "input_file_id", "completion_window",
    "status", "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at",
    "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at",
    "request_counts", "usage", "metadata",
}  # fmt: skip
ANTHROPIC_KEYS = {
    "id", "type", "processing_status", "request_counts", "ended_at", "created_at", "expires_at",
    "archived_at", "cancel_initiated_at", "results_url",
}  # fmt: skip


def _create(http: httpx.Client, upload: Callable[..., str], n: int) -> str:
    file_id = upload([chat_line(f"r{i}") for i in range(n)])
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    response = http.post("/v1/batches", json=body)
    assert set(response.json()) == OPENAI_KEYS
    return str(response.json()["id"])


def _get(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    batch = http.get(f"/v1/batches/{batch_id}").json()
    assert set(batch) == OPENAI_KEYS
    return dict(batch)


def test_openai_progress_through_every_state(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    emu.configure(validating_seconds=10, requests_per_second=1, finalizing_seconds=5)
    batch_id = _create(http, upload, 3)
    first = _get(http, batch_id)
    assert first["status"] == "validating" and first["model"] is None

    emu.advance(10)
    running = _get(http, batch_id)
    assert running["status"] == "in_progress"
    assert running["in_progress_at"] == first["created_at"] + 10
    assert running["model"] == "gpt-4o-mini"
    assert running["request_counts"] == {"total": 3, "completed": 0, "failed": 0}

    emu.advance(2.5)
    partial = _get(http, batch_id)
    assert partial["request_counts"] == {"total": 3, "completed": 2, "failed": 0}
    assert partial["usage"]["total_tokens"] == 0  # zeros until the end

    emu.advance(1)
    finalizing = _get(http, batch_id)
    assert finalizing["status"] == "finalizing"
    assert finalizing["finalizing_at"] == first["created_at"] + 13
    assert finalizing["output_file_id"] is None

    emu.advance(5)
    done = _get(http, batch_id)
    assert done["status"] == "completed"
    assert done["completed_at"] == first["created_at"] + 18
    assert done["usage"]["total_tokens"] > 0
    assert done["output_file_id"] is not None


def test_openai_expiry_keeps_partial_output(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str], file_lines: Lines
) -> None:
    emu.configure(requests_per_second=0.5, completion_window_seconds=10)
    batch_id = _create(http, upload, 6)
    emu.advance(11)
    batch = _get(http, batch_id)
    assert batch["status"] == "expired"
    assert batch["expired_at"] == batch["created_at"] + 10
    assert batch["request_counts"] == {"total": 6, "completed": 5, "failed": 1}
    assert len(file_lines(batch["output_file_id"])) == 5
    [expired] = file_lines(batch["error_file_id"])
    assert expired["response"] is None
    assert expired["error"]["code"] == "batch_expired"
    assert "completion window" in expired["error"]["message"]
    assert expired["id"].startswith("batch_req_")


def test_openai_cancel_mid_run(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str], file_lines: Lines
) -> None:
    emu.configure(requests_per_second=1, cancel_seconds=30)
    batch_id = _create(http, upload, 5)
    emu.advance(2.5)
    cancelling = http.post(f"/v1/batches/{batch_id}/cancel").json()
    assert cancelling["status"] == "cancelling"
    again = http.post(f"/v1/batches/{batch_id}/cancel").json()
    assert again["status"] == "cancelling"  # a repeated cancel is a no-op
    emu.advance(10)
    assert _get(http, batch_id)["status"] == "cancelling"
    emu.advance(25)
    batch = _get(http, batch_id)
    assert batch["status"] == "cancelled"
    assert batch["cancelled_at"] == batch["cancelling_at"] + 30
    assert batch["request_counts"] == {"total": 5, "completed": 2, "failed": 3}
    assert len(file_lines(batch["output_file_id"])) == 2
    stopped = file_lines(batch["error_file_id"])
    assert {line["error"]["code"] for line in stopped} == {"batch_cancelled"}
    assert all(line["response"] is None for line in stopped)


def test_openai_cancel_while_validating_leaves_no_files(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    emu.configure(validating_seconds=60)
    batch_id = _create(http, upload, 2)
    http.post(f"/v1/batches/{batch_id}/cancel")
    batch = _get(http, batch_id)
    assert batch["status"] == "cancelled"
    assert batch["in_progress_at"] is None
    assert batch["output_file_id"] is None and batch["error_file_id"] is None
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}


def test_http_error_lines_go_to_the_error_file(
    http: httpx.Client, upload: Callable[..., str], file_lines: Lines
) -> None:
    unknown_field = chat_line("bad", frobnicate=1)  # F.4: a 400 line, the batch runs on
    file_id = upload([chat_line("good"), unknown_field])
    created = http.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    ).json()
    batch = _get(http, created["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    assert batch["error_file_id"] is not None
    error_file = http.get(f"/v1/files/{batch['error_file_id']}").json()
    assert error_file["filename"] == f"{batch['id']}_error.jsonl"
    assert error_file["purpose"] == "batch_output"
    [line] = file_lines(batch["error_file_id"])
    assert line["custom_id"] == "bad" and line["error"] is None
    assert line["response"]["status_code"] == 400
    assert line["response"]["body"]["error"] == {
        "message": "Unrecognized request argument supplied: frobnicate",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_no_output_file_when_nothing_succeeded(
    http: httpx.Client, upload: Callable[..., str]
) -> None:
    file_id = upload([chat_line("bad", frobnicate=1)])
    created = http.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    ).json()
    batch = _get(http, created["id"])
    assert batch["output_file_id"] is None and batch["error_file_id"] is not None


def test_output_is_shuffled_deterministically(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str], file_lines: Lines
) -> None:
    def order() -> list[str]:
        batch = _get(http, _create(http, upload, 40))
        return [line["custom_id"] for line in file_lines(batch["output_file_id"])]

    first = order()
    assert sorted(first) == sorted(f"r{i}" for i in range(40))
    assert first != [f"r{i}" for i in range(40)]
    emu.reset()
    assert order() == first  # same seed, same sequence: same order
    emu.reset()
    emu.configure(seed=7)
    assert order() != first


def test_input_file_deleted_while_running(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    emu.configure(validating_seconds=5)
    file_id = upload([chat_line("a"), chat_line("b")])
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    batch_id = http.post("/v1/batches", json=body).json()["id"]
    assert http.delete(f"/v1/files/{file_id}").json() == {
        "id": file_id,
        "object": "file",
        "deleted": True,
    }
    emu.advance(5)
    assert _get(http, batch_id)["request_counts"]["completed"] == 2


def test_files_expire(emu: Emulator, http: httpx.Client) -> None:
    form = {"purpose": "batch", "expires_after[anchor]": "created_at"}
    created = http.post(
        "/v1/files",
        files={"file": ("a.jsonl", b"{}\n")},
        data={**form, "expires_after[seconds]": "3600"},
    ).json()
    assert http.get(f"/v1/files/{created['id']}").status_code == 200
    emu.advance(3601)
    assert http.get(f"/v1/files/{created['id']}").status_code == 404
    assert http.get("/v1/files").json()["data"] == []


# ---- Anthropic -----------------------------------------------------------------------------


def _anthropic(ahttp: httpx.Client, n: int) -> str:
    requests = [anthropic_request(f"r{i}") for i in range(n)]
    response = ahttp.post("/v1/messages/batches", json={"requests": requests})
    assert set(response.json()) == ANTHROPIC_KEYS
    return str(response.json()["id"])


def _aget(ahttp: httpx.Client, batch_id: str) -> dict[str, Any]:
    batch = ahttp.get(f"/v1/messages/batches/{batch_id}").json()
    assert set(batch) == ANTHROPIC_KEYS
    return dict(batch)


def _results(ahttp: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    response = ahttp.get(f"/v1/messages/batches/{batch_id}/results")
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


def test_anthropic_counts_stay_in_processing_until_ended(
    emu: Emulator, ahttp: httpx.Client
) -> None:
    emu.configure(requests_per_second=1)
    batch_id = _anthropic(ahttp, 3)
    emu.advance(1.5)
    running = _aget(ahttp, batch_id)
    assert running["processing_status"] == "in_progress"
    assert running["request_counts"] == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert running["results_url"] is None
    emu.advance(2)
    ended = _aget(ahttp, batch_id)
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"]["succeeded"] == 3
    assert ended["created_at"].endswith("Z") and len(ended["created_at"]) == 27


def test_anthropic_expiry(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(requests_per_second=0.5, completion_window_seconds=10)
    batch_id = _anthropic(ahttp, 6)
    emu.advance(11)
    batch = _aget(ahttp, batch_id)
    assert batch["processing_status"] == "ended"
    assert batch["request_counts"]["succeeded"] == 5
    assert batch["request_counts"]["expired"] == 1
    kinds = sorted(line["result"]["type"] for line in _results(ahttp, batch_id))
    assert kinds == ["expired"] + ["succeeded"] * 5


def test_anthropic_cancel_mid_run(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(requests_per_second=1, cancel_seconds=5)
    batch_id = _anthropic(ahttp, 5)
    emu.advance(2.5)
    canceling = ahttp.post(f"/v1/messages/batches/{batch_id}/cancel").json()
    assert canceling["processing_status"] == "canceling"
    assert canceling["request_counts"]["processing"] == 5
    emu.advance(5)
    batch = _aget(ahttp, batch_id)
    assert batch["processing_status"] == "ended"
    assert batch["request_counts"]["succeeded"] == 2
    assert batch["request_counts"]["canceled"] == 3
    canceled = [line for line in _results(ahttp, batch_id) if line["result"]["type"] == "canceled"]
    assert canceled[0]["result"] == {"type": "canceled"}
