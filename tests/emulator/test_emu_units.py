"""Small pieces: the timeline arithmetic, id formats, timestamps, config, route patterns."""

from __future__ import annotations

import re

import pytest

from llmbatch.emulator import ConfigError, EmulatorConfig, FaultRule, ids
from llmbatch.emulator.clock import Clock, rfc3339, unix
from llmbatch.emulator.faults import request_fails, route_matches
from llmbatch.emulator.timeline import Timeline


def _timeline(**kw: object) -> Timeline:
    values: dict[str, object] = {
        "start": 100.0,
        "n": 4,
        "rps": 2.0,
        "finalizing_seconds": 5.0,
        "cancel_seconds": 3.0,
        "expires_at": 1000.0,
    }
    values.update(kw)
    return Timeline(**values)  # type: ignore[arg-type]


def test_timeline_progress_and_completion() -> None:
    line = _timeline()
    assert [line.processed_by(t) for t in (99, 100, 100.5, 101.2, 102, 500)] == [0, 0, 1, 2, 4, 4]
    assert line.all_done_at == 102
    assert line.outcome() == ("completed", 107)


def test_timeline_instant() -> None:
    line = _timeline(rps=None)
    assert line.processed_by(99.9) == 0 and line.processed_by(100) == 4
    assert line.outcome() == ("completed", 105)


def test_timeline_expiry_and_cancel() -> None:
    assert _timeline(expires_at=101.0).outcome() == ("expired", 101.0)
    assert _timeline(expires_at=101.0).processed_by(500) == 2
    cancelled = _timeline(cancel_at=100.6)
    assert cancelled.outcome() == ("cancelled", 103.6)
    assert cancelled.processed_by(500) == 1


def test_id_formats() -> None:
    assert re.fullmatch(r"file-[0-9A-Za-z]{22}", ids.file_id())
    assert re.fullmatch(r"batch_[0-9a-f]{32}", ids.batch_id())
    assert re.fullmatch(r"batch_req_[0-9a-f]{32}", ids.batch_request_id())
    assert re.fullmatch(r"[0-9a-f]{32}", ids.request_id_hex())
    assert re.fullmatch(r"msgbatch_01[0-9A-Za-z]{22}", ids.message_batch_id())
    assert re.fullmatch(r"req_011C[0-9A-Za-z]{20}", ids.anthropic_request_id())
    assert len({ids.batch_id() for _ in range(1000)}) == 1000


def test_timestamps_and_clock() -> None:
    assert unix(1.9) == 1 and unix(None) is None
    assert rfc3339(0.5) == "1970-01-01T00:00:00.500000Z"
    assert rfc3339(None) is None
    clock = Clock()
    before = clock.now()
    clock.advance(3600)
    assert clock.now() - before >= 3600
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_config_defaults_are_the_real_limits() -> None:
    config = EmulatorConfig()
    assert config.openai_max_requests == 50_000
    assert config.openai_max_bytes == 200 * 1024 * 1024
    assert config.openai_max_embedding_inputs == 50_000
    assert config.anthropic_max_requests == 100_000
    assert config.anthropic_max_bytes == 256 * 1024 * 1024
    assert config.completion_window_seconds == 86400
    assert config.requests_per_second is None and config.validating_seconds == 0


def test_config_token_limits_and_validation() -> None:
    assert EmulatorConfig(enqueued_token_limit=5).token_limit_for("any") == 5
    per_model = EmulatorConfig(enqueued_token_limit={"gpt-4o": 7})
    assert per_model.token_limit_for("gpt-4o") == 7
    assert per_model.token_limit_for("gpt-4o-mini") is None
    assert EmulatorConfig(faults=[{"kind": 429, "calls": [1]}]).faults == (  # type: ignore[list-item]
        FaultRule(kind="429", calls=(1,)),
    )
    for bad in (
        {"validating_seconds": -1},
        {"completion_window_seconds": 0},
        {"request_error_rate": -0.1},
    ):
        with pytest.raises(ConfigError):
            EmulatorConfig(**bad)  # type: ignore[arg-type]


def test_route_patterns() -> None:
    assert route_matches("*", "GET", "/v1/files")
    assert route_matches("POST /v1/batches", "POST", "/v1/batches")
    assert not route_matches("POST /v1/batches", "GET", "/v1/batches")
    assert route_matches("get /v1/batches/*", "GET", "/v1/batches/b/cancel")
    assert route_matches("* /v1/files", "DELETE", "/v1/files")
    assert route_matches("/v1/files*", "GET", "/v1/files/f/content")


def test_request_failures_are_seeded() -> None:
    draws = [request_fails(0, 1, f"r{i}", 0.5) for i in range(200)]
    assert 60 < sum(draws) < 140
    assert draws == [request_fails(0, 1, f"r{i}", 0.5) for i in range(200)]
    assert draws != [request_fails(0, 2, f"r{i}", 0.5) for i in range(200)]
    assert not any(request_fails(0, 1, f"r{i}", 0.0) for i in range(200))


@pytest.mark.parametrize("rps", [3.0, 7.0, 40.0, 0.3])
def test_every_request_has_run_once_the_schedule_is_done(rps: float) -> None:
    start = 1_796_000_000.123456  # a clock time, where float steps are coarse
    for n in (1, 4, 5, 13):
        timeline = Timeline(start, n, rps, 0.0, 0.0, start + 10**6)
        assert timeline.processed_by(timeline.all_done_at) == n
        assert timeline.processed_by(timeline.done_at(n - 2) if n > 1 else start) <= n
