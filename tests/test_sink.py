"""collect(to="out.parquet"): the same frame as collect(), written window by window."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import llmbatch
from llmbatch import BatchFailedError, InputError, Limits
from llmbatch.reading import StrayLine
from llmbatch.sink import Snapshot, scanned_row, sink_parquet
from llmbatch.sink_shards import shard_window, shard_windows


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


def test_windows_of_whole_shards_cut_no_shard(emu: Any) -> None:
    job = frame(40).llmbatch.complete(
        text="body", id="doc", skip_empty=True,
        limits=Limits(max_requests=7, max_bytes=10**8), submit=False,
    )  # fmt: skip
    spans = [(s.rows[0][0], s.rows[-1][1]) for s in job.manifest.shards]
    for size in (2, 5, 10, 40):
        windows = shard_windows(job.manifest, size)
        assert windows is not None
        assert windows[0][0] == 0 and windows[-1][1] == 40
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
        assert all(any(lo <= a and b <= hi for lo, hi in windows) for a, b in spans)
    assert len(shard_windows(job.manifest, 40) or []) == 1
    assert shard_windows(job.manifest, 1) is None  # a shard spans 8 rows: too long a window


def test_a_retried_job_is_written_from_located_lines(emu: Any, tmp_path: Path) -> None:
    emu.configure(request_error_rate=0.4)
    job = frame(30).llmbatch.complete(
        text="body", id="doc", skip_empty=True, limits=Limits(max_requests=4, max_bytes=10**8)
    )
    job.wait(poll_interval=0, progress=False)
    emu.configure(request_error_rate=0.0)
    expected = job.retry_failed().wait(poll_interval=0, progress=False)
    assert any(s.attempt for s in job.manifest.shards)
    assert shard_windows(job.manifest, 5) is None  # a retry's rows lie in earlier shards' spans
    same(written(job, tmp_path / "out.parquet", window=5), expected)


@pytest.mark.parametrize("changed", [range(30, 35), range(10, 13)], ids=["after", "between"])
def test_reused_answers_are_written_as_collect_returns_them(
    emu: Any, tmp_path: Path, changed: range
) -> None:
    """New rows after the reused ones: windows of whole shards; rows sent anew between the
    reused ones: located lines. Either way what collect() returns."""
    df = frame(30)
    df.llmbatch.complete(text="body", id="doc", skip_empty=True).wait(poll_interval=0)
    again = frame(35)
    again.loc[list(changed), "body"] = [f"changed {i}" for i in changed]
    job = again.llmbatch.complete(
        text="body", id="doc", skip_empty=True, limits=Limits(max_requests=2, max_bytes=10**8)
    )
    expected = job.wait(poll_interval=0, progress=False)
    assert job.status().reused > 20
    assert (shard_windows(job.manifest, 10) is None) == (changed.start < 30)
    same(written(job, tmp_path / "out.parquet", window=10), expected)


def test_a_failed_shard_s_rows_are_written_as_collect_returns_them(
    emu: Any, tmp_path: Path
) -> None:
    emu.configure(openai_max_requests=3)  # shard 0 (4 requests) fails validation
    job = frame(8).llmbatch.complete(
        text="body", id="doc", skip_empty=True, limits=Limits(max_requests=4, max_bytes=10**8)
    )
    with pytest.raises(BatchFailedError):
        job.wait(poll_interval=0, progress=False)
    expected = job.collect(partial=True)
    assert expected[".error_msg"].str.contains("failed at the provider").sum() == 4
    with pytest.raises(BatchFailedError):
        job.collect(to=tmp_path / "out.parquet")
    same(pd.read_parquet(job.collect(to=tmp_path / "out.parquet", partial=True)), expected)
    emu.configure(openai_max_requests=50_000)
    expected = job.retry_failed().wait(poll_interval=0, progress=False)
    assert not expected[".error"].iloc[1:].any()
    same(pd.read_parquet(job.collect(to=tmp_path / "out.parquet")), expected)


def test_a_line_naming_a_row_of_another_shard_is_read_as_collect_reads_it(
    emu: Any, tmp_path: Path
) -> None:
    """A line edited (same size) to name a row of a later shard: the windows of whole shards
    cannot place it, the located lines can."""
    job = frame(40).llmbatch.complete(
        text="body", id="doc", skip_empty=True, limits=Limits(max_requests=7, max_bytes=10**8)
    )
    job.wait(poll_interval=0, progress=False)
    first, later = job.manifest.shards[2], job.manifest.shards[4]
    path = job.path / first.results[0]
    data = path.read_bytes()
    tag = job.manifest.tag
    ours, theirs = f'"{tag}-{first.rows[0][0]}"', f'"{tag}-{later.rows[0][0]}"'
    assert len(ours) == len(theirs) and ours.encode() in data
    path.write_bytes(data.replace(ours.encode(), theirs.encode()))
    expected = job.collect()
    assert expected[".error"].sum() == 1 + frame(40)["body"].eq("").sum()
    windows = shard_windows(job.manifest, 7)
    assert windows is not None
    start, stop = next(w for w in windows if w[0] <= first.rows[0][0] < w[1])
    with pytest.raises(StrayLine):
        shard_window(job.manifest, job._folder, job._backend, start, stop, partial=False)
    same(written(job, tmp_path / "small.parquet", window=7), expected)
    same(pd.read_parquet(job.collect(to=tmp_path / "out.parquet")), expected)


def test_a_damaged_line_of_a_retried_job_is_an_integrity_error(emu: Any, tmp_path: Path) -> None:
    emu.configure(request_error_rate=0.4)
    job = frame(20).llmbatch.complete(text="body", id="doc", skip_empty=True)
    job.wait(poll_interval=0, progress=False)
    emu.configure(request_error_rate=0.0)
    job.retry_failed().wait(poll_interval=0, progress=False)
    results = job.path / job.manifest.shards[-1].results[0]
    data = results.read_bytes()
    results.write_bytes(b"X" + data[1:])
    with pytest.raises(llmbatch.ResultsIntegrityError, match="refresh_results"):
        job.collect(to=tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_retry_cancelled_before_it_ran_is_written_as_collect_returns_it(
    emu: Any, tmp_path: Path, provider: str
) -> None:
    """A retried row whose retry left no line: the retry's outcome (cancelled), as collect()
    reads the attempts in order, never the first attempt's error line."""
    emu.configure(request_error_rate=0.5)
    job = frame(20).llmbatch.complete(text="body", id="doc", provider=provider, skip_empty=True)
    first = job.wait(poll_interval=0, progress=False)
    assert first[".error"].sum() > 3
    emu.configure(request_error_rate=0.0, validating_seconds=3600.0)
    job.retry_failed()
    job.cancel()
    expected = job.wait(poll_interval=0, progress=False)
    assert expected[".error_msg"].str.contains("cancel").any()
    same(written(job, tmp_path / "out.parquet", window=7), expected)
