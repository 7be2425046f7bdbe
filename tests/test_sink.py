"""collect(to="out.parquet"): the same frame as collect(), written window by window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import llmbatch
from llmbatch import BatchFailedError, InputError, Limits
from llmbatch.sink import Snapshot, scanned_row, sink_parquet


def frame(n: int = 40) -> pd.DataFrame:
    bodies = [f"text {i}" if i % 9 else "" for i in range(n)]  # some empty: skipped rows
    return pd.DataFrame({"doc": [f"d{i}" for i in range(n)], "body": bodies, "x": range(n)})


def written(job: llmbatch.BatchHandle, path: Path, window: int) -> pd.DataFrame:
    """The job's rows written with a small window (many windows for a small job)."""
    sink_parquet(
        path, manifest=job.manifest, folder=job._folder, backend=job._backend, spec=job.spec,
        snapshot=Snapshot(job._frames.source(job.manifest)), partial=False, window=window,
    )  # fmt: skip
    return pd.read_parquet(path)


def same(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same columns, in order, with the same values (dtypes may differ: parquet's)."""
    assert list(out.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        out.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_to_parquet_holds_what_collect_returns(emu: Any, tmp_path: Path, provider: str) -> None:
    emu.configure(request_error_rate=0.2)
    job = frame().llmbatch.classify(
        ["a", "b"], text="body", id="doc", provider=provider, skip_empty=True,
        limits=Limits(max_requests=7, max_bytes=10**8),
    )  # fmt: skip
    expected = job.wait(poll_interval=0, progress=False)
    assert expected[".error"].any()
    path = job.collect(to=tmp_path / "out.parquet")
    assert path == tmp_path / "out.parquet"
    same(pd.read_parquet(path), expected)
    same(written(job, tmp_path / "small.parquet", window=5), expected)


def test_retried_and_reused_rows_keep_their_latest_answer(emu: Any, tmp_path: Path) -> None:
    df = frame(30)
    df.llmbatch.complete(text="body", id="doc", skip_empty=True).wait(poll_interval=0)
    emu.configure(request_error_rate=0.3)
    job = pd.concat([df, frame(35).iloc[30:]]).llmbatch.complete(
        text="body", id="doc", skip_empty=True, limits=Limits(max_requests=4, max_bytes=10**8)
    )
    job.wait(poll_interval=0, progress=False)
    emu.configure(request_error_rate=0.0)
    expected = job.retry_failed().wait(poll_interval=0, progress=False)
    assert job.status().reused == 26
    same(written(job, tmp_path / "out.parquet", window=3), expected)


def test_polars_users_read_it_lazily(emu: Any, tmp_path: Path) -> None:
    job = pl.from_pandas(frame(12)).llmbatch.embed(text="body", id="doc", skip_empty=True)
    expected = job.wait(poll_interval=0, progress=False)
    out = pl.scan_parquet(job.collect(to=tmp_path / "e.parquet")).collect()
    assert out.columns == expected.columns
    for got, want in zip(out["embedding"].to_list(), expected["embedding"].to_list(), strict=True):
        assert (got is None and want is None) or got == pytest.approx(want)
    assert out[".error"].to_list() == expected[".error"].to_list()


def test_a_failed_batch_is_raised_as_by_collect(emu: Any, tmp_path: Path) -> None:
    job = frame(6).llmbatch.complete(text="body", id="doc", skip_empty=True, model="nope-1")
    with pytest.raises(BatchFailedError):
        job.wait(poll_interval=0, progress=False)
    with pytest.raises(BatchFailedError):
        job.collect(to=tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    path = job.collect(to=tmp_path / "out.parquet", partial=True)
    assert pq.read_table(path).num_rows == 6


def test_to_and_frame_together_are_refused(emu: Any, tmp_path: Path) -> None:
    job = frame(3).llmbatch.complete(text="body", id="doc", skip_empty=True)
    job.wait(poll_interval=0, progress=False)
    with pytest.raises(InputError, match="pass one of them"):
        job.collect(frame(3), to=tmp_path / "o.parquet")
    with pytest.raises(InputError, match="writes parquet"):
        job.collect(to=tmp_path / "o.csv")


def test_without_a_snapshot_the_given_frame_is_written(emu: Any, tmp_path: Path) -> None:
    df = frame(8)
    job = df.llmbatch.complete(text="body", id="doc", skip_empty=True)
    expected = job.wait(poll_interval=0, progress=False)
    (job.path / "frame.parquet").unlink()
    again = llmbatch.load(job.path, frame=df)
    same(pd.read_parquet(again.collect(to=tmp_path / "o.parquet")), expected)


def test_a_pandas_snapshot_is_written_in_row_groups(emu: Any) -> None:
    """collect(to=) reads the snapshot a window at a time: a pandas frame's snapshot has row
    groups of SNAPSHOT_GROUP rows, as a staged frame's has (not one group of every row)."""
    import pyarrow.parquet as pq

    from llmbatch.frames import SNAPSHOT_GROUP

    rows = 2 * SNAPSHOT_GROUP + 1
    df = pd.DataFrame({"body": [f"t{i}" for i in range(rows)]}, index=range(5, rows + 5))
    job = df.llmbatch.complete(text="body", submit=False)
    snapshot = pq.ParquetFile(job.path / "frame.parquet")
    assert snapshot.num_row_groups == 3
    assert snapshot.metadata.num_rows == rows


@pytest.mark.parametrize(
    ("line", "row"),
    [
        (b'{"id":"r","custom_id":"t1-17","response":{"status_code":200}}', 17),
        (b'{"custom_id":"t1-0","result":{"type":"succeeded"}}', 0),
        # the line's own key spaced, a nested one compact: not certain, parsed instead
        (b'{"response":{"body":{"custom_id":"t1-3"}},"custom_id" : "t1-4"}', None),
        (b'{"custom_id":"t1-4","note":"custom_id"}', None),  # the name as a value too
        (b'{"custom_id":"t1-4","note":"say \\"custom_id\\":\\"t1-9\\""}', 4),  # escaped: no key
        (b'{"custom_id":"t2-4"}', None),  # another job's tag
        (b'{"custom_id":"t1-4x"}', None),
        (b'{"custom_id":"t1-\xd9\xa3"}', None),  # an Arabic-Indic digit is no row number
        (b'{"custom_id":"t1-"}', None),
        (b'{"custom_id":12}', None),
    ],
)
def test_a_row_is_read_from_a_line_s_bytes_only_when_certain(line: bytes, row: int | None) -> None:
    assert scanned_row(line, b"t1-") == row


def test_a_line_damaged_since_its_download_is_an_integrity_error(emu: Any, tmp_path: Path) -> None:
    job = frame(10).llmbatch.complete(text="body", id="doc", skip_empty=True)
    job.wait(poll_interval=0, progress=False)
    results = sorted((job.path / "results").glob("*.jsonl"))[0]
    data = results.read_bytes()
    results.write_bytes(b"X" + data[1:])  # same size and lines: only a parse finds it
    with pytest.raises(llmbatch.ResultsIntegrityError, match="refresh_results"):
        job.collect(to=tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
