"""Rows of a batch that never ran are error rows of their own kind, counted and retried.

A batch that failed at the provider (`batch_failed`, with the provider's message), one
cancelled before it ran (`canceled`, on OpenAI too, where the batch leaves no result lines),
and a shard cancelled before it was sent: `status()` counts their rows as failed, and
`retry_failed()` sends them again by default.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch.manifest import Shard
from llmbatch.prepare import Limits
from llmbatch.results import ERROR_KINDS, RETRY_KINDS, never_ran, unanswered
from llmbatch.status import ShardStatus

BIG = 10**9


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"doc": [f"d{i}" for i in range(n)], "body": [f"text {i}" for i in range(n)]}
    )


def test_rows_of_a_failed_batch_are_batch_failed_rows_that_retry_resends(emu: Any) -> None:
    emu.configure(openai_max_requests=3)  # shard 0 (4 requests) fails validation
    job = _frame(7).llmbatch.complete(text="body", id="doc", limits=Limits(4, BIG))
    with pytest.raises(llmbatch.BatchFailedError, match="retry_failed") as info:
        job.wait(poll_interval=0, progress=False)
    assert info.value.shard == 0
    st = job.status(refresh=False)
    assert (st.completed, st.failed, st.total) == (3, 4, 7)  # not "0 failed"
    partial = job.collect(partial=True)
    failed = partial[partial[".error"]]
    assert len(failed) == 4
    assert failed[".error_msg"].str.contains("failed at the provider").all()
    assert failed[".error_msg"].str.contains("max_requests_exceeded").all()
    assert not failed[".error_msg"].str.contains("not finished").any()
    kinds = [o.kind for o in job.outcomes(partial=True).slots if o is not None]
    assert kinds.count("batch_failed") == 4
    emu.configure(openai_max_requests=50_000)
    job.retry_failed()  # by default: batch_failed rows are resent
    assert [s["n"] for s in job.shards if s["attempt"] == 1] == [4]
    out = job.wait(poll_interval=0, progress=False)  # no longer raises: every row answered
    assert not out[".error"].any() and list(out["doc"]) == list(_frame(7)["doc"])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancelled_while_validating_rows_are_canceled_and_retried(emu: Any, provider: str) -> None:
    emu.configure(validating_seconds=3600.0)
    job = _frame(5).llmbatch.complete(text="body", id="doc", provider=provider)
    job.cancel()
    out = job.wait(poll_interval=0, progress=False)
    assert out[".error"].all()
    assert out[".error_msg"].str.contains("cancel").all(), out[".error_msg"].tolist()
    assert not out[".error_msg"].str.contains("no result returned").any()
    st = job.status(refresh=False)
    assert (st.failed, st.total) == (5, 5)
    emu.configure(validating_seconds=0.0)
    job.retry_failed()
    assert [s["n"] for s in job.shards if s["attempt"] == 1] == [5]
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()


def test_a_shard_cancelled_before_it_was_sent_counts_as_failed(emu: Any) -> None:
    job = _frame(4).llmbatch.complete(text="body", limits=Limits(2, BIG), submit=False)
    job.cancel()
    st = job.status(refresh=False)
    assert (st.failed, st.total) == (4, 4)
    job.retry_failed()
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()


def _shard(**state: Any) -> Shard:
    return Shard(index=0, attempt=0, path="requests/0000.jsonl", rows=[[0, 10]], n=10, bytes=1,
                 sha256="x", batch_id="batch_1", **state)  # fmt: skip


def test_what_rows_without_a_result_line_are() -> None:
    """An expired batch whose counts do not add up (F.5): the rows without a line expired."""
    expired = _shard(state="downloaded", status="expired", counts={"total": 10, "completed": 1})
    assert unanswered(expired)[0] == "expired"
    assert ShardStatus.of(expired).failed == 9
    assert unanswered(_shard(state="downloaded", status="cancelled"))[0] == "canceled"
    assert unanswered(_shard(state="downloaded", status="completed"))[0] == "missing"
    errors = [{"code": "model_not_found", "line": 1, "param": "body.model",
               "message": "The provided model 'X' is not supported by the Batch API."}]  # fmt: skip
    failed = _shard(state="ended", status="failed", errors=errors)
    outcome = never_ran(failed)
    assert outcome is not None and outcome.kind == "batch_failed"
    assert "model_not_found: The provided model 'X'" in (outcome.message or "")
    assert never_ran(_shard(state="submitted", status="in_progress")) is None
    assert set(RETRY_KINDS) == set(ERROR_KINDS)  # every failure is retried by default
