"""Inputs a user can get wrong are refused as an LLMBatchError with a hint, before any request
reaches the provider and before any job folder is written (issue 8, sections 2 and 3).

Each refusal here used to be a raw exception (TypeError, UnicodeEncodeError, DuplicateError,
ValueError) or, worse, no error at all (a body field silently sent, a column silently lost).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch
from llmbatch import schema as s
from llmbatch import steps

Frame = Callable[[dict[str, list[Any]]], Any]
DATA = {"doc_id": ["a", "b", "c"], "body": ["one", "two", "three"]}


def _refused(emu: Any, exc: type[Exception], match: str, call: Callable[[], Any]) -> str:
    """Run `call`; it must raise `exc` with a hint, send nothing and leave no job folder."""
    with pytest.raises(exc, match=match) as info:
        call()
    assert isinstance(info.value, llmbatch.LLMBatchError)
    assert "\nHint: " in str(info.value), str(info.value)
    assert emu.state()["total_calls"] == 0, emu.state()
    home = Path(os.environ["LLMBATCH_HOME"])
    assert not home.exists() or not any(home.iterdir()), list(home.iterdir())
    return str(info.value)


def _first_body(job: Any) -> dict[str, Any]:
    line = json.loads((job.path / job.shards[0]["path"]).read_text().splitlines()[0])
    return line.get("body") or line["params"]


# -- missing values of every kind, in ids, texts and prompt columns -------------------------------
PANDAS_MISSING = {
    "Int64 id with pd.NA": (
        {"k": pd.array([1, None, 3], dtype="Int64"), "body": ["a", "b", "c"]},
        {"text": "body", "id": "k"},
        r"id column 'k' has 1 null value\(s\), at rows \[1\]",
    ),
    "string[python] text with pd.NA": (
        {"body": pd.array(["a", None, "c"], dtype="string[python]")},
        {"text": "body"},
        r"text column 'body' has 1 null or empty text\(s\) at rows \[1\]",
    ),
    "string[pyarrow] text with pd.NA": (
        {"body": pd.array(["a", "b", None], dtype="string[pyarrow]")},
        {"text": "body"},
        r"at rows \[2\]",
    ),
    "Float64 prompt column with pd.NA": (
        {"n": pd.array([1.5, None, 2.5], dtype="Float64")},
        {"prompt": "n = {n}"},
        r"column 'n' used by the prompt has nulls at rows \[1\]",
    ),
    "datetime prompt column with NaT": (
        {"when": pd.to_datetime(["2020-01-01", None, "2021-01-01"])},
        {"prompt": "on {when}"},
        r"column 'when' used by the prompt has nulls at rows \[1\]",
    ),
    "boolean id with pd.NA": (
        {"k": pd.array([True, None], dtype="boolean"), "body": ["a", "b"]},
        {"text": "body", "id": "k"},
        r"null value\(s\), at rows \[1\]",
    ),
    "object text with None and NaN": (
        {"body": pd.Series(["a", None, float("nan")], dtype=object)},
        {"text": "body"},
        r"2 null or empty text\(s\) at rows \[1, 2\]",
    ),
}


@pytest.mark.parametrize(("data", "kw", "match"), PANDAS_MISSING.values(), ids=PANDAS_MISSING)
def test_pandas_missing_values_of_any_dtype_are_named(
    emu: Any, data: dict[str, Any], kw: dict[str, str], match: str
) -> None:
    df = pd.DataFrame(data)
    _refused(emu, llmbatch.InputError, match, lambda: df.llmbatch.complete(**kw))


@pytest.mark.parametrize(
    ("data", "kw", "match"),
    [
        ({"k": [1, None, 3], "body": ["a", "b", "c"]}, {"text": "body", "id": "k"}, r"rows \[1\]"),
        ({"body": ["a", "b", None]}, {"text": "body"}, r"at rows \[2\]"),
        ({"n": [1.0, None, 2.0]}, {"prompt": "n={n}"}, r"has nulls at rows \[1\]"),
        ({"n": [1.0, float("nan"), 2.0]}, {"prompt": "n={n}"}, r"has nulls at rows \[1\]"),
    ],
    ids=["id", "text", "prompt null", "prompt NaN"],
)
def test_nulls_are_named_on_both_libraries(
    emu: Any, constructor: Frame, data: dict[str, list[Any]], kw: dict[str, str], match: str
) -> None:
    df = constructor(data)
    _refused(emu, llmbatch.InputError, match, lambda: df.llmbatch.complete(**kw))


# -- text that is not valid UTF-8 --------------------------------------------------------------
def _object_frame(library: str, data: dict[str, list[Any]]) -> Any:
    """Only Python-object columns can hold a lone surrogate (Arrow strings refuse one)."""
    if library == "pandas":
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    return pl.DataFrame({k: pl.Series(k, v, dtype=pl.Object) for k, v in data.items()})


@pytest.mark.parametrize("library", ["pandas", "polars"])
@pytest.mark.parametrize(
    ("kw", "where"),
    [({"text": "body"}, "text column 'body'"), ({"prompt": "T: {body}"}, "the rendered prompt")],
)
def test_a_lone_surrogate_in_a_text_is_named(
    emu: Any, library: str, kw: dict[str, str], where: str
) -> None:
    df = _object_frame(library, {"body": ["fine", "bad \ud800", "ok", "also \udcff bad"]})
    message = _refused(
        emu, llmbatch.InputError, "not valid UTF-8", lambda: df.llmbatch.complete(**kw)
    )
    assert f"{where} holds text that is not valid UTF-8" in message
    assert "at rows [1, 3]" in message


def test_a_lone_surrogate_in_an_id_is_named(emu: Any) -> None:
    df = pd.DataFrame({"k": pd.Series(["a", "b\udc80"], dtype=object), "body": ["x", "y"]})
    _refused(
        emu,
        llmbatch.InputError,
        r"id column 'k' holds text that is not valid UTF-8 .* at rows \[1\]",
        lambda: df.llmbatch.complete(text="body", id="k"),
    )


def test_a_lone_surrogate_in_the_system_prompt_is_refused(emu: Any, constructor: Frame) -> None:
    df = constructor(DATA)
    _refused(
        emu,
        llmbatch.InputError,
        "cannot be sent as JSON",
        lambda: df.llmbatch.complete(text="body", system_prompt="be \ud800 brief"),
    )


def test_a_step_function_refuses_a_surrogate_too(emu: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({"body": pd.Series(["a", "b\ud800"], dtype=object)})
    with pytest.raises(llmbatch.InputError, match=r"not valid UTF-8 .* at rows \[1\]"):
        steps.openai_prepare(df, tmp_path / "in.jsonl", text="body")
    assert not (tmp_path / "in.jsonl").exists()


# -- the frame itself ----------------------------------------------------------------------------
def test_duplicate_column_names_are_named(emu: Any) -> None:
    # polars cannot hold duplicate names at all; pandas can
    df = pd.DataFrame([["a", "x", "y", 1, 2]], columns=["k", "body", "body", "n", "n"])
    _refused(
        emu,
        llmbatch.InputError,
        r"duplicate column names: \['body', 'n'\]",
        lambda: df.llmbatch.complete(text="body", id="k"),
    )


def test_a_format_spec_that_does_not_fit_the_column_names_it(emu: Any, constructor: Frame) -> None:
    df = constructor({"n": [1.5, 2.0, 3.25], "body": ["a", "b", "c"]})
    message = _refused(
        emu,
        llmbatch.InputError,
        r"placeholder '\{n:d\}' cannot format column 'n' at rows \[0, 1, 2\]",
        lambda: df.llmbatch.complete(prompt="{body}: {n:d}"),
    )
    assert "Unknown format code 'd'" in message and "float 1.5" in message


def test_a_good_format_spec_still_renders(emu: Any, constructor: Frame) -> None:
    df = constructor({"n": [1.5, 2.0]})
    job = df.llmbatch.complete(prompt="n = {n:.2f}", submit=False)
    assert _first_body(job)["messages"][-1]["content"] == "n = 1.50"


# -- the columns the answers add -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("columns", "suffix", "clash"),
    [(["V1"], "", "V1"), (["V17"], "", "V17"), (["V2_e"], "_e", "V2_e")],
)
def test_embed_wide_without_dimensions_refuses_any_v_column(
    emu: Any, constructor: Frame, columns: list[str], suffix: str, clash: str
) -> None:
    df = constructor({"body": ["a", "b"], **{c: [1, 2] for c in columns}})
    message = _refused(
        emu,
        llmbatch.InputError,
        "suffix=",
        lambda: df.llmbatch.embed(text="body", wide=True, suffix=suffix),
    )
    assert f"['{clash}']" in message


@pytest.mark.parametrize(("columns", "suffix"), [(["V0", "V01", "Vx", "v1"], ""), (["V1"], "_e")])
def test_embed_wide_columns_that_cannot_clash_are_kept(
    emu: Any, constructor: Frame, columns: list[str], suffix: str
) -> None:
    df = constructor({"body": ["a", "b"], **{c: [1, 2] for c in columns}})
    out = df.llmbatch.embed(text="body", wide=True, suffix=suffix).wait(
        poll_interval=0, progress=False
    )  # no dimensions: as many V<n> columns as the model returns, joined without warnings
    added = [c for c in out.columns if c not in ["body", *columns] and not c.startswith(".")]
    assert added == [f"V{j}{suffix}" for j in range(1, len(added) + 1)] and len(added) > 100
    assert list(out[columns[0]]) == [1, 2]


@pytest.mark.parametrize(
    "call",
    [
        lambda df: df.llmbatch.classify(
            {"type": "object", "properties": {".error": {"type": "string"}}}, text="body"
        ),
        lambda df: df.llmbatch.classify(
            s.schema_object({"label": s.schema_string(), ".stop_reason": s.schema_string()}),
            text="body",
        ),
        lambda df: df.llmbatch.classify(["yes", "no"], text="body", label_column=".input_tokens"),
        lambda df: df.llmbatch.complete(text="body", content_column=".error_msg"),
    ],
    ids=["schema .error", "schema .stop_reason", "label_column", "content_column"],
)
def test_an_answer_column_named_like_a_reserved_column_is_refused(
    emu: Any, constructor: Frame, call: Any
) -> None:
    df = constructor(DATA)
    _refused(emu, llmbatch.InputError, r"start with '\.'", lambda: call(df))


# -- parameter types -----------------------------------------------------------------------------
BAD_ARGS: dict[str, tuple[Callable[[Any], Any], type[Exception], str]] = {
    "seed=object()": (
        lambda df: df.llmbatch.complete(text="body", seed=object()),
        llmbatch.ConfigError,
        "seed must be an integer or None, got object",
    ),
    "seed=True": (
        lambda df: df.llmbatch.complete(text="body", seed=True),
        llmbatch.ConfigError,
        "seed must be an integer",
    ),
    "top_p='0.5'": (
        lambda df: df.llmbatch.complete(text="body", top_p="0.5"),
        llmbatch.ConfigError,
        "top_p must be a number",
    ),
    "metadata='x'": (
        lambda df: df.llmbatch.complete(text="body", metadata="x"),
        llmbatch.ConfigError,
        "metadata must be a dict",
    ),
    "anthropic top_k=1.5": (
        lambda df: df.llmbatch.complete(text="body", provider="anthropic", top_k=1.5),
        llmbatch.ConfigError,
        "top_k must be an integer",
    ),
    "metadata holding an object": (
        lambda df: df.llmbatch.complete(text="body", metadata={"k": object()}),
        llmbatch.ConfigError,
        "metadata cannot be sent as JSON",
    ),
    "wide=1": (
        lambda df: df.llmbatch.embed(text="body", wide=1),
        llmbatch.ConfigError,
        "wide must be True or False",
    ),
    "skip_empty='yes'": (
        lambda df: df.llmbatch.complete(text="body", skip_empty="yes"),
        llmbatch.ConfigError,
        "skip_empty must be True or False",
    ),
    "submit=None": (
        lambda df: df.llmbatch.complete(text="body", submit=None),
        llmbatch.ConfigError,
        "submit must be True or False",
    ),
    "force='no'": (
        lambda df: df.llmbatch.complete(text="body", force="no"),
        llmbatch.ConfigError,
        "force must be True or False",
    ),
    "suffix=3": (
        lambda df: df.llmbatch.complete(text="body", suffix=3),
        llmbatch.ConfigError,
        "suffix must be a string",
    ),
    "content_column=''": (
        lambda df: df.llmbatch.complete(text="body", content_column=""),
        llmbatch.ConfigError,
        "content_column must be a non-empty string",
    ),
    "id=5": (
        lambda df: df.llmbatch.complete(text="body", id=5),
        llmbatch.InputError,
        "id= must be a column name",
    ),
    "folder=3": (
        lambda df: df.llmbatch.complete(text="body", folder=3),
        llmbatch.ConfigError,
        "folder= must be a path",
    ),
    "limits={}": (
        lambda df: df.llmbatch.complete(text="body", limits={}),
        llmbatch.ConfigError,
        "limits= must be an llmbatch Limits",
    ),
    "relax='yes'": (
        lambda df: df.llmbatch.classify(["a", "b"], text="body", relax="yes"),
        llmbatch.ConfigError,
        "relax must be True or False",
    ),
    "extra_body=[1]": (
        lambda df: df.llmbatch.complete(text="body", extra_body=[1]),
        llmbatch.ConfigError,
        "extra_body must be a dict",
    ),
    "extra_body with an object": (
        lambda df: df.llmbatch.complete(text="body", extra_body={"x": {1, 2}}),
        llmbatch.ConfigError,
        r"extra_body\['x'\] cannot be sent as JSON",
    ),
}


@pytest.mark.parametrize(("call", "exc", "match"), BAD_ARGS.values(), ids=BAD_ARGS)
def test_a_parameter_of_the_wrong_type_is_refused(
    emu: Any, constructor: Frame, call: Any, exc: type[Exception], match: str
) -> None:
    df = constructor(DATA)
    _refused(emu, exc, match, lambda: call(df))


# -- streaming, and keywords no endpoint documents -----------------------------------------------
STREAMS = {
    "openai chat": lambda df: df.llmbatch.complete(text="body", stream=True),
    "openai responses": lambda df: df.llmbatch.complete(text="body", api="responses", stream=True),
    "anthropic": lambda df: df.llmbatch.complete(text="body", provider="anthropic", stream=True),
    "classify": lambda df: df.llmbatch.classify(["a", "b"], text="body", stream=True),
    "extra_body": lambda df: df.llmbatch.complete(text="body", extra_body={"stream": True}),
    "stream_options": lambda df: df.llmbatch.complete(
        text="body", stream_options={"include_usage": True}
    ),
    "anthropic speed": lambda df: df.llmbatch.complete(
        text="body", provider="anthropic", speed="fast"
    ),
}


@pytest.mark.parametrize("call", STREAMS.values(), ids=STREAMS)
def test_streaming_is_refused(emu: Any, constructor: Frame, call: Any) -> None:
    df = constructor(DATA)
    _refused(emu, llmbatch.ConfigError, "cannot be sent in a batch", lambda: call(df))


UNKNOWN = {
    "complete frobnicate": lambda df: df.llmbatch.complete(text="body", frobnicate=3),
    "responses seed": lambda df: df.llmbatch.complete(text="body", api="responses", seed=1),
    "anthropic seed": lambda df: df.llmbatch.complete(text="body", provider="anthropic", seed=1),
    "classify frobnicate": lambda df: df.llmbatch.classify(["a"], text="body", frobnicate=1),
}


@pytest.mark.parametrize("call", UNKNOWN.values(), ids=UNKNOWN)
def test_an_undocumented_keyword_is_refused_with_the_extra_body_hint(
    emu: Any, constructor: Frame, call: Any
) -> None:
    df = constructor(DATA)
    message = _refused(emu, llmbatch.ConfigError, "unknown parameter", lambda: call(df))
    assert "extra_body={" in message


@pytest.mark.parametrize(
    ("call", "owner"),
    [
        (lambda df: df.llmbatch.complete(text="body", relax=True), "classify()"),
        (lambda df: df.llmbatch.embed(text="body", temperature=0.5), "complete() and classify()"),
        (lambda df: df.llmbatch.complete(text="body", dimensions=8), "embed()"),
    ],
    ids=["complete relax", "embed temperature", "complete dimensions"],
)
def test_another_verbs_argument_is_refused_naming_its_verb(
    emu: Any, constructor: Frame, call: Any, owner: str
) -> None:
    df = constructor(DATA)
    message = _refused(emu, llmbatch.ConfigError, "unknown parameter", lambda: call(df))
    assert f"it is an argument of {owner}" in message


def test_a_near_miss_is_suggested(emu: Any, constructor: Frame) -> None:
    df = constructor(DATA)
    message = _refused(
        emu,
        llmbatch.ConfigError,
        "unknown parameter 'max_completion_token'",
        lambda: df.llmbatch.complete(text="body", max_completion_token=5),
    )
    assert "did you mean 'max_completion_tokens'?" in message


SET_BY_VERB = {
    "anthropic system": (
        lambda df: df.llmbatch.complete(text="body", provider="anthropic", system="x"),
        "system_prompt=",
    ),
    "responses instructions": (
        lambda df: df.llmbatch.complete(text="body", api="responses", instructions="x"),
        "system_prompt=",
    ),
    "chat messages": (
        lambda df: df.llmbatch.complete(text="body", messages=[]),
        "text= or prompt=",
    ),
    "classify response_format": (
        lambda df: df.llmbatch.classify(["a"], text="body", response_format={"type": "text"}),
        "from its schema",
    ),
    "classify anthropic tools": (
        lambda df: df.llmbatch.classify(["a"], text="body", provider="anthropic", tools=[]),
        "from its schema",
    ),
    "anthropic workspace_id": (
        lambda df: df.llmbatch.complete(text="body", provider="anthropic", workspace_id="w"),
        "anthropic-workspace-id header",
    ),
}


@pytest.mark.parametrize(("call", "match"), SET_BY_VERB.values(), ids=SET_BY_VERB)
def test_a_field_the_verb_sets_itself_is_refused(
    emu: Any, constructor: Frame, call: Any, match: str
) -> None:
    df = constructor(DATA)
    _refused(emu, llmbatch.ConfigError, match, lambda: call(df))


def test_documented_parameters_and_extra_body_reach_the_body(emu: Any, constructor: Frame) -> None:
    df = constructor(DATA)
    job = df.llmbatch.complete(
        text="body", seed=7, top_p=0.5, metadata={"k": "v"}, stream=False,
        extra_body={"frobnicate": 3}, submit=False,
    )  # fmt: skip
    body = _first_body(job)
    assert body["seed"] == 7 and body["top_p"] == 0.5 and body["metadata"] == {"k": "v"}
    assert body["frobnicate"] == 3 and body["stream"] is False
    anthropic = df.llmbatch.complete(
        text="body", provider="anthropic", top_k=5, stop_sequences=["x"], submit=False
    )
    params = _first_body(anthropic)
    assert params["top_k"] == 5 and params["stop_sequences"] == ["x"]


def test_extra_body_cannot_replace_the_text(emu: Any, constructor: Frame) -> None:
    df = constructor(DATA)
    _refused(
        emu,
        llmbatch.InputError,
        "must not replace the text slot",
        lambda: df.llmbatch.complete(text="body", extra_body={"messages": []}),
    )


def test_step_functions_check_keywords_like_the_verbs(tmp_path: Path) -> None:
    df = pd.DataFrame(DATA)
    with pytest.raises(llmbatch.ConfigError, match="unknown parameter 'frobnicate'"):
        steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", frobnicate=3)
    with pytest.raises(llmbatch.ConfigError, match="cannot be sent in a batch"):
        steps.anthropic_prepare(df, text="body", stream=True)
    out = steps.openai_prepare(df, tmp_path / "in.jsonl", text="body", extra_body={"x": 1})
    assert json.loads(out.read_text().splitlines()[0])["body"]["x"] == 1


# -- base_url ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1?token=SECRET",
        "http://127.0.0.1:9/v1#SECRET",
        "http://127.0.0.1:9/v1/?api-key=SECRET&x=1",
        "ftp://127.0.0.1:9/v1?token=SECRET",
    ],
)
@pytest.mark.parametrize("provider", [llmbatch.OpenAI, llmbatch.Anthropic])
def test_a_base_url_with_a_query_or_fragment_is_refused_without_echoing_it(
    url: str, provider: Any
) -> None:
    with pytest.raises(llmbatch.ConfigError, match="base_url") as info:
        provider(base_url=url, api_key="k")
    assert "SECRET" not in str(info.value)
    assert "\nHint: " in str(info.value)


def test_a_base_url_with_a_query_in_the_environment_is_refused(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", emu.openai_base_url + "?token=SECRET")
    df = pd.DataFrame(DATA)
    message = _refused(
        emu, llmbatch.ConfigError, "query string", lambda: df.llmbatch.complete(text="body")
    )
    assert "SECRET" not in message


# -- relax= makes the schema hint true -----------------------------------------------------------
SCORE = s.schema_object(label=s.schema_string(), score=s.schema_number("how sure", minimum=0))


@pytest.mark.parametrize(
    ("provider", "schema", "moved"),
    [
        ("anthropic", SCORE, "{minimum: 0}"),
        ("openai", s.schema_object(label={"type": "string", "maxLength": 5}), "{maxLength: 5}"),
    ],
)
def test_relax_does_what_the_schema_error_says(
    emu: Any, constructor: Frame, provider: str, schema: Any, moved: str
) -> None:
    df = constructor(DATA)
    message = _refused(
        emu,
        llmbatch.SchemaError,
        "relax=True",
        lambda: df.llmbatch.classify(schema, text="body", id="doc_id", provider=provider),
    )
    assert "pass relax=True" in message
    job = df.llmbatch.classify(schema, text="body", id="doc_id", provider=provider, relax=True)
    wire = json.dumps(_first_body(job))
    assert moved in wire
    out = job.wait(poll_interval=0, progress=False)
    assert not any(out[".error"]) and len(out) == 3
    reopened = llmbatch.load(job.path)
    assert reopened.spec.relax is True
    again = df.llmbatch.classify(schema, text="body", id="doc_id", provider=provider, relax=True)
    assert again.path == job.path  # the same work is the same job


def test_a_job_without_relax_keeps_its_identity(emu: Any) -> None:
    job = pd.DataFrame(DATA).llmbatch.classify(["a", "b"], text="body", submit=False)
    task = json.loads((job.path / "job.json").read_text())["task"]
    assert "relax" not in task and "extra_body" not in task


def _anthropic_answer(answer: dict[str, Any]) -> bytes:
    """One Anthropic results line that answers row "a" with `answer` as JSON text."""
    message = {
        "content": [{"type": "text", "text": json.dumps(answer)}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    line = {"custom_id": "a", "result": {"type": "succeeded", "message": message}}
    return json.dumps(line).encode()


def test_step_functions_take_relax_for_both_prepare_and_parse() -> None:
    df = pd.DataFrame(DATA)
    requests = steps.anthropic_prepare(df, kind="classify", schema=SCORE, text="body", relax=True)
    assert "{minimum: 0}" in json.dumps(requests[0]["params"])
    answer = {"label": "x", "score": 0.5}
    content = _anthropic_answer(answer)
    with pytest.raises(llmbatch.SchemaError, match="relax=True"):
        steps.anthropic_results(content, kind="classify", schema=SCORE)
    out = steps.anthropic_results(content, kind="classify", schema=SCORE, relax=True)
    assert out["score"].tolist() == [0.5] and not out[".error"].any()


# -- one answer per row; wait() arguments ---------------------------------------------------------
@pytest.mark.parametrize("where", ["param", "extra_body"])
def test_several_choices_per_row_are_refused(emu: Any, where: str) -> None:
    kw: dict[str, Any] = {"n": 3} if where == "param" else {"extra_body": {"n": 3}}
    frame = pd.DataFrame(DATA)
    message = _refused(
        emu,
        llmbatch.ConfigError,
        "n=3 asks for 3 answers per row",
        lambda: frame.llmbatch.complete(text="body", id="doc_id", provider="openai", **kw),
    )
    assert "n must be 1" in message


def test_n_of_one_is_sent(emu: Any) -> None:
    job = pd.DataFrame(DATA).llmbatch.complete(text="body", provider="openai", n=1, submit=False)
    assert _first_body(job)["n"] == 1


@pytest.mark.parametrize(
    ("kw", "shown"),
    [({"poll_interval": -1}, "poll_interval"), ({"poll_interval": float("nan")}, "poll_interval"),
     ({"timeout": -5}, "timeout"), ({"poll_interval": "1"}, "poll_interval")],
)  # fmt: skip
def test_wait_refuses_bad_seconds_before_polling(emu: Any, kw: dict[str, Any], shown: str) -> None:
    job = pd.DataFrame(DATA).llmbatch.complete(text="body", provider="openai", submit=False)
    with pytest.raises(llmbatch.InputError, match=f"{shown} must be a finite number") as info:
        job.wait(progress=False, **kw)
    assert "\nHint: " in str(info.value)
    assert emu.state()["total_calls"] == 0


@pytest.mark.parametrize(("score", "error"), [(0.5, False), (-1.0, True)])
def test_relaxed_constraints_are_still_checked_on_the_answers(score: float, error: bool) -> None:
    """The provider was not told of minimum=0 (relax=True), so the answers are checked for it."""
    answer = {"label": "x", "score": score}
    content = _anthropic_answer(answer)
    out = steps.anthropic_results(content, kind="classify", schema=SCORE, relax=True)
    assert out[".error"].tolist() == [error]
    if error:
        assert "does not match the schema" in out[".error_msg"][0]
        assert "minimum" in out[".error_msg"][0] or "less than" in out[".error_msg"][0]


@pytest.mark.parametrize(
    ("kw", "guess"),
    [
        ({"temprature": 0.2}, "'temperature'"),
        ({"sead": 1}, "'seed'"),
        ({"sufix": "_x"}, "'suffix'"),
    ],
)
def test_a_misspelt_argument_gets_a_did_you_mean(emu: Any, kw: dict[str, Any], guess: str) -> None:
    frame = pd.DataFrame(DATA)
    message = _refused(
        emu,
        llmbatch.ConfigError,
        "unknown parameter",
        lambda: frame.llmbatch.complete(text="body", provider="openai", **kw),
    )
    assert f"did you mean {guess}" in message
