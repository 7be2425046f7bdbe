"""Hardening against the emulator's fault injection: retries, lost create answers, batch-level
failures, partial results and retry_failed. Nothing here mocks llmbatch's own functions."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch.prepare import Limits

BIG = 10**9
ROUTES = {
    "openai": [
        "POST /v1/files",
        "POST /v1/batches",
        "GET /v1/batches/*",
        "GET /v1/files/*/content",
    ],
    "anthropic": [
        "POST /v1/messages/batches",
        "GET /v1/messages/batches/*",
        "GET /v1/messages/batches/*/results",
    ],
}
CASES = [
    (provider, route, kind)
    for provider, routes in ROUTES.items()
    for route in routes
    for kind in ("429", "500", "503", "drop", *(["529"] if provider == "anthropic" else []))
]


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"doc_id": [f"d{i}" for i in range(n)], "body": [f"text {i}" for i in range(n)]}
    )


def _batches(emu: Any, provider: str) -> list[Any]:
    return list(emu.state()[provider]["batches"])


def _wait(job: llmbatch.BatchHandle) -> pd.DataFrame:
    return job.wait(poll_interval=0, progress=False)


@pytest.mark.parametrize(("provider", "route", "kind"), CASES, ids=["-".join(c) for c in CASES])
def test_transient_faults_are_retried(emu: Any, provider: str, route: str, kind: str) -> None:
    emu.add_fault(kind=kind, route=route, calls=(1, 2))
    job = _frame().llmbatch.complete(text="body", id="doc_id", provider=provider)
    out = _wait(job)
    assert not out[".error"].any()
    assert len(_batches(emu, provider)) == 1
    assert job.http_stats["retries"] >= 2
    reason = "connection" if kind == "drop" else kind
    assert job.http_stats["by_reason"].get(reason, 0) >= 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_lost_create_answer_is_found_not_paid_twice(emu: Any, provider: str) -> None:
    route = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    emu.add_fault(kind="drop_after", route=route, calls=(1,))
    job = _frame().llmbatch.complete(text="body", id="doc_id", provider=provider)
    assert len(_batches(emu, provider)) == 1
    assert job.http_stats["recovered"] == 1
    assert not _wait(job)[".error"].any()
    assert len(_batches(emu, provider)) == 1


def test_rate_limit_headers_are_honoured(emu: Any) -> None:
    emu.add_fault(kind="429", route="GET /v1/batches/*", calls=(1,), retry_after=0.01)
    out = _wait(_frame().llmbatch.complete(text="body"))
    assert not out[".error"].any()


def test_non_retryable_error_is_typed_and_leaves_nothing_behind(emu: Any, monkeypatch: Any) -> None:
    emu.configure(api_key="the-right-key")
    monkeypatch.setenv("OPENAI_API_KEY", "a-wrong-key")
    with pytest.raises(llmbatch.AuthenticationError) as info:
        _frame().llmbatch.complete(text="body")
    err = info.value
    assert err.status_code == 401 and err.request_id and err.error_type
    assert "a-wrong-key" not in str(err)
    assert emu.state()["openai"]["files"] == []


def test_create_that_keeps_failing_is_resumed_by_calling_again(emu: Any) -> None:
    emu.add_fault(kind="500", route="POST /v1/batches", every=1)
    provider = llmbatch.OpenAI(retry=llmbatch.RetryPolicy(max_retries=1))
    with pytest.raises(llmbatch.ServerError) as info:
        _frame().llmbatch.complete(text="body", provider=provider)
    assert "resumes it without paying twice" in "".join(getattr(info.value, "__notes__", []))
    # a 5xx may have created the batch: the file is kept so that the resume can look it up
    assert len(emu.state()["openai"]["files"]) == 1
    emu.clear_faults()
    job = _frame().llmbatch.complete(text="body", provider=provider)  # same work: same job
    assert not _wait(job)[".error"].any()
    inputs = [f for f in emu.state()["openai"]["files"] if f["purpose"] == "batch"]
    assert len(inputs) == 1 and len(_batches(emu, "openai")) == 1


def test_give_up_after_max_retries(emu: Any) -> None:
    emu.add_fault(kind="503", route="POST /v1/files", every=1)
    provider = llmbatch.OpenAI(retry=llmbatch.RetryPolicy(max_retries=2))
    with pytest.raises(llmbatch.ServerError) as info:
        _frame().llmbatch.complete(text="body", provider=provider)
    assert info.value.status_code == 503
    assert emu.call_count("POST /v1/files") == 3


def test_token_quota_failure_is_resubmitted_when_earlier_shards_finish(emu: Any) -> None:
    emu.configure(requests_per_second=40.0, enqueued_token_limit=400)
    df = pd.DataFrame({"body": [f"some text for row {i} " * 3 for i in range(30)]})
    job = df.llmbatch.complete(text="body", limits=Limits(10, BIG))
    assert len(job.shards) == 3
    out = job.wait(poll_interval=0.05, progress=False)
    assert not out[".error"].any(), out[".error_msg"].tolist()
    manifest = json.loads((job.path / "job.json").read_text())
    assert any(s.get("previous_batches") for s in manifest["shards"])
    statuses = [b["status"] for b in _batches(emu, "openai")]
    assert statuses.count("failed") >= 1 and statuses.count("completed") == 3


def test_other_batch_failures_raise_naming_the_shard(emu: Any) -> None:
    emu.configure(openai_max_requests=2)
    job = _frame(3).llmbatch.complete(text="body", limits=Limits(3, BIG))
    with pytest.raises(llmbatch.BatchFailedError, match="shard 0") as info:
        _wait(job)
    assert info.value.shard == 0 and info.value.errors
    partial = job.collect(partial=True)
    assert partial[".error"].all()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_expired_batch_keeps_partial_results_then_retry_failed(emu: Any, provider: str) -> None:
    emu.configure(requests_per_second=10.0, completion_window_seconds=0.35)
    job = _frame(12).llmbatch.complete(text="body", id="doc_id", provider=provider)
    out = job.wait(poll_interval=0.05, progress=False)
    assert out[".error"].any() and not out[".error"].all()
    assert out.loc[out[".error"], ".error_msg"].str.contains("expired").all()
    emu.configure(requests_per_second=None, completion_window_seconds=86400.0)
    job.retry_failed(kinds=("expired",))
    again = job.wait(poll_interval=0, progress=False)
    assert not again[".error"].any()
    assert list(again["doc_id"]) == list(out["doc_id"])
    manifest = json.loads((job.path / "job.json").read_text())
    assert [a["attempt"] for a in manifest["attempts"]] == [0, 1]
    assert len(_batches(emu, provider)) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancel_keeps_partial_results(emu: Any, provider: str) -> None:
    emu.configure(requests_per_second=20.0)
    job = _frame(40).llmbatch.complete(text="body", provider=provider)
    emu.advance(0.5)
    job.cancel()
    out = job.wait(poll_interval=0.05, progress=False)
    assert out[".error"].any()
    assert out.loc[out[".error"], ".error_msg"].str.contains("cancel").all()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_retry_failed_resends_only_errored_rows(emu: Any, provider: str) -> None:
    emu.configure(request_error_rate=0.4)
    job = _frame(30).llmbatch.complete(text="body", id="doc_id", provider=provider)
    first = job.wait(poll_interval=0, progress=False)
    failed = int(first[".error"].sum())
    assert 0 < failed < 30
    emu.configure(request_error_rate=0.0)
    job.retry_failed()
    second_shard = job.shards[-1]
    assert second_shard["attempt"] == 1 and second_shard["n"] == failed
    final = job.wait(poll_interval=0, progress=False)
    assert not final[".error"].any()
    answered = first.loc[~first[".error"], "content"]
    assert (final.loc[answered.index, "content"] == answered).all()


def test_unsent_shards_are_cancelled_locally(emu: Any) -> None:
    job = _frame(4).llmbatch.complete(text="body", limits=Limits(2, BIG), submit=False)
    job.cancel()
    out = job.collect()
    assert out[".error"].all()
    assert emu.state()["total_calls"] == 0
