"""Bytes are trusted only when checked: downloads against the shard and the provider's counts,
request shards against their recorded sha256, adopted batches against the job's tag."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path
from typing import Any

import anthropic
import pandas as pd
import pytest

import llmbatch
from llmbatch import Limits
from llmbatch.lifecycle import DOWNLOAD_ATTEMPTS
from llmbatch.verify import hash_file
from procs import run, start, wait_handled

BIG = 10**9
DOWNLOAD = {
    "openai": "GET /v1/files/*/content",
    "anthropic": "GET /v1/messages/batches/*/results",
}
CREATE = {"openai": "POST /v1/batches", "anthropic": "POST /v1/messages/batches"}
PROVIDERS = ["openai", "anthropic"]


def _frame(n: int = 10, prefix: str = "text") -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(range(n)), "body": [f"{prefix} {i}" for i in range(n)]})


def _ok(out: pd.DataFrame, n: int = 10, prefix: str = "text") -> bool:
    echoes = all(f"{prefix} {i}" in c for i, c in enumerate(out["content"]))
    return len(out) == n and not out[".error"].any() and echoes


def _wait(job: Any) -> pd.DataFrame:
    return job.wait(poll_interval=0, progress=False)


# -- downloads --------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", ["html", "truncate", "truncate_lines"])
def test_a_damaged_download_is_fetched_again(emu: Any, provider: str, kind: str) -> None:
    emu.add_fault(kind=kind, route=DOWNLOAD[provider], calls=(1,))
    out = _wait(_frame().llmbatch.complete(text="body", provider=provider))
    assert _ok(out)
    assert emu.call_count(DOWNLOAD[provider]) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", ["html", "truncate_lines"])
def test_a_download_that_stays_damaged_raises_and_the_job_resumes(
    emu: Any, provider: str, kind: str
) -> None:
    emu.add_fault(kind=kind, route=DOWNLOAD[provider], every=1)
    job = _frame().llmbatch.complete(text="body", provider=provider)
    with pytest.raises(llmbatch.ResultsIntegrityError, match="shard 0") as info:
        _wait(job)
    assert info.value.shard == 0
    assert emu.call_count(DOWNLOAD[provider]) == DOWNLOAD_ATTEMPTS
    assert not list((job.path / "results").iterdir())  # nothing untrusted was kept
    emu.clear_faults()
    assert _ok(_wait(llmbatch.load(job.path)))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_results_that_404_a_moment_after_the_end_are_fetched_again(emu: Any, provider: str) -> None:
    emu.add_fault(kind="404", route=DOWNLOAD[provider], calls=(1,))
    assert _ok(_wait(_frame().llmbatch.complete(text="body", provider=provider)))
    assert emu.call_count(DOWNLOAD[provider]) == 2


def test_completed_without_an_output_file_is_polled_again(emu: Any) -> None:
    emu.add_fault(kind="null_output_file", route="GET /v1/batches/*", calls=(1,))
    job = _frame().llmbatch.complete(text="body")
    st = job.status()
    assert not st.done and "without an output file" in str(st)
    assert _ok(_wait(job))


def test_a_batch_whose_every_line_failed_needs_no_output_file(emu: Any) -> None:
    emu.configure(request_error_rate=1.0)
    out = _wait(_frame().llmbatch.complete(text="body"))
    assert out[".error"].all()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refresh_results_replaces_a_damaged_local_file(emu: Any, provider: str) -> None:
    job = _frame().llmbatch.complete(text="body", provider=provider)
    _wait(job)
    result = job.path / "results" / "0000.jsonl"
    result.write_bytes(result.read_bytes()[:40])  # damaged on disk after the fact
    with pytest.raises(llmbatch.ResultsIntegrityError, match="refresh_results"):
        job.collect()
    (job.path / "results" / ".0000.output.999-dead.part").write_bytes(b"left by a kill")
    job.refresh_results()
    assert not list((job.path / "results").glob(".*"))
    assert _ok(job.collect())
    assert emu.call_count(DOWNLOAD[provider]) == 2


# -- request shards ---------------------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_edited_request_shard_is_never_sent(emu: Any, provider: str) -> None:
    job = _frame().llmbatch.complete(text="body", provider=provider, submit=False)
    shard = job.path / job.shards[0]["path"]
    assert hash_file(shard) == job.shards[0]["sha256"]  # the hash is of the exact bytes
    shard.write_text(shard.read_text().replace("text 3", "edited"))
    with pytest.raises(llmbatch.JobFolderError, match="changed after it was prepared"):
        _wait(job)
    assert emu.state()["total_calls"] == 0


# -- adoption ---------------------------------------------------------------------------------
def test_a_lost_anthropic_create_never_adopts_another_jobs_batch(emu: Any) -> None:
    first = _frame(prefix="first").llmbatch.complete(text="body", provider="anthropic")
    emu.add_fault(kind="drop", route=CREATE["anthropic"], calls=(1,))
    second = _frame(prefix="second").llmbatch.complete(text="body", provider="anthropic")
    assert _ok(_wait(first), prefix="first") and _ok(_wait(second), prefix="second")
    batches = emu.state()["anthropic"]["batches"]
    assert len(batches) == 2
    assert first.shards[0]["batch_id"] != second.shards[0]["batch_id"]


SUBMIT = """
import sys
import pandas as pd
import llmbatch

df = pd.DataFrame({"body": [f"{sys.argv[2]} {i}" for i in range(10)]})
df.llmbatch.complete(text="body", provider="anthropic", name=sys.argv[1])
print("not killed")
"""

RESUME = """
import sys
import llmbatch

df = llmbatch.load(sys.argv[1]).wait(poll_interval=0, progress=False)
print(int(df[".error"].sum()), all(f"killed {i}" in c for i, c in enumerate(df["content"])))
"""


def test_a_resumed_create_never_takes_a_batch_made_meanwhile(emu: Any, tmp_path: Path) -> None:
    """Killed while its create is held open; another job of the same size is made; resume."""
    emu.add_fault(kind="slow_after", route=CREATE["anthropic"], calls=(1,), delay=30.0)
    killed = _run_killed(emu, tmp_path)
    emu.clear_faults()
    other = _frame(prefix="other").llmbatch.complete(
        text="body",
        provider="anthropic",
        folder=tmp_path,  # the same home: its claim counts
    )
    assert _ok(_wait(other), prefix="other")
    done = run(emu, RESUME, str(tmp_path / "killed"), home=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True"]
    assert len(emu.state()["anthropic"]["batches"]) == 2
    assert killed.shards[0]["batch_id"] != other.shards[0]["batch_id"]


def _run_killed(emu: Any, home: Path) -> Any:
    proc = start(emu, SUBMIT, "killed", "killed", home=str(home))
    wait_handled(emu, CREATE["anthropic"], 1, proc)  # the create has run; its answer is held
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return llmbatch.load(home / "killed")


def test_an_adopted_batch_holding_another_jobs_rows_is_released(emu: Any) -> None:
    """A batch made outside llmbatch (no claim) looks like the lost create's: proven by its
    custom_ids when it ends, released, and the shard is sent again."""
    client = anthropic.Anthropic(api_key="sk-ant-test-key", base_url=emu.anthropic_base_url)
    params = {"model": "claude-haiku-4-5", "max_tokens": 16}
    requests = [
        {
            "custom_id": f"foreign-{i}",
            "params": {**params, "messages": [{"role": "user", "content": "x"}]},
        }
        for i in range(10)
    ]
    foreign = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    client.close()
    emu.add_fault(kind="drop", route=CREATE["anthropic"], calls=(1,))
    job = _frame().llmbatch.complete(text="body", provider="anthropic")
    assert job.shards[0]["batch_id"] == foreign.id  # adopted by the size-and-time match
    assert _ok(_wait(job))
    shard = job.shards[0]
    assert shard["batch_id"] != foreign.id and shard["previous_batches"] == [foreign.id]
    assert [e["event"] for e in shard["events"]] == ["adopted", "released_foreign_batch"]
    assert "another job's" in str(job.status(refresh=False))
    assert len(emu.state()["anthropic"]["batches"]) == 2
    home = job.path.parent
    assert foreign.id not in json.loads((home / ".claims.json").read_text())


# -- name= is an alias -----------------------------------------------------------------------
def test_a_name_with_other_work_is_refused_saying_what_differs(emu: Any) -> None:
    d1 = _frame()
    job = d1.llmbatch.complete(text="body", id="doc_id", name="daily")
    _wait(job)
    d2 = _frame(12, prefix="other")
    with pytest.raises(llmbatch.NameConflictError) as info:
        d2.llmbatch.complete(
            text="body", id="doc_id", name="daily", model="gpt-4.1", system_prompt="Be brief."
        )
    message = str(info.value)
    assert "model" in message and "system_prompt" in message and "force=True" in message
    assert "texts differ" in message and "rows: 10 → 12" in message
    with pytest.raises(llmbatch.NameConflictError, match="the texts differ"):
        _frame(prefix="changed").llmbatch.complete(text="body", id="doc_id", name="daily")
    again = d1.llmbatch.complete(text="body", id="doc_id", name="daily")
    assert again.path == job.path and len(emu.state()["openai"]["batches"]) == 1


# -- format 1 (llmbatch 0.1.0) ---------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_job_written_by_0_1_0_loads_and_finishes(emu: Any, provider: str) -> None:
    job = _frame().llmbatch.complete(
        text="body", provider=provider, limits=Limits(5, BIG), submit=False
    )
    path = job.path / "job.json"
    manifest = json.loads(path.read_text())
    for shard in manifest["shards"]:  # 0.1.0 hashed the lines without their newlines
        data = (job.path / shard["path"]).read_bytes().replace(b"\n", b"")
        shard["sha256"] = hashlib.sha256(data).hexdigest()
        for key in ("hash_form", "cancelled", "adopted", "events", "results", "generation"):
            shard.pop(key, None)
    for key in ("identity", "home"):
        manifest.pop(key)
    manifest["format"] = 1
    path.write_text(json.dumps(manifest))
    assert _ok(_wait(llmbatch.load(job.path)))
    assert json.loads(path.read_text())["format"] == 2
