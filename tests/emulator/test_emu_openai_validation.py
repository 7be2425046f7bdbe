"""OpenAI validation: synchronous 4xx at create/upload, and `failed` batches with `errors`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from emulator_helpers import chat_line, jsonl

from llmbatch.emulator import Emulator

RunBatch = Callable[..., dict[str, Any]]


def _failed_with(batch: dict[str, Any], code: str) -> dict[str, Any]:
    assert batch["status"] == "failed", batch
    assert batch["failed_at"] is not None
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["output_file_id"] is None and batch["error_file_id"] is None
    assert batch["errors"]["object"] == "list"
    errors = batch["errors"]["data"]
    assert code in [e["code"] for e in errors], errors
    error = next(e for e in errors if e["code"] == code)
    assert set(error) == {"code", "message", "param", "line"}
    return dict(error)


# ---- failed at validating ---------------------------------------------------------------


def test_malformed_json_line(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), b"{not json", chat_line("c")])
    error = _failed_with(batch, "invalid_json_line")
    assert error["line"] == 2


def test_line_that_is_not_an_object(run_batch: RunBatch) -> None:
    error = _failed_with(run_batch([chat_line("a"), b"[1, 2]"]), "invalid_json_line")
    assert error["line"] == 2


def test_empty_line_inside_the_file(run_batch: RunBatch) -> None:
    error = _failed_with(run_batch([chat_line("a"), b"", chat_line("b")]), "invalid_json_line")
    assert error["line"] == 2


def test_trailing_newlines_are_fine(run_batch: RunBatch) -> None:
    batch = run_batch(jsonl([chat_line("a")]) + b"\n")
    assert batch["status"] == "completed"


def test_missing_custom_id(run_batch: RunBatch) -> None:
    line = chat_line("a")
    del line["custom_id"]
    error = _failed_with(run_batch([chat_line("b"), line]), "missing_custom_id")
    assert (error["line"], error["param"]) == (2, "custom_id")


def test_duplicate_custom_id(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), chat_line("b"), chat_line("a")])
    error = _failed_with(batch, "duplicate_custom_id")
    assert error["line"] == 3
    assert "'a'" in error["message"] and "line 1" in error["message"]


def test_url_not_matching_the_endpoint(run_batch: RunBatch) -> None:
    line = chat_line("b")
    line["url"] = "/v1/embeddings"
    error = _failed_with(run_batch([chat_line("a"), line]), "invalid_url")
    assert (error["line"], error["param"]) == (2, "url")


def test_method_not_post(run_batch: RunBatch) -> None:
    line = chat_line("a")
    line["method"] = "GET"
    error = _failed_with(run_batch([line]), "invalid_method")
    assert error["line"] == 1


def test_body_not_an_object(run_batch: RunBatch) -> None:
    line = chat_line("a")
    line["body"] = "hello"
    assert _failed_with(run_batch([line]), "invalid_body")["line"] == 1


def test_stream_true_in_a_body(run_batch: RunBatch) -> None:
    error = _failed_with(run_batch([chat_line("a", stream=True)]), "stream_not_supported")
    assert error["param"] == "body.stream"


def test_more_than_one_model(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), chat_line("b", model="gpt-4o"), chat_line("c")])
    error = _failed_with(batch, "mismatched_model")
    assert error["line"] == 2
    assert "gpt-4o" in error["message"]


def test_empty_file(run_batch: RunBatch) -> None:
    assert _failed_with(run_batch(b""), "empty_file")["line"] is None


def test_too_many_lines(emu: Emulator, run_batch: RunBatch) -> None:
    emu.configure(openai_max_requests=3)
    assert run_batch([chat_line(f"{i}") for i in range(3)])["status"] == "completed"
    error = _failed_with(run_batch([chat_line(f"{i}") for i in range(4)]), "max_requests_exceeded")
    assert error["line"] is None and "4" in error["message"]


def test_too_many_bytes(emu: Emulator, run_batch: RunBatch) -> None:
    data = jsonl([chat_line("a"), chat_line("b")])
    emu.configure(openai_max_bytes=len(data))
    assert run_batch(data)["status"] == "completed"
    emu.configure(openai_max_bytes=len(data) - 1)
    assert _failed_with(run_batch(data), "max_file_size_exceeded")["line"] is None


def test_too_many_embedding_inputs(emu: Emulator, run_batch: RunBatch) -> None:
    emu.configure(openai_max_embedding_inputs=3)

    def line(custom_id: str, inputs: list[str] | str) -> dict[str, Any]:
        body = {"model": "text-embedding-3-small", "input": inputs}
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings", "body": body}

    ok = run_batch([line("a", ["x", "y"]), line("b", "z")], endpoint="/v1/embeddings")
    assert ok["status"] == "completed"
    too_many = run_batch([line("a", ["x", "y"]), line("b", ["z", "w"])], endpoint="/v1/embeddings")
    _failed_with(too_many, "max_embedding_inputs_exceeded")


def test_errors_are_listed_for_every_bad_line(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), b"{", chat_line("a"), b"{"])
    assert [(e["code"], e["line"]) for e in batch["errors"]["data"]] == [
        ("invalid_json_line", 2),
        ("duplicate_custom_id", 3),
        ("invalid_json_line", 4),
    ]


# ---- synchronous errors -----------------------------------------------------------------


def _create(http: httpx.Client, **body: Any) -> httpx.Response:
    payload = {"endpoint": "/v1/chat/completions", "completion_window": "24h", **body}
    return http.post("/v1/batches", json=payload)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def test_unknown_input_file_is_404(http: httpx.Client) -> None:
    error = _error(_create(http, input_file_id="file-nope"), 404)
    assert error["type"] == "invalid_request_error"
    assert "file-nope" in error["message"]


def test_input_file_with_wrong_purpose_is_400(
    http: httpx.Client, upload: Callable[..., str]
) -> None:
    file_id = upload([chat_line("a")], purpose="user_data")
    assert _error(_create(http, input_file_id=file_id), 400)["param"] == "input_file_id"


@pytest.mark.parametrize(
    "endpoint", ["/v1/images/generations", "/v1/videos", "/v1/chat/completion", "/v1/audio"]
)
def test_unsupported_endpoint_is_400(
    http: httpx.Client, upload: Callable[..., str], endpoint: str
) -> None:
    file_id = upload([chat_line("a")])
    error = _error(_create(http, input_file_id=file_id, endpoint=endpoint), 400)
    assert (error["param"], error["code"]) == ("endpoint", "invalid_value")


def test_completion_window_must_be_24h(http: httpx.Client, upload: Callable[..., str]) -> None:
    file_id = upload([chat_line("a")])
    response = _create(http, input_file_id=file_id, completion_window="48h")
    assert _error(response, 400)["param"] == "completion_window"


def test_missing_parameter_and_unknown_parameter(
    http: httpx.Client, upload: Callable[..., str]
) -> None:
    error = _error(_create(http), 400)
    assert (error["param"], error["code"]) == ("input_file_id", "missing_required_parameter")
    file_id = upload([chat_line("a")])
    error = _error(_create(http, input_file_id=file_id, model="gpt-4o"), 400)
    assert (error["param"], error["code"]) == ("model", "unknown_parameter")


def test_body_that_is_not_json(http: httpx.Client) -> None:
    response = http.post("/v1/batches", content=b"{", headers={"content-type": "application/json"})
    assert _error(response, 400)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(17)},
        {"k" * 65: "v"},
        {"k": "v" * 513},
        {"k": 1},
        ["not", "an", "object"],
    ],
)
def test_metadata_limits(http: httpx.Client, upload: Callable[..., str], metadata: Any) -> None:
    file_id = upload([chat_line("a")])
    assert _error(_create(http, input_file_id=file_id, metadata=metadata), 400)["param"] == (
        "metadata"
    )


def test_metadata_at_the_limits_is_accepted(http: httpx.Client, upload: Callable[..., str]) -> None:
    file_id = upload([chat_line("a")])
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    response = _create(http, input_file_id=file_id, metadata=metadata)
    assert response.status_code == 200
    assert response.json()["metadata"] == metadata


def test_output_expires_after(http: httpx.Client, upload: Callable[..., str]) -> None:
    file_id = upload([chat_line("a")])
    bad = _create(http, input_file_id=file_id, output_expires_after={"anchor": "x", "seconds": 1})
    assert _error(bad, 400)["param"] == "output_expires_after"
    expiry = {"anchor": "created_at", "seconds": 7200}
    created = _create(http, input_file_id=file_id, output_expires_after=expiry).json()
    batch = http.get(f"/v1/batches/{created['id']}").json()
    output = http.get(f"/v1/files/{batch['output_file_id']}").json()
    assert output["expires_at"] == output["created_at"] + 7200


def test_upload_validation(http: httpx.Client) -> None:
    data = jsonl([chat_line("a")])
    no_purpose = http.post("/v1/files", files={"file": ("in.jsonl", data)})
    assert _error(no_purpose, 400)["param"] == "purpose"
    bad_purpose = http.post("/v1/files", files={"file": ("in.jsonl", data)}, data={"purpose": "x"})
    assert _error(bad_purpose, 400)["param"] == "purpose"
    not_jsonl = http.post("/v1/files", files={"file": ("in.csv", data)}, data={"purpose": "batch"})
    assert _error(not_jsonl, 400)["param"] == "file"
    no_file = http.post("/v1/files", data={"purpose": "batch"})
    assert _error(no_file, 400)["param"] == "file"


def test_upload_expires_after(http: httpx.Client) -> None:
    data = jsonl([chat_line("a")])
    form = {"purpose": "batch", "expires_after[anchor]": "created_at"}
    ok = http.post(
        "/v1/files",
        files={"file": ("in.jsonl", data)},
        data={**form, "expires_after[seconds]": "3600"},
    )
    assert ok.status_code == 200
    assert ok.json()["expires_at"] == ok.json()["created_at"] + 3600
    too_short = http.post(
        "/v1/files",
        files={"file": ("in.jsonl", data)},
        data={**form, "expires_after[seconds]": "5"},
    )
    assert _error(too_short, 400)["param"] == "expires_after.seconds"


def test_list_limits(http: httpx.Client) -> None:
    assert _error(http.get("/v1/batches", params={"limit": 101}), 400)["param"] == "limit"
    assert _error(http.get("/v1/batches", params={"limit": 0}), 400)["param"] == "limit"
    assert _error(http.get("/v1/files", params={"order": "up"}), 400)["param"] == "order"
    assert _error(http.get("/v1/batches", params={"after": "batch_x"}), 404)


def test_unknown_route_is_404_in_openai_envelope(http: httpx.Client) -> None:
    error = _error(http.get("/v1/nothing"), 404)
    assert "Invalid URL" in error["message"]
