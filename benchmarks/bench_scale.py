"""A whole job from parquet to parquet in one client process: the 10-million-row run.

    .venv/bin/python benchmarks/bench_scale.py --rows 10000000   # about an hour here, 25 GB disk
    .venv/bin/python benchmarks/bench_scale.py --rows 1000000 --verb complete

Writes a parquet input (an id, a short review text, a number), starts the emulator in its own
process, then runs the client in another one: ``llmbatch.scan_parquet(...).llmbatch.classify(
..., submit=False)`` (three labels; ``--verb complete`` for a 16-token completion),
``submit()``, polling until done, and ``collect(to="out.parquet")``.
Printed per phase: wall seconds, the client's CPU seconds and its peak RSS so far (``VmHWM``);
then the client's total CPU per million rows, and a check that every row came back once. The
emulator's own CPU and memory are not the client's and are not counted.

Not a timed test: it runs for as long as the emulator takes to answer (its fake model answers
some 10,000-30,000 rows a second here). The per-row limit of prepare and collect is measured
by ``bench_prepare_collect.py`` (up to a million rows: its collect yardstick holds every answer).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CLIENT = r"""
import sys, time
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024
def phase(name, t0, c0):
    print(f"{name:<10} {time.perf_counter() - t0:>9.1f} {time.process_time() - c0:>9.1f} "
          f"{peak_mb():>9,} MB", flush=True)
import llmbatch, polars
src, out, verb = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"{'phase':<10} {'wall s':>9} {'cpu s':>9} {'peak RSS':>12}", flush=True)
t0, c0 = time.perf_counter(), time.process_time()
frame = llmbatch.scan_parquet(src)
if verb == "classify":
    labels = ["positive", "negative", "neutral"]
    job = frame.llmbatch.classify(labels, text="body", id="doc", submit=False)
else:
    job = frame.llmbatch.complete(text="body", id="doc", max_tokens=16, submit=False)
phase("prepare", t0, c0)
t0, c0 = time.perf_counter(), time.process_time()
job.submit()
phase("submit", t0, c0)
t0, c0 = time.perf_counter(), time.process_time()
while not job.status().done:
    time.sleep(2)
phase("wait", t0, c0)
t0, c0 = time.perf_counter(), time.process_time()
job.collect(to=out)
phase("collect", t0, c0)
print(f"client CPU {time.process_time():.0f} s in all", flush=True)
"""


def make_input(path: Path, rows: int) -> None:
    import polars as pl

    n = pl.int_range(rows, eager=True)
    pl.DataFrame({
        "doc": "doc-" + n.cast(pl.String).str.zfill(9),
        "body": "review " + n.cast(pl.String) + ": the kettle boils fast and looks good",
        "stars": n % 5,
    }).write_parquet(path)  # fmt: skip


def check(out: Path, rows: int, verb: str) -> str:
    import polars as pl

    answer = "label" if verb == "classify" else "content"
    got = pl.scan_parquet(out).select(
        pl.len(), pl.col("doc").n_unique(), pl.col(".error").sum(), pl.col(answer).null_count()
    )
    n, unique, errors, missing = got.collect().row(0)
    ok = (n, unique, errors, missing) == (rows, rows, 0, 0)
    verdict = "every row back once, answered" if ok else "NOT every row back once"
    return f"{n:,} rows, {unique:,} distinct ids, {errors:,} errors, {missing:,} empty: {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None, help="keep the files here")
    parser.add_argument("--verb", choices=["complete", "classify"], default="classify")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        src, out = work / "in.parquet", work / "out.parquet"
        make_input(src, args.rows)
        emulator = subprocess.Popen(
            [sys.executable, "-m", "llmbatch.emulator", "--port", "0"], stdout=subprocess.PIPE
        )
        try:
            assert emulator.stdout is not None
            url = re.search(r"http://\S+", emulator.stdout.readline().decode())
            if url is None:
                raise SystemExit("the emulator did not start")
            env = {
                **os.environ,
                "OPENAI_BASE_URL": f"{url.group(0)}/v1",
                "OPENAI_API_KEY": "emulator",
                "LLMBATCH_HOME": str(work / "home"),
            }
            print(f"{args.rows:,} rows, emulator {url.group(0)} (its own process)", flush=True)
            cmd = [sys.executable, "-c", CLIENT, str(src), str(out), args.verb]
            subprocess.run(cmd, env=env, check=True, stderr=subprocess.DEVNULL)
        finally:
            emulator.send_signal(2)  # SIGINT: it removes its stored files
            emulator.wait(timeout=120)
        print(check(out, args.rows, args.verb))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
