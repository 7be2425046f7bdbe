"""Fault injection: HTTP statuses with retry headers, drops, slowness, per-request errors, quota."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from emulator_helpers import anthropic_request, chat_line, jsonl
from starlette.responses import StreamingResponse

from llmbatch.emulator import ConfigError, Emulator, FaultRule, fake_model
from llmbatch.emulator.damage import damage, first_half_of_lines

CREATE = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}
# A dropped connection reads as a close (RemoteProtocolError) or, when the server closes with
# unread request bytes, as a reset (ReadError).
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


@pytest.fixture
def oai(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test", base_url=emu.openai_base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def claude(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="test", base_url=emu.url, max_retries=0) as sdk:
        yield sdk


def _file(oai: openai.OpenAI, n: int = 2, model: str = "gpt-4o-mini") -> str:
    data = jsonl([chat_line(f"r{i}", model=model) for i in range(n)])
    return oai.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch").id


# ---- HTTP status faults -----------------------------------------------------------------


def test_429_with_retry_and_ratelimit_headers(emu: Emulator, oai: openai.OpenAI) -> None:
    file_id = _file(oai)
    emu.add_fault(kind="429", route="POST /v1/batches", calls=[1], retry_after=2.5)
    with pytest.raises(openai.RateLimitError) as caught:
        oai.batches.create(input_file_id=file_id, **CREATE)  # type: ignore[arg-type]
    headers = caught.value.response.headers
    assert headers["retry-after"] == "3"
    assert headers["retry-after-ms"] == "2500"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "2.5s"
    assert headers["x-request-id"].startswith("req_")
    assert caught.value.code == "rate_limit_exceeded"
    assert emu.state()["openai"]["batch_count"] == 0
    oai.batches.create(input_file_id=file_id, **CREATE)  # type: ignore[arg-type]
    assert emu.state()["openai"]["batch_count"] == 1


def test_the_sdk_retries_through_a_429(emu: Emulator) -> None:
    emu.add_fault(kind="429", route="GET /v1/batches", calls=[1, 2], retry_after=0.01)
    with openai.OpenAI(api_key="t", base_url=emu.openai_base_url, max_retries=2) as sdk:
        assert list(sdk.batches.list()) == []
    assert emu.call_count("GET /v1/batches") == 3


@pytest.mark.parametrize(
    ("kind", "error"), [("500", openai.InternalServerError), ("503", openai.InternalServerError)]
)
def test_openai_server_errors(
    emu: Emulator, oai: openai.OpenAI, kind: str, error: type[Exception]
) -> None:
    emu.add_fault(kind=kind, route="GET /v1/batches/*")
    with pytest.raises(error) as caught:
        oai.batches.retrieve("batch_x")
    assert isinstance(caught.value, openai.APIStatusError)
    assert caught.value.status_code == int(kind)
    assert caught.value.type == "server_error"


def test_anthropic_529_overloaded_and_429(emu: Emulator, claude: anthropic.Anthropic) -> None:
    emu.add_fault(kind="529", route="POST /v1/messages/batches", calls=[1])
    emu.add_fault(kind="429", route="POST /v1/messages/batches", calls=[2])
    requests: Any = [anthropic_request("a")]
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.batches.create(requests=requests)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert overloaded.value.response.headers["retry-after"] == "1"
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.batches.create(requests=requests)
    headers = limited.value.response.headers
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-tokens-reset"].endswith("Z")
    assert headers["request-id"].startswith("req_011C")
    assert claude.messages.batches.create(requests=requests).processing_status == "in_progress"
    assert emu.state()["anthropic"]["batch_count"] == 1


def test_every_nth_call(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault(kind="500", route="GET /v1/files", every=2)
    statuses = [http.get("/v1/files").status_code for _ in range(5)]
    assert statuses == [200, 500, 200, 500, 200]


def test_seeded_rate_is_reproducible(emu: Emulator, http: httpx.Client) -> None:
    def pattern() -> list[int]:
        emu.add_fault(kind="503", route="*", rate=0.5)
        return [http.get("/v1/files").status_code for _ in range(30)]

    first = pattern()
    assert 5 < first.count(503) < 25
    emu.reset()
    assert pattern() == first


def test_route_patterns(emu: Emulator, http: httpx.Client, ahttp: httpx.Client) -> None:
    emu.add_fault(kind="500", route="GET /v1/batches/*")
    emu.add_fault(kind="503", route="/v1/messages/*")
    assert http.get("/v1/batches").status_code == 200  # the list route is not under /*
    assert http.get("/v1/batches/batch_x").status_code == 500
    assert http.post("/v1/batches/batch_x/cancel").status_code == 404
    assert ahttp.get("/v1/messages/batches").status_code == 503
    assert ahttp.delete("/v1/messages/batches/x").status_code == 503


def test_rules_are_validated() -> None:
    with pytest.raises(ConfigError):
        FaultRule(kind="418")
    with pytest.raises(ConfigError):
        FaultRule(kind="429", calls=(1,), every=2)
    with pytest.raises(ConfigError):
        FaultRule(kind="429", rate=1.5)
    with pytest.raises(ConfigError):
        FaultRule.from_value({"kind": "429", "when": 1})


# ---- connection faults ------------------------------------------------------------------


def test_drop_closes_the_connection_before_anything_happens(
    emu: Emulator, http: httpx.Client
) -> None:
    data = jsonl([chat_line("a")])
    file_id = http.post(
        "/v1/files", files={"file": ("a.jsonl", data)}, data={"purpose": "batch"}
    ).json()["id"]
    emu.add_fault(kind="drop", route="POST /v1/batches", calls=[1])
    with pytest.raises(DROPPED):
        http.post("/v1/batches", json={"input_file_id": file_id, **CREATE})
    state = emu.state()
    assert state["openai"]["batch_count"] == 0
    assert state["calls"]["POST /v1/batches"] == 1
    assert emu.request_log[-1]["fault"] == "drop"
    assert http.post("/v1/batches", json={"input_file_id": file_id, **CREATE}).status_code == 200


def test_drop_after_runs_the_handler_but_loses_the_answer(
    emu: Emulator, oai: openai.OpenAI
) -> None:
    """The exactly-once scenario: the batch exists although the client saw an error."""
    file_id = _file(oai)
    emu.add_fault(kind="drop_after", route="POST /v1/batches", calls=[1])
    with pytest.raises(openai.APIConnectionError):
        oai.batches.create(
            input_file_id=file_id,
            metadata={"llmbatch_shard": "0001"},
            **CREATE,  # type: ignore[arg-type]
        )
    [batch] = list(oai.batches.list())
    assert batch.metadata == {"llmbatch_shard": "0001"}
    assert emu.state()["openai"]["batch_count"] == 1


def test_drop_after_with_plain_httpx(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.add_fault(kind="drop_after", route="POST /v1/messages/batches")
    with pytest.raises(DROPPED):
        ahttp.post("/v1/messages/batches", json={"requests": [anthropic_request("a")]})
    assert emu.state()["anthropic"]["batch_count"] == 1
    assert emu.request_log[-1]["status"] == 200


def test_drop_after_on_file_content(emu: Emulator, http: httpx.Client) -> None:
    data = jsonl([chat_line(f"r{i}") for i in range(20)])
    file_id = http.post(
        "/v1/files", files={"file": ("a.jsonl", data)}, data={"purpose": "batch"}
    ).json()["id"]
    emu.add_fault(kind="drop_after", route="GET /v1/files/*/content", calls=[1])
    with pytest.raises(DROPPED):
        http.get(f"/v1/files/{file_id}/content")
    assert http.get(f"/v1/files/{file_id}/content").content == data


def test_slow(emu: Emulator, http: httpx.Client, oai: openai.OpenAI) -> None:
    emu.add_fault(kind="slow", route="GET /v1/batches", delay=0.3)
    started = time.monotonic()
    assert http.get("/v1/batches").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.05).batches.list()


def test_slow_after_changes_state_before_the_late_answer(
    emu: Emulator, ahttp: httpx.Client
) -> None:
    emu.add_fault(kind="slow_after", route="POST /v1/messages/batches", calls=[1], delay=5.0)
    with pytest.raises(httpx.ReadTimeout):
        ahttp.post("/v1/messages/batches", json={"requests": [anthropic_request("a")]}, timeout=0.1)
    deadline = time.monotonic() + 30  # the handler may run after the client gave up waiting
    while emu.state()["anthropic"]["batch_count"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.state()["anthropic"]["batch_count"] == 1
    assert emu.request_log[-1]["fault"] == "slow_after"


# ---- per-request errors and the quota ---------------------------------------------------


def test_openai_request_error_rate(
    emu: Emulator, run_batch: Callable[..., dict[str, Any]], file_lines: Callable[..., Any]
) -> None:
    emu.configure(request_error_rate=0.3)
    batch = run_batch([chat_line(f"r{i}") for i in range(60)])
    counts = batch["request_counts"]
    assert counts["total"] == 60 and 5 < counts["failed"] < 35
    errors = file_lines(batch["error_file_id"])
    assert len(errors) == counts["failed"]
    for line in errors:
        assert line["response"]["status_code"] == 500
        assert line["response"]["body"]["error"]["type"] == "server_error"
        assert line["error"] is None


def test_openai_request_error_type(
    emu: Emulator, run_batch: Callable[..., dict[str, Any]], file_lines: Callable[..., Any]
) -> None:
    emu.configure(request_error_rate=1.0, request_error_type="invalid_request_error")
    batch = run_batch([chat_line("a"), chat_line("b")])
    assert batch["output_file_id"] is None
    statuses = {line["response"]["status_code"] for line in file_lines(batch["error_file_id"])}
    assert statuses == {400}


def test_anthropic_request_error_rate(emu: Emulator, ahttp: httpx.Client) -> None:
    emu.configure(request_error_rate=1.0, request_error_type="overloaded_error")
    requests = [anthropic_request(f"r{i}") for i in range(3)]
    batch_id = ahttp.post("/v1/messages/batches", json={"requests": requests}).json()["id"]
    batch = ahttp.get(f"/v1/messages/batches/{batch_id}").json()
    assert batch["request_counts"]["errored"] == 3
    body = ahttp.get(f"/v1/messages/batches/{batch_id}/results").content
    for line in map(orjson.loads, body.splitlines()):
        assert line["result"]["type"] == "errored"
        assert line["result"]["error"]["type"] == "error"
        assert line["result"]["error"]["error"]["type"] == "overloaded_error"


def test_enqueued_token_limit(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    emu.configure(enqueued_token_limit=1)  # one batch alone is over the limit
    probe = upload([chat_line(f"r{i}") for i in range(3)])
    tiny = http.post("/v1/batches", json={"input_file_id": probe, **CREATE}).json()["id"]
    failed = http.get(f"/v1/batches/{tiny}").json()
    assert failed["status"] == "failed"
    [error] = failed["errors"]["data"]
    assert error["code"] == "token_limit_exceeded"
    assert error["message"].startswith("Enqueued token limit reached for gpt-4o-mini")
    assert "Limit: 1 enqueued tokens" in error["message"]
    assert (error["line"], error["param"]) == (None, None)
    assert failed["request_counts"] == {"total": 0, "completed": 0, "failed": 0}


def test_enqueued_token_limit_counts_the_queue(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    lines = [chat_line(f"r{i}") for i in range(3)]
    tokens = sum(fake_model.estimate_tokens(line["body"]) for line in lines)
    file_id = upload(lines)
    other_model = upload([chat_line(f"r{i}", model="gpt-4o") for i in range(3)])
    limit = {"gpt-4o-mini": tokens + tokens // 2}
    emu.configure(requests_per_second=1, enqueued_token_limit=limit)
    first = http.post("/v1/batches", json={"input_file_id": file_id, **CREATE}).json()["id"]
    assert http.get(f"/v1/batches/{first}").json()["status"] == "in_progress"
    second = http.post("/v1/batches", json={"input_file_id": file_id, **CREATE}).json()["id"]
    assert http.get(f"/v1/batches/{second}").json()["status"] == "failed"
    third = http.post("/v1/batches", json={"input_file_id": other_model, **CREATE}).json()["id"]
    assert http.get(f"/v1/batches/{third}").json()["status"] == "in_progress"  # no limit
    emu.advance(3)  # the first batch completes and frees the queue
    assert http.get(f"/v1/batches/{first}").json()["status"] == "completed"
    fourth = http.post("/v1/batches", json={"input_file_id": file_id, **CREATE}).json()["id"]
    assert http.get(f"/v1/batches/{fourth}").json()["status"] == "in_progress"


# ---- damaged answers --------------------------------------------------------------------

GATEWAY_HTML = (
    b"<!DOCTYPE html><html><head><title>Gateway</title></head>"
    b"<body><h1>Service temporarily unavailable</h1></body></html>"
)
DAMAGE_KINDS = ["html", "truncate", "truncate_lines"]


def _expected(kind: str, body: bytes) -> bytes:
    """What `kind` makes of an intact 2xx `body`, computed independently of the emulator."""
    if kind == "html":
        return GATEWAY_HTML
    if kind == "truncate":
        return body[: len(body) // 2]
    lines = body.splitlines(keepends=True)
    return b"".join(lines[: len(lines) // 2])


def _sent_whole(response: httpx.Response) -> bytes:
    """The body, after checking that Content-Length matches the bytes that arrived."""
    assert response.headers["content-length"] == str(len(response.content))
    return response.content


def _check_damage(kind: str, intact: httpx.Response, damaged: httpx.Response, lines: int) -> None:
    body = _sent_whole(damaged)
    assert damaged.status_code == 200
    assert body == _expected(kind, intact.content)
    if kind == "html":
        assert body == GATEWAY_HTML
        assert damaged.headers["content-type"] == "text/html; charset=utf-8"
        return
    assert damaged.headers["content-type"] == intact.headers["content-type"]
    assert intact.content.startswith(body) and len(body) < len(intact.content)
    if kind == "truncate":
        assert len(body) == len(intact.content) // 2
        assert not body.endswith(b"\n")  # cut mid-line
    else:
        assert body.endswith(b"\n") and body.count(b"\n") == lines // 2
        assert all(orjson.loads(line) for line in body.splitlines())  # whole lines only


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_damaged_openai_file_content(
    emu: Emulator, http: httpx.Client, run_batch: Callable[..., dict[str, Any]], kind: str
) -> None:
    batch = run_batch([chat_line(f"r{i}") for i in range(5)])
    url = f"/v1/files/{batch['output_file_id']}/content"
    intact = http.get(url)
    assert intact.content.count(b"\n") == 5
    emu.add_fault(kind=kind, route="GET /v1/files/*/content", calls=[1])
    damaged = http.get(url)
    _check_damage(kind, intact, damaged, lines=5)
    assert damaged.headers["x-request-id"].startswith("req_")
    assert emu.request_log[-1]["fault"] == kind
    assert emu.request_log[-1]["status"] == 200
    assert http.get(url).content == intact.content  # only the faulted call is damaged


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_damaged_anthropic_results(emu: Emulator, ahttp: httpx.Client, kind: str) -> None:
    requests = [anthropic_request(f"r{i}") for i in range(5)]
    batch_id = ahttp.post("/v1/messages/batches", json={"requests": requests}).json()["id"]
    assert ahttp.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
    url = f"/v1/messages/batches/{batch_id}/results"
    intact = ahttp.get(url)
    assert intact.content.count(b"\n") == 5
    emu.add_fault(kind=kind, route="GET /v1/messages/batches/*/results", calls=[1])
    damaged = ahttp.get(url)
    _check_damage(kind, intact, damaged, lines=5)
    assert damaged.headers["request-id"].startswith("req_011C")
    assert ahttp.get(url).content == intact.content


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_damaged_streamed_file_content(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str], kind: str
) -> None:
    """Over 8 MiB the content is a streamed FileResponse; it is read, then damaged."""
    line = chat_line("r", note="x" * 1000)
    lines = [{**line, "custom_id": f"r{i}"} for i in range(8_501)]
    data = jsonl(lines)
    assert len(data) > 8 * 1024 * 1024
    url = f"/v1/files/{upload(data)}/content"
    intact = http.get(url)
    assert intact.content == data
    assert intact.headers["accept-ranges"] == "bytes"  # served by FileResponse
    emu.add_fault(kind=kind, route="GET /v1/files/*/content", calls=[1])
    damaged = http.get(url)
    _check_damage(kind, intact, damaged, lines=8_501)
    assert damaged.headers["accept-ranges"] == "bytes"  # the other headers are kept


def test_truncate_lines_of_a_single_line_is_empty(
    emu: Emulator, http: httpx.Client, upload: Callable[..., str]
) -> None:
    url = f"/v1/files/{upload([chat_line('only')])}/content"
    emu.add_fault(kind="truncate_lines", route="GET /v1/files/*/content", calls=[1])
    damaged = http.get(url)
    assert damaged.status_code == 200
    assert damaged.headers["content-length"] == "0"
    assert damaged.content == b""


def test_damage_spares_errors_but_html_hides_them(emu: Emulator, http: httpx.Client) -> None:
    emu.add_fault(kind="truncate", route="GET /v1/files/*/content", calls=[1])
    emu.add_fault(kind="truncate_lines", route="GET /v1/files/*/content", calls=[2])
    emu.add_fault(kind="html", route="GET /v1/files/*/content", calls=[3])
    for _ in range(2):
        missing = http.get("/v1/files/file-nope/content")
        assert missing.status_code == 404
        assert _sent_whole(missing) and missing.json()["error"]["message"]
    hidden = http.get("/v1/files/file-nope/content")
    assert hidden.status_code == 200
    assert _sent_whole(hidden) == GATEWAY_HTML
    assert hidden.headers["content-type"] == "text/html; charset=utf-8"
    assert emu.request_log[-1]["status"] == 200
    assert [e["fault"] for e in emu.request_log] == ["truncate", "truncate_lines", "html"]


def test_null_output_file_on_a_completed_batch(
    emu: Emulator, http: httpx.Client, oai: openai.OpenAI, run_batch: Callable[..., Any]
) -> None:
    batch = run_batch([chat_line("a"), chat_line("b")])
    assert batch["status"] == "completed"
    assert batch["request_counts"]["completed"] == 2 and batch["output_file_id"]
    emu.add_fault(kind="null_output_file", route="GET /v1/batches/*", calls=[1, 3])
    damaged = http.get(f"/v1/batches/{batch['id']}")
    assert damaged.status_code == 200
    _sent_whole(damaged)
    assert damaged.json() == {**batch, "output_file_id": None}  # every other key unchanged
    assert http.get(f"/v1/batches/{batch['id']}").json() == batch  # the next call is intact
    seen = oai.batches.retrieve(batch["id"])  # the third call: the SDK sees the same lie
    assert seen.status == "completed" and seen.output_file_id is None
    assert seen.request_counts is not None and seen.request_counts.completed == 2
    assert oai.batches.retrieve(batch["id"]).output_file_id == batch["output_file_id"]


def test_null_output_file_leaves_other_answers_alone(
    emu: Emulator, http: httpx.Client, run_batch: Callable[..., Any]
) -> None:
    batch = run_batch([chat_line("a")])
    file_url = f"/v1/files/{batch['output_file_id']}"
    intact = [http.get(url).content for url in (file_url, f"{file_url}/content", "/v1/batches")]
    emu.add_fault(kind="null_output_file", route="GET /v1/*")
    for url, before in zip((file_url, f"{file_url}/content", "/v1/batches"), intact, strict=True):
        after = http.get(url)
        assert _sent_whole(after) == before  # no top-level output_file_id: unchanged
    assert {e["fault"] for e in emu.request_log[-3:]} == {"null_output_file"}


@pytest.mark.parametrize("kind", ["html", "truncate", "truncate_lines", "null_output_file"])
def test_damage_kinds_are_valid_rules(emu: Emulator, kind: str) -> None:
    assert FaultRule(kind=kind).kind == kind
    response = httpx.post(f"{emu.url}/_emulator/faults", json={"kind": kind, "calls": [2]})
    assert response.json()["rule"]["kind"] == kind
    with pytest.raises(ConfigError):
        FaultRule(kind=kind + "d")


def test_first_half_of_lines() -> None:
    assert first_half_of_lines(b"") == b""
    assert first_half_of_lines(b"a\n") == b""
    assert first_half_of_lines(b"a") == b""
    assert first_half_of_lines(b"a\nb\n") == b"a\n"
    assert first_half_of_lines(b"a\nb\nc\n") == b"a\n"
    assert first_half_of_lines(b"a\nb\nc\nd") == b"a\nb\n"  # the last line has no newline
    assert first_half_of_lines(b"a\n\nb\nc\n") == b"a\n\n"  # an empty line is a line


def test_damage_reads_a_streaming_answer() -> None:
    async def run(kind: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        async def chunks() -> Any:
            yield b'{"a": 1}\n{"b"'
            yield ': 2}\n{"c": 3}\n'

        streamed = StreamingResponse(chunks(), 201, {"x-keep": "1"}, "application/jsonl")
        damaged = await damage(streamed, kind)
        return damaged.status_code, bytes(damaged.body), damaged.raw_headers

    body = b'{"a": 1}\n{"b": 2}\n{"c": 3}\n'
    status, cut, headers = asyncio.run(run("truncate"))
    assert (status, cut) == (201, body[: len(body) // 2])
    wanted = [(b"x-keep", b"1"), (b"content-type", b"application/jsonl")]
    assert sorted(headers) == sorted([*wanted, (b"content-length", str(len(cut)).encode())])
    assert asyncio.run(run("truncate_lines"))[1] == b'{"a": 1}\n'
