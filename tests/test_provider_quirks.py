"""The client copes with what the real APIs were seen to send (reference F.5, F.11, F.12),
each reproduced by an emulator knob, end to end over loopback."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pandas as pd
import pytest

import llmbatch
from llmbatch.emulator.catalog import ANTHROPIC_VERSIONS
from llmbatch.manifest import Shard
from llmbatch.prepare import Limits
from llmbatch.providers.backend import LOST_INPUT
from llmbatch.providers.openai_batch import OpenAIBackend
from procs import handled

RETRIEVE = "GET /v1/messages/batches/{batch_id}"
RESULTS = "GET /v1/messages/batches/{batch_id}/results"


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"doc_id": [f"d{i}" for i in range(n)], "body": [f"text {i}" for i in range(n)]}
    )


def _wait(job: llmbatch.BatchHandle) -> pd.DataFrame:
    return job.wait(poll_interval=0, progress=False)


# ---- OpenAI ---------------------------------------------------------------------------------


def test_empty_string_file_ids_mean_no_file(emu: Any) -> None:
    """F.5: a clean batch says `error_file_id: ""`; nothing is fetched for it."""
    emu.configure(openai_empty_file_ids=True)
    out = _wait(_frame().llmbatch.complete(text="body", id="doc_id"))
    assert not out[".error"].any()
    assert emu.call_count("GET /v1/files/*/content") == 1  # the output file only


def test_empty_output_file_id_when_every_row_failed(emu: Any) -> None:
    emu.configure(openai_empty_file_ids=True, request_error_rate=1.0)
    out = _wait(_frame().llmbatch.complete(text="body", id="doc_id"))
    assert out[".error"].all()
    assert out[".error_msg"].str.contains("HTTP 500").all()
    assert emu.call_count("GET /v1/files/*/content") == 1  # the error file only


def test_expired_batch_whose_counts_do_not_add_up(emu: Any) -> None:
    """F.5: expired with completed + failed < total and no error file: the rows missing from
    the files are expired error rows, derived from the files, and retry_failed() resends them."""
    emu.configure(
        openai_expired_error_lines=False, requests_per_second=0.5, completion_window_seconds=10
    )
    job = _frame().llmbatch.complete(text="body", id="doc_id")
    emu.advance(11)
    out = _wait(job)
    assert job.shards[0]["counts"] == {"total": 6, "completed": 5, "failed": 0}
    assert int(out[".error"].sum()) == 1
    assert out.loc[out[".error"], ".error_msg"].str.contains("expired").all()
    emu.configure(requests_per_second=None, completion_window_seconds=86400.0)
    job.retry_failed()
    assert not _wait(job)[".error"].any()


# ---- Anthropic ------------------------------------------------------------------------------


def test_retrieve_and_results_404_for_a_moment_are_retried(emu: Any) -> None:
    """F.11: 404 for a few reads right after the create and after the end."""
    emu.configure(anthropic_not_found_reads=3, validating_seconds=5)
    job = _frame().llmbatch.complete(text="body", id="doc_id", provider="anthropic")
    assert job.status().state != "failed"
    assert emu.call_count(RETRIEVE) == 4  # three 404s, then the answer
    emu.advance(6)
    out = _wait(job)
    assert not out[".error"].any()
    assert emu.call_count(RESULTS) == 4
    assert job.http_stats["by_reason"]["404"] == 9


def test_a_batch_that_stays_404_is_not_retried_forever(emu: Any) -> None:
    emu.configure(anthropic_not_found_reads=1000)
    job = _frame().llmbatch.complete(text="body", id="doc_id", provider="anthropic")
    with pytest.raises(llmbatch.NotFoundError):
        job.status()
    assert emu.call_count(RETRIEVE) == 5


def test_the_client_pins_an_anthropic_version_the_api_knows() -> None:
    assert llmbatch.Anthropic.API_VERSION == "2023-06-01"
    assert llmbatch.Anthropic.API_VERSION in ANTHROPIC_VERSIONS


def test_anthropic_output_cap_is_an_error_row(emu: Any) -> None:
    """F.9: max_tokens over the model's cap ends that request errored, not the job."""
    job = _frame(2).llmbatch.complete(
        text="body", id="doc_id", provider="anthropic", max_tokens=100_000
    )
    out = _wait(job)
    assert out[".error"].all()
    expected = (
        "invalid_request_error: max_tokens: 100000 > 64000, which is the maximum allowed "
        "number of output tokens for claude-haiku-4-5-20251001"
    )
    assert (out[".error_msg"] == expected).all()


# ---- an input file the provider cannot find (F.1) -----------------------------------------------
def _lose_the_upload(emu: Any, n_uploads: int) -> None:
    """Delete the n-th uploaded input file as soon as it is stored, before the client (whose
    answer is held back by a `slow_after` fault) creates its batch with it."""
    deadline = time.monotonic() + 60  # a bound on a hung client only, never a timing assert
    while handled(emu, "POST /v1/files") < n_uploads:
        assert time.monotonic() < deadline, "the upload never came"
        time.sleep(0.005)
    file_id = emu.state()["openai"]["files"][-1]["id"]
    headers = {"Authorization": "Bearer sk-test"}
    assert httpx.delete(f"{emu.openai_base_url}/files/{file_id}", headers=headers).is_success


def test_a_batch_whose_input_file_was_lost_is_sent_once_more(emu: Any) -> None:
    emu.add_fault(kind="slow_after", route="POST /v1/files", calls=[1], delay=5.0)
    made: list[llmbatch.BatchHandle] = []
    submit = threading.Thread(
        target=lambda: made.append(_frame().llmbatch.complete(text="body", id="doc_id"))
    )
    submit.start()
    _lose_the_upload(emu, 1)
    submit.join()
    out = _wait(made[0])
    assert out[".error"].sum() == 0 and out["doc_id"].tolist() == _frame()["doc_id"].tolist()
    batches = emu.state()["openai"]["batches"]
    assert [b["status"] for b in batches] == ["failed", "completed"]
    shard = made[0].manifest.shards[0]
    assert shard.previous_batches == [batches[0]["id"]]
    events = shard.events
    assert [e["event"] for e in events if e["event"] == LOST_INPUT] == [LOST_INPUT]


def test_a_second_lost_input_file_stands() -> None:
    backend = OpenAIBackend(
        llmbatch.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1"),
        tag="t",
        endpoint="/v1/chat/completions",
        limits=Limits(50_000, 200_000_000, 50_000),
    )
    lost = {"code": "invalid_request", "param": "file_id", "message": "Cannot find file f."}
    shard = Shard(index=0, attempt=0, path="requests/0000.jsonl", rows=[[0, 1]], n=1, bytes=1,
                  sha256="", status="failed", errors=[lost])  # fmt: skip
    assert backend.lost_input_failure(shard)
    shard.events.append({"event": LOST_INPUT})
    assert not backend.lost_input_failure(shard)  # once only: the second failure is the rows'
    other = Shard(index=0, attempt=0, path="requests/0000.jsonl", rows=[[0, 1]], n=1, bytes=1,
                  sha256="", status="failed", errors=[{**lost, "param": "body.model"}])  # fmt: skip
    assert not backend.lost_input_failure(other)
