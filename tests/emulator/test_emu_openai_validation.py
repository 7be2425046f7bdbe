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
    assert error == {
        "code": "invalid_json_line",
        "message": "This line is not parseable as valid JSON.",
        "param": None,
        "line": 2,
    }


def test_line_that_is_not_an_object(run_batch: RunBatch) -> None:
    error = _failed_with(run_batch([chat_line("a"), b"[1, 2]"]), "invalid_json_line")
    assert error["line"] == 2


def test_empty_line_inside_the_file(run_batch: RunBatch) -> None:
    error = _failed_with(run_batch([chat_line("a"), b"", chat_line("b")]), "invalid_json_line")
    assert error["line"] == 2


def test_trailing_newlines_are_fine(run_batch: RunBatch) -> None:
    batch = run_batch(jsonl([chat_line("a")]) + b"\n")
    assert batch["status"] == "completed"


@pytest.mark.parametrize("name", ["custom_id", "method", "url", "body"])
def test_missing_required_parameter(run_batch: RunBatch, name: str) -> None:
    line = chat_line("a")
    del line[name]
    error = _failed_with(run_batch([chat_line("b"), line]), "missing_required_parameter")
    assert error == {
        "code": "missing_required_parameter",
        "message": f"Missing required parameter: '{name}'.",
        "param": name,
        "line": 2,
    }


@pytest.mark.parametrize(
    ("field", "message"),
    [("model", "Model parameter is required."), ("messages", "Messages parameter is required.")],
)
def test_missing_body_field_is_invalid_request(
    run_batch: RunBatch, field: str, message: str
) -> None:
    line = chat_line("b")
    body = line["body"]
    assert isinstance(body, dict)
    del body[field]
    error = _failed_with(run_batch([chat_line("a"), line]), "invalid_request")
    assert error == {
        "code": "invalid_request",
        "message": message,
        "param": f"body.{field}",
        "line": 2,
    }


def test_unknown_model_fails_the_whole_batch(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a", model="gpt-nope"), chat_line("b", model="gpt-nope")])
    assert batch["errors"]["data"] == [
        {
            "code": "model_not_found",
            "message": "The provided model 'gpt-nope' is not supported by the Batch API.",
            "param": "body.model",
            "line": 1,
        }
    ]
    _failed_with(batch, "model_not_found")


def test_fine_tuned_model_of_a_known_base_is_accepted(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a", model="ft:gpt-4o-mini-2024-07-18:acme::abc123")])
    assert batch["status"] == "completed"


@pytest.mark.parametrize(
    ("endpoint", "body", "error"),
    [
        (
            "/v1/chat/completions",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "relax": 1},
            {
                "message": "Unrecognized request argument supplied: relax",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
        ),
        (
            "/v1/responses",
            {"model": "gpt-4o-mini", "input": "x", "relax": 1},
            {
                "message": "Unknown parameter: 'relax'.",
                "type": "invalid_request_error",
                "param": "relax",
                "code": "unknown_parameter",
            },
        ),
        (
            "/v1/embeddings",
            {"model": "text-embedding-3-small", "input": "x", "relax": 1},
            {
                "message": "Unrecognized request argument supplied: relax",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
        ),
    ],
)
def test_unknown_body_field_is_a_400_line(
    run_batch: RunBatch,
    file_lines: Callable[[str | None], list[dict[str, Any]]],
    endpoint: str,
    body: dict[str, Any],
    error: dict[str, Any],
) -> None:
    """F.4: validation passes; the line comes back as a 400 in the error file."""
    ok = {k: v for k, v in body.items() if k != "relax"}
    lines = [
        {"custom_id": "ok", "method": "POST", "url": endpoint, "body": ok},
        {"custom_id": "bad", "method": "POST", "url": endpoint, "body": body},
    ]
    batch = run_batch(lines, endpoint=endpoint)
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [line] = file_lines(batch["error_file_id"])
    assert line["custom_id"] == "bad"
    assert line["response"]["status_code"] == 400
    assert line["response"]["body"] == {"error": error}


def test_duplicate_custom_id(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), chat_line("b"), chat_line("a")])
    error = _failed_with(batch, "duplicate_custom_id")
    assert error["line"] == 3
    assert "'a'" in error["message"] and "line 1" in error["message"]


def test_url_not_matching_the_endpoint(run_batch: RunBatch) -> None:
    line = chat_line("b")
    line["url"] = "/v1/embeddings"
    error = _failed_with(run_batch([chat_line("a"), line]), "invalid_url")
    assert error == {
        "code": "invalid_url",
        "message": "The URL provided for this request does not match the batch endpoint.",
        "param": "url",
        "line": 2,
    }


def test_method_not_post(run_batch: RunBatch) -> None:
    line = chat_line("a")
    line["method"] = "GET"
    error = _failed_with(run_batch([line]), "invalid_request")
    assert (error["line"], error["param"]) == (1, "method")


def test_body_not_an_object(run_batch: RunBatch) -> None:
    line = chat_line("a")
    line["body"] = "hello"
    error = _failed_with(run_batch([line]), "invalid_request")
    assert (error["line"], error["param"]) == (1, "body")


def test_stream_true_in_a_body(run_batch: RunBatch) -> None:
    batch = run_batch([chat_line("a"), chat_line("b", stream=True)])
    error = _failed_with(batch, "streaming_unsupported")
    assert error == {
        "code": "streaming_unsupported",
        "message": "Chat Completions: Streaming is not supported in the Batch API.",
        "param": "body.stream",
        "line": 2,
    }


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


def test_unknown_input_file_creates_a_batch_that_fails(http: httpx.Client) -> None:
    """F.1: no synchronous 404; the batch is created, then fails at validation."""
    created = _create(http, input_file_id="file-nope")
    assert created.status_code == 200, created.text
    batch = http.get(f"/v1/batches/{created.json()['id']}").json()
    error = _failed_with(batch, "invalid_request")
    assert (error["param"], error["line"]) == ("file_id", None)
    assert error["message"].startswith("Cannot find file file-nope, or organization")


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
    error = _error(_create(http, input_file_id=file_id, metadata=metadata), 400)
    assert error["param"].startswith("metadata")


def test_metadata_of_the_wrong_type_is_invalid_type(
    http: httpx.Client, upload: Callable[..., str]
) -> None:
    file_id = upload([chat_line("a")])
    error = _error(_create(http, input_file_id=file_id, metadata={"tags": ["a", "b"]}), 400)
    assert (error["param"], error["code"]) == ("metadata.tags", "invalid_type")
    assert error["message"] == (
        "Invalid type for 'metadata.tags': expected a string, but got an array instead."
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
