"""Shards fed within the provider's enqueued-token quota: how many rounds a job takes.

A job of ``--shards`` shards runs against the emulator with an ``enqueued_token_limit`` of
``--fit`` shards' worth of tokens and ``max_enqueued_tokens=`` set to the same, and every
batch taking about ``--batch-seconds`` of real time (``requests_per_second``). Printed: the
wall time, the emulator's batch time, the rounds that makes, against the ideal
``ceil(shards / fit)``, and how many shards failed on quota (should be none).

    .venv/bin/python benchmarks/bench_quota.py
    .venv/bin/python benchmarks/bench_quota.py --shards 20 --fit 3 --batch-seconds 2
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import orjson
import pandas as pd

import llmbatch  # noqa: F401  (registers df.llmbatch)
from llmbatch.emulator import serve
from llmbatch.emulator.fake_text import estimate_tokens
from llmbatch.prepare import Limits

ROWS = 4  # rows per shard


def frame(shards: int) -> pd.DataFrame:
    """Rows whose bodies have the same length, so every shard weighs the same."""
    return pd.DataFrame(
        {"body": [f"row {i:05d} of the quota bench " * 3 for i in range(shards * ROWS)]}
    )


def shard_tokens(df: pd.DataFrame) -> int:
    probe = df.head(ROWS).llmbatch.complete(text="body", limits=Limits(ROWS, 10**9), submit=False)
    lines = (probe.path / probe.shards[0]["path"]).read_bytes().splitlines()
    return sum(estimate_tokens(orjson.loads(line)["body"]) for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--fit", type=int, default=3, help="shards the queue holds at once")
    parser.add_argument("--batch-seconds", type=float, default=2.0)
    args = parser.parse_args()
    with serve() as emu, tempfile.TemporaryDirectory() as home:
        os.environ.update(
            OPENAI_BASE_URL=emu.openai_base_url, OPENAI_API_KEY="emulator", LLMBATCH_HOME=home
        )
        df = frame(args.shards)
        tokens = shard_tokens(df)
        limit = args.fit * tokens
        emu.configure(requests_per_second=ROWS / args.batch_seconds, enqueued_token_limit=limit)
        t0 = time.perf_counter()
        job = df.llmbatch.complete(
            text="body", limits=Limits(ROWS, 10**9), max_enqueued_tokens=limit
        )
        out = job.wait(poll_interval=0.1, progress=False)
        wall = time.perf_counter() - t0
        statuses = [b["status"] for b in emu.state()["openai"]["batches"]]
        quota = sum(1 for s in job.shards for e in s["events"] if e["event"] == "quota")
        ideal = math.ceil(args.shards / args.fit)
        print(
            f"{args.shards} shards, queue holds {args.fit} ({limit:,} tokens), "
            f"a batch takes {args.batch_seconds:.1f} s"
        )
        print(
            f"wall {wall:.1f} s = {wall / args.batch_seconds:.1f} batch times; "
            f"ideal ceil({args.shards}/{args.fit}) = {ideal} rounds"
        )
        print(
            f"batches created {len(statuses)}, failed {statuses.count('failed')}, "
            f"quota events {quota}, row errors {int(out['.error'].sum())}"
        )


if __name__ == "__main__":
    main()
