"""Every verb × both providers × pandas and polars, over real HTTP against the emulator."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch

REVIEWS = [
    "Great product, works exactly as described.",
    "Terrible. Broke after two days.",
    "It is fine, nothing special.",
    "Absolutely love it — would buy again!",
    "Meh.",
]


def _frame(constructor: Any, n: int = 5) -> Any:
    texts = [REVIEWS[i % len(REVIEWS)] + f" (#{i})" for i in range(n)]
    return constructor({"doc_id": [f"doc {i} ü" for i in range(n)], "body": texts})


def _rows(df: Any) -> list[dict[str, Any]]:
    if isinstance(df, pd.DataFrame):
        return df.to_dict("records")
    return df.to_dicts()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_classify_labels(emu: Any, constructor: Any, provider: str) -> None:
    df = _frame(constructor)
    job = df.llmbatch.classify(
        ["positive", "negative", "neutral"], text="body", id="doc_id", provider=provider
    )
    out = job.wait(poll_interval=0, progress=False)
    assert type(out) is type(df)
    rows = _rows(out)
    assert [r["doc_id"] for r in rows] == [f"doc {i} ü" for i in range(5)]
    assert all(r["label"] in {"positive", "negative", "neutral"} for r in rows)
    assert not any(r[".error"] for r in rows)
    assert all(r[".input_tokens"] > 0 and r[".output_tokens"] > 0 for r in rows)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_complete_with_prompt_template(emu: Any, constructor: Any, provider: str) -> None:
    df = constructor({"title": ["A", "B", "C"], "body": ["one", "two", "three"]})
    job = df.llmbatch.complete(
        prompt="Title: {title}\n\n{body}", system_prompt="Be brief.", provider=provider
    )
    out = job.wait(poll_interval=0, progress=False)
    rows = _rows(out)
    assert all(isinstance(r["content"], str) and r["content"] for r in rows)
    assert not any(r[".error"] for r in rows)
    assert {r[".stop_reason"] for r in rows} <= {"stop", "end_turn"}


def test_embed_openai(emu: Any, constructor: Any) -> None:
    df = _frame(constructor, 4)
    out = df.llmbatch.embed(text="body", id="doc_id", dimensions=8).wait(
        poll_interval=0, progress=False
    )
    vectors = [list(r["embedding"]) for r in _rows(out)]
    assert all(len(v) == 8 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-6) for v in vectors)


def test_embed_wide(emu: Any, constructor: Any) -> None:
    df = _frame(constructor, 3)
    out = df.llmbatch.embed(text="body", dimensions=4, wide=True).wait(
        poll_interval=0, progress=False
    )
    assert [c for c in out.columns if c.startswith("V")] == ["V1", "V2", "V3", "V4"]


def test_embed_anthropic_is_a_clear_error(emu: Any) -> None:
    with pytest.raises(llmbatch.ConfigError, match="no embeddings API"):
        pd.DataFrame({"t": ["x"]}).llmbatch.embed(text="t", provider="anthropic")


@pytest.mark.parametrize(
    ("provider", "structured"),
    [("openai", "output_config"), ("anthropic", "output_config"), ("anthropic", "tool")],
)
def test_classify_nested_schema(emu: Any, constructor: Any, provider: str, structured: str) -> None:
    s = llmbatch.schema
    schema = s.schema_object(
        sentiment=s.schema_enum(["pos", "neg"]),
        score=s.schema_number(),
        stars=s.schema_integer(),
        sarcastic=s.schema_boolean(),
        topics=s.schema_array(s.schema_string()),
        meta=s.schema_object(lang=s.schema_string(), words=s.schema_integer()),
    )
    df = _frame(constructor, 3)
    job = df.llmbatch.classify(
        schema, text="body", id="doc_id", provider=provider, structured=structured
    )
    out = job.wait(poll_interval=0, progress=False)
    rows = _rows(out)
    for r in rows:
        assert r["sentiment"] in {"pos", "neg"}
        assert isinstance(r["score"], float)
        assert isinstance(r["stars"], int)
        assert isinstance(r["sarcastic"], bool)
        assert all(isinstance(t, str) for t in r["topics"])
        assert isinstance(r["meta.lang"], str) and isinstance(r["meta.words"], int)
    if isinstance(out, pd.DataFrame):
        assert out["stars"].dtype == "Int64"
        assert out[".error"].dtype == bool
    else:
        assert out.schema["stars"] == pl.Int64


def test_pandas_index_and_order_kept(emu: Any) -> None:
    df = pd.DataFrame({"body": ["a", "b", "c"], "doc_id": [30, 10, 20]}, index=[7, 3, 5])
    out = df.llmbatch.complete(text="body", id="doc_id").wait(poll_interval=0, progress=False)
    assert list(out.index) == [7, 3, 5]
    assert list(out["doc_id"]) == [30, 10, 20]
    assert list(out["body"]) == ["a", "b", "c"]


def test_polars_lazyframe(emu: Any) -> None:
    lf = pl.LazyFrame({"body": ["a", "b"]})
    out = lf.llmbatch.complete(text="body").wait(poll_interval=0, progress=False)
    assert isinstance(out, pl.DataFrame) and out.height == 2


def test_pydantic_schema(emu: Any, constructor: Any) -> None:
    from typing import Literal

    from pydantic import BaseModel

    class Review(BaseModel):
        sentiment: Literal["pos", "neg", "mixed"]
        confidence: float
        summary: str | None = None

    df = _frame(constructor, 3)
    out = df.llmbatch.classify(Review, text="body", id="doc_id").wait(
        poll_interval=0, progress=False
    )
    rows = _rows(out)
    assert all(r["sentiment"] in {"pos", "neg", "mixed"} for r in rows)
    assert not any(r[".error"] for r in rows)


@pytest.mark.parametrize(
    "ids",
    [
        [3, 1, 2],
        ["a b", "ü ñ 😀", "x" * 300],
        [10**15, -5, 0],
    ],
)
def test_id_types(emu: Any, constructor: Any, ids: list[Any]) -> None:
    df = constructor({"k": ids, "body": ["x", "y", "z"]})
    out = df.llmbatch.complete(text="body", id="k", provider="anthropic").wait(
        poll_interval=0, progress=False
    )
    assert [r["k"] for r in _rows(out)] == ids
    assert not any(r[".error"] for r in _rows(out))


def test_same_work_returns_the_same_job(emu: Any, constructor: Any) -> None:
    df = _frame(constructor)
    a = df.llmbatch.complete(text="body", id="doc_id")
    b = df.llmbatch.complete(text="body", id="doc_id")
    assert a.path == b.path
    assert len(emu.state()["openai"]["batches"]) == 1
    c = df.llmbatch.complete(text="body", id="doc_id", force=True)
    assert c.path != a.path
    assert len(emu.state()["openai"]["batches"]) == 2


def test_column_collision_and_suffix(emu: Any, constructor: Any) -> None:
    df = constructor({"body": ["a"], "content": ["mine"]})
    with pytest.raises(llmbatch.InputError, match="suffix="):
        df.llmbatch.complete(text="body")
    out = df.llmbatch.complete(text="body", suffix="_llm").wait(poll_interval=0, progress=False)
    assert _rows(out)[0]["content"] == "mine"
    assert isinstance(_rows(out)[0]["content_llm"], str)
    assert ".error_llm" in out.columns


def test_collect_onto_another_frame(emu: Any, constructor: Any) -> None:
    df = _frame(constructor)
    job = df.llmbatch.complete(text="body", id="doc_id")
    job.wait(poll_interval=0, progress=False)
    other = constructor({"doc_id": ["doc 3 ü", "doc 0 ü", "nope"], "extra": [1, 2, 3]})
    out = job.collect(other)
    rows = _rows(out)
    assert [r["extra"] for r in rows] == [1, 2, 3]
    assert rows[0]["content"] and rows[1]["content"]
    assert rows[2][".error"] and rows[2][".error_msg"] == "id not in this job"
    with pytest.raises(llmbatch.InputError, match="id column"):
        job.collect(constructor({"other": [1]}))


def test_collect_before_ready_raises(emu: Any) -> None:
    emu.configure(validating_seconds=60)
    job = pd.DataFrame({"body": ["a"]}).llmbatch.complete(text="body")
    with pytest.raises(llmbatch.JobNotReady) as info:
        job.collect()
    assert info.value.status.state in ("running", "pending")


def test_responses_api(emu: Any) -> None:
    df = pd.DataFrame({"body": ["a", "b"]})
    out = df.llmbatch.classify(["x", "y"], text="body", api="responses").wait(
        poll_interval=0, progress=False
    )
    assert set(out["label"]) <= {"x", "y"}
    assert not out[".error"].any()


def test_status_and_reprs(emu: Any) -> None:
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body")
    st = job.status()
    assert st.total == 2 and st.provider == "openai"
    assert "llmbatch job" in str(st) and "<table>" in st._repr_html_()
    assert job.name in repr(job)
    job.wait(poll_interval=0, progress=False)
    assert job.status().done
    assert job.status().completed == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cleanup(emu: Any, provider: str) -> None:
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body", provider=provider)
    job.wait(poll_interval=0, progress=False)
    deleted = job.cleanup()
    assert deleted
    state = emu.state()[provider]
    if provider == "openai":
        assert state["files"] == []
    else:
        assert state["batches"] == []
    assert not job.collect()[".error"].any()  # still collectable from the job folder


def test_jobs_lists_and_load_reopens(emu: Any, tmp_path: Any) -> None:
    job = pd.DataFrame({"body": ["a"]}).llmbatch.complete(text="body")
    found = llmbatch.jobs()
    assert [h.path for h in found] == [job.path]
    job.save(tmp_path / "mine.llmbatch")
    assert (
        llmbatch.load(tmp_path / "mine.llmbatch")
        .wait(poll_interval=0, progress=False)["content"]
        .notna()
        .all()
    )
