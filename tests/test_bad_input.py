"""Bad input: a clear error before any network call (the emulator sees no request), naming the
culprit. Each case is listed in docs/troubleshooting.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch
from llmbatch import schema as s
from llmbatch.prepare import Limits

FRAME = {"doc_id": ["a", "b", "c"], "body": ["one", "two", "three"]}


def _no_requests(emu: Any) -> None:
    assert emu.state()["total_calls"] == 0, emu.state()


def _raises(emu: Any, exc: type[Exception], match: str, fn: Any) -> None:
    with pytest.raises(exc, match=match):
        fn()
    _no_requests(emu)


CASES: list[tuple[str, type[Exception], str, Any]] = [
    (
        "missing text column",
        llmbatch.InputError,
        r"'nope' not in the frame",
        lambda df: df.llmbatch.complete(text="nope"),
    ),
    (
        "missing id column",
        llmbatch.InputError,
        r"id column 'nope' not in the frame",
        lambda df: df.llmbatch.complete(text="body", id="nope"),
    ),
    (
        "empty frame",
        llmbatch.InputError,
        "empty",
        lambda df: df.head(0).llmbatch.complete(text="body"),
    ),
    (
        "neither text nor prompt",
        llmbatch.InputError,
        "exactly one of text=",
        lambda df: df.llmbatch.complete(),
    ),
    (
        "both text and prompt",
        llmbatch.InputError,
        "exactly one of text=",
        lambda df: df.llmbatch.complete(text="body", prompt="{body}"),
    ),
    (
        "template placeholder with no column",
        llmbatch.InputError,
        r"'title' not in the frame",
        lambda df: df.llmbatch.complete(prompt="Title: {title}\n{body}"),
    ),
    (
        "template without placeholders",
        llmbatch.InputError,
        "no usable",
        lambda df: df.llmbatch.complete(prompt="hello"),
    ),
    (
        "malformed template",
        llmbatch.InputError,
        "malformed",
        lambda df: df.llmbatch.complete(prompt="{body"),
    ),
    (
        "unknown provider",
        llmbatch.ConfigError,
        "gemini",
        lambda df: df.llmbatch.complete(text="body", provider="gemini"),
    ),
    (
        "non-string model",
        llmbatch.ConfigError,
        "model must be a non-empty string",
        lambda df: df.llmbatch.complete(text="body", model=4),
    ),
    (
        "temperature out of range",
        llmbatch.ConfigError,
        "temperature",
        lambda df: df.llmbatch.complete(text="body", temperature=3),
    ),
    (
        "anthropic temperature above 1",
        llmbatch.ConfigError,
        "temperature",
        lambda df: df.llmbatch.complete(text="body", temperature=1.5, provider="anthropic"),
    ),
    (
        "max_tokens zero",
        llmbatch.ConfigError,
        "max_tokens",
        lambda df: df.llmbatch.complete(text="body", max_tokens=0),
    ),
    (
        "dimensions negative",
        llmbatch.ConfigError,
        "dimensions",
        lambda df: df.llmbatch.embed(text="body", dimensions=-1),
    ),
    (
        "embeddings on anthropic",
        llmbatch.ConfigError,
        "no embeddings API",
        lambda df: df.llmbatch.embed(text="body", provider="anthropic"),
    ),
    (
        "invalid JSON Schema",
        llmbatch.SchemaError,
        "objekt",
        lambda df: df.llmbatch.classify(
            {"type": "object", "properties": {"x": {"type": "objekt"}}}, text="body"
        ),
    ),
    (
        "schema root not an object",
        llmbatch.SchemaError,
        "object",
        lambda df: df.llmbatch.classify({"type": "string"}, text="body"),
    ),
    (
        "keyword OpenAI strict mode rejects",
        llmbatch.SchemaError,
        "allOf",
        lambda df: df.llmbatch.classify(
            {
                "type": "object",
                "properties": {"x": {"allOf": [{"type": "string"}, {"minLength": 2}]}},
            },
            text="body",
        ),
    ),
    (
        "keyword Anthropic rejects",
        llmbatch.SchemaError,
        "minimum",
        lambda df: df.llmbatch.classify(
            s.schema_object(n=s.schema_number(minimum=0)), text="body", provider="anthropic"
        ),
    ),
    (
        "duplicate labels",
        llmbatch.SchemaError,
        "duplicate",
        lambda df: df.llmbatch.classify(["a", "a"], text="body"),
    ),
    (
        "output column collision",
        llmbatch.InputError,
        "suffix=",
        lambda df: df.llmbatch.classify(["x"], text="body", label_column="body"),
    ),
    (
        "bad api option",
        llmbatch.ConfigError,
        "api must be",
        lambda df: df.llmbatch.complete(text="body", api="assistants"),
    ),
]


@pytest.mark.parametrize(("case", "exc", "match", "call"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_refused_before_sending(
    emu: Any, library: str, case: str, exc: type[Exception], match: str, call: Any
) -> None:
    df = pd.DataFrame(FRAME) if library == "pandas" else pl.DataFrame(FRAME)
    _raises(emu, exc, match, lambda: call(df))


def test_duplicate_ids_named(emu: Any) -> None:
    df = pd.DataFrame({"k": [1, 2, 1, 3, 2], "body": list("abcde")})
    _raises(
        emu,
        llmbatch.InputError,
        r"2 duplicate value\(s\): \[1, 2\] \(rows \[0, 1, 2, 4\]\)",
        lambda: df.llmbatch.complete(text="body", id="k"),
    )


def test_null_ids_named(emu: Any) -> None:
    df = pl.DataFrame({"k": ["a", None, "c"], "body": list("abc")})
    _raises(
        emu,
        llmbatch.InputError,
        r"null value\(s\), at rows \[1\]",
        lambda: df.llmbatch.complete(text="body", id="k"),
    )


def test_unhashable_ids_named(emu: Any) -> None:
    df = pd.DataFrame({"k": [[1], [2]], "body": ["a", "b"]})
    _raises(
        emu,
        llmbatch.InputError,
        r"unhashable .*list.* rows \[0, 1\]",
        lambda: df.llmbatch.complete(text="body", id="k"),
    )


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_null_and_empty_texts_named(emu: Any, library: str) -> None:
    data = {"body": ["ok", None, "", "  ", "fine"]}
    df = pd.DataFrame(data) if library == "pandas" else pl.DataFrame(data)
    _raises(
        emu,
        llmbatch.InputError,
        r"4 null or empty|3 null or empty",
        lambda: df.llmbatch.complete(text="body"),
    )


def test_skip_empty_marks_rows_without_sending_them(emu: Any) -> None:
    df = pd.DataFrame({"body": ["ok", None, "", "fine"]})
    out = df.llmbatch.complete(text="body", skip_empty=True).wait(poll_interval=0, progress=False)
    assert list(out[".error"]) == [False, True, True, False]
    assert out[".error_msg"][1] == "empty text, not sent"


def test_non_string_texts_named(emu: Any) -> None:
    df = pd.DataFrame({"body": ["a", 5, "c"]})
    _raises(
        emu,
        llmbatch.InputError,
        r"non-string values \(int\) at rows \[1\]",
        lambda: df.llmbatch.complete(text="body"),
    )


def test_request_larger_than_provider_allows(emu: Any) -> None:
    df = pd.DataFrame({"body": ["short", "x" * 5000]})
    _raises(
        emu,
        llmbatch.InputError,
        "row 1 makes a request",
        lambda: df.llmbatch.complete(text="body", limits=Limits(100, 2000)),
    )


def test_missing_api_key(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    _raises(
        emu,
        llmbatch.ConfigError,
        "OPENAI_API_KEY",
        lambda: pd.DataFrame(FRAME).llmbatch.complete(text="body"),
    )


def test_not_a_frame(emu: Any) -> None:
    with pytest.raises(llmbatch.InputError, match="DataFrame"):
        llmbatch.accessor.LLMBatchAccessor([1, 2]).complete(text="x")
    _no_requests(emu)


# -- job folders -------------------------------------------------------------------------------
def _job(emu: Any) -> Path:
    return pd.DataFrame(FRAME).llmbatch.complete(text="body", id="doc_id", submit=False).path


def test_not_a_job_folder(tmp_path: Path) -> None:
    with pytest.raises(llmbatch.JobFolderError, match="not an llmbatch job folder"):
        llmbatch.load(tmp_path)


def test_missing_job_folder(tmp_path: Path) -> None:
    with pytest.raises(llmbatch.JobFolderError, match="no job folder"):
        llmbatch.load(tmp_path / "nope")


def test_truncated_manifest(emu: Any) -> None:
    path = _job(emu)
    raw = (path / "job.json").read_bytes()
    (path / "job.json").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(llmbatch.JobFolderError, match="damaged or truncated"):
        llmbatch.load(path)


def test_manifest_from_a_newer_format(emu: Any) -> None:
    path = _job(emu)
    manifest = json.loads((path / "job.json").read_text())
    manifest["format"] = 99
    (path / "job.json").write_text(json.dumps(manifest))
    with pytest.raises(llmbatch.JobFolderError, match="upgrade llmbatch"):
        llmbatch.load(path)


def test_damaged_manifest(emu: Any) -> None:
    path = _job(emu)
    (path / "job.json").write_text(json.dumps({"format": 1, "name": "x"}))
    with pytest.raises(llmbatch.JobFolderError, match="damaged"):
        llmbatch.load(path)


@pytest.mark.parametrize("damage", [{"rows": None}, {"index": "zero", "bogus": 1}, "not a shard"])
def test_a_damaged_shard_entry_is_a_job_folder_error(emu: Any, damage: Any) -> None:
    path = _job(emu)
    manifest = json.loads((path / "job.json").read_text())
    if isinstance(damage, dict):
        manifest["shards"][0] = {k: v for k, v in manifest["shards"][0].items() if k not in damage}
        manifest["shards"][0].pop("n")
    else:
        manifest["shards"][0] = damage
    (path / "job.json").write_text(json.dumps(manifest))
    with pytest.raises(llmbatch.JobFolderError, match="damaged"):
        llmbatch.load(path)


def test_reopened_job_onto_a_frame_without_the_id_column(emu: Any) -> None:
    job = pd.DataFrame(FRAME).llmbatch.complete(text="body", id="doc_id")
    job.wait(poll_interval=0, progress=False)
    with pytest.raises(llmbatch.InputError, match="id column 'doc_id' not in the frame"):
        llmbatch.load(job.path).collect(pd.DataFrame({"other": [1]}))
