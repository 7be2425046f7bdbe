"""The one frame path (`frames`, `merge`): snapshot, answer columns, merge by id, output files.

The same body runs over pandas and polars; only `frames` may know which is which.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch

SRC = Path(llmbatch.__file__).parent


def _frame(constructor: Any) -> Any:
    return constructor({"doc_id": ["a", "b", "c"], "body": ["x", "y", "z"]})


def _done(job: Any) -> Any:
    return job.wait(poll_interval=0, progress=False)


def test_collecting_onto_a_collected_frame_replaces_its_answers(emu: Any, constructor: Any) -> None:
    job = _frame(constructor).llmbatch.complete(text="body", id="doc_id")
    out = _done(job)
    again = job.collect(out)
    assert list(again.columns) == list(out.columns)
    assert list(again["content"]) == list(out["content"])


def test_collect_onto_a_polars_lazyframe(emu: Any) -> None:
    job = _frame(pl.DataFrame).llmbatch.complete(text="body", id="doc_id")
    _done(job)
    out = job.collect(pl.LazyFrame({"doc_id": ["c", "zz"]}))
    assert isinstance(out, pl.DataFrame)
    assert out["content"][0] and out[".error_msg"].to_list() == [None, "id not in this job"]


def test_a_default_pandas_index_comes_back_as_a_range(emu: Any) -> None:
    job = _frame(pd.DataFrame).llmbatch.complete(text="body", id="doc_id")
    _done(job)
    out = llmbatch.load(job.path).collect()
    assert isinstance(out.index, pd.RangeIndex) and list(out.index) == [0, 1, 2]


def test_pandas_labels_parquet_cannot_keep_make_a_partial_snapshot(emu: Any) -> None:
    """Parquet would turn the label 0 into "0": the snapshot keeps only the job's columns."""
    df = pd.DataFrame({"doc_id": ["a", "b"], "body": ["x", "y"], 0: [1.5, 2.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        job = df.llmbatch.complete(text="body", id="doc_id")
        out = _done(job)  # same process: the frame in memory is used
    assert list(out.columns[:3]) == ["doc_id", "body", 0]
    assert not (job.path / "frame.parquet").exists()
    assert (job.path / "frame.partial.parquet").exists()
    with pytest.raises(llmbatch.InputError, match="collect\\(frame=df\\)"):
        llmbatch.load(job.path).collect()
    assert list(llmbatch.load(job.path).collect(df)[0]) == [1.5, 2.5]


def test_csv_output_keeps_an_unnamed_pandas_index_as_first_column(emu: Any, tmp_path: Path) -> None:
    from llmbatch.cli import main

    df = pd.DataFrame({"doc_id": ["a", "b"], "body": ["x", "y"]}, index=[7, 3])
    job = df.llmbatch.complete(text="body", id="doc_id")
    _done(job)
    assert main(["collect", str(job.path), "-o", str(tmp_path / "a.csv")]) == 0
    back = pd.read_csv(tmp_path / "a.csv", index_col=0)
    assert list(back.index) == [7, 3] and list(back["doc_id"]) == ["a", "b"]


def _frame_library_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] in {"pandas", "polars"}]
    return found


def test_only_the_frames_module_imports_pandas_or_polars() -> None:
    allowed = {SRC / "frames.py", SRC / "accessor.py"}  # accessor: registration only
    offenders = {
        str(p.relative_to(SRC)): names
        for p in SRC.rglob("*.py")
        if p not in allowed and "emulator" not in p.parts and (names := _frame_library_imports(p))
    }
    assert offenders == {}
