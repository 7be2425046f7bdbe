"""Sync mode: the same verbs, columns and job folder, answered through the realtime APIs."""

from __future__ import annotations

import logging
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import polars as pl
import pytest

import llmbatch
from llmbatch import AuthenticationError, ConfigError, InputError, ResultsIntegrityError
from llmbatch.providers import openai_wire
from llmbatch.sync_options import Pacer
from procs import finish, run, start, wait_handled

REALTIME = {
    ("openai", "complete"): "POST /v1/chat/completions",
    ("openai", "classify"): "POST /v1/chat/completions",
    ("openai", "embed"): "POST /v1/embeddings",
    ("anthropic", "complete"): "POST /v1/messages",
    ("anthropic", "classify"): "POST /v1/messages",
}
CASES = sorted(REALTIME)


def frame(n: int = 50, prefix: str = "row") -> pd.DataFrame:
    return pd.DataFrame(
        {"doc": [f"d{i}" for i in range(n)], "body": [f"{prefix} {i}: some text" for i in range(n)]}
    )


def verb(df: Any, kind: str, provider: str, **kw: Any) -> llmbatch.BatchHandle:
    if kind == "embed":
        return df.llmbatch.embed(text="body", id="doc", dimensions=8, **kw)
    if kind == "complete":
        return df.llmbatch.complete(text="body", id="doc", provider=provider, **kw)
    return df.llmbatch.classify(["yes", "no"], text="body", id="doc", provider=provider, **kw)


def sent_texts(emu: Any, route: str) -> Counter[str]:
    """How often each row text reached the realtime route (from the emulator's request log)."""
    method, path = route.split()
    with emu.lock:
        entries = [e for e in emu.request_log if e["method"] == method and e["path"] == path]
    return Counter(text for e in entries if e["status"] == 200 for text in e.get("texts") or [])


def journal_ids(folder: Path) -> list[str]:
    ids = []
    for path in sorted((folder / "results").glob("*.sync.jsonl")):
        data = path.read_bytes()
        for raw in data[: data.rfind(b"\n") + 1].splitlines():
            ids.append(orjson.loads(raw)["custom_id"])
    return ids


@pytest.mark.parametrize(("provider", "kind"), CASES)
def test_sync_and_batch_give_the_same_frame(emu: Any, provider: str, kind: str) -> None:
    df = frame()
    synced = verb(df, kind, provider, mode="sync").wait(poll_interval=0)
    assert emu.call_count(REALTIME[(provider, kind)]) >= 1
    assert emu.call_count("POST /v1/batches") + emu.call_count("POST /v1/messages/batches") == 0
    batched = verb(df, kind, provider).wait(poll_interval=0)
    assert not synced[".error"].any()
    if kind == "embed":  # one token count per request: shared out by text length, same total
        tokens = ".input_tokens"
        assert synced[tokens].sum() == batched[tokens].sum()
        assert ((synced[tokens] - batched[tokens]).abs() <= 1).all()
        synced, batched = synced.drop(columns=tokens), batched.drop(columns=tokens)
    pd.testing.assert_frame_equal(synced, batched)


def test_sync_on_polars_keeps_the_frame_library(emu: Any) -> None:
    df = pl.from_pandas(frame(20))
    synced = df.llmbatch.classify(["yes", "no"], text="body", id="doc", mode="sync").wait()
    batched = df.llmbatch.classify(["yes", "no"], text="body", id="doc").wait(poll_interval=0)
    assert isinstance(synced, pl.DataFrame)
    assert synced.equals(batched)


def test_sync_answers_in_the_verb_call_and_collect_needs_no_wait(emu: Any) -> None:
    job = frame(10).llmbatch.complete(text="body", id="doc", mode="sync")
    assert job.status(refresh=False).done
    assert len(job.collect()) == 10
    assert job.manifest.mode == "sync"
    journal = job.path / "results" / "0000.sync.jsonl"
    assert journal.stat().st_mode & 0o077 == 0  # user-only, like every file of the job


def test_embeddings_go_many_inputs_a_request(emu: Any) -> None:
    out = frame(300).llmbatch.embed(text="body", id="doc", mode="sync").wait()
    assert emu.call_count("POST /v1/embeddings") == 2  # 256 inputs a request
    assert not out[".error"].any()
    assert (out[".input_tokens"] > 0).all()


def test_a_sync_job_made_unsent_is_pending_until_wait(emu: Any) -> None:
    job = frame(5).llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
    assert job.status().state == "pending"
    assert emu.call_count() == 0
    out = llmbatch.load(job.path).wait(progress=False)
    assert len(out) == 5 and emu.call_count("POST /v1/chat/completions") == 5
    assert job.status().state == "ended"


def test_the_same_sync_work_twice_is_one_job_and_batch_work_is_another(emu: Any) -> None:
    df = frame(5)
    first = df.llmbatch.complete(text="body", id="doc", mode="sync")
    again = df.llmbatch.complete(text="body", id="doc", mode="sync")
    assert again.path == first.path
    assert emu.call_count("POST /v1/chat/completions") == 5
    batch = df.llmbatch.complete(text="body", id="doc", submit=False)
    assert batch.path != first.path


@pytest.mark.parametrize(
    ("kw", "error", "words"),
    [
        ({"mode": "fast"}, ConfigError, "mode must be 'batch' or 'sync'"),
        ({"concurrency": 4}, ConfigError, "applies to mode='sync'"),
        ({"mode": "sync", "concurrency": 0}, InputError, "concurrency must be an integer"),
        ({"mode": "sync", "concurrency": True}, InputError, "concurrency must be an integer"),
        ({"mode": "sync", "requests_per_minute": -1}, InputError, "requests_per_minute"),
        ({"mode": "sync", "temperature": 9}, ConfigError, "temperature"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    emu: Any, kw: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        frame(5).llmbatch.complete(text="body", id="doc", **kw)
    assert emu.call_count() == 0


def test_missing_column_is_refused_alike_in_both_modes(emu: Any) -> None:
    messages = []
    for mode in ("batch", "sync"):
        with pytest.raises(InputError) as caught:
            frame(5).llmbatch.complete(text="nope", id="doc", mode=mode)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert emu.call_count() == 0


def test_a_large_sync_job_is_told_batch_costs_half(
    emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmbatch"):
        frame(1_001).llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
        frame(1_000, "other").llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
    warned = [r.getMessage() for r in caplog.records if "costs half" in r.getMessage()]
    assert len(warned) == 1 and "1,001 rows" in warned[0]


def test_failed_rows_are_errors_and_retry_failed_resends_them_realtime(emu: Any) -> None:
    emu.add_fault(kind="500", route="POST /v1/chat/completions", calls=list(range(1, 8)))
    job = frame(6).llmbatch.complete(text="body", id="doc", mode="sync", concurrency=1)
    out = job.collect()
    assert out[".error"].sum() == 1  # the first row: 7 attempts, all 500
    assert "HTTP 500" in out.loc[0, ".error_msg"]
    calls = emu.call_count("POST /v1/chat/completions")
    fixed = job.retry_failed().wait()
    assert not fixed[".error"].any()
    assert emu.call_count("POST /v1/chat/completions") == calls + 1
    assert emu.call_count("POST /v1/batches") == 0


def test_a_refused_key_stops_the_run_and_the_job_resumes(emu: Any, monkeypatch: Any) -> None:
    emu.configure(api_key="right-key")
    monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
    with pytest.raises(AuthenticationError):
        frame(20).llmbatch.complete(text="body", id="doc", mode="sync")
    assert emu.call_count("POST /v1/chat/completions") <= 8 * 2  # stopped, not 20 errors
    monkeypatch.setenv("OPENAI_API_KEY", "right-key")
    out = frame(20).llmbatch.complete(text="body", id="doc", mode="sync").wait()
    assert not out[".error"].any() and len(out) == 20


def test_cancel_keeps_the_answers_so_far(emu: Any) -> None:
    job = frame(8).llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
    shard = job.path / "results"
    shard.mkdir(exist_ok=True)
    job.cancel()
    out = job.collect()
    assert out[".error"].all()
    assert emu.call_count() == 0
    assert job.cleanup() == []


KILLED_SCRIPT = """
import sys
import llmbatch
import pandas as pd
n = 60
df = pd.DataFrame({"doc": [f"d{i}" for i in range(n)],
                   "body": [f"row {i}: text" for i in range(n)]})
job = df.llmbatch.classify(["yes", "no"], text="body", id="doc", mode="sync", concurrency=2,
                           name="killed")
print("done")
"""

RESUME_SCRIPT = """
import sys
import llmbatch
out = llmbatch.load(sys.argv[1]).wait(progress=False)
print(len(out), int(out[".error"].sum()), out["doc"].nunique())
"""


def test_a_killed_sync_job_resumes_without_resending_answered_rows(
    emu: Any, tmp_path: Path
) -> None:
    route = "POST /v1/chat/completions"
    home = str(tmp_path / "home")
    emu.add_fault(kind="slow_after", route=route, every=1, delay=0.05)
    proc = start(emu, KILLED_SCRIPT, home=home)
    wait_handled(emu, route, 12, proc)
    proc.send_signal(signal.SIGKILL)
    finish([proc])
    folder = Path(home) / "killed"
    answered = journal_ids(folder)
    assert 0 < len(answered) < 60
    before = sent_texts(emu, route)
    emu.clear_faults()
    done = run(emu, RESUME_SCRIPT, str(folder), home=home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["60", "0", "60"]
    sent = sent_texts(emu, route)
    texts = {f"d{i}": f"row {i}: text" for i in range(60)}
    assert set(sent) == set(texts.values())  # every row was sent
    journal = journal_ids(folder)
    assert len(journal) == len(set(journal)) == 60  # every row answered once
    rows_answered_before = {int(cid.rsplit("-", 1)[1]) for cid in answered}
    for row in rows_answered_before:
        assert sent[f"row {row}: text"] == 1  # an answered row is never sent again
    twice = [t for t, n in sent.items() if n > 1]
    assert len(twice) <= 2 and all(before[t] == 1 for t in twice)  # only rows in flight


def test_two_processes_share_a_sync_job_and_send_each_row_once(emu: Any, tmp_path: Path) -> None:
    home = tmp_path / "jobs"  # the emu fixture's LLMBATCH_HOME
    df = pd.concat([frame(40, "a"), frame(40, "b")], ignore_index=True)
    df["doc"] = [f"d{i}" for i in range(80)]
    limits = llmbatch.Limits(max_requests=10, max_bytes=10**8)
    job = df.llmbatch.complete(
        text="body", id="doc", mode="sync", submit=False, limits=limits, name="shared"
    )
    procs = [start(emu, RESUME_SCRIPT, str(job.path), home=str(home)) for _ in range(2)]
    for code, stdout, stderr in finish(procs):
        assert code == 0, stderr
        assert stdout.split() == ["80", "0", "80"]
    sent = sent_texts(emu, "POST /v1/chat/completions")
    assert len(sent) == 80 and set(sent.values()) == {1}


def test_the_pacer_spaces_requests_evenly_across_threads() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleeper(seconds: float) -> float:
        slept.append(seconds)
        return seconds

    pacer = Pacer(120, clock=lambda: now[0], sleeper=sleeper)  # one every 0.5 s
    for _ in range(4):
        pacer.wait()
    assert slept == [0.5, 1.0, 1.5]
    now[0] = 110.0  # a quiet spell: no debt carried over
    assert pacer.wait() == 0.0
    assert Pacer(None, clock=lambda: 0.0, sleeper=sleeper).wait() == 0.0


def test_over_the_rate_limit_rows_fail_and_retry_failed_sends_them_later(emu: Any) -> None:
    emu.configure(realtime_rpm=5)
    job = frame(8).llmbatch.complete(text="body", id="doc", mode="sync", concurrency=1)
    out = job.collect()
    assert int(out[".error"].sum()) == 3  # 429 after every retry (retry-after honoured)
    assert out.loc[out[".error"], ".error_msg"].str.contains("HTTP 429").all()
    emu.advance(60)
    assert not job.retry_failed().collect()[".error"].any()


def test_a_torn_last_line_of_the_journal_is_cut_and_its_row_resent(emu: Any) -> None:
    job = frame(4).llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
    tag = job.manifest.tag
    answer = {
        "object": "chat.completion",
        "choices": [{"message": {"content": "kept"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    journal = job.path / "results" / "0000.sync.jsonl"
    journal.parent.mkdir(exist_ok=True)
    kept = openai_wire.result_line(f"{tag}-0", 200, answer, "")
    journal.write_bytes(kept + b"\n" + openai_wire.result_line(f"{tag}-1", 200, answer, "")[:20])
    out = job.wait(progress=False)
    assert out["content"].tolist()[0] == "kept"
    assert emu.call_count("POST /v1/chat/completions") == 3  # rows 1-3; row 0 was answered
    assert len(journal_ids(job.path)) == 4


def test_a_damaged_journal_line_is_named(emu: Any) -> None:
    job = frame(3).llmbatch.complete(text="body", id="doc", mode="sync", submit=False)
    journal = job.path / "results" / "0000.sync.jsonl"
    journal.parent.mkdir(exist_ok=True)
    journal.write_bytes(b"{not json\n")
    with pytest.raises(ResultsIntegrityError, match=r"line 1 of 0000\.sync\.jsonl is damaged"):
        job.wait(progress=False)
    assert emu.call_count() == 0


INTERRUPTED_SCRIPT = """
import llmbatch
import pandas as pd
n = 40
df = pd.DataFrame({"doc": range(n), "body": [f"row {i}: text" for i in range(n)]})
df.llmbatch.complete(text="body", id="doc", mode="sync", concurrency=1, name="interrupted")
"""


def test_ctrl_c_keeps_the_answers_and_says_how_to_go_on(emu: Any, tmp_path: Path) -> None:
    route = "POST /v1/chat/completions"
    home = str(tmp_path / "home")
    emu.add_fault(kind="slow_after", route=route, every=1, delay=0.05)
    proc = start(emu, INTERRUPTED_SCRIPT, home=home)
    wait_handled(emu, route, 5, proc)
    proc.send_signal(signal.SIGINT)
    [(code, _, stderr)] = finish([proc])
    assert code != 0 and "KeyboardInterrupt" in stderr
    assert "wait() sends only the rows without one" in stderr
    folder = Path(home) / "interrupted"
    kept = journal_ids(folder)
    assert len(kept) >= 4  # the answers that arrived, the one in flight included
    emu.clear_faults()
    done = run(emu, RESUME_SCRIPT, str(folder), home=home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["40", "0", "40"]
    assert sent_texts(emu, route).most_common(1)[0][1] == 1  # no row sent twice


def test_the_responses_api_in_sync_mode_matches_batch(emu: Any) -> None:
    df = frame(10)
    synced = df.llmbatch.complete(text="body", id="doc", api="responses", mode="sync").collect()
    assert emu.call_count("POST /v1/responses") == 10
    batched = df.llmbatch.complete(text="body", id="doc", api="responses").wait(poll_interval=0)
    pd.testing.assert_frame_equal(synced, batched)
