"""Concurrent shards within the provider's enqueued-token quota: parallel sends, pacing by
`max_enqueued_tokens=` or a learned limit, one list call per polling round, and back-off.
Real HTTP to the emulator; its `enqueued_token_limit` fails any batch over the queue limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import llmbatch
from llmbatch.emulator.fake_text import estimate_tokens
from llmbatch.prepare import Limits
from llmbatch.quota import QuotaBook, estimate_shard_tokens
from llmbatch.waiting import _next_pause

BIG = 10**9
ROWS = 4  # rows per shard


def _frame(shards: int, word: str = "row") -> pd.DataFrame:
    """Rows whose request bodies all have the same length (so every shard weighs the same)."""
    n = shards * ROWS
    return pd.DataFrame({"body": [f"{word} {i:04d} of the quota test " * 3 for i in range(n)]})


def _job(df: pd.DataFrame, **kwargs: Any) -> llmbatch.BatchHandle:
    return df.llmbatch.complete(text="body", limits=Limits(ROWS, BIG), **kwargs)


def _shard_tokens(emu: Any) -> int:
    """One shard's enqueued tokens as the emulator counts them (measured on a probe job)."""
    probe = _job(_frame(1, "abc"), submit=False)
    lines = (probe.path / probe.shards[0]["path"]).read_bytes().splitlines()
    return sum(estimate_tokens(orjson.loads(line)["body"]) for line in lines)


def _statuses(emu: Any) -> list[str]:
    return [b["status"] for b in emu.state()["openai"]["batches"]]


def _events(job: llmbatch.BatchHandle) -> list[str]:
    return [e["event"] for s in job.shards for e in s["events"]]


def test_twenty_shards_are_paced_within_the_limit(emu: Any) -> None:
    tokens = _shard_tokens(emu)
    emu.configure(requests_per_second=32.0, enqueued_token_limit=3 * tokens)
    job = _job(_frame(20), max_enqueued_tokens=3 * tokens)
    assert len(job.shards) == 20
    assert all(s["enqueued_tokens"] == tokens for s in job.shards if s["enqueued_tokens"])
    out = job.wait(poll_interval=0.02, progress=False)
    assert not out[".error"].any(), out[".error_msg"].tolist()
    assert _statuses(emu).count("completed") == 20 and "failed" not in _statuses(emu)
    assert "quota" not in _events(job) and "paced" in _events(job)
    assert emu.call_count("POST /v1/files") == 20  # each shard uploaded once
    assert emu.call_count("POST /v1/batches") == 20  # and created once: none failed on quota


def test_the_estimate_matches_the_emulators_count(emu: Any) -> None:
    job = _job(_frame(2), submit=False)
    for shard in job.shards:
        lines = (job.path / shard["path"]).read_bytes().splitlines()
        counted = sum(estimate_tokens(orjson.loads(line)["body"]) for line in lines)
        assert estimate_shard_tokens(job.path / shard["path"]) == counted


def test_a_limit_learned_from_a_quota_failure_paces_the_next_job(emu: Any, tmp_path: Path) -> None:
    tokens = _shard_tokens(emu)
    emu.configure(requests_per_second=8.0, enqueued_token_limit=3 * tokens)
    first = _job(_frame(6))
    out = first.wait(poll_interval=0.02, progress=False)
    assert not out[".error"].any()
    assert "quota" in _events(first)  # no limit known yet: the provider said no
    book = json.loads((tmp_path / "jobs" / ".quota.json").read_text())
    (learned,) = [entry["limit"] for entry in book.values()]
    assert tokens <= learned <= 3 * tokens
    failed = _statuses(emu).count("failed")

    second = _job(_frame(6, "xyz"))
    out = second.wait(poll_interval=0.02, progress=False)
    assert not out[".error"].any()
    assert _statuses(emu).count("failed") == failed  # the learned limit kept it under
    assert "quota" not in _events(second) and "paced" in _events(second)


def test_the_learned_limit_only_goes_down(tmp_path: Path) -> None:
    book = QuotaBook(tmp_path)
    assert book.get("k") is None
    assert book.learn("k", 300, job="a") == 300
    assert book.learn("k", 500, job="b") == 300
    assert book.learn("k", 200, job="c") == 200 and book.get("k") == 200
    (tmp_path / ".quota.json").write_text("{not json")
    assert book.get("k") is None  # a damaged book is an empty one


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "100"])
def test_max_enqueued_tokens_is_checked_before_any_call(emu: Any, bad: Any) -> None:
    with pytest.raises(llmbatch.ConfigError, match="max_enqueued_tokens"):
        _job(_frame(1), max_enqueued_tokens=bad)
    assert emu.call_count() == 0


def test_shards_are_sent_in_parallel_each_once(emu: Any) -> None:
    emu.add_fault(kind="500", route="POST /v1/files", calls=(2, 5))
    job = _job(_frame(8))
    assert [s["state"] for s in job.shards] == ["submitted"] * 8
    assert emu.call_count("POST /v1/batches") == 8
    assert emu.call_count("POST /v1/files") == 8 + 2  # two uploads retried
    out = job.wait(poll_interval=0, progress=False)
    assert not out[".error"].any()


def test_a_refused_create_stops_the_sends_and_raises(emu: Any, tmp_path: Path) -> None:
    emu.add_fault(kind="404", route="POST /v1/batches", calls=(3,))
    with pytest.raises(llmbatch.NotFoundError):
        _job(_frame(8))
    (folder,) = [p for p in (tmp_path / "jobs").iterdir() if (p / "job.json").exists()]
    job = llmbatch.load(folder)
    assert any(s["state"] == "written" for s in job.shards)  # the refused one, nothing half-made
    out = job.wait(poll_interval=0, progress=False)  # resumes: every shard sent once
    assert not out[".error"].any()
    assert _statuses(emu).count("completed") == 8


@pytest.mark.parametrize(
    ("provider", "listing", "retrieve"),
    [
        ("openai", "GET /v1/batches", "GET /v1/batches/{batch_id}"),
        ("anthropic", "GET /v1/messages/batches", "GET /v1/messages/batches/{batch_id}"),
    ],
)
def test_one_list_call_polls_every_running_shard(
    emu: Any, provider: str, listing: str, retrieve: str
) -> None:
    emu.configure(requests_per_second=0.5)  # the batches run while we look
    job = _frame(5).llmbatch.complete(text="body", provider=provider, limits=Limits(ROWS, BIG))
    lists, retrieves = emu.call_count(listing), emu.call_count(retrieve)
    st = job.status()
    assert [s.status for s in st.shards] == ["in_progress"] * 5
    assert emu.call_count(listing) == lists + 1
    assert emu.call_count(retrieve) == retrieves  # no retrieve per batch
    emu.advance(3600)
    out = job.wait(poll_interval=0, progress=False)
    assert not out[".error"].any()


def test_polling_backs_off_while_nothing_changes() -> None:
    pause, last = _next_pause(1.0, 1.0, None, ("a",))
    assert (pause, last) == (1.0, ("a",))
    pauses = []
    for _ in range(10):
        pause, last = _next_pause(pause, 1.0, last, ("a",))
        pauses.append(pause)
    assert pauses[:3] == [1.5, 2.25, 3.375] and pauses[-1] == 10.0  # capped at 10 intervals
    assert _next_pause(pause, 1.0, last, ("b",))[0] == 1.0  # a change: back to the interval
    assert _next_pause(400.0, 60.0, ("a",), ("a",))[0] == 300.0  # and never beyond 300 s
    assert _next_pause(0.0, 0.0, ("a",), ("a",))[0] == 0.0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_paced_shards_are_sent_without_resubmit_on_quota(emu: Any, provider: str) -> None:
    """`resubmit_on_quota=False` leaves batches that failed on quota alone; shards held back
    before their first create are still sent (here one at a time)."""
    emu.configure(requests_per_second=32.0)
    df = _frame(3)
    job = df.llmbatch.complete(
        text="body", provider=provider, limits=Limits(ROWS, BIG), max_enqueued_tokens=1
    )
    assert [s["status"] for s in job.shards].count("waiting_for_quota") == 2
    out = job.wait(poll_interval=0, progress=False, resubmit_on_quota=False)
    assert not out[".error"].any()
    assert _events(job).count("paced") == 2 and job.manifest.max_enqueued_tokens == 1
