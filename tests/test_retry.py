"""The retry policy as pure functions: what is retried, how long we wait, the zero-wait switch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from llmbatch._retry import (
    RetryPolicy,
    RetryStats,
    retry_delay,
    set_zero_wait,
    should_retry,
    sleep,
    zero_wait,
    zero_wait_active,
)

NO_JITTER = RetryPolicy(jitter=0.0)


@pytest.fixture(autouse=True)
def _zero_wait() -> Iterator[None]:
    with zero_wait():
        yield


# -- should_retry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, True),  # connection error / timeout
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (529, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (413, False),
        (422, False),
    ],
)
def test_should_retry_by_status(status: int | None, expected: bool) -> None:
    assert should_retry(status, {}) is expected
    assert should_retry(status, None) is expected


@pytest.mark.parametrize("status", [400, 404, 429, 500, 529])
def test_x_should_retry_wins_both_ways(status: int) -> None:
    assert should_retry(status, {"x-should-retry": "true"}) is True
    assert should_retry(status, {"X-Should-Retry": "FALSE"}) is False


def test_x_should_retry_other_values_are_ignored() -> None:
    assert should_retry(503, {"x-should-retry": "maybe"}) is True
    assert should_retry(400, {"x-should-retry": ""}) is False


# -- retry_delay: what the server asks -----------------------------------------------------


def test_retry_after_ms_is_read_first() -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "46"}
    assert retry_delay(NO_JITTER, 0, headers) == 1.5


def test_retry_after_seconds_integer_and_float() -> None:
    assert retry_delay(NO_JITTER, 3, {"retry-after": "2"}) == 2.0
    assert retry_delay(NO_JITTER, 3, {"retry-after": "2.5"}) == 2.5


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert retry_delay(NO_JITTER, 0, {"Retry-After": "7"}) == 7.0
    assert retry_delay(NO_JITTER, 0, {"Retry-After-Ms": "250"}) == 0.25


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    when = datetime.fromtimestamp(now + 30, tz=timezone.utc)
    headers = {"retry-after": format_datetime(when, usegmt=True)}
    assert retry_delay(NO_JITTER, 0, headers, now=now) == pytest.approx(30.0)


def test_retry_after_http_date_in_the_past_falls_back_to_backoff() -> None:
    now = 1_800_000_000.0
    when = datetime.fromtimestamp(now - 30, tz=timezone.utc)
    headers = {"retry-after": format_datetime(when, usegmt=True)}
    assert retry_delay(NO_JITTER, 2, headers, now=now) == 2.0


def test_zero_retry_after_is_honoured() -> None:
    assert retry_delay(NO_JITTER, 4, {"retry-after": "0"}) == 0.0


def test_too_long_a_wait_means_give_up() -> None:
    assert retry_delay(NO_JITTER, 0, {"retry-after": "301"}) is None
    assert retry_delay(NO_JITTER, 0, {"retry-after-ms": "300001"}) is None
    assert retry_delay(NO_JITTER, 0, {"retry-after": "inf"}) is None
    assert retry_delay(NO_JITTER, 0, {"retry-after": "300"}) == 300.0


def test_max_server_wait_is_configurable() -> None:
    policy = RetryPolicy(max_server_wait=60.0, jitter=0.0)
    assert retry_delay(policy, 0, {"retry-after": "61"}) is None
    assert retry_delay(policy, 0, {"retry-after": "60"}) == 60.0


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "-5"},
        {"retry-after-ms": "-100"},
        {"retry-after": "soon"},
        {"retry-after": "nan"},
        {"retry-after": ""},
        {"retry-after-ms": "abc"},
        {},
        None,
    ],
)
def test_negative_or_garbage_values_fall_back_to_backoff(headers: dict[str, str] | None) -> None:
    assert retry_delay(NO_JITTER, 1, headers) == 1.0


def test_garbage_retry_after_ms_falls_through_to_retry_after() -> None:
    assert retry_delay(NO_JITTER, 0, {"retry-after-ms": "x", "retry-after": "3"}) == 3.0


# -- retry_delay: backoff --------------------------------------------------------------------


def test_backoff_doubles_then_caps() -> None:
    delays = [retry_delay(NO_JITTER, attempt, None) for attempt in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert retry_delay(NO_JITTER, 10_000, None) == 8.0


def test_backoff_follows_the_policy() -> None:
    policy = RetryPolicy(initial_delay=0.1, max_delay=0.3, jitter=0.0)
    assert [retry_delay(policy, n, None) for n in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])


def test_jitter_only_shortens_by_up_to_a_quarter() -> None:
    policy = RetryPolicy()
    samples = [retry_delay(policy, 2, None) for _ in range(500)]
    assert all(s is not None and 1.5 <= s <= 2.0 for s in samples)
    assert len(set(samples)) > 1  # it does vary


def test_jitter_does_not_touch_server_waits() -> None:
    assert retry_delay(RetryPolicy(), 0, {"retry-after": "5"}) == 5.0


@pytest.mark.parametrize(
    "kwargs", [{"max_retries": -1}, {"jitter": 1.5}, {"jitter": -0.1}, {"deadline": 0}]
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_sdk_like_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.initial_delay, policy.max_delay, policy.jitter) == (0.5, 8.0, 0.25)
    assert policy.max_retries == 6 and policy.max_server_wait == 300.0 and policy.deadline is None


# -- zero wait ---------------------------------------------------------------------------------


def test_zero_wait_skips_sleeping() -> None:
    started = time.monotonic()
    assert sleep(3600.0) == 0.0
    assert time.monotonic() - started < 600  # generous: an hour's sleep was skipped


def test_zero_wait_context_restores_previous_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBATCH_RETRY_ZERO_WAIT", raising=False)
    set_zero_wait(False)
    try:
        assert not zero_wait_active()
        with zero_wait():
            assert zero_wait_active()
        assert not zero_wait_active()
        assert sleep(0.01) == 0.01
    finally:
        set_zero_wait(True)  # the autouse context restores its own value afterwards


def test_zero_wait_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_zero_wait(False)
    try:
        monkeypatch.setenv("LLMBATCH_RETRY_ZERO_WAIT", "1")
        assert zero_wait_active()
        monkeypatch.setenv("LLMBATCH_RETRY_ZERO_WAIT", "0")
        assert not zero_wait_active()
    finally:
        set_zero_wait(True)


def test_decisions_do_not_change_under_zero_wait() -> None:
    assert retry_delay(NO_JITTER, 0, {"retry-after": "301"}) is None
    assert retry_delay(NO_JITTER, 0, {"retry-after": "5"}) == 5.0


def test_stats_count_by_reason() -> None:
    stats = RetryStats()
    stats.count_retry("429", 1.5)
    stats.count_retry("429", 0.5)
    stats.count_retry("connection", 0.0)
    assert stats.as_dict() == {
        "requests": 0,
        "retries": 3,
        "by_reason": {"429": 2, "connection": 1},
        "recovered": 0,
        "waited": 2.0,
    }
