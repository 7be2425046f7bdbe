"""Crash-safe, exactly-once submission: SIGKILL the client at every step, resume in a new process.

The client runs in a subprocess; the emulator holds one call open (a `slow` fault before its
handler runs, or `slow_after` once it has run) and the test kills the client while it waits.
A second process reopens the job with `llmbatch.load` and finishes it. Each shard must end with
exactly one remote batch and one input file, and every row must come back exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from procs import client_env, run
from procs import handled as _handled_count

N_ROWS = 10
SHARD = 4  # → 3 shards

SUBMIT = """
import sys
import pandas as pd
import llmbatch

provider, folder, n, shard = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
df = pd.DataFrame({"doc_id": [f"id {i}" for i in range(n)],
                   "body": [f"text number {i}" for i in range(n)]})
job = df.llmbatch.complete(text="body", id="doc_id", provider=provider, name="crash",
                           folder=folder, limits=llmbatch.Limits(shard, 10**9))
job.wait(poll_interval=0.02, progress=False)
print("finished without being killed")
"""

RESUME = """
import sys
import llmbatch

job = llmbatch.load(sys.argv[1])
df = job.wait(poll_interval=0.02, progress=False)
n = int(sys.argv[2])
print(len(df), int(df[".error"].sum()), df["doc_id"].tolist() == [f"id {i}" for i in range(n)],
      all(f"text number {i}" in c for i, c in enumerate(df["content"])))
"""

# (name, provider, fault kind, route, which call, when to kill: a predicate on the emulator)
POINTS: list[tuple[str, str, str, str, int, Any]] = [
    ("after-writing-shards", "openai", "slow", "POST /v1/files", 1, None),
    ("during-upload", "openai", "slow_after", "POST /v1/files", 2, None),
    ("after-upload-before-create", "openai", "slow", "POST /v1/batches", 2, None),
    ("after-create-before-manifest", "openai", "slow_after", "POST /v1/batches", 2, None),
    ("during-download", "openai", "slow", "GET /v1/files/*/content", 1, None),
    ("after-writing-shards", "anthropic", "slow", "POST /v1/messages/batches", 1, None),
    (
        "after-create-before-manifest",
        "anthropic",
        "slow_after",
        "POST /v1/messages/batches",
        2,
        None,
    ),
    ("during-download", "anthropic", "slow", "GET /v1/messages/batches/*/results", 1, None),
]


def _wait_for_call(
    emu: Any, route: str, n: int, proc: subprocess.Popen[str], *, handled: bool
) -> None:
    """Until call `n` to `route` arrived (and, for `handled`, its handler has changed state)."""
    deadline = time.monotonic() + 60  # a bound on a hung client only, never a timing assert
    while emu.call_count(route) < n or (handled and _handled_count(emu, route) < n):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"client ended before the kill point: {out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"call {n} to {route} never came")
        time.sleep(0.005)


def _submit_and_kill(
    emu: Any, tmp_path: Path, provider: str, route: str, call: int, *, handled: bool
) -> None:
    """Run the submitting client until call `call` to `route` is held open, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SUBMIT, provider, str(tmp_path), str(N_ROWS), str(SHARD)],
        env=client_env(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_call(emu, route, call, proc, handled=handled)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    emu.clear_faults()


@pytest.mark.parametrize(
    ("point", "provider", "kind", "route", "call", "_"),
    POINTS,
    ids=[f"{p[1]}-{p[0]}" for p in POINTS],
)
def test_kill_and_resume(
    emu: Any, tmp_path: Path, point: str, provider: str, kind: str, route: str, call: int, _: Any
) -> None:
    emu.add_fault(kind=kind, route=route, calls=(call,), delay=60.0)
    _submit_and_kill(emu, tmp_path, provider, route, call, handled=kind == "slow_after")
    done = run(emu, RESUME, str(tmp_path / "crash"), str(N_ROWS))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(N_ROWS), "0", "True", "True"]
    state = emu.state()[provider]
    n_shards = -(-N_ROWS // SHARD)
    assert len(state["batches"]) == n_shards, state["batches"]
    if provider == "openai":
        inputs = [f for f in state["files"] if f["purpose"] == "batch"]
        assert len(inputs) == n_shards, inputs


CANCEL = """
import sys
import llmbatch

print(llmbatch.load(sys.argv[1]).cancel())
"""


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancel_after_a_crash_between_create_and_manifest(
    emu: Any, tmp_path: Path, provider: str
) -> None:
    """A shard whose create ran but was never recorded is found and cancelled, not orphaned."""
    route = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    emu.configure(validating_seconds=60)
    emu.add_fault(kind="slow_after", route=route, calls=(2,), delay=60.0)
    _submit_and_kill(emu, tmp_path, provider, route, 2, handled=True)
    done = run(emu, CANCEL, str(tmp_path / "crash"))
    assert done.returncode == 0, done.stderr
    batches = emu.state()[provider]["batches"]
    assert len(batches) == 2
    assert all(b["status"] in ("cancelling", "cancelled", "canceling", "ended") for b in batches)
    if provider == "openai":
        inputs = [f for f in emu.state()["openai"]["files"] if f["purpose"] == "batch"]
        assert len(inputs) == 2  # the third shard never uploaded; nothing orphaned
