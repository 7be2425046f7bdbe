"""The persisted job: shard limits, result order, reopening in a new process, schema forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch
from llmbatch.prepare import Limits

BIG = 10**9


def _rows(df: Any) -> list[dict[str, Any]]:
    return df.to_dict("records") if isinstance(df, pd.DataFrame) else df.to_dicts()


def _shard_bytes(job: llmbatch.BatchHandle) -> list[int]:
    return [s["bytes"] for s in job.shards]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_shard_request_count_boundary(emu: Any, provider: str) -> None:
    df = pd.DataFrame({"body": [f"text {i}" for i in range(4)]})
    at = df.head(3).llmbatch.complete(text="body", provider=provider, limits=Limits(3, BIG))
    over = df.llmbatch.complete(text="body", provider=provider, limits=Limits(3, BIG))
    assert [s["n"] for s in at.shards] == [3]
    assert [s["n"] for s in over.shards] == [3, 1]
    assert over.wait(poll_interval=0, progress=False)[".error"].sum() == 0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_shard_byte_boundary_agrees_with_the_emulator(emu: Any, provider: str) -> None:
    df = pd.DataFrame({"body": [f"text number {i}" for i in range(6)]})
    probe = df.llmbatch.complete(text="body", provider=provider, submit=False, name="probe")
    size = probe.shards[0]["bytes"]
    emu.configure(**{f"{provider}_max_bytes": size})
    at = df.llmbatch.complete(text="body", provider=provider, limits=Limits(100, size))
    assert _shard_bytes(at) == [size]
    assert not at.wait(poll_interval=0, progress=False)[".error"].any()
    over = df.llmbatch.complete(
        text="body", provider=provider, limits=Limits(100, size - 1), force=True
    )
    assert len(over.shards) == 2 and max(_shard_bytes(over)) <= size - 1
    assert not over.wait(poll_interval=0, progress=False)[".error"].any()


def test_shard_embedding_input_boundary(emu: Any) -> None:
    emu.configure(openai_max_embedding_inputs=2)
    df = pd.DataFrame({"body": ["a", "b", "c"]})
    job = df.llmbatch.embed(text="body", dimensions=4, limits=Limits(100, BIG, 2))
    assert [s["n"] for s in job.shards] == [2, 1]
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_answers_join_on_custom_id_not_line_order(emu: Any, provider: str) -> None:
    texts = [f"row-{i} says hello" for i in range(60)]
    df = pl.DataFrame({"k": list(range(60))[::-1], "body": texts})
    out = df.llmbatch.complete(text="body", id="k", provider=provider, limits=Limits(25, BIG)).wait(
        poll_interval=0, progress=False
    )
    for r in _rows(out):
        assert r["body"] in r["content"], r  # the synthetic answer echoes its own input


def test_shards_on_disk_and_manifest_hold_no_key(emu: Any) -> None:
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body")
    job.wait(poll_interval=0, progress=False)
    files = sorted(p.relative_to(job.path).as_posix() for p in job.path.rglob("*") if p.is_file())
    assert files == [
        "frame.parquet",
        "job.json",
        "job.lock",
        "locks/0000.lock",
        "requests/0000.jsonl",
        "requests/keys.bin",
        "results/0000.jsonl",
    ]
    for p in job.path.rglob("*"):
        assert b"sk-test-key" not in (p.read_bytes() if p.is_file() else b"")
        assert (p.stat().st_mode & 0o077) == 0, p
    manifest = json.loads((job.path / "job.json").read_text())
    assert manifest["provider"] == {
        "name": "openai",
        "base_url": emu.openai_base_url,
        "organization": None,
        "project": None,
    }


REOPEN = """
import sys, llmbatch
job = llmbatch.load(sys.argv[1])
df = job.wait(poll_interval=0, progress=False)
index = list(df.index) if hasattr(df, "index") else []
print(type(df).__module__.split('.')[0], len(df), int(df['.error'].sum()), index)
"""


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_reopen_in_a_new_process(emu: Any, tmp_path: Path, library: str) -> None:
    data = {"doc_id": ["x", "y", "z"], "body": ["a", "b", "c"]}
    df = pd.DataFrame(data, index=[5, 6, 7]) if library == "pandas" else pl.DataFrame(data)
    emu.configure(validating_seconds=0.2)
    job = df.llmbatch.classify(["yes", "no"], text="body", id="doc_id", provider="anthropic")
    job.save(tmp_path / "saved.llmbatch")
    env = {**os.environ, "LLMBATCH_RETRY_ZERO_WAIT": "1"}
    out = subprocess.run(
        [sys.executable, "-c", REOPEN, str(tmp_path / "saved.llmbatch")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[:3] == [library, "3", "0"]
    if library == "pandas":
        assert out.stdout.strip().endswith("[5, 6, 7]")


SCHEMA_FORMS: list[tuple[str, Any, list[str]]] = [
    ("labels", ["a", "b"], ["label"]),
    (
        "dict",
        {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "string"}},
            "required": ["x"],
        },
        ["x", "y"],
    ),
    (
        "openai wrapper",
        {
            "name": "thing",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
                "additionalProperties": False,
            },
        },
        ["ok"],
    ),
    (
        "builder",
        llmbatch.schema.create_json_schema(
            "rating",
            llmbatch.schema.schema_object(
                stars=llmbatch.schema.schema_integer(), why=llmbatch.schema.schema_string()
            ),
        ),
        ["stars", "why"],
    ),
]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(("form", "schema", "cols"), SCHEMA_FORMS, ids=[f[0] for f in SCHEMA_FORMS])
def test_every_schema_form(
    emu: Any, provider: str, form: str, schema: Any, cols: list[str]
) -> None:
    df = pd.DataFrame({"body": ["p", "q"]})
    out = df.llmbatch.classify(schema, text="body", provider=provider).wait(
        poll_interval=0, progress=False
    )
    assert [c for c in out.columns if not c.startswith(".") and c != "body"] == cols
    assert not out[".error"].any(), out[".error_msg"].tolist()


def test_label_column_renamed(emu: Any) -> None:
    out = (
        pd.DataFrame({"body": ["p"]})
        .llmbatch.classify(["a", "b"], text="body", label_column="sentiment")
        .wait(poll_interval=0, progress=False)
    )
    assert out["sentiment"].iloc[0] in {"a", "b"}


def test_request_bodies_are_what_the_providers_expect(emu: Any) -> None:
    df = pd.DataFrame({"body": ["p"]})
    oa = df.llmbatch.classify(
        ["a"], text="body", system_prompt="S", max_tokens=50, temperature=0.2, submit=False
    )
    line = json.loads((oa.path / oa.shards[0]["path"]).read_text())
    body = line["body"]
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST"
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["messages"][0] == {"role": "system", "content": "S"}
    assert body["response_format"]["json_schema"]["strict"] is True
    an = df.llmbatch.classify(
        ["a"], text="body", system_prompt="S", provider="anthropic", submit=False
    )
    params = json.loads((an.path / an.shards[0]["path"]).read_text())["params"]
    assert params["model"] == "claude-haiku-4-5" and params["max_tokens"] == 1024
    assert params["system"] == [
        {"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}
    ]
    assert params["output_config"]["format"]["type"] == "json_schema"


def test_extra_params_pass_through(emu: Any) -> None:
    job = pd.DataFrame({"body": ["p"]}).llmbatch.complete(
        text="body", submit=False, seed=7, metadata={"k": "v"}
    )
    body = json.loads((job.path / job.shards[0]["path"]).read_text())["body"]
    assert body["seed"] == 7 and body["metadata"] == {"k": "v"}


def test_anthropic_cache_tokens_reported(emu: Any) -> None:
    out = (
        pd.DataFrame({"body": ["p", "q", "r"]})
        .llmbatch.complete(text="body", system_prompt="You are terse. " * 20, provider="anthropic")
        .wait(poll_interval=0, progress=False)
    )
    assert ".cache_read_tokens" in out.columns and ".cache_write_tokens" in out.columns
    cached = out[".cache_read_tokens"].fillna(0) + out[".cache_write_tokens"].fillna(0)
    assert (cached > 0).all()


def test_an_unreadable_answer_is_that_rows_error(emu: Any) -> None:
    job = pd.DataFrame({"body": ["a", "b", "c"]}).llmbatch.complete(text="body")
    job.wait(poll_interval=0, progress=False)
    result = job.path / "results" / "0000.jsonl"
    lines = [json.loads(x) for x in result.read_text().splitlines()]
    lines[0]["response"]["body"]["choices"] = []
    result.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = llmbatch.load(job.path).collect()
    assert out[".error"].sum() == 1
    assert out[".error_msg"].dropna().str.startswith("unreadable answer").all()


@pytest.mark.parametrize("encoding", [None, "float"])
def test_embeddings_travel_as_base64_unless_asked(emu: Any, encoding: str | None) -> None:
    params = {} if encoding is None else {"encoding_format": encoding}
    df = pd.DataFrame({"body": ["a", "b"]})
    job = df.llmbatch.embed(text="body", dimensions=8, **params)
    body = json.loads((job.path / job.shards[0]["path"]).read_text().splitlines()[0])["body"]
    assert body["encoding_format"] == (encoding or "base64")
    vectors = job.wait(poll_interval=0, progress=False)["embedding"]
    same = df.llmbatch.embed(text="body", dimensions=8, encoding_format="float", force=True)
    floats = same.wait(poll_interval=0, progress=False)["embedding"]
    for a, b in zip(vectors, floats, strict=True):
        assert len(a) == 8 and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


def test_a_frame_parquet_cannot_hold_is_still_collectable(emu: Any) -> None:
    df = pd.DataFrame({"doc_id": ["a", "b"], "body": ["x", "y"], "odd": [{"k": 1}, 5]})
    job = df.llmbatch.complete(text="body", id="doc_id")
    job.wait(poll_interval=0, progress=False)  # same process: the frame in memory is used
    assert not (job.path / "frame.parquet").exists()
    assert (job.path / "frame.partial.parquet").exists()
    reopened = llmbatch.load(job.path)
    with pytest.raises(llmbatch.InputError, match="collect\\(frame=df\\)"):
        reopened.collect()
    out = reopened.collect(df)
    assert list(out["odd"]) == [{"k": 1}, 5] and not out[".error"].any()
