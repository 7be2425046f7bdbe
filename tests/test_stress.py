"""Randomized stress: 4 processes do random operations on one job, with faults on.

Each process runs 20 rounds of wait (short timeout), status, retry_failed, cancel and
collect(partial=True), seeded by its number. The emulator answers 429s, loses some create
answers after running them, holds creates open and fails a share of requests. Afterwards:
every remote batch is recorded by exactly one shard generation, every upload belongs to a
shard, the attempts are whole, no process saw a raw exception, and after the faults stop every
row comes back exactly once with its own answer. Run with `-s` to see the figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch import Limits
from procs import finish, start

N_ROWS = 60
ROUNDS = 20
PROCESSES = 4

WORKER = """
import json, random, sys
import llmbatch

path, seed, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
ops, refused = {}, {}
for _ in range(rounds):
    op = rng.choices(["wait", "status", "retry", "cancel", "collect"], [5, 3, 3, 1, 2])[0]
    job = llmbatch.load(path)
    ops[op] = ops.get(op, 0) + 1
    try:
        if op == "wait":
            job.wait(poll_interval=0.01, timeout=0.3, progress=False)
        elif op == "status":
            job.status()
        elif op == "retry":
            job.retry_failed()
        elif op == "cancel":
            job.cancel()
        else:
            job.collect(partial=True)
    except llmbatch.LLMBatchError as exc:  # JobNotReady, a provider error after retries, ...
        refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
print(json.dumps({"ops": ops, "refused": refused}))
"""


def _recorded(manifest: dict[str, Any]) -> list[str]:
    ids = []
    for s in manifest["shards"]:
        ids += list(s.get("previous_batches") or [])
        ids += [s["batch_id"]] if s.get("batch_id") else []
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_four_processes_at_random_never_lose_or_double_pay(
    emu: Any, tmp_path: Path, provider: str
) -> None:
    create = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    emu.configure(request_error_rate=0.2, requests_per_second=400.0)
    emu.add_fault(kind="429", route="GET *", rate=0.2, retry_after=0.01)
    emu.add_fault(kind="drop_after", route=create, rate=0.15)
    emu.add_fault(kind="slow", route=create, every=2, delay=0.05)
    df = pd.DataFrame({"doc_id": [f"doc {i}" for i in range(N_ROWS)]})
    df["body"] = [f"text number {i}" for i in range(N_ROWS)]
    job = df.llmbatch.complete(
        text="body", id="doc_id", provider=provider, limits=Limits(6, 10**9), submit=False
    )
    procs = [
        start(emu, WORKER, str(job.path), str(seed), str(ROUNDS), home=str(job.path.parent))
        for seed in range(PROCESSES)
    ]
    results = finish(procs)
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err, err
    reports = [json.loads(out.splitlines()[-1]) for _, out, _ in results]

    manifest = json.loads((job.path / "job.json").read_text())
    batches = emu.state()[provider]["batches"]
    recorded = _recorded(manifest)
    assert len(recorded) == len(set(recorded))  # no batch recorded twice
    assert set(recorded) == {b["id"] for b in batches}  # none paid and forgotten
    for s in manifest["shards"]:  # one batch per shard per generation
        assert len(s.get("previous_batches") or []) == s.get("generation", 0)
    assert [a["attempt"] for a in manifest["attempts"]] == list(range(len(manifest["attempts"])))
    for a in manifest["attempts"][1:]:
        assert sum(s["n"] for s in manifest["shards"] if s["attempt"] == a["attempt"]) == a["rows"]
    if provider == "openai":
        uploads = {f["id"] for f in emu.state()["openai"]["files"] if f["purpose"] == "batch"}
        assert uploads <= {s["file_id"] for s in manifest["shards"] if s.get("file_id")}

    fired = {f["kind"]: f["fired"] for f in emu.state()["faults"]}
    emu.clear_faults()
    emu.configure(request_error_rate=0.0, requests_per_second=None)
    final = llmbatch.load(job.path)
    out = final.wait(poll_interval=0, progress=False)
    for _ in range(3):
        if not out[".error"].any():
            break
        final.retry_failed(kinds=("errored", "expired", "canceled", "invalid_output", "missing"))
        out = final.wait(poll_interval=0, progress=False)
    assert out["doc_id"].tolist() == df["doc_id"].tolist()  # every row once, in order
    assert not out[".error"].any()
    assert all(f"text number {i}" in c for i, c in enumerate(out["content"]))

    ops: dict[str, int] = {}
    for r in reports:
        for k, v in r["ops"].items():
            ops[k] = ops.get(k, 0) + v
    shards = len(json.loads((job.path / "job.json").read_text())["shards"])
    print(
        f"\n{provider}: {PROCESSES} processes x {ROUNDS} rounds, operations {ops}, refused "
        f"{[r['refused'] for r in reports]}; {len(batches)} batches for {len(manifest['shards'])}"
        f" shard entries ({len(manifest['attempts'])} attempts) during the stress, {shards} "
        f"shard entries after the clean-up retries; faults fired {fired}"
    )
