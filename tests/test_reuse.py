"""Answers reused across jobs: only new or changed rows are sent (and paid for) again."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

import llmbatch
from llmbatch.answer_index import INDEX_NAME, AnswerIndex
from llmbatch.reuse import _with_custom_id
from procs import finish, start

LABELS = ["yes", "no"]


def frame(n: int, prefix: str = "text") -> pd.DataFrame:
    return pd.DataFrame({"doc": range(n), "body": [f"{prefix} {i}" for i in range(n)]})


def grown(df: pd.DataFrame, more: int, changed: int) -> pd.DataFrame:
    """`df` with `more` new rows appended and the first `changed` texts edited."""
    extra = pd.DataFrame(
        {"doc": range(len(df), len(df) + more), "body": [f"new {i}" for i in range(more)]}
    )
    out = pd.concat([df, extra], ignore_index=True)
    out.loc[: changed - 1, "body"] = [f"edited {i}" for i in range(changed)]
    return out


def batch_requests(emu: Any) -> int:
    """Requests in every batch the emulator was given (both providers)."""
    total = 0
    with httpx.Client(headers={"authorization": "Bearer k", "x-api-key": "k"}) as http:
        page = http.get(f"{emu.openai_base_url}/batches", params={"limit": 100}).json()
        total += sum(b["request_counts"]["total"] for b in page["data"])
        headers = {"anthropic-version": "2023-06-01"}
        page = http.get(f"{emu.url}/v1/messages/batches", headers=headers).json()
        total += sum(sum(b["request_counts"].values()) for b in page["data"])
    return total


def classify(df: pd.DataFrame, provider: str = "openai", **kw: Any) -> Any:
    return df.llmbatch.classify(LABELS, text="body", id="doc", provider=provider, **kw)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_only_new_and_changed_rows_are_sent_again(emu: Any, provider: str) -> None:
    first = classify(frame(1000), provider).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 1000
    job = classify(grown(frame(1000), 100, 10), provider)
    second = job.wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 1000 + 110
    assert len(second) == 1100 and not second[".error"].any()
    same = slice(10, 1000)
    pd.testing.assert_frame_equal(second.iloc[same], first.iloc[same])
    st = job.status()
    assert st.reused == 990 and st.total == 110
    assert "1,100 rows: 990 reused, 110 to send" in str(st)


def test_sync_mode_reuses_too(emu: Any) -> None:
    route = "POST /v1/chat/completions"
    classify(frame(200), mode="sync").collect()
    assert emu.call_count(route) == 200
    out = classify(grown(frame(200), 20, 5), mode="sync").collect()
    assert emu.call_count(route) == 225
    assert len(out) == 220 and not out[".error"].any()


def test_reuse_false_and_force_send_everything(emu: Any) -> None:
    classify(frame(50)).wait(poll_interval=0, progress=False)
    classify(grown(frame(50), 5, 0), reuse=False).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 50 + 55
    classify(frame(50), force=True).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 50 + 55 + 50


def test_the_same_work_is_still_the_same_job(emu: Any) -> None:
    job = classify(frame(30))
    again = classify(frame(30))
    assert again.path == job.path
    assert batch_requests(emu) == 30


def test_error_rows_are_never_reused(emu: Any) -> None:
    emu.configure(request_error_rate=0.3)
    first = classify(frame(100)).wait(poll_interval=0, progress=False)
    failed = int(first[".error"].sum())
    assert 0 < failed < 100
    emu.configure(request_error_rate=0.0)
    second = classify(grown(frame(100), 1, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 100 + failed + 1
    assert not second[".error"].any()


def test_invalid_answers_are_not_reused(emu: Any) -> None:
    df = frame(20)
    df.loc[3, "body"] = "text 3 [[bad_schema]]"
    first = classify(df).wait(poll_interval=0, progress=False)
    assert bool(first.loc[3, ".error"])
    classify(grown(df, 1, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 20 + 2  # the new row, and row 3 again


def test_deleting_the_older_job_breaks_nothing(emu: Any) -> None:
    old = classify(frame(40))
    old.wait(poll_interval=0, progress=False)
    newer = classify(grown(frame(40), 2, 0))
    shutil.rmtree(old.path)
    assert len(newer.wait(poll_interval=0, progress=False)) == 42
    third = classify(grown(frame(40), 4, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 40 + 2 + 2  # the copy in `newer` still answers rows 0-41
    assert not third[".error"].any()


def test_a_stale_reference_is_sent_instead(emu: Any) -> None:
    old = classify(frame(10))
    old.wait(poll_interval=0, progress=False)
    results = old.path / "results"
    for path in results.glob("*.jsonl"):
        lines = path.read_bytes().splitlines()
        path.write_bytes(b"".join(b"{ " + line[1:] + b"\n" for line in lines))  # rewritten
    out = classify(grown(frame(10), 1, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 10 + 11
    assert not out[".error"].any()


def test_cleanup_of_a_job_with_reused_rows_asks_nothing_for_them(emu: Any) -> None:
    classify(frame(10)).wait(poll_interval=0, progress=False)
    job = classify(frame(10), name="again")  # same work, new name: all reused
    assert job.status().state == "ended" and batch_requests(emu) == 10
    calls = emu.call_count()
    assert job.cleanup() == []
    assert emu.call_count() == calls
    assert len(job.collect()) == 10
    assert job.refresh_results() is job


PREPARE_SCRIPT = """
import sys
import llmbatch
import pandas as pd
start, stop = int(sys.argv[1]), int(sys.argv[2])
df = pd.DataFrame({"doc": range(start, stop), "body": [f"text {i}" for i in range(start, stop)]})
out = df.llmbatch.classify(["yes", "no"], text="body", id="doc").wait(poll_interval=0,
                                                                     progress=False)
print(len(out), int(out[".error"].sum()))
"""


def test_two_processes_with_overlapping_jobs_share_the_index_safely(
    emu: Any, tmp_path: Path
) -> None:
    home = tmp_path / "jobs"
    classify(frame(300)).wait(poll_interval=0, progress=False)
    procs = [
        start(emu, PREPARE_SCRIPT, "100", "500", home=str(home)),
        start(emu, PREPARE_SCRIPT, "200", "600", home=str(home)),
    ]
    for code, stdout, stderr in finish(procs):
        assert code == 0, stderr
        assert stdout.split() == ["400", "0"]
    # each job sent each of its rows at most once; rows 0-299 were answered before
    assert 300 + 200 + 100 <= batch_requests(emu) <= 300 + 200 + 300
    with sqlite3.connect(home / INDEX_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert AnswerIndex(home).distinct_keys() == 600


def test_a_copied_line_gets_the_new_custom_id_and_nothing_else() -> None:
    line = b'{"id":"r","custom_id":"t1-5","response":{"body":"say \\"custom_id\\":\\"x\\""}}'
    assert _with_custom_id(line, "t2-9") == line.replace(b"t1-5", b"t2-9")
    spaced = b'{"custom_id": "t1-5", "result": {"type": "succeeded"}}'  # not our compact form
    assert orjson.loads(_with_custom_id(spaced, "t2-9")) == {
        "custom_id": "t2-9",
        "result": {"type": "succeeded"},
    }


def test_the_same_work_under_another_name_is_refused_while_in_flight(emu: Any) -> None:
    """A named job doing the very work an unnamed job has in flight would pay twice: refused
    before anything is sent; once the first job's answers are in, the named one reuses them."""
    df = pd.DataFrame({"body": [f"review {i}" for i in range(5)]})
    emu.configure(validating_seconds=3600)
    first = df.llmbatch.complete(text="body")
    creates = emu.call_count("POST /v1/batches")
    with pytest.raises(llmbatch.DuplicateWorkError, match="pay twice") as caught:
        df.llmbatch.complete(text="body", name="daily")
    assert caught.value.path == first.path
    assert emu.call_count("POST /v1/batches") == creates  # nothing sent
    assert not (first.path.parent / "daily").exists()
    forced = df.llmbatch.complete(text="body", name="daily", force=True, submit=False)
    assert forced.path.name == "daily"  # force=True sends it again, knowingly
    emu.advance(3600)
    first.wait(poll_interval=0, progress=False)
    again = df.llmbatch.complete(text="body", name="nightly")  # answers in: reused, no cost
    assert again.path.name == "nightly"
    assert emu.call_count("POST /v1/batches") == creates


def test_a_prepared_but_unsent_job_is_no_twin(emu: Any) -> None:
    df = pd.DataFrame({"body": ["a", "b"]})
    df.llmbatch.complete(text="body", name="draft", submit=False)
    job = df.llmbatch.complete(text="body", name="real")
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()


def test_refused_and_cut_answers_are_indexed_but_never_reused(emu: Any) -> None:
    """The index holds every answer the provider counted; whether one is kept is decided when
    a later job would reuse it (the same request, so the same verdict)."""
    df = frame(12)
    df.loc[2, "body"] = "text 2 [[refuse]]"
    df.loc[5, "body"] = "text 5 [[bad_json]]"
    first = classify(df).wait(poll_interval=0, progress=False)
    assert first[".error"].astype(bool).tolist() == [i in (2, 5) for i in range(12)]
    assert AnswerIndex(emu_home(emu)).distinct_keys() == 12
    again = classify(grown(df, 1, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 12 + 3  # the new row, and rows 2 and 5 again
    assert again[".error"].astype(bool).tolist() == [i in (2, 5) for i in range(13)]


def test_answers_the_download_could_not_index_are_indexed_later(
    emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An index that cannot be written when a download is checked costs nothing: the job
    goes on, and its answers are read into the index when it next can be."""
    home = emu_home(emu)
    home.mkdir(parents=True, exist_ok=True)
    (home / INDEX_NAME).mkdir()  # not a database: every write fails
    job = classify(frame(30))
    out = job.wait(poll_interval=0, progress=False)
    assert not out[".error"].any()
    assert "not indexed" in caplog.text
    assert not any(s["indexed"] for s in job_manifest(job)["shards"])
    (home / INDEX_NAME).rmdir()
    job.status()  # indexes what is collected and not yet indexed
    shards = job_manifest(job)["shards"]
    assert all(s["indexed"] for s in shards)
    assert sum(s["tokens"]["output"] for s in shards) == job.usage().output_tokens > 0
    assert AnswerIndex(home).distinct_keys() == 30
    classify(grown(frame(30), 1, 0)).wait(poll_interval=0, progress=False)
    assert batch_requests(emu) == 30 + 1


def emu_home(emu: Any) -> Path:
    return Path(os.environ["LLMBATCH_HOME"])


def job_manifest(job: Any) -> Any:
    return orjson.loads((job.path / "job.json").read_bytes())
