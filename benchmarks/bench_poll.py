"""What one ``job.status()`` costs while many shards run: client CPU per poll, by shard count.

    .venv/bin/python benchmarks/bench_poll.py
    .venv/bin/python benchmarks/bench_poll.py --shards 10 100 200

A 10-million-row job runs some 200 OpenAI batches at once, and a notebook or a cron job polls
it for hours. For each count, a job of that many 10-row shards is submitted to the built-in
emulator, which holds every batch in ``validating`` (so all stay running), then ``status()`` is
called ``--polls`` times. Printed: the CPU seconds per poll (the emulator runs in this process,
so its answers to the list call are counted too) and the manifest's size. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import llmbatch
from llmbatch.emulator import serve


def per_poll(shards: int, polls: int) -> tuple[float, int]:
    """CPU seconds per status() of a job of `shards` running shards, and its manifest's bytes."""
    rows = shards * 10
    frame = pd.DataFrame(
        {"id": [f"d{i}" for i in range(rows)], "t": [f"text {i}" for i in range(rows)]}
    )
    with serve(validating_seconds=3600) as emu, tempfile.TemporaryDirectory() as home:
        os.environ.update(OPENAI_API_KEY="emulator", OPENAI_BASE_URL=emu.openai_base_url)
        small = llmbatch.Limits(max_requests=10, max_bytes=10**6)
        job = frame.llmbatch.complete(text="t", id="id", limits=small, folder=home)
        job.status()  # the first poll: every shard seen running
        start = time.process_time()
        for _ in range(polls):
            job.status()
        seconds = (time.process_time() - start) / polls
        return seconds, (Path(job.path) / "job.json").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[10, 100, 200])
    parser.add_argument("--polls", type=int, default=10)
    args = parser.parse_args()
    print(f"{'running shards':>15} {'CPU per status()':>17} {'manifest':>10}")
    for shards in args.shards:
        seconds, size = per_poll(shards, args.polls)
        print(f"{shards:>15,} {seconds * 1000:>14,.0f} ms {size / 1024:>7,.0f} KB", flush=True)


if __name__ == "__main__":
    main()
