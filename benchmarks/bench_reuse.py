"""Prepare with the answer index against prepare without it, in one run.

A job of N rows is answered by the emulator and indexed; then three prepares (submit=False, so
only the local work is timed) are measured:

- **no index**: the N rows + 1% new with `reuse=False` (the yardstick: today's prepare);
- **all hits**: the same rows with `reuse=True`: N answers looked up and copied, 1% sharded;
- **all misses**: N other rows with `reuse=True`: every key looked up, none found.

Prints seconds, rows per second and the ratio to the yardstick, and peak memory.

    .venv/bin/python benchmarks/bench_reuse.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

import llmbatch  # noqa: F401  (registers df.llmbatch)
from llmbatch.emulator import serve


def frame(n: int, start: int = 0, prefix: str = "review") -> pd.DataFrame:
    rows = range(start, start + n)
    bodies = [f"{prefix} {i}: the kettle works fine" for i in rows]
    return pd.DataFrame({"doc": rows, "body": bodies})


def timed(label: str, rows: int, make: Callable[[], Any], base: float | None) -> float:
    t = time.perf_counter()
    job = make()
    seconds = time.perf_counter() - t
    ratio = "" if base is None else f"  {seconds / base:4.2f}x the yardstick"
    st = job.status(refresh=False)
    print(f"{label:>10}: {seconds:6.2f} s  {rows / seconds:9,.0f} rows/s{ratio}  ({st._summary()})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    n = args.rows
    with serve() as emulator:
        os.environ.update(
            OPENAI_BASE_URL=emulator.openai_base_url,
            OPENAI_API_KEY="sk-bench",
            LLMBATCH_HOME=tempfile.mkdtemp(prefix="llmbatch-bench-"),
        )
        labels = ["positive", "negative"]
        t = time.perf_counter()
        first = frame(n).llmbatch.classify(labels, text="body", id="doc")
        first.wait(poll_interval=0.2, progress=False)
        print(f"{n:,} rows answered and indexed in {time.perf_counter() - t:.1f} s")
        more = pd.concat([frame(n), frame(n // 100, n)], ignore_index=True)

        def prepare(df: pd.DataFrame, **kw: Any) -> Any:
            return df.llmbatch.classify(labels, text="body", id="doc", submit=False, **kw)

        base = timed("no index", len(more), lambda: prepare(more, reuse=False), None)
        timed("all hits", len(more), lambda: prepare(more, name="hits"), base)
        other = frame(len(more), 10 * n, "other")
        timed("all misses", len(more), lambda: prepare(other, name="misses"), base)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
