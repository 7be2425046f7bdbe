"""The client copes with what the real APIs were seen to send (reference F.5, F.11, F.12),
each reproduced by an emulator knob, end to end over loopback."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch.emulator.catalog import ANTHROPIC_VERSIONS

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
