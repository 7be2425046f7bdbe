"""The realtime routes over HTTP: batch parity, checks, rpm window, error knob, faults, log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from emulator_helpers import anthropic_request, chat_line

from llmbatch.emulator import ConfigError, Emulator, EmulatorConfig

USER: list[dict[str, Any]] = [{"role": "user", "content": "Say hello"}]
CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": USER}
MESSAGE: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": USER}
EMBED: dict[str, Any] = {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8}
RESPONSES: dict[str, Any] = {"model": "gpt-4o-mini", "input": "Say hello"}


def _line(custom_id: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _batch_body(
    run_batch: Callable[..., dict[str, Any]],
    file_lines: Callable[..., list[dict[str, Any]]],
    url: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    batch = run_batch([_line("one", url, body)], endpoint=url)
    (line,) = file_lines(batch["output_file_id"])
    return dict(line["response"]["body"])


# ---- same answers as the batch path -----------------------------------------------------


def test_chat_answer_matches_the_batch_line(
    http: httpx.Client, run_batch: Callable[..., Any], file_lines: Callable[..., Any]
) -> None:
    batch = _batch_body(run_batch, file_lines, "/v1/chat/completions", CHAT)
    live = http.post("/v1/chat/completions", json=CHAT)
    assert live.status_code == 200, live.text
    answer = live.json()
    assert answer["choices"] == batch["choices"]
    assert answer["usage"] == batch["usage"]
    assert answer["model"] == batch["model"]
    assert answer["id"] != batch["id"]


def test_responses_and_embeddings_match_the_batch_lines(
    http: httpx.Client, run_batch: Callable[..., Any], file_lines: Callable[..., Any]
) -> None:
    batch = _batch_body(run_batch, file_lines, "/v1/embeddings", EMBED)
    assert http.post("/v1/embeddings", json=EMBED).json() == batch
    batch = _batch_body(run_batch, file_lines, "/v1/responses", RESPONSES)
    live = http.post("/v1/responses", json=RESPONSES).json()
    texts = [[part["text"] for part in item["content"]] for item in live["output"]]
    assert texts == [[part["text"] for part in item["content"]] for item in batch["output"]]
    assert live["usage"] == batch["usage"]


def test_created_follows_the_emulator_clock(emu: Emulator, http: httpx.Client) -> None:
    before = http.post("/v1/chat/completions", json=CHAT).json()["created"]
    emu.advance(3600)
    after = http.post("/v1/chat/completions", json=CHAT).json()["created"]
    assert after - before >= 3600


def test_message_matches_the_batch_result(ahttp: httpx.Client) -> None:
    created = ahttp.post("/v1/messages/batches", json={"requests": [anthropic_request("hello")]})
    batch_id = created.json()["id"]
    assert ahttp.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
    results = ahttp.get(f"/v1/messages/batches/{batch_id}/results").content
    batch = orjson.loads(results)["result"]["message"]
    live = ahttp.post("/v1/messages", json=MESSAGE)
    assert live.status_code == 200, live.text
    message = live.json()
    assert (message["content"], message["usage"]) == (batch["content"], batch["usage"])
    assert message["stop_reason"] == batch["stop_reason"]
    assert live.headers["request-id"].startswith("req_011C")


# ---- the checks, as HTTP errors --------------------------------------------------------


def _openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def test_openai_refusals(http: httpx.Client) -> None:
    unknown = _openai_error(http.post("/v1/chat/completions", json={**CHAT, "frob": 1}), 400)
    assert unknown["message"] == "Unrecognized request argument supplied: frob"
    unknown = _openai_error(http.post("/v1/responses", json={**RESPONSES, "frob": 1}), 400)
    assert (unknown["param"], unknown["code"]) == ("frob", "unknown_parameter")
    model = _openai_error(http.post("/v1/chat/completions", json={**CHAT, "model": "gpt-x"}), 404)
    assert model["code"] == "model_not_found"
    missing = _openai_error(
        http.post("/v1/embeddings", json={"model": "text-embedding-3-small"}), 400
    )
    assert (missing["param"], missing["code"]) == ("input", "missing_required_parameter")
    stream = _openai_error(http.post("/v1/chat/completions", json={**CHAT, "stream": True}), 400)
    assert stream["param"] == "stream" and "does not stream" in stream["message"]
    dims = {**EMBED, "dimensions": 0}
    assert _openai_error(http.post("/v1/embeddings", json=dims), 400)["type"]
    assert _openai_error(http.post("/v1/chat/completions", content=b"nope"), 400)["message"]


def test_openai_auth_applies(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url) as bare:
        error = _openai_error(bare.post("/v1/chat/completions", json=CHAT), 401)
    assert error["code"] == "invalid_api_key"


def _anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"] == response.headers["request-id"]
    return str(body["error"]["message"])


def test_anthropic_refusals(ahttp: httpx.Client) -> None:
    extra = ahttp.post("/v1/messages", json={**MESSAGE, "frob": 1})
    assert _anthropic_error(extra, 400, "invalid_request_error") == (
        "frob: Extra inputs are not permitted"
    )
    model = ahttp.post("/v1/messages", json={**MESSAGE, "model": "claude-x"})
    assert _anthropic_error(model, 404, "not_found_error") == "model: claude-x"
    cap = ahttp.post("/v1/messages", json={**MESSAGE, "max_tokens": 100_000})
    assert "maximum allowed number of output tokens" in _anthropic_error(
        cap, 400, "invalid_request_error"
    )
    stream = ahttp.post("/v1/messages", json={**MESSAGE, "stream": True})
    assert "does not stream" in _anthropic_error(stream, 400, "invalid_request_error")
    missing = {key: value for key, value in MESSAGE.items() if key != "max_tokens"}
    assert "max_tokens" in _anthropic_error(
        ahttp.post("/v1/messages", json=missing), 400, "invalid_request_error"
    )


def test_anthropic_takes_fields_only_batches_refuse(ahttp: httpx.Client) -> None:
    assert ahttp.post("/v1/messages", json={**MESSAGE, "stream": False}).status_code == 200


def test_anthropic_headers_are_checked(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url, headers={"x-api-key": "k"}) as client:
        response = client.post("/v1/messages", json=MESSAGE)
    assert "anthropic-version" in _anthropic_error(response, 400, "invalid_request_error")
    with httpx.Client(base_url=emu.url) as bare:
        response = bare.post("/v1/messages", json=MESSAGE)
    _anthropic_error(response, 401, "authentication_error")


# ---- the realtime_rpm window -----------------------------------------------------------


def test_rpm_window_refuses_then_recovers_after_advance(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(realtime_rpm=2)
    for _ in range(2):
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    limited = http.post("/v1/embeddings", json=EMBED)
    error = _openai_error(limited, 429)
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "Limit 2, Used 2" in error["message"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert int(limited.headers["retry-after-ms"]) <= 60_000
    assert limited.headers["x-ratelimit-limit-requests"] == "2"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    emu.advance(60)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_rpm_window_slides(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(realtime_rpm=2)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    emu.advance(30)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert int(http.post("/v1/chat/completions", json=CHAT).headers["retry-after"]) <= 30
    emu.advance(30)  # the first call has left the window, the second has not
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 429


def test_rpm_is_per_provider(emu: Emulator, http: httpx.Client, ahttp: httpx.Client) -> None:
    emu.configure(realtime_rpm=1)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert ahttp.post("/v1/messages", json=MESSAGE).status_code == 200
    limited = ahttp.post("/v1/messages", json=MESSAGE)
    _anthropic_error(limited, 429, "rate_limit_error")
    assert limited.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert limited.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert int(limited.headers["retry-after"]) >= 1


def test_rpm_leaves_batch_routes_alone(
    emu: Emulator, http: httpx.Client, run_batch: Callable[..., Any]
) -> None:
    emu.configure(realtime_rpm=1)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert run_batch([chat_line("a")])["status"] == "completed"


def test_reset_empties_the_window(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(realtime_rpm=1)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    emu.reset()
    emu.configure(realtime_rpm=1)
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_rpm_knob_is_validated(value: object) -> None:
    with pytest.raises(ConfigError, match="realtime_rpm"):
        EmulatorConfig(realtime_rpm=value)  # type: ignore[arg-type]


def test_rpm_knob_has_a_flag() -> None:
    from llmbatch.emulator._cli import build_parser, config_from_args

    args = build_parser().parse_args(["--realtime-rpm", "30"])
    assert config_from_args(args).realtime_rpm == 30


def test_rpm_knob_through_the_control_plane(emu: Emulator, http: httpx.Client) -> None:
    assert http.post("/_emulator/config", json={"realtime_rpm": 0}).status_code == 400
    assert http.post("/_emulator/config", json={"realtime_rpm": 5}).json()["realtime_rpm"] == 5
    assert emu.config.realtime_rpm == 5


# ---- the per-request error knob --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [
        ("api_error", 500, "server_error"),
        ("overloaded_error", 503, "server_error"),
        ("rate_limit_error", 429, "requests"),
        ("invalid_request_error", 400, "invalid_request_error"),
    ],
)
def test_openai_request_error_knob(
    emu: Emulator, http: httpx.Client, kind: str, status: int, error_type: str
) -> None:
    emu.configure(request_error_rate=1.0, request_error_type=kind)
    response = http.post("/v1/chat/completions", json=CHAT)
    assert _openai_error(response, status)["type"] == error_type
    if status in (429, 503):
        assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("api_error", 500),
        ("overloaded_error", 529),
        ("rate_limit_error", 429),
        ("invalid_request_error", 400),
    ],
)
def test_anthropic_request_error_knob(
    emu: Emulator, ahttp: httpx.Client, kind: str, status: int
) -> None:
    emu.configure(request_error_rate=1.0, request_error_type=kind)
    _anthropic_error(ahttp.post("/v1/messages", json=MESSAGE), status, kind)


def _statuses(http: httpx.Client, n: int) -> list[int]:
    return [http.post("/v1/chat/completions", json=CHAT).status_code for _ in range(n)]


def test_request_error_draws_are_seeded_per_call(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(request_error_rate=0.5)
    first = _statuses(http, 30)
    assert set(first) == {200, 500}
    emu.reset()
    emu.configure(request_error_rate=0.5)
    assert _statuses(http, 30) == first
    emu.reset()
    emu.configure(request_error_rate=0.5, seed=7)
    assert _statuses(http, 30) != first


def test_invalid_bodies_are_refused_before_the_draw(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(request_error_rate=1.0)
    bad = http.post("/v1/chat/completions", json={**CHAT, "frob": 1})
    assert _openai_error(bad, 400)["message"].endswith("frob")


# ---- HTTP faults and the request log ---------------------------------------------------


def test_fault_rule_on_a_realtime_route(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault(kind="503", route="POST /v1/chat/completions", calls=[1], retry_after=2)
    failed = http.post("/v1/chat/completions", json=CHAT)
    assert failed.status_code == 503 and failed.headers["retry-after"] == "2"
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert emu.call_count("POST /v1/chat/completions") == 2
    assert [entry["fault"] for entry in emu.request_log] == ["503", None]


def test_drop_fault_on_messages(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.add_fault(kind="drop", route="POST /v1/messages", calls=[1])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        ahttp.post("/v1/messages", json=MESSAGE)
    assert ahttp.post("/v1/messages", json=MESSAGE).status_code == 200


def test_texts_in_the_request_log(emu: Emulator, http: httpx.Client, ahttp: httpx.Client) -> None:
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    turns = [*USER, {"role": "assistant", "content": "ok"}, {"role": "user", "content": parts}]
    chat = {**CHAT, "messages": turns}
    http.post("/v1/chat/completions", json=chat)
    http.post("/v1/responses", json=RESPONSES)
    items = [{"role": "user", "content": [{"type": "input_text", "text": "item text"}]}]
    http.post("/v1/responses", json={**RESPONSES, "input": items})
    http.post("/v1/embeddings", json={**EMBED, "input": ["x", [1, 2]]})
    http.post("/v1/embeddings", json={**EMBED, "input": "single"})
    ahttp.post("/v1/messages", json=MESSAGE)
    http.get("/v1/batches")
    logged = [entry.get("texts") for entry in emu.request_log]
    assert logged == [
        ["first\nsecond"],
        ["Say hello"],
        ["item text"],
        ["x", "[1, 2]"],
        ["single"],
        ["Say hello"],
        None,
    ]
    served = http.get("/_emulator/requests").json()["requests"]
    assert served[0]["texts"] == ["first\nsecond"]


def test_texts_are_logged_for_refused_calls_too(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(realtime_rpm=1)
    http.post("/v1/chat/completions", json=CHAT)
    http.post("/v1/chat/completions", json=CHAT)
    assert [(e["status"], e["texts"]) for e in emu.request_log] == [
        (200, ["Say hello"]),
        (429, ["Say hello"]),
    ]
