"""HTTPClient over httpx.MockTransport: retries, typed errors, recover(), streaming, downloads."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmbatch._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from llmbatch._http import HTTPClient, same_origin
from llmbatch._retry import RetryPolicy, set_zero_wait, zero_wait
from llmbatch.providers.anthropic import parse_anthropic_error
from llmbatch.providers.openai import parse_openai_error

BASE = "http://127.0.0.1:9/v1"
KEY = "sk-SENTINEL-123"
Reply = httpx.Response | Exception


@pytest.fixture(autouse=True)
def _zero_wait() -> Iterator[None]:
    with zero_wait():
        yield


class Script:
    """A MockTransport handler answering from a list; records every request (body read)."""

    def __init__(self, *replies: Reply | Callable[[httpx.Request], Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def count(self) -> int:
        return len(self.requests)


def make_client(
    script: Script,
    *,
    retry: RetryPolicy | None = None,
    parser: Any = parse_openai_error,
    headers: dict[str, str] | None = None,
) -> HTTPClient:
    return HTTPClient(
        base_url=BASE,
        headers=headers if headers is not None else {"Authorization": f"Bearer {KEY}"},
        retry=retry or RetryPolicy(),
        error_parser=parser,
        transport=httpx.MockTransport(script),
    )


def ok(payload: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"ok": True}, **kwargs)


def openai_error(status: int, message: str = "boom", type_: str = "server_error", **kw: Any):
    body = {"error": {"message": message, "type": type_, "param": None, "code": None}}
    return httpx.Response(status, json=body, **kw)


def anthropic_error(status: int, type_: str, message: str = "boom", **kw: Any) -> httpx.Response:
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_b"}
    return httpx.Response(status, json=body, **kw)


# -- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_retried_then_succeed(status: int) -> None:
    script = Script(openai_error(status), openai_error(status), ok({"id": "x"}))
    with make_client(script) as http:
        assert http.request("GET", "/batches/x") == {"id": "x"}
    assert script.count == 3


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.ReadTimeout("slow read"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
    ],
)
def test_connection_errors_are_retried(exc: Exception) -> None:
    script = Script(exc, ok())
    with make_client(script) as http:
        assert http.request("GET", "/files") == {"ok": True}
    assert script.count == 2


def test_retry_count_header_counts_attempts() -> None:
    script = Script(openai_error(503), openai_error(429), ok())
    with make_client(script) as http:
        http.request("GET", "/files")
    assert [r.headers["x-llmbatch-retry-count"] for r in script.requests] == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (403, APIStatusError),
    ],
)
def test_client_errors_are_not_retried(status: int, cls: type[APIStatusError]) -> None:
    script = Script(openai_error(status, "nope", "invalid_request_error"))
    with make_client(script) as http, pytest.raises(cls) as info:
        http.request("GET", "/batches/x")
    assert script.count == 1
    assert info.value.status_code == status


def test_x_should_retry_false_stops_a_retry_and_true_forces_one() -> None:
    script = Script(openai_error(503, headers={"x-should-retry": "false"}))
    with make_client(script) as http, pytest.raises(ServerError):
        http.request("GET", "/files")
    assert script.count == 1
    script = Script(openai_error(400, headers={"x-should-retry": "true"}), ok())
    with make_client(script) as http:
        assert http.request("GET", "/files") == {"ok": True}
    assert script.count == 2


def test_gives_up_after_max_retries_with_typed_openai_error() -> None:
    body = {
        "error": {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    reply = httpx.Response(429, json=body, headers={"x-request-id": "req_123"})
    script = Script(reply)
    with (
        make_client(script, retry=RetryPolicy(max_retries=3)) as http,
        pytest.raises(RateLimitError) as info,
    ):
        http.request("POST", "/files")
        assert http.stats.retries == 3
    assert script.count == 4
    err = info.value
    assert (err.status_code, err.error_type, err.request_id) == (429, "requests", "req_123")
    assert err.message == "Rate limit reached for requests"
    assert err.body == body
    assert "req_123" in str(err) and "Rate limit reached" in str(err)


def test_gives_up_with_typed_anthropic_error_and_request_id_header() -> None:
    reply = anthropic_error(529, "overloaded_error", "Overloaded", headers={"request-id": "req_h"})
    script = Script(reply)
    retry = RetryPolicy(max_retries=2)
    with (
        make_client(script, retry=retry, parser=parse_anthropic_error) as http,
        pytest.raises(ServerError) as info,
    ):
        http.request("GET", "/v1/messages/batches/b")
    assert script.count == 3
    err = info.value
    assert (err.status_code, err.error_type, err.request_id) == (529, "overloaded_error", "req_h")
    assert err.message == "Overloaded"


def test_anthropic_request_id_falls_back_to_the_body() -> None:
    script = Script(anthropic_error(404, "not_found_error", "no such batch"))
    with (
        make_client(script, parser=parse_anthropic_error) as http,
        pytest.raises(NotFoundError) as info,
    ):
        http.request("GET", "/v1/messages/batches/b")
    assert info.value.request_id == "req_b"
    assert info.value.error_type == "not_found_error"


@pytest.mark.parametrize("parser", [parse_openai_error, parse_anthropic_error])
def test_non_json_error_bodies_give_their_text(parser: Any) -> None:
    html = "<html>" + "x" * 1000 + "</html>"
    script = Script(httpx.Response(502, text=html))
    with (
        make_client(script, retry=RetryPolicy(max_retries=0), parser=parser) as http,
        pytest.raises(ServerError) as info,
    ):
        http.request("GET", "/files")
    assert info.value.message == html[:500]
    assert info.value.error_type is None


def test_empty_error_body_gives_the_reason_phrase() -> None:
    script = Script(httpx.Response(401))
    with make_client(script) as http, pytest.raises(AuthenticationError) as info:
        http.request("GET", "/files")
    assert "401" in info.value.message and "Unauthorized" in info.value.message


def test_connection_failure_after_retries_is_typed_and_chained() -> None:
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    with (
        make_client(script, retry=RetryPolicy(max_retries=2)) as http,
        pytest.raises(APIConnectionError) as info,
    ):
        http.request("GET", "/files")
    assert script.count == 3
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "3 attempt" in str(info.value) and "Connection refused" in str(info.value)
    assert KEY not in str(info.value)


def test_timeout_after_retries_is_an_api_timeout_error() -> None:
    script = Script(httpx.ReadTimeout("timed out"))
    with (
        make_client(script, retry=RetryPolicy(max_retries=1)) as http,
        pytest.raises(APITimeoutError) as info,
    ):
        http.request("GET", "/files")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_retry_after_longer_than_max_server_wait_gives_up_at_once() -> None:
    script = Script(openai_error(429, headers={"retry-after": "3600"}), ok())
    with make_client(script) as http, pytest.raises(RateLimitError):
        http.request("GET", "/files")
    assert script.count == 1


def test_stats_count_requests_and_retries_by_reason() -> None:
    script = Script(
        openai_error(429), openai_error(503), httpx.ConnectError("x"), httpx.ReadTimeout("t"), ok()
    )
    with make_client(script) as http:
        http.request("GET", "/files")
        http.request("GET", "/files")
        stats = http.stats.as_dict()
    assert stats["requests"] == 6
    assert stats["retries"] == 4
    assert stats["by_reason"] == {"429": 1, "503": 1, "connection": 1, "timeout": 1}
    assert stats["waited"] == 0.0  # zero-wait


def test_retries_are_logged_without_header_values(caplog: pytest.LogCaptureFixture) -> None:
    script = Script(openai_error(503), ok())
    with caplog.at_level(logging.INFO, logger="llmbatch"), make_client(script) as http:
        http.request("GET", "/files")
    assert any("503" in r.getMessage() and "retry 1/6" in r.getMessage() for r in caplog.records)
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text


# -- deadline ------------------------------------------------------------------------------


@pytest.fixture
def real_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LLMBATCH_RETRY_ZERO_WAIT", raising=False)
    set_zero_wait(False)
    yield
    set_zero_wait(True)


@pytest.mark.usefixtures("real_waits")
def test_deadline_bounds_the_whole_call() -> None:
    script = Script(openai_error(503))
    # Without the deadline, 1,000 retries at 0.05 s would take 50 s and make 1,001 calls.
    retry = RetryPolicy(max_retries=1000, initial_delay=0.05, max_delay=0.05, deadline=0.4)
    with make_client(script, retry=retry) as http:
        with pytest.raises(ServerError):
            http.request("GET", "/files")
        assert http.stats.waited <= 0.4
    assert 2 <= script.count < 1000


@pytest.mark.usefixtures("real_waits")
def test_a_wait_past_the_deadline_gives_up_without_sleeping() -> None:
    script = Script(openai_error(429, headers={"retry-after": "600"}), ok())
    with make_client(script, retry=RetryPolicy(deadline=1.0)) as http:
        with pytest.raises(RateLimitError):
            http.request("GET", "/files")
        assert http.stats.waited == 0
    assert script.count == 1


@pytest.mark.usefixtures("real_waits")
def test_backoff_really_sleeps_without_zero_wait() -> None:
    script = Script(openai_error(503), ok())
    retry = RetryPolicy(initial_delay=0.1, jitter=0.0)
    started = time.monotonic()
    with make_client(script, retry=retry) as http:
        http.request("GET", "/files")
        assert http.stats.waited == pytest.approx(0.1)
    assert time.monotonic() - started >= 0.1  # a lower bound: a loaded machine only adds


def test_attempt_timeouts_shrink_to_the_deadline() -> None:
    script = Script(ok())
    with make_client(script, retry=RetryPolicy(deadline=2.0)) as http:
        http.request("GET", "/files")
    timeout = script.requests[0].extensions["timeout"]
    assert 0 < timeout["read"] <= 2.0 and 0 < timeout["connect"] <= 2.0


def test_attempt_timeouts_without_deadline() -> None:
    script = Script(ok())
    with make_client(script) as http:
        http.request("GET", "/files")
    timeout = script.requests[0].extensions["timeout"]
    assert (timeout["read"], timeout["connect"]) == (600.0, 10.0)


# -- non-idempotent calls and recover() ----------------------------------------------------


class Recover:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("lost answer"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.ReadError("reset"),
        openai_error(500),
        openai_error(503),
    ],
)
def test_ambiguous_failure_returns_what_recover_found(failure: Reply) -> None:
    script = Script(failure, ok({"id": "batch_duplicate"}))
    recover = Recover({"id": "batch_found"})
    with make_client(script) as http:
        result = http.request("POST", "/batches", json={}, idempotent=False, recover=recover)
        assert http.stats.recovered == 1
    assert result == {"id": "batch_found"}
    assert script.count == 1  # never sent twice
    assert recover.calls == 1


def test_ambiguous_failure_is_resent_when_recover_finds_nothing() -> None:
    script = Script(openai_error(500), ok({"id": "batch_new"}))
    recover = Recover(None)
    with make_client(script) as http:
        result = http.request("POST", "/batches", json={"a": 1}, idempotent=False, recover=recover)
    assert result == {"id": "batch_new"}
    assert script.count == 2 and recover.calls == 1
    assert script.bodies[0] == script.bodies[1] == b'{"a":1}'


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), openai_error(429)]
)
def test_unambiguous_failures_retry_without_recover(failure: Reply) -> None:
    script = Script(failure, ok({"id": "batch_new"}))
    recover = Recover()
    with make_client(script) as http:
        result = http.request("POST", "/batches", json={}, idempotent=False, recover=recover)
    assert result == {"id": "batch_new"}
    assert recover.calls == 0 and script.count == 2


def test_ambiguous_failure_without_recover_is_not_resent() -> None:
    script = Script(httpx.ReadTimeout("lost"), ok())
    with make_client(script) as http, pytest.raises(APITimeoutError) as info:
        http.request("POST", "/batches", json={}, idempotent=False)
    assert script.count == 1
    assert "Hint:" in str(info.value)
    script = Script(openai_error(502), ok())
    with make_client(script) as http, pytest.raises(ServerError):
        http.request("POST", "/batches", json={}, idempotent=False)
    assert script.count == 1


def test_recover_gets_a_last_try_when_retries_run_out() -> None:
    script = Script(openai_error(503))
    recover = Recover(None, {"id": "batch_late"})
    with make_client(script, retry=RetryPolicy(max_retries=1)) as http:
        result = http.request("POST", "/batches", json={}, idempotent=False, recover=recover)
    assert result == {"id": "batch_late"}
    assert script.count == 2 and recover.calls == 2


def test_recover_errors_propagate_instead_of_resending() -> None:
    script = Script(httpx.ReadTimeout("lost"), ok())
    recover = Recover(APIConnectionError("cannot list batches"))
    with make_client(script) as http, pytest.raises(APIConnectionError, match="cannot list"):
        http.request("POST", "/batches", json={}, idempotent=False, recover=recover)
    assert script.count == 1


def test_idempotent_calls_never_call_recover() -> None:
    script = Script(openai_error(500), ok())
    recover = Recover()
    with make_client(script) as http:
        http.request("GET", "/batches", recover=recover)
    assert recover.calls == 0


# -- bodies -----------------------------------------------------------------------------------


def test_streamed_content_is_rebuilt_for_every_attempt() -> None:
    calls = 0

    def chunks() -> Iterator[bytes]:
        nonlocal calls
        calls += 1
        yield b'{"requests":['
        yield b'{"custom_id":"a"}'
        yield b"]}"

    script = Script(openai_error(503), httpx.ReadError("drop"), ok())
    with make_client(script) as http:
        http.request("POST", "/upload", content=chunks, headers={"content-type": "x/y"})
    assert calls == 3
    assert script.bodies == [b'{"requests":[{"custom_id":"a"}]}'] * 3


def test_bytes_content_and_json_bodies() -> None:
    script = Script(ok(), ok())
    with make_client(script) as http:
        http.request("POST", "/a", content=b"raw")
        http.request("POST", "/b", json={"x": [1, 2]})
    assert script.bodies == [b"raw", b'{"x":[1,2]}']
    assert script.requests[1].headers["content-type"] == "application/json"


def test_multipart_file_is_rewound_on_retry(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"custom_id":"1"}\n')
    script = Script(openai_error(500), ok())
    with make_client(script) as http, source.open("rb") as fh:
        files = {"file": ("in.jsonl", fh, "application/jsonl")}
        http.request("POST", "/files", files=files, data={"purpose": "batch"})
    assert script.count == 2
    assert script.bodies[0].count(b'{"custom_id":"1"}') == 1
    assert script.bodies[0] == script.bodies[1].replace(
        *_boundaries(script.requests[1], script.requests[0])
    )


def _boundaries(a: httpx.Request, b: httpx.Request) -> tuple[bytes, bytes]:
    def boundary(r: httpx.Request) -> bytes:
        return r.headers["content-type"].split("boundary=")[1].encode()

    return boundary(a), boundary(b)


def test_empty_body_decodes_to_none_and_raw_gives_bytes() -> None:
    script = Script(httpx.Response(204), httpx.Response(200, content=b"a\nb\n"))
    with make_client(script) as http:
        assert http.request("DELETE", "/x") is None
        assert http.request("GET", "/y", raw=True) == b"a\nb\n"


def test_non_json_success_body_is_a_provider_error() -> None:
    script = Script(httpx.Response(200, content=b"<html>"))
    with make_client(script) as http, pytest.raises(ProviderError, match="non-JSON"):
        http.request("GET", "/files")


def test_default_headers_and_user_agent() -> None:
    script = Script(ok())
    with make_client(script, headers={"Authorization": f"Bearer {KEY}", "X-Extra": "1"}) as http:
        http.request("GET", "/files", params={"limit": 2}, headers={"accept": "a/b"})
    request = script.requests[0]
    assert str(request.url) == f"{BASE}/files?limit=2"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-extra"] == "1" and request.headers["accept"] == "a/b"
    assert request.headers["user-agent"].startswith("llmbatch/")


# -- secrets and origins ------------------------------------------------------------------------


def test_key_echoed_by_the_server_is_redacted() -> None:
    echo = openai_error(401, f"Incorrect API key provided: {KEY}", "invalid_request_error")
    script = Script(echo)
    with make_client(script) as http, pytest.raises(AuthenticationError) as info:
        http.request("GET", "/files")
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in orjson.dumps(info.value.body).decode()
    assert "<redacted>" in info.value.message


def test_client_repr_has_no_key() -> None:
    with make_client(Script(ok())) as http:
        assert KEY not in repr(http) and BASE in repr(http)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/v1/x",
        "http://127.0.0.2:9/v1/x",
        "http://127.0.0.1:10/x",
        "http://evil/x",
    ],
)
def test_absolute_urls_on_another_origin_are_refused(url: str) -> None:
    script = Script(ok())
    with make_client(script) as http, pytest.raises(ProviderError, match="refusing") as info:
        http.request("GET", url)
    assert script.count == 0
    assert KEY not in str(info.value)


def test_absolute_url_on_the_same_origin_is_allowed() -> None:
    script = Script(ok())
    with make_client(script) as http:
        http.request("GET", "http://127.0.0.1:9/other/path")
    assert str(script.requests[0].url) == "http://127.0.0.1:9/other/path"


def test_redirects_are_not_followed() -> None:
    script = Script(httpx.Response(307, headers={"location": "http://evil/steal"}))
    with make_client(script) as http, pytest.raises(APIStatusError) as info:
        http.request("GET", "/files")
    assert info.value.status_code == 307 and script.count == 1


def test_same_origin_normalises_default_ports() -> None:
    assert same_origin("https://api.anthropic.com/v1/x", "https://api.anthropic.com:443")
    assert same_origin("http://A.example/x", "http://a.example:80/y")
    assert not same_origin("https://api.anthropic.com", "http://api.anthropic.com")


# -- downloads ------------------------------------------------------------------------------------


class Dropping(httpx.SyncByteStream):
    """A body that sends some bytes, then the connection drops."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message")


def test_download_writes_atomically_with_mode_0600(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    script = Script(httpx.Response(200, content=b"line1\nline2\n"))
    with make_client(script) as http:
        assert http.download("/files/f/content", dest) == 12
    assert dest.read_bytes() == b"line1\nline2\n"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [dest]


def test_download_restarts_after_a_mid_body_drop(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    script = Script(
        httpx.Response(200, stream=Dropping(b"line1\n", b"li")),
        httpx.Response(200, content=b"line1\nline2\n"),
    )
    with make_client(script) as http:
        assert http.download("/files/f/content", dest) == 12
        assert http.stats.by_reason == {"connection": 1}
    assert dest.read_bytes() == b"line1\nline2\n"
    assert script.count == 2
    assert not (tmp_path / "out.jsonl.part").exists()


def test_failed_download_leaves_neither_file_nor_part(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    script = Script(lambda _: httpx.Response(200, stream=Dropping(b"half")))
    with (
        make_client(script, retry=RetryPolicy(max_retries=2)) as http,
        pytest.raises(APIConnectionError),
    ):
        http.download("/files/f/content", dest)
    assert script.count == 3
    assert list(tmp_path.iterdir()) == []


def test_download_keeps_an_existing_file_until_the_new_one_is_complete(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    dest.write_bytes(b"old")
    script = Script(openai_error(404, "no such file", "invalid_request_error"))
    with make_client(script) as http, pytest.raises(NotFoundError):
        http.download("/files/f/content", dest)
    assert script.count == 1  # 404 is not retried
    assert dest.read_bytes() == b"old"


def test_download_retries_status_errors_and_sends_headers(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    script = Script(openai_error(503), httpx.Response(200, content=b"x"))
    with make_client(script) as http:
        http.download("/r", dest, params={"a": "1"}, headers={"accept": "application/binary"})
    assert script.requests[1].headers["accept"] == "application/binary"
    assert script.requests[1].url.params["a"] == "1"
    assert dest.read_bytes() == b"x"
