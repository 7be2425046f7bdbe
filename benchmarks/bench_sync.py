"""Sync mode's throughput against the emulator, beside the per-request limit in the same run.

The emulator runs in its own process (so the client's CPU is the client's alone). Two clients
send the same chat requests at the same concurrency:

- **limit**: bare httpx from a thread pool, one shared client, posting pre-built bodies and
  doing nothing with the answers: what the emulator and loopback allow;
- **llmbatch**: `df.llmbatch.complete(..., mode="sync")`, which also checks and shards the
  rows, writes every answer to the job's journal, records progress and merges the frame.

Prints rows per second, client CPU per 1,000 rows and peak memory for each.

    .venv/bin/python benchmarks/bench_sync.py --rows 5000 --concurrency 8
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pandas as pd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "llmbatch.emulator", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_emulator/config", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the emulator did not start")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, rows: int, run: Callable[[], Any]) -> None:
    wall, used = time.perf_counter(), cpu()
    run()
    wall, used = time.perf_counter() - wall, cpu() - used
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label:>9}: {rows / wall:8,.0f} rows/s  {used / rows * 1000:6.3f} s CPU per 1,000 rows"
        f"  peak RSS {peak:,.0f} MB"
    )


def limit(base: str, texts: list[str], concurrency: int) -> None:
    bodies = [
        orjson.dumps({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": t}]})
        for t in texts
    ]
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
    with httpx.Client(base_url=base, headers=headers) as client:

        def post(body: bytes) -> None:
            client.post("/chat/completions", content=body).raise_for_status()

        with cf.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, bodies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    emulator = start_emulator(port)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        os.environ.update(
            OPENAI_BASE_URL=base,
            OPENAI_API_KEY="sk-bench",
            LLMBATCH_HOME=tempfile.mkdtemp(prefix="llmbatch-bench-"),
        )
        import llmbatch  # noqa: F401  (registers df.llmbatch)

        texts = [f"review {i}: the kettle works fine" for i in range(args.rows)]
        df = pd.DataFrame({"doc": range(args.rows), "body": texts})
        print(f"{args.rows:,} chat rows, concurrency {args.concurrency}")
        measure("limit", args.rows, lambda: limit(base, texts, args.concurrency))

        def sync() -> None:
            job = df.llmbatch.complete(
                text="body", id="doc", mode="sync", concurrency=args.concurrency
            )
            assert not job.collect()[".error"].any()

        measure("llmbatch", args.rows, sync)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
