"""One pipeline from a frame to request lines: the verbs and `steps` send the same thing.

A job (df.llmbatch.*) and the step-by-step functions build their texts, refusals and request
lines through `llmbatch.pipeline`; these tests pin that they agree byte for byte, apart from the
custom_id (a job's wire id is `<tag>-<row>`, the steps' is the user's id as text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import llmbatch
from llmbatch import steps

DATA = {"k": ["a", "b", "c"], "title": ["T1", "T2", "T3"], "body": ["x ü", 'y "q"', "z\\n"]}
LABELS = ["positive", "negative"]
VERB_ARGS: dict[str, dict[str, Any]] = {
    "complete": {"system_prompt": "Be brief.", "max_tokens": 50, "temperature": 0.2},
    "embed": {"dimensions": 4},
    "classify": {},
}


def _without_id(raw: bytes) -> tuple[str, bytes]:
    """A request line's custom_id, and the line's bytes after it (the rest of the request)."""
    custom_id = json.loads(raw)["custom_id"]
    head = b'{"custom_id":' + json.dumps(custom_id, ensure_ascii=False).encode()
    assert raw.startswith(head)
    return custom_id, raw[len(head) :]


def _job_lines(job: Any) -> list[bytes]:
    return (Path(job.path) / "requests" / "0000.jsonl").read_bytes().splitlines()


@pytest.mark.parametrize("kind", ["complete", "embed", "classify"])
def test_openai_steps_lines_are_the_jobs_lines(
    emu: Any, tmp_path: Path, constructor: Any, kind: str
) -> None:
    df = constructor(DATA)
    labels = [LABELS] if kind == "classify" else []
    texts = {"text": "body"} if kind == "embed" else {"prompt": "{title}: {body}"}
    verb = getattr(df.llmbatch, kind)
    job = verb(*labels, **texts, id="k", submit=False, **VERB_ARGS[kind])
    schema = {"schema": LABELS} if kind == "classify" else {}
    path = steps.openai_prepare(
        df, tmp_path / "in.jsonl", kind=kind, **texts, id="k", **VERB_ARGS[kind], **schema
    )
    ours = [_without_id(line) for line in path.read_bytes().splitlines()]
    theirs = [_without_id(line) for line in _job_lines(job)]
    assert [cid for cid, _ in ours] == DATA["k"]
    assert [rest for _, rest in ours] == [rest for _, rest in theirs]


def test_anthropic_steps_requests_are_the_jobs_lines(emu: Any, constructor: Any) -> None:
    df = constructor(DATA)
    job = df.llmbatch.classify(LABELS, text="body", id="k", provider="anthropic", submit=False)
    requests = steps.anthropic_prepare(df, kind="classify", text="body", id="k", schema=LABELS)
    theirs = [json.loads(line) for line in _job_lines(job)]
    assert [r["custom_id"] for r in requests] == DATA["k"]
    assert [r["params"] for r in requests] == [t["params"] for t in theirs]


def test_steps_ids_with_quotes_and_backslashes_stay_valid_json(
    tmp_path: Path, constructor: Any
) -> None:
    ids = ['a"b', "c\\d", "é €", "line\nbreak"]
    df = constructor({"k": ids, "body": ["one", "two", "three", "four"]})
    path = steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", id="k")
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["custom_id"] for line in lines] == ids


@pytest.mark.parametrize(
    ("data", "kw"),
    [
        ({"k": ["a", "b"], "body": [4, 5]}, {"text": "body"}),
        ({"k": ["a", "b"], "body": ["x", "  "]}, {"text": "body"}),
        ({"k": ["a", "b"], "body": ["x", None]}, {"prompt": "Say {body}"}),
        ({"k": ["a", "a"], "body": ["x", "y"]}, {"text": "body"}),
        ({"k": ["a", "b"], "body": ["x", "y"]}, {"text": "body", "api": "completions"}),
    ],
)
def test_steps_refuse_as_the_verbs_refuse(
    emu: Any, tmp_path: Path, constructor: Any, data: dict[str, list[Any]], kw: dict[str, Any]
) -> None:
    df = constructor(data)
    with pytest.raises(llmbatch.LLMBatchError) as verb:
        df.llmbatch.complete(id="k", **kw)
    with pytest.raises(llmbatch.LLMBatchError) as step:
        steps.openai_prepare(df, tmp_path / "in.jsonl", id="k", **kw)
    assert type(step.value) is type(verb.value)
    assert str(step.value) == str(verb.value)
    assert emu.call_count() == 0  # refused before anything was sent
