"""The step-by-step API (`llmbatch.steps`) over real HTTP against the emulator.

Both providers, both frame libraries, every step; then hand-written provider lines (unknown keys
included, every error shape) to check that parsing accepts what the real services send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch import steps

OPENAI_TERMINAL = {"completed", "failed", "expired", "cancelled"}
IDS = ["doc 0 ü", "doc 1", "2", "x" * 100]
TEXTS = ["Great product.", "Broke after two days.", "It is fine.", "Would buy again!"]
ENDPOINTS = {"complete": "/v1/chat/completions", "classify": "/v1/chat/completions"}
ENDPOINTS["embed"] = "/v1/embeddings"
VERB_ARGS: dict[str, dict[str, Any]] = {
    "complete": {"system_prompt": "Be brief.", "max_tokens": 50},
    "embed": {"dimensions": 4},
    "classify": {"schema": ["positive", "negative"]},
}


def _library(df: Any) -> str:
    return "pandas" if isinstance(df, pd.DataFrame) else "polars"


def _rows(df: Any) -> list[dict[str, Any]]:
    """Rows as dicts, pandas NA/NaN as None, so both libraries compare alike."""
    if isinstance(df, pd.DataFrame):
        return [
            {
                k: (None if v is pd.NA or (isinstance(v, float) and v != v) else v)
                for k, v in r.items()
            }
            for r in df.astype(object).to_dict("records")
        ]
    return df.to_dicts()


def _by_id(df: Any) -> dict[str, dict[str, Any]]:
    return {r["custom_id"]: r for r in _rows(df)}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _openai_wait(batch: dict[str, Any]) -> dict[str, Any]:
    for _ in range(200):
        if batch["status"] in OPENAI_TERMINAL:
            return batch
        batch = steps.openai_status(batch["id"])
    raise AssertionError(f"batch {batch['id']} never ended: {batch['status']}")


def _anthropic_wait(batch: dict[str, Any]) -> dict[str, Any]:
    for _ in range(200):
        if batch["processing_status"] == "ended":
            return batch
        batch = steps.anthropic_status(batch["id"])
    raise AssertionError(f"batch {batch['id']} never ended")


def _openai_batch(tmp_path: Path, df: Any, kind: str = "complete") -> dict[str, Any]:
    path = steps.openai_prepare(df, tmp_path / f"{kind}.jsonl", kind=kind, text="body", id="k")
    file = steps.openai_upload(path)
    return steps.openai_start(file["id"], ENDPOINTS[kind])


# -- OpenAI over HTTP -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["complete", "embed", "classify"])
def test_openai_prepare_writes_one_line_per_row(
    tmp_path: Path, constructor: Any, kind: str
) -> None:
    df = constructor({"k": IDS, "body": TEXTS})
    path = steps.openai_prepare(
        df, tmp_path / "in.jsonl", kind=kind, text="body", id="k", **VERB_ARGS[kind]
    )
    assert path == tmp_path / "in.jsonl"
    lines = _jsonl(path)
    assert [line["custom_id"] for line in lines] == IDS
    assert all(set(line) == {"custom_id", "method", "url", "body"} for line in lines)
    assert {line["method"] for line in lines} == {"POST"}
    assert {line["url"] for line in lines} == {ENDPOINTS[kind]}
    bodies = [line["body"] for line in lines]
    if kind == "embed":
        assert [b["input"] for b in bodies] == TEXTS
        assert all(b["model"] == "text-embedding-3-small" and b["dimensions"] == 4 for b in bodies)
        return
    assert [b["messages"][-1] for b in bodies] == [{"role": "user", "content": t} for t in TEXTS]
    assert all(b["model"] == "gpt-4.1-mini" for b in bodies)
    if kind == "complete":
        assert bodies[0]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert bodies[0]["max_completion_tokens"] == 50 and "max_tokens" not in bodies[0]
    else:
        fmt = bodies[0]["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        schema = fmt["json_schema"]["schema"]
        assert schema["properties"]["label"]["enum"] == ["positive", "negative"]
        assert schema["additionalProperties"] is False


def test_openai_prepare_ids_prompt_and_extra_params(tmp_path: Path, constructor: Any) -> None:
    df = constructor({"n": [30, 10, 20], "title": ["A", "B", "C"], "body": ["x", "y", "z"]})
    path = steps.openai_prepare(
        df, str(tmp_path / "in.jsonl"), prompt="{title}: {body}", id="n", seed=7, top_p=0.5
    )
    lines = _jsonl(path)
    assert [line["custom_id"] for line in lines] == ["30", "10", "20"]
    assert lines[1]["body"]["messages"] == [{"role": "user", "content": "B: y"}]
    assert lines[1]["body"]["seed"] == 7 and lines[1]["body"]["top_p"] == 0.5
    no_id = _jsonl(steps.openai_prepare(df, tmp_path / "pos.jsonl", text="body", api="responses"))
    assert [line["custom_id"] for line in no_id] == ["0", "1", "2"]
    assert no_id[0]["url"] == "/v1/responses" and no_id[0]["body"]["input"] == "x"


@pytest.mark.parametrize(
    ("frame", "kw", "match"),
    [
        ({"k": [1, 2], "body": ["a", "b"]}, {"kind": "completion"}, "kind must be one of"),
        ({"k": [], "body": []}, {}, "the frame is empty"),
        ({"k": ["a", "a"], "body": ["a", "b"]}, {}, "duplicate"),
        ({"k": [None, "b"], "body": ["a", "b"]}, {}, "null"),
        ({"k": ["a", "b"], "body": ["a", ""]}, {}, "empty text"),
        ({"k": ["a", "b"], "body": ["a", "b"]}, {"folder": "x"}, "job options"),
        ({"k": ["a", "b"], "body": ["a", "b"]}, {"provider": "openai"}, "job options"),
        ({"k": ["a", "b"], "text": ["a", "b"]}, {}, "'body' not in the frame"),
    ],
)
def test_openai_prepare_refuses_bad_input(
    tmp_path: Path, frame: dict[str, list[Any]], kw: dict[str, Any], match: str
) -> None:
    df = pd.DataFrame(frame)
    with pytest.raises(llmbatch.InputError, match=match):
        steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", id="k", **kw)


def test_openai_prepare_refuses_ids_that_collide_as_text(tmp_path: Path) -> None:
    df = pd.DataFrame({"k": [1, "1"], "body": ["a", "b"]})
    with pytest.raises(llmbatch.InputError, match=r"\['1'\] are distinct values"):
        steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", id="k")


@pytest.mark.parametrize("kind", ["complete", "embed", "classify"])
def test_openai_round_trip(emu: Any, tmp_path: Path, constructor: Any, kind: str) -> None:
    df = constructor({"k": IDS, "body": TEXTS})
    path = steps.openai_prepare(
        df, tmp_path / "in.jsonl", kind=kind, text="body", id="k", **VERB_ARGS[kind]
    )
    file = steps.openai_upload(path)
    assert file["purpose"] == "batch" and file["bytes"] == path.stat().st_size
    batch = steps.openai_start(file["id"], ENDPOINTS[kind], metadata={"run": "steps"})
    assert batch["metadata"] == {"run": "steps"} and batch["endpoint"] == ENDPOINTS[kind]
    batch = _openai_wait(batch)
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    content = steps.openai_file_content(batch["output_file_id"])
    assert isinstance(content, bytes) and len(content.splitlines()) == 4
    schema = VERB_ARGS[kind].get("schema")
    out = steps.openai_parse(content, kind=kind, schema=schema, library=_library(df))
    assert type(out) is type(df)
    rows = _by_id(out)
    assert set(rows) == set(IDS)
    assert not any(r[".error"] for r in rows.values())
    assert all(r[".error_msg"] is None and r[".input_tokens"] > 0 for r in rows.values())
    if kind == "complete":
        assert all(isinstance(r["content"], str) and r["content"] for r in rows.values())
        assert {r[".stop_reason"] for r in rows.values()} == {"stop"}
    elif kind == "embed":
        assert all(len(r["embedding"]) == 4 for r in rows.values())
    else:
        assert {r["label"] for r in rows.values()} <= {"positive", "negative"}
    for file_id in (file["id"], batch["output_file_id"]):
        assert steps.openai_delete_file(file_id)["deleted"] is True
    with pytest.raises(llmbatch.NotFoundError):
        steps.openai_file_content(batch["output_file_id"])
    assert emu.state()["openai"]["files"] == []


def test_openai_parse_wide_embeddings(emu: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({"k": IDS, "body": TEXTS})
    path = steps.openai_prepare(
        df, tmp_path / "in.jsonl", kind="embed", text="body", id="k", dimensions=3
    )
    batch = _openai_wait(steps.openai_start(steps.openai_upload(path)["id"], "/v1/embeddings"))
    out = steps.openai_parse(
        steps.openai_file_content(batch["output_file_id"]), kind="embed", wide=True
    )
    assert [c for c in out.columns if c.startswith("V")] == ["V1", "V2", "V3"]
    assert out["V1"].dtype == "float64" and not out[".error"].any()


def test_openai_error_file(emu: Any, tmp_path: Path, constructor: Any) -> None:
    emu.configure(request_error_rate=0.5)
    ids = [f"row-{i}" for i in range(16)]
    df = constructor({"k": ids, "body": [f"text {i}" for i in range(16)]})
    batch = _openai_wait(_openai_batch(tmp_path, df))
    counts = batch["request_counts"]
    assert counts["failed"] > 0 and counts["completed"] > 0 and counts["total"] == 16
    output = steps.openai_file_content(batch["output_file_id"])
    errors = steps.openai_file_content(batch["error_file_id"])
    lib = _library(df)
    failed = _by_id(steps.openai_parse(errors, library=lib))
    assert len(failed) == counts["failed"]
    assert all(r[".error"] and r["content"] is None for r in failed.values())
    assert all(r[".error_msg"].startswith("HTTP 5") for r in failed.values())
    both = _by_id(steps.openai_parse(output + errors, library=lib))
    assert set(both) == set(ids)
    assert {i for i, r in both.items() if r[".error"]} == set(failed)
    assert all(both[i]["content"] for i in set(ids) - set(failed))


def test_openai_list_pages_with_after(emu: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({"k": ["a"], "body": ["x"]})
    file = steps.openai_upload(steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", id="k"))
    made = [steps.openai_start(file["id"])["id"] for _ in range(5)]
    first = steps.openai_list(limit=2)
    assert first["has_more"] is True and len(first["data"]) == 2
    seen = [b["id"] for b in first["data"]]
    page = first
    while page["has_more"]:
        page = steps.openai_list(limit=2, after=page["last_id"])
        seen += [b["id"] for b in page["data"]]
    assert seen == made[::-1]  # newest first, each batch once


def test_openai_cancel(emu: Any, tmp_path: Path) -> None:
    emu.configure(validating_seconds=30)
    batch = _openai_batch(tmp_path, pd.DataFrame({"k": ["a", "b"], "body": ["x", "y"]}))
    assert batch["status"] == "validating"
    cancelled = steps.openai_cancel(batch["id"])
    assert cancelled["id"] == batch["id"]
    assert cancelled["status"] in ("cancelling", "cancelled")
    assert _openai_wait(cancelled)["status"] == "cancelled"


def test_openai_steps_need_an_openai_provider(emu: Any) -> None:
    with pytest.raises(llmbatch.InputError, match="OpenAI provider"):
        steps.openai_status("batch_x", provider=llmbatch.Anthropic())  # type: ignore[arg-type]
    with pytest.raises(llmbatch.NotFoundError, match="batch_nope"):
        steps.openai_status("batch_nope", provider=llmbatch.OpenAI())


# -- Anthropic over HTTP --------------------------------------------------------------------
ANTHROPIC_IDS = ["doc-0", "doc_1", "2", "x" * 64]


@pytest.mark.parametrize("kind", ["complete", "classify"])
def test_anthropic_prepare(constructor: Any, kind: str) -> None:
    df = constructor({"k": ANTHROPIC_IDS, "body": TEXTS})
    requests = steps.anthropic_prepare(df, kind=kind, text="body", id="k", **VERB_ARGS[kind])
    assert [r["custom_id"] for r in requests] == ANTHROPIC_IDS
    assert all(set(r) == {"custom_id", "params"} for r in requests)
    params = [r["params"] for r in requests]
    assert [p["messages"] for p in params] == [[{"role": "user", "content": t}] for t in TEXTS]
    assert params[0]["model"] == "claude-haiku-4-5"
    if kind == "complete":
        assert params[0]["max_tokens"] == 50
        block = {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
        assert params[0]["system"] == [block]
    else:
        assert params[0]["max_tokens"] == 1024
        fmt = params[0]["output_config"]["format"]
        assert fmt["type"] == "json_schema"
        assert fmt["schema"]["properties"]["label"]["enum"] == ["positive", "negative"]


def test_anthropic_prepare_int_ids_and_tool_use(constructor: Any) -> None:
    df = constructor({"k": [30, 10], "body": ["a", "b"]})
    requests = steps.anthropic_prepare(
        df, kind="classify", schema=["y", "n"], text="body", id="k", structured="tool"
    )
    assert [r["custom_id"] for r in requests] == ["30", "10"]
    assert requests[0]["params"]["tool_choice"]["type"] == "tool"


@pytest.mark.parametrize("bad", ["a b", "x" * 65, "naïve", "line\n", "a.b", ""])
def test_anthropic_prepare_names_invalid_ids(constructor: Any, bad: str) -> None:
    df = constructor({"k": ["fine", bad], "body": ["a", "b"]})
    with pytest.raises(llmbatch.InputError, match="not valid Anthropic custom_ids") as info:
        steps.anthropic_prepare(df, text="body", id="k")
    assert repr(bad) in str(info.value)
    assert repr("fine") not in str(info.value)


def test_anthropic_prepare_refuses_embed() -> None:
    with pytest.raises(llmbatch.ConfigError, match="no embeddings API"):
        steps.anthropic_prepare(pd.DataFrame({"b": ["x"]}), kind="embed", text="b")


@pytest.mark.parametrize("kind", ["complete", "classify"])
def test_anthropic_round_trip(emu: Any, tmp_path: Path, constructor: Any, kind: str) -> None:
    df = constructor({"k": ANTHROPIC_IDS, "body": TEXTS})
    requests = steps.anthropic_prepare(df, kind=kind, text="body", id="k", **VERB_ARGS[kind])
    batch = steps.anthropic_create(requests)
    assert batch["type"] == "message_batch" and batch["id"].startswith("msgbatch_")
    batch = _anthropic_wait(batch)
    assert batch["request_counts"]["succeeded"] == 4
    schema = VERB_ARGS[kind].get("schema")
    lib = _library(df)
    out = steps.anthropic_results(batch["id"], kind=kind, schema=schema, library=lib)
    assert type(out) is type(df)
    rows = _by_id(out)
    assert set(rows) == set(ANTHROPIC_IDS)
    assert not any(r[".error"] for r in rows.values())
    assert {r[".stop_reason"] for r in rows.values()} == {"end_turn"}
    if kind == "complete":
        assert all(r["content"] for r in rows.values())
    else:
        assert {r["label"] for r in rows.values()} <= {"positive", "negative"}
    # the same results from raw JSONL content: bytes, text, a Path, and a path as str
    with llmbatch.Anthropic().client() as client:
        raw = client.results(batch["id"])
    (tmp_path / "results.jsonl").write_bytes(raw)
    for content in (raw, raw.decode(), tmp_path / "results.jsonl", str(tmp_path / "results.jsonl")):
        again = steps.anthropic_results(content, kind=kind, schema=schema, library=lib)
        assert _by_id(again) == rows
    assert steps.anthropic_delete(batch["id"])["type"] == "message_batch_deleted"
    with pytest.raises(llmbatch.NotFoundError):
        steps.anthropic_status(batch["id"])


def test_anthropic_create_from_a_jsonl_file(emu: Any, tmp_path: Path) -> None:
    requests = steps.anthropic_prepare(
        pd.DataFrame({"k": ["a", "b"], "body": ["x", "y"]}), text="body", id="k"
    )
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in requests))
    for source in (path, str(path)):
        batch = _anthropic_wait(steps.anthropic_create(source))
        assert set(steps.anthropic_results(batch["id"])["custom_id"]) == {"a", "b"}


def test_anthropic_errored_rows(emu: Any) -> None:
    emu.configure(request_error_rate=0.5)
    ids = [f"row-{i}" for i in range(16)]
    requests = steps.anthropic_prepare(
        pd.DataFrame({"k": ids, "body": ["x"] * 16}), text="body", id="k"
    )
    batch = _anthropic_wait(steps.anthropic_create(requests))
    errored = batch["request_counts"]["errored"]
    assert 0 < errored < 16
    rows = _by_id(steps.anthropic_results(batch["id"], library="polars"))
    bad = [r for r in rows.values() if r[".error"]]
    assert len(bad) == errored
    assert all(r[".error_msg"] == "api_error: Internal server error" for r in bad)


def test_anthropic_list_pages_with_after_id(emu: Any) -> None:
    requests = steps.anthropic_prepare(
        pd.DataFrame({"k": ["a"], "body": ["x"]}), text="body", id="k"
    )
    made = [steps.anthropic_create(requests)["id"] for _ in range(5)]
    page = steps.anthropic_list(limit=2)
    assert page["has_more"] is True and len(page["data"]) == 2
    seen = [b["id"] for b in page["data"]]
    while page["has_more"]:
        page = steps.anthropic_list(limit=2, after_id=page["last_id"])
        seen += [b["id"] for b in page["data"]]
    assert seen == made[::-1]


def test_anthropic_cancel_then_delete(emu: Any) -> None:
    emu.configure(validating_seconds=30)
    requests = steps.anthropic_prepare(
        pd.DataFrame({"k": ["a", "b"], "body": ["x", "y"]}), text="body", id="k"
    )
    batch = steps.anthropic_create(requests)
    with pytest.raises(llmbatch.JobNotReady):
        steps.anthropic_results(batch["id"])
    with pytest.raises(llmbatch.BadRequestError, match="cannot be deleted"):
        steps.anthropic_delete(batch["id"])
    cancelled = steps.anthropic_cancel(batch["id"])
    assert cancelled["processing_status"] in ("canceling", "ended")
    assert cancelled["cancel_initiated_at"]
    ended = _anthropic_wait(cancelled)
    assert ended["request_counts"]["canceled"] == 2
    rows = _by_id(steps.anthropic_results(batch["id"]))
    assert all(r[".error"] and r[".error_msg"].startswith("canceled:") for r in rows.values())
    assert steps.anthropic_delete(batch["id"]) == {
        "id": batch["id"],
        "type": "message_batch_deleted",
    }
    assert emu.state()["anthropic"]["batches"] == []


def test_anthropic_steps_need_an_anthropic_provider(emu: Any) -> None:
    with pytest.raises(llmbatch.InputError, match="Anthropic provider"):
        steps.anthropic_list(provider=llmbatch.OpenAI())  # type: ignore[arg-type]


# -- real provider payloads, unknown keys included --------------------------------------------
def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj) + "\n"


CHAT_OK = {
    "id": "batch_req_1",
    "custom_id": "ok",
    "response": {
        "status_code": 200,
        "request_id": "req_1",
        "body": {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1711652795,
            "model": "gpt-4.1-mini-2025-04-14",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello.",
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 22,
                "completion_tokens": 2,
                "total_tokens": 24,
                "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_1",
            "brand_new_body_key": {"nested": [1, 2]},
        },
    },
    "error": None,
    "brand_new_line_key": True,
}
HTTP_400 = {
    "id": "batch_req_2",
    "custom_id": "bad-model",
    "response": {
        "status_code": 400,
        "request_id": "req_2",
        "body": {
            "error": {
                "message": "The model `gpt-9` does not exist.",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            }
        },
    },
    "error": None,
}
EXPIRED = {
    "id": "batch_req_3",
    "custom_id": "late",
    "response": None,
    "error": {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    },
}
CANCELLED = {
    "id": "batch_req_4",
    "custom_id": "stopped",
    "response": None,
    "error": {"code": "batch_cancelled", "message": "This request was cancelled."},
}


def test_openai_parse_real_output_and_error_lines(constructor: Any) -> None:
    lib = "pandas" if constructor is pd.DataFrame else "polars"
    content = "".join(_line(x) for x in (CHAT_OK, HTTP_400, EXPIRED, CANCELLED))
    out = steps.openai_parse(content.replace("\n", "\r\n"), library=lib)
    assert list(out.columns[:2]) == ["custom_id", "content"]
    rows = _by_id(out)
    assert list(rows) == ["ok", "bad-model", "late", "stopped"]
    ok = rows["ok"]
    assert ok["content"] == "Hello." and not ok[".error"] and ok[".error_msg"] is None
    assert (ok[".input_tokens"], ok[".output_tokens"], ok[".cache_read_tokens"]) == (22, 2, 8)
    assert ok[".stop_reason"] == "stop"
    assert rows["bad-model"][".error"]
    assert rows["bad-model"][".error_msg"] == "HTTP 400: The model `gpt-9` does not exist."
    assert rows["late"][".error_msg"].startswith("batch_expired: This request could not")
    assert rows["stopped"][".error_msg"] == "batch_cancelled: This request was cancelled."
    assert all(rows[k]["content"] is None for k in ("bad-model", "late", "stopped"))


def test_openai_parse_reads_each_body_by_its_object() -> None:
    responses_body = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "service_tier": "flex",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi there.", "annotations": []}],
            },
        ],
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 8,
        },
    }
    line = {"custom_id": "r", "response": {"status_code": 200, "body": responses_body}}
    rows = _by_id(steps.openai_parse(_line(line) + _line(CHAT_OK)))
    assert rows["r"]["content"] == "Hi there." and rows["r"][".output_tokens"] == 3
    assert rows["ok"]["content"] == "Hello."
    embedding = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
        "new_key": 1,
    }
    line = {"custom_id": "e", "response": {"status_code": 200, "body": embedding}}
    out = steps.openai_parse(json.dumps(line).encode(), kind="embed", library="polars")
    assert out.row(0, named=True)["embedding"] == [0.6, 0.8]


def test_openai_parse_classify_validates_each_answer() -> None:
    def chat(custom_id: str, content: str, finish: str = "stop") -> str:
        body = {
            "object": "chat.completion",
            "choices": [{"message": {"content": content}, "finish_reason": finish}],
        }
        return _line({"custom_id": custom_id, "response": {"status_code": 200, "body": body}})

    content = chat("a", '{"label": "yes"}') + chat("b", '{"label": "maybe"}')
    content += chat("c", "not json") + chat("d", '{"label": "y', finish="length")
    rows = _by_id(steps.openai_parse(content, kind="classify", schema=["yes", "no"]))
    assert rows["a"]["label"] == "yes" and not rows["a"][".error"]
    assert "does not match the schema" in rows["b"][".error_msg"]
    assert "not valid JSON" in rows["c"][".error_msg"]
    assert "truncated" in rows["d"][".error_msg"]


def test_openai_parse_an_unreadable_body_is_a_row_error() -> None:
    broken = {
        "custom_id": "x",
        "response": {"status_code": 200, "body": {"object": "chat.completion"}},
    }
    rows = _by_id(steps.openai_parse(_line(broken) + _line(CHAT_OK)))
    assert rows["x"][".error"] and rows["x"][".error_msg"].startswith("unreadable answer")
    assert rows["ok"]["content"] == "Hello."


def test_openai_parse_files_and_bad_content(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(_line(CHAT_OK) + "\n\n")
    assert list(steps.openai_parse(path)["content"]) == ["Hello."]
    assert list(steps.openai_parse(str(path))["content"]) == ["Hello."]
    assert len(steps.openai_parse(b"")) == 0
    with pytest.raises(llmbatch.InputError, match="line 2 is not JSON"):
        steps.openai_parse(_line(CHAT_OK) + "{oops\n")
    with pytest.raises(llmbatch.InputError, match="line 1 is not a JSON object"):
        steps.openai_parse(b"[1, 2]\n")
    with pytest.raises(llmbatch.InputError, match="neither JSONL content nor an existing file"):
        steps.openai_parse(str(tmp_path / "missing.jsonl"))
    with pytest.raises(llmbatch.InputError, match="kind must be one of"):
        steps.openai_parse(b"", kind="chat")


def _result(custom_id: str, result: dict[str, Any]) -> str:
    return _line({"custom_id": custom_id, "result": result})


ANTHROPIC_OK = {
    "type": "succeeded",
    "message": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Hello again!", "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "container": None,
        "context_management": None,
        "usage": {
            "input_tokens": 11,
            "output_tokens": 36,
            "cache_creation_input_tokens": 4,
            "cache_read_input_tokens": 7,
            "cache_creation": {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": None,
            "service_tier": "batch",
            "inference_geo": "us",
        },
    },
}
ANTHROPIC_ERRORED = {
    "type": "errored",
    "error": {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        "request_id": "req_011",
    },
}


def test_anthropic_results_real_lines(constructor: Any) -> None:
    lib = "pandas" if constructor is pd.DataFrame else "polars"
    content = _result("ok", ANTHROPIC_OK) + _result("bad", ANTHROPIC_ERRORED)
    content += _result("stop", {"type": "canceled"}) + _result("late", {"type": "expired"})
    content += _line({"custom_id": "new", "result": ANTHROPIC_OK, "a_future_key": [1]})
    out = steps.anthropic_results(content.encode(), library=lib)
    rows = _by_id(out)
    assert list(rows) == ["ok", "bad", "stop", "late", "new"]
    ok = rows["ok"]
    assert ok["content"] == "Hello again!" and not ok[".error"]
    assert (ok[".input_tokens"], ok[".output_tokens"]) == (11, 36)
    assert (ok[".cache_read_tokens"], ok[".cache_write_tokens"]) == (7, 4)
    assert rows["new"]["content"] == "Hello again!"
    assert rows["bad"][".error_msg"] == "invalid_request_error: max_tokens: Field required"
    assert rows["stop"][".error_msg"].startswith("canceled:")
    assert rows["late"][".error_msg"].startswith("expired:")
    assert all(rows[k][".error"] and rows[k]["content"] is None for k in ("bad", "stop", "late"))


def test_anthropic_results_classify_tool_use_and_refusal() -> None:
    def message(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
        usage = {"input_tokens": 3, "output_tokens": 2, "service_tier": "batch"}
        return {
            "type": "succeeded",
            "message": {"content": content, "stop_reason": stop, "usage": usage},
        }

    tool = {"type": "tool_use", "id": "toolu_1", "name": "classification", "input": {"label": "n"}}
    content = _result("t", message([tool], "tool_use"))
    content += _result("j", message([{"type": "text", "text": '{"label": "y"}'}], "end_turn"))
    content += _result("r", message([], "refusal"))
    rows = _by_id(steps.anthropic_results(content, kind="classify", schema=["y", "n"]))
    assert rows["t"]["label"] == "n" and rows["j"]["label"] == "y"
    assert rows["r"][".error"] and rows["r"][".error_msg"].startswith("refused")


def test_parse_refuses_bad_options_before_any_download(emu: Any) -> None:
    with pytest.raises(llmbatch.InputError, match="library must be one of"):
        steps.anthropic_results("msgbatch_never_fetched", library="Polars")
    assert emu.call_count() == 0
    with pytest.raises(llmbatch.InputError, match="named 'custom_id'"):
        steps.openai_parse(_line(CHAT_OK), kind="classify", schema=["a"], label_column="custom_id")
