"""A million rows through a real client process in bounded memory: parquet in, parquet out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from procs import client_env

ROWS = 1_000_000
# What may grow with N is the id map (an id object and a few list slots a row), not the texts:
# the client's own imports and slices take about 200 MB here, the id map under 400 bytes a row.
BOUND_MB = 200 + ROWS * 400 // 2**20

CLIENT = """
import sys, time
import llmbatch
src, out = sys.argv[1], sys.argv[2]
job = llmbatch.scan_parquet(src).llmbatch.complete(text="body", id="doc", max_tokens=16)
while not job.status().done:
    time.sleep(0.5)
job.collect(to=out)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(int(peak.split()[1]) // 1024)
"""


@pytest.mark.slow
def test_a_million_rows_in_and_out_in_bounded_memory(emu: Any, tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("VmHWM is read from /proc (Linux)")
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    n = pl.int_range(ROWS, eager=True)
    pl.DataFrame({
        "doc": "doc-" + n.cast(pl.String).str.zfill(8),
        "body": "review " + n.cast(pl.String) + ": the kettle boils fast and looks good",
        "stars": n % 5,
    }).write_parquet(src)  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, str(src), str(out)],
        env=client_env(emu, str(tmp_path / "home")),
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    peak_mb = int(done.stdout.split()[-1])
    assert peak_mb < BOUND_MB, f"client peak {peak_mb} MB, bound {BOUND_MB} MB"
    answers = pl.scan_parquet(out)
    counts = answers.select(
        pl.len(), pl.col("doc").n_unique(), pl.col(".error").sum(), pl.col("content").null_count()
    ).collect()
    assert counts.row(0) == (ROWS, ROWS, 0, 0)  # every row back once, answered
    first = answers.head(3).collect()
    assert first["doc"].to_list() == ["doc-00000000", "doc-00000001", "doc-00000002"]
    assert first.columns[:3] == ["doc", "body", "stars"]
