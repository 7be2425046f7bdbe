"""Soak: 200,000 rows in 5 shards through a hostile emulator, with a client kill in the middle.

5 % per-request errors, 429s on every fifth call, two dropped connections (one before a handler
runs, one after a batch create ran), and a SIGKILL of the client once three batches exist.
Every row must come back exactly once and no shard may be paid twice. Its figures (time, peak
memory, retries seen) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

N_ROWS = int(os.environ.get("LLMBATCH_SOAK_ROWS", "200000"))
SHARD = -(-N_ROWS // 5)

SUBMIT = f"""
import sys
import pandas as pd
import llmbatch

df = pd.DataFrame({{"doc_id": [f"doc-{{i}}" for i in range({N_ROWS})],
                    "body": [f"review {{i}}: fine, shipping slow" for i in range({N_ROWS})]}})
job = df.llmbatch.complete(text="body", id="doc_id", name="soak", folder=sys.argv[1],
                           limits=llmbatch.Limits({SHARD}, 10**9))
job.wait(poll_interval=0.05, progress=False)
"""

RESUME = f"""
import resource, sys, time
import llmbatch

t0 = time.monotonic()
job = llmbatch.load(sys.argv[1])
df = job.wait(poll_interval=0.05, progress=False)
ids = df["doc_id"].tolist()
ok = ids == [f"doc-{{i}}" for i in range({N_ROWS})]
answered = df.loc[~df[".error"], :]
echo = all(b in c for b, c in zip(answered["body"], answered["content"]))
stats = job.http_stats
print("ROWS", len(df), "ERRORS", int(df[".error"].sum()), "ORDER", ok, "ECHO", echo)
print("RETRIES", stats["retries"], "BY", dict(sorted(stats["by_reason"].items())),
      "RECOVERED", stats["recovered"], "REQUESTS", stats["requests"])
print("RESUME_SECONDS", round(time.monotonic() - t0, 1),
      "PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _until(predicate: Any, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"client ended before the kill: {out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the kill point never came")
        time.sleep(0.01)


@pytest.mark.slow
def test_soak(emu: Any, tmp_path: Path) -> None:
    t0 = time.monotonic()
    emu.configure(request_error_rate=0.05)
    emu.add_fault(kind="drop", route="GET /v1/batches*", calls=(2,))  # a poll: list or retrieve
    emu.add_fault(kind="drop_after", route="POST /v1/batches", calls=(2,))
    emu.add_fault(kind="429", route="*", every=5, retry_after=0.01)  # 20 % of calls
    env = {**os.environ, "LLMBATCH_RETRY_ZERO_WAIT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SUBMIT, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _until(lambda: emu.state()["openai"]["batch_count"] >= 3, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    killed_at = time.monotonic() - t0
    done = subprocess.run(
        [sys.executable, "-c", RESUME, str(tmp_path / "soak")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    words = done.stdout.split()
    assert words[words.index("ROWS") + 1] == str(N_ROWS)
    assert words[words.index("ORDER") + 1] == "True" and words[words.index("ECHO") + 1] == "True"
    errors = int(words[words.index("ERRORS") + 1])
    assert 0.03 * N_ROWS < errors < 0.07 * N_ROWS  # the injected 5 %, nothing else
    state = emu.state()
    assert state["openai"]["batch_count"] == 5, state["openai"]["batches"]
    inputs = [f for f in state["openai"]["files"] if f["purpose"] == "batch"]
    assert len(inputs) == 5
    faults = {f["kind"]: f["fired"] for f in state["faults"]}
    assert faults["drop"] == 1 and faults["drop_after"] == 1 and faults["429"] > 0
    print(
        f"\nsoak: {N_ROWS:,} rows, 5 shards, killed after {killed_at:.1f} s, "
        f"total {time.monotonic() - t0:.1f} s, 429s fired {faults['429']}\n{done.stdout}"
    )
