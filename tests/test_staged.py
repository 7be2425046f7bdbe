"""Lazy and parquet inputs are read a slice at a time, never collected whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import llmbatch
from llmbatch import InputError
from llmbatch.pipeline import JobRequest
from llmbatch.staged import SLICE, SlicedTexts, StagedFrame


def texts(n: int) -> list[str]:
    return [f"row {i}: the kettle works" for i in range(n)]


def test_a_lazy_frame_gives_the_same_answers_as_the_eager_one(emu: Any) -> None:
    df = pl.DataFrame({"doc": [f"d{i}" for i in range(50)], "body": texts(50), "x": range(50)})
    first = df.llmbatch.classify(["a", "b"], text="body", id="doc")
    eager = first.wait(poll_interval=0, progress=False)
    job = df.lazy().llmbatch.classify(["a", "b"], text="body", id="doc", name="lazy", reuse=False)
    lazy = job.wait(poll_interval=0, progress=False)
    assert isinstance(lazy, pl.DataFrame)
    assert lazy.equals(eager)
    assert job.manifest.identity == first.manifest.identity  # the same request lines
    assert emu.call_count("POST /v1/batches") == 2


def test_a_parquet_file_is_read_in_slices_for_pandas_users_too(emu: Any, tmp_path: Path) -> None:
    n = SLICE + 7  # two slices
    path = tmp_path / "in.parquet"
    pd.DataFrame({"doc": range(n), "body": texts(n)}).to_parquet(path)
    job = llmbatch.scan_parquet(path).llmbatch.complete(
        text="body", id="doc", submit=False, limits=llmbatch.Limits(60_000, 10**9)
    )
    assert job.n_rows == n and [s["n"] for s in job.shards] == [60_000, n - 60_000]
    assert (job.path / "frame.parquet").exists()
    lines = (job.path / "requests" / "0001.jsonl").read_text().splitlines()
    assert f"row {n - 1}: the kettle works" in lines[-1]


def test_bad_rows_are_named_by_their_place_in_the_whole_frame(emu: Any, tmp_path: Path) -> None:
    bodies = texts(SLICE + 10)
    bodies[SLICE + 3] = ""
    lazy = pl.LazyFrame({"body": bodies})
    with pytest.raises(InputError, match=rf"at rows \[{SLICE + 3}\]"):
        lazy.llmbatch.complete(text="body")
    doubled = pl.LazyFrame({"doc": [1, 2, 3, 2], "body": texts(4)})
    with pytest.raises(InputError, match="duplicate"):
        doubled.llmbatch.complete(text="body", id="doc")
    with pytest.raises(InputError, match="not in the frame"):
        pl.LazyFrame({"body": texts(3)}).llmbatch.complete(text="nope")
    with pytest.raises(InputError, match="empty"):
        pl.LazyFrame({"body": []}, schema={"body": pl.String}).llmbatch.complete(text="body")
    assert emu.call_count() == 0
    assert not list((tmp_path / "jobs").glob(".stage-*"))  # nothing left behind


def test_a_prompt_template_over_a_lazy_frame(emu: Any) -> None:
    lazy = pl.LazyFrame({"doc": range(5), "title": ["t"] * 5, "body": texts(5)})
    out = lazy.llmbatch.complete(prompt="{title}: {body}", id="doc").wait(poll_interval=0)
    assert out["content"].str.contains("t: row").all()


def test_a_lazy_frame_that_cannot_be_written_is_refused_plainly(emu: Any, tmp_path: Path) -> None:
    broken = pl.LazyFrame({"body": texts(3)}).with_columns(pl.col("body").cast(pl.Int64))
    with pytest.raises(InputError, match="could not be computed and written to parquet"):
        broken.llmbatch.complete(text="body")
    assert emu.call_count() == 0
    assert not list((tmp_path / "jobs").glob(".stage-*"))


@pytest.mark.parametrize(
    "ids",
    [
        [f"doc-{i}" for i in range(250_003)],
        list(range(250_003)),
        [],
        [1.5, 2.5, -0.0],
        ["é", "\u2028", 'quote"d', "back\\slash"],
    ],
    ids=["strings", "ints", "none", "floats", "odd-strings"],
)
def test_ids_are_digested_a_chunk_at_a_time_as_one_dump(ids: list[Any]) -> None:
    from llmbatch.identity import dumped_ids
    from llmbatch.pipeline import Rows

    rows = Rows(ids, [""] * len(ids), [])
    assert b"".join(dumped_ids(rows.id_chunks())) == orjson.dumps(ids)
    assert b"".join(dumped_ids(None)) == orjson.dumps(None)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (["a", "b", "a"], "duplicate"),
        (["a", None, "c"], "null"),
        ([1.0, float("nan"), 3.0], "null"),
    ],
)
def test_a_staged_id_column_is_refused_naming_rows(
    emu: Any, tmp_path: Path, values: list[Any], problem: str
) -> None:
    src = tmp_path / "in.parquet"
    pl.DataFrame({"doc": values, "body": ["x", "y", "z"]}, strict=False).write_parquet(src)
    with pytest.raises(llmbatch.InputError, match=problem):
        llmbatch.scan_parquet(src).llmbatch.complete(text="body", id="doc")
    assert emu.request_log == []


def test_a_staged_job_has_the_identity_of_the_same_frame_in_memory(
    emu: Any, tmp_path: Path
) -> None:
    frame = pl.DataFrame(
        {"doc": [f"d{i}" for i in range(30)], "body": [f"t {i}" for i in range(30)]}
    )
    src = tmp_path / "in.parquet"
    frame.write_parquet(src)
    staged = llmbatch.scan_parquet(src).llmbatch.complete(text="body", id="doc", submit=False)
    eager = frame.llmbatch.complete(text="body", id="doc", submit=False)
    assert staged.path == eager.path  # the same work: found again, not prepared twice


def test_sliced_texts_give_a_run_of_rows_across_slices(tmp_path: Path) -> None:
    """A run of rows asked as one slice (prepare's chunks) spans the file's slices."""
    n = SLICE * 2 + 17
    path = tmp_path / "texts.parquet"
    pq.write_table(pa.table({"t": [f"text {i}" for i in range(n)]}), path, row_group_size=SLICE)
    texts = SlicedTexts(StagedFrame(path), JobRequest("complete", text="t"), ["t"])
    for start, stop in [(0, 5), (SLICE - 3, SLICE + 4), (5, n), (SLICE * 2, n), (7, 7), (3, 1)]:
        assert texts[start:stop] == [f"text {i}" for i in range(start, stop)]
    assert texts[SLICE + 1 : 2 : -SLICE // 2] == [
        f"text {i}" for i in range(SLICE + 1, 2, -SLICE // 2)
    ]
