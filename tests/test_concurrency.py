"""Several real processes on one job: they share the work, never pay twice, never lose state.

Each test starts 2–4 client processes against the emulator at the same moment and checks the
emulator's own record (batches and input files) and every row of the result. The emulator holds
creates open a little (`slow` faults) so the processes really overlap; no assertion depends on
timing, only on what was created.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch import Limits
from llmbatch.state import JobState
from llmbatch.store import JobFolder
from procs import finish, run, start

N = 20
BIG = 10**9

PREPARE = """
import sys
import pandas as pd
import llmbatch

provider, n, shard = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
df = pd.DataFrame({"doc_id": [f"id {i}" for i in range(n)],
                   "body": [f"text number {i}" for i in range(n)]})
job = df.llmbatch.complete(text="body", id="doc_id", provider=provider, name="shared",
                           limits=llmbatch.Limits(shard, 10**9), submit=False)
print(job.path)
"""

WAIT = """
import sys, hashlib
import llmbatch

df = llmbatch.load(sys.argv[1]).wait(poll_interval=0.01, progress=False)
n = int(sys.argv[2])
ok = df["doc_id"].tolist() == [f"id {i}" for i in range(n)] and not df[".error"].any()
ok = ok and all(f"text number {i}" in c for i, c in enumerate(df["content"]))
print(ok, hashlib.sha256(df.to_json().encode()).hexdigest())
"""

SUBMIT = """
import sys
import pandas as pd
import llmbatch

provider, n = sys.argv[1], int(sys.argv[2])
df = pd.DataFrame({"body": [f"text number {i}" for i in range(n)]})
job = df.llmbatch.complete(text="body", provider=provider, limits=llmbatch.Limits(4, 10**9))
print(job.path)
"""


def _route(provider: str) -> str:
    return "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"


def _batches(emu: Any, provider: str) -> list[dict[str, Any]]:
    return list(emu.state()[provider]["batches"])


def _input_files(emu: Any) -> list[dict[str, Any]]:
    return [f for f in emu.state()["openai"]["files"] if f["purpose"] == "batch"]


def _prepare(emu: Any, tmp_path: Path, provider: str, shard: int = 2) -> Path:
    done = run(emu, PREPARE, provider, str(N), str(shard), home=str(tmp_path))
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def _manifest(path: Path) -> dict[str, Any]:
    return dict(json.loads((path / "job.json").read_text()))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_two_waits_share_the_work_and_pay_once(emu: Any, tmp_path: Path, provider: str) -> None:
    path = _prepare(emu, tmp_path, provider)  # 10 shards, none sent
    emu.add_fault(kind="slow", route=_route(provider), every=1, delay=0.3)
    results = finish([start(emu, WAIT, str(path), str(N)) for _ in range(2)])
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    outs = [out.split() for _, out, _ in results]
    assert outs[0] == outs[1] and outs[0][0] == "True"  # the same frame in both processes
    assert len(_batches(emu, provider)) == 10
    if provider == "openai":
        assert len(_input_files(emu)) == 10
    recorded = {s["batch_id"] for s in _manifest(path)["shards"]}
    assert recorded == {b["id"] for b in _batches(emu, provider)}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_identical_submits_at_once_make_one_job(emu: Any, tmp_path: Path, provider: str) -> None:
    emu.add_fault(kind="slow", route=_route(provider), every=1, delay=0.5)
    procs = [start(emu, SUBMIT, provider, "12", home=str(tmp_path)) for _ in range(3)]
    results = finish(procs)
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    assert len({out.strip() for _, out, _ in results}) == 1  # every caller got the one job
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1
    assert len(_batches(emu, provider)) == 3
    if provider == "openai":
        assert len(_input_files(emu)) == 3


RETRY = """
import sys
import llmbatch

job = llmbatch.load(sys.argv[1]).retry_failed()
print(len(job.shards))
"""


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_two_retries_send_each_failed_row_once(emu: Any, tmp_path: Path, provider: str) -> None:
    emu.configure(request_error_rate=0.4)
    df = pd.DataFrame({"body": [f"text {i}" for i in range(30)]})
    job = df.llmbatch.complete(text="body", provider=provider, folder=tmp_path)
    failed = int(job.wait(poll_interval=0, progress=False)[".error"].sum())
    assert 0 < failed < 30
    emu.configure(request_error_rate=0.0)
    emu.add_fault(kind="slow", route=_route(provider), every=1, delay=0.2)
    results = finish([start(emu, RETRY, str(job.path)) for _ in range(2)])
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    manifest = _manifest(job.path)
    assert [a["attempt"] for a in manifest["attempts"]] == [0, 1]
    assert sum(s["n"] for s in manifest["shards"] if s["attempt"] == 1) == failed
    assert len(_batches(emu, provider)) == 2
    final = llmbatch.load(job.path).wait(poll_interval=0, progress=False)
    assert not final[".error"].any()


STALE_RETRY = """
import sys
import llmbatch

job = llmbatch.load(sys.argv[1]).retry_failed()
df = job.wait(poll_interval=0, progress=False)
print(int(df[".error"].sum()))
"""


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_stale_handle_never_overwrites_newer_state(emu: Any, provider: str) -> None:
    emu.configure(request_error_rate=0.4)
    df = pd.DataFrame({"body": [f"text {i}" for i in range(30)]})
    notebook = df.llmbatch.complete(text="body", provider=provider)
    notebook.wait(poll_interval=0, progress=False)
    emu.configure(request_error_rate=0.0)
    terminal = run(emu, STALE_RETRY, str(notebook.path))  # another process retries and waits
    assert terminal.returncode == 0 and terminal.stdout.strip() == "0", terminal.stderr
    notebook.cleanup()  # the notebook's handle was opened before the retry
    manifest = _manifest(notebook.path)
    assert [a["attempt"] for a in manifest["attempts"]] == [0, 1]
    assert all(s["state"] == "cleaned" for s in manifest["shards"])
    assert not notebook.collect()[".error"].any()


CANCEL = """
import sys
import llmbatch

print(llmbatch.load(sys.argv[1]).cancel().state)
"""


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_cancel_from_another_handle_is_never_undone(emu: Any, provider: str) -> None:
    df = pd.DataFrame({"body": [f"text {i}" for i in range(8)]})
    waiter = df.llmbatch.complete(
        text="body", provider=provider, limits=Limits(2, BIG), submit=False
    )
    cancel = run(emu, CANCEL, str(waiter.path))  # a terminal cancels
    assert cancel.returncode == 0, cancel.stderr
    out = waiter.wait(poll_interval=0, progress=False)  # the notebook's view predates the cancel
    assert out[".error"].all() and out[".error_msg"].str.contains("cancel").all()
    assert emu.state()["total_calls"] == 0


WAIT_ANY = """
import sys
import llmbatch

df = llmbatch.load(sys.argv[1]).wait(poll_interval=0.01, progress=False)
print(len(df), int(df[".error"].sum()))
"""


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancel_while_another_process_waits(emu: Any, tmp_path: Path, provider: str) -> None:
    path = _prepare(emu, tmp_path, provider)
    emu.configure(validating_seconds=3600)  # batches stay running until cancelled
    emu.add_fault(kind="slow", route=_route(provider), every=1, delay=0.5)
    waiter = start(emu, WAIT_ANY, str(path))
    deadline = time.monotonic() + 60
    while len(_batches(emu, provider)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the waiter is sending
    cancel = run(emu, CANCEL, str(path))
    assert cancel.returncode == 0, cancel.stderr
    [(code, out, err)] = finish([waiter])
    assert code == 0, err  # no raw 404, no traceback
    assert out.split() == [str(N), str(N)]  # every row back once, as an error
    manifest = _manifest(path)
    sent = [s for s in manifest["shards"] if s.get("batch_id")]
    assert {s["batch_id"] for s in sent} == {b["id"] for b in _batches(emu, provider)}
    assert all(s["status"] == "cancelled" for s in manifest["shards"])
    if provider == "openai":
        assert len(_input_files(emu)) == len(sent)  # no upload without its batch
    before = len(_batches(emu, provider))
    again = run(emu, WAIT_ANY, str(path))
    assert again.returncode == 0, again.stderr
    assert len(_batches(emu, provider)) == before  # cancelled shards are never sent later


def test_status_never_waits_for_another_process_s_download(emu: Any) -> None:
    """A shard claimed elsewhere (here: another thread, same lock as another process) is
    skipped by status(), which returns at once; wait() then downloads it."""
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body")
    holding, release = threading.Event(), threading.Event()

    def download_elsewhere() -> None:
        with JobState(JobFolder(job.path)).claim(0):
            holding.set()
            release.wait(60)

    other = threading.Thread(target=download_elsewhere)
    other.start()
    holding.wait(60)
    try:
        assert not job.status().done  # ended at the provider, but not downloaded here
        assert emu.call_count("GET /v1/files/*/content") == 0
    finally:
        release.set()
        other.join()
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()
