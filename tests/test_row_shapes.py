"""Every row comes back exactly once, as an answer or as an error, whatever the provider sends.

A table of real-looking result lines (both providers, every shape: answers, refusals, content
filters, empty and truncated answers, invalid JSON, schema violations, unknown object and
result types, missing or mistyped fields) is read three ways: by the parsers and
`answer_table` (the path `collect()` takes), by the public `steps.*_parse` functions, and for
the shapes the emulator can produce, end to end through `collect()`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from llmbatch import steps
from llmbatch.providers.anthropic_batch import parse_result_line
from llmbatch.providers.anthropic_wire import reply as anthropic_reply
from llmbatch.providers.openai_batch import parse_output_line
from llmbatch.providers.openai_wire import reply as reply_from_openai
from llmbatch.results import Outcomes, answer_table, line_outcome, truncated_answers
from llmbatch.schema import columns, flatten_row
from llmbatch.tasks import TaskSpec
from llmbatch.typed_columns import column

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["yes", "no"]}, "n": {"type": "integer"}},
    "required": ["label", "n"],
    "additionalProperties": False,
}
GOOD = {"complete": "Hello there.", "classify": '{"label": "yes", "n": 3}'}
BIG_INT = '{"label": "yes", "n": 100000000000000000000000}'
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
Line = Callable[[str, str], dict[str, Any]]
SCALAR = [{"type": t} for t in ("integer", "number", "string", "boolean")]
MIXED = {
    "type": "array",
    "items": {"anyOf": [*SCALAR, {"type": "array", "items": {"anyOf": SCALAR}}]},
}


# -- OpenAI lines ----------------------------------------------------------------------------
def _ok(cid: str, body: Any, status: int = 200) -> dict[str, Any]:
    response = {"status_code": status, "request_id": "req_1", "body": body}
    return {"id": "batch_req_1", "custom_id": cid, "response": response, "error": None}


def _chat(content: Any, finish: str = "stop", **message: Any) -> dict[str, Any]:
    msg = {"role": "assistant", "content": content, "refusal": None, "annotations": [], **message}
    choice = {"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [choice], "usage": USAGE}  # fmt: skip


def _response(parts: list[dict[str, Any]], status: str = "completed", reason: str | None = None):  # type: ignore[no-untyped-def]
    output = [{"type": "message", "id": "msg_1", "status": status, "role": "assistant",
               "content": parts}] if parts else []  # fmt: skip
    details = {"reason": reason} if reason else None
    return {"id": "resp_1", "object": "response", "status": status, "output": output,
            "incomplete_details": details,
            "usage": {"input_tokens": 9, "output_tokens": 4}}  # fmt: skip


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _completion(text: str, finish: str = "stop") -> dict[str, Any]:
    choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
    return {"id": "cmpl-1", "object": "text_completion", "created": 1,
            "model": "gpt-3.5-turbo-instruct", "choices": [choice], "usage": USAGE}  # fmt: skip


def _error_line(cid: str, code: str, message: str) -> dict[str, Any]:
    return {"id": "batch_req_2", "custom_id": cid, "response": None,
            "error": {"code": code, "message": message}}  # fmt: skip


def _tool_call(arguments: str) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "classification", "arguments": arguments}}  # fmt: skip
    return _chat(None, "tool_calls", tool_calls=[call])


HTTP_400 = {"error": {"message": "Unrecognized request argument supplied: frobnicate",
                      "type": "invalid_request_error", "param": None, "code": None}}  # fmt: skip

# name -> line(custom_id, good answer text); expectations per verb in EXPECT below
OPENAI: dict[str, Line] = {
    "chat ok": lambda c, g: _ok(c, _chat(g)),
    "chat tool call": lambda c, g: _ok(c, _tool_call(g)),
    "chat refusal": lambda c, g: _ok(c, _chat(None, refusal="I'm sorry, I can't help.")),
    "chat content filter": lambda c, g: _ok(c, _chat(None, "content_filter")),
    "chat content filter with text": lambda c, g: _ok(c, _chat(g[:5], "content_filter")),
    "chat empty": lambda c, g: _ok(c, _chat(None)),
    "chat empty string": lambda c, g: _ok(c, _chat("")),
    "chat truncated": lambda c, g: _ok(c, _chat(g[:8], "length")),
    "chat truncated before any text": lambda c, g: _ok(c, _chat("", "length")),
    "chat invalid json": lambda c, g: _ok(c, _chat('{"label": "y')),
    "chat schema violation": lambda c, g: _ok(c, _chat('{"label": "maybe", "n": 3}')),
    "chat int beyond int64": lambda c, g: _ok(c, _chat(BIG_INT)),
    "chat content not a string": lambda c, g: _ok(c, _chat(["Hello"])),
    "chat no choices": lambda c, g: _ok(c, {**_chat(g), "choices": []}),
    "chat message not an object": lambda c, g: _ok(c, {**_chat(g), "choices": [{"message": 5}]}),
    "responses ok": lambda c, g: _ok(c, _response([_text_part(g)])),
    "responses refusal": lambda c, g: _ok(c, _response([{"type": "refusal", "refusal": "No."}])),
    "responses truncated": lambda c, g: _ok(
        c, _response([_text_part(g[:8])], "incomplete", "max_output_tokens")
    ),
    "responses content filter": lambda c, g: _ok(c, _response([], "incomplete", "content_filter")),
    "responses empty": lambda c, g: _ok(c, _response([])),
    "completion ok": lambda c, g: _ok(c, _completion(g)),
    "completion truncated": lambda c, g: _ok(c, _completion(g[:8], "length")),
    "completion content filter": lambda c, g: _ok(c, _completion("", "content_filter")),
    "unknown object type": lambda c, g: _ok(c, {"object": "chat.completion.chunk", "id": "x"}),
    "empty body": lambda c, g: _ok(c, {}),
    "body not an object": lambda c, g: _ok(c, "oops"),
    "response not an object": lambda c, g: {"custom_id": c, "response": "oops", "error": None},
    "status code not a number": lambda c, g: _ok(c, _chat(g), status="200"),  # type: ignore[arg-type]
    "http 400": lambda c, g: _ok(c, HTTP_400, 400),
    "http 500 without body": lambda c, g: _ok(c, None, 500),
    "expired": lambda c, g: _error_line(c, "batch_expired", "This request could not be executed"),
    "cancelled": lambda c, g: _error_line(c, "batch_cancelled", "The batch was cancelled."),
    "request timeout": lambda c, g: _error_line(c, "request_timeout", "The call timed out."),
    "error not an object": lambda c, g: {"custom_id": c, "response": None, "error": "boom"},
    "error code not a string": lambda c, g: {"custom_id": c, "error": {"code": [1]}},
    "only a custom_id": lambda c, g: {"custom_id": c},
}


# -- Anthropic lines -------------------------------------------------------------------------
def _message(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    usage = {"input_tokens": 11, "output_tokens": 6, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}  # fmt: skip
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": usage}  # fmt: skip


def _result(cid: str, result: Any) -> dict[str, Any]:
    return {"custom_id": cid, "result": result}


def _succeeded(message: Any) -> dict[str, Any]:
    return {"type": "succeeded", "message": message}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _tool_use(good: str) -> dict[str, Any]:
    value = json.loads(good) if good.startswith("{") else {"answer": good}
    return {"type": "tool_use", "id": "toolu_1", "name": "classification", "input": value}


ERRORED = {"type": "errored", "error": {"type": "error", "request_id": None, "error": {
    "type": "invalid_request_error", "message": "max_tokens: 100000 > 64000",
    "details": {"error_visibility": "user_facing"}}}}  # fmt: skip

ANTHROPIC: dict[str, Line] = {
    "ok": lambda c, g: _result(c, _succeeded(_message([_text(g)]))),
    "tool use": lambda c, g: _result(c, _succeeded(_message([_tool_use(g)], "tool_use"))),
    "refusal": lambda c, g: _result(c, _succeeded(_message([_text("I can't.")], "refusal"))),
    "empty content": lambda c, g: _result(c, _succeeded(_message([]))),
    "only thinking": lambda c, g: _result(
        c, _succeeded(_message([{"type": "thinking", "thinking": "hm", "signature": "s"}]))
    ),
    "truncated": lambda c, g: _result(c, _succeeded(_message([_text(g[:8])], "max_tokens"))),
    "truncated before any text": lambda c, g: _result(c, _succeeded(_message([], "max_tokens"))),
    "context window exceeded": lambda c, g: _result(
        c, _succeeded(_message([_text(g[:8])], "model_context_window_exceeded"))
    ),
    "invalid json": lambda c, g: _result(c, _succeeded(_message([_text('{"label": "y')]))),
    "schema violation": lambda c, g: _result(
        c, _succeeded(_message([_text('{"label": "maybe", "n": 3}')]))
    ),
    "int beyond int64": lambda c, g: _result(c, _succeeded(_message([_text(BIG_INT)]))),
    "tool int beyond int64": lambda c, g: _result(
        c, _succeeded(_message([_tool_use(BIG_INT.replace("1000", "1" * 4))], "tool_use"))
    ),
    "message missing": lambda c, g: _result(c, {"type": "succeeded"}),
    "message not an object": lambda c, g: _result(c, _succeeded("oops")),
    "content block not an object": lambda c, g: _result(c, _succeeded(_message(["oops"]))),  # type: ignore[list-item]
    "errored": lambda c, g: _result(c, ERRORED),
    "errored flat": lambda c, g: _result(
        c, {"type": "errored", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    ),
    "error not an object": lambda c, g: _result(c, {"type": "errored", "error": "boom"}),
    "canceled": lambda c, g: _result(c, {"type": "canceled"}),
    "expired": lambda c, g: _result(c, {"type": "expired"}),
    "unknown result type": lambda c, g: _result(c, {"type": "paused"}),
    "result type not a string": lambda c, g: _result(c, {"type": ["succeeded"]}),
    "result not an object": lambda c, g: _result(c, ["succeeded"]),
    "only a custom_id": lambda c, g: {"custom_id": c},
}

# Shapes whose row is an answer, per verb (every other shape must be an error row). For some,
# the error message must say why.
ANSWERS = {
    "complete": {
        "chat ok", "chat tool call", "chat truncated", "chat invalid json",
        "chat schema violation", "chat int beyond int64", "responses ok", "responses truncated",
        "completion ok", "completion truncated",
        "ok", "tool use", "truncated", "context window exceeded", "invalid json",
        "schema violation", "int beyond int64", "tool int beyond int64",
    },
    "classify": {
        "chat ok", "chat tool call", "responses ok", "completion ok",
        "ok", "tool use",
    },
}  # fmt: skip
WHY = {
    "chat refusal": "refused",
    "chat content filter": "content filtered",
    "chat content filter with text": "content filtered",
    "responses content filter": "content filtered",
    "completion content filter": "content filtered",
    "chat empty": "empty answer",
    "chat empty string": "empty answer",
    "responses empty": "empty answer",
    "empty content": "empty answer",
    "only thinking": "empty answer",
    "message missing": "empty answer",
    "chat truncated before any text": "truncated before any text",
    "truncated before any text": "truncated before any text",
    "unknown object type": "unreadable answer",
    "chat int beyond int64": "does not fit",
    "int beyond int64": "does not fit",
    "tool int beyond int64": "does not fit",
    "http 400": "Unrecognized request argument",
    "errored": "max_tokens: 100000 > 64000",
    "expired": "expired",
    "canceled": "canceled",
    "cancelled": "batch_cancelled",
}
TRUNCATED = {
    "chat truncated", "responses truncated", "completion truncated", "truncated",
    "context window exceeded",
}  # fmt: skip


def _spec(provider: str, verb: str) -> TaskSpec:
    model = "gpt-4.1-mini" if provider == "openai" else "claude-haiku-4-5"
    return TaskSpec(verb, provider, model, "/v1/chat/completions",  # type: ignore[arg-type]
                    schema=SCHEMA if verb == "classify" else None)  # fmt: skip


def _shapes(provider: str) -> dict[str, Line]:
    return OPENAI if provider == "openai" else ANTHROPIC


def _lines(provider: str, verb: str) -> list[dict[str, Any]]:
    """One line per shape, in table order, custom_id `r<i>`; the good answer comes first."""
    return [line(f"r{i}", GOOD[verb]) for i, line in enumerate(_shapes(provider).values())]


def _table(provider: str, verb: str) -> tuple[Outcomes, dict[str, list[Any]]]:
    """The path `collect()` takes: parse, one outcome per row, answer_table."""
    lines = _lines(provider, verb)
    outcomes = Outcomes(len(lines))
    outcomes.expect(range(len(lines)))
    for i, line in enumerate(lines):
        if provider == "openai":
            custom_id, kind, payload, error = parse_output_line(line)
            reply = lambda body: reply_from_openai("/v1/chat/completions", body)  # noqa: E731
        else:
            custom_id, kind, payload, error = parse_result_line(line)
            reply = lambda body: anthropic_reply("/v1/messages", body)  # noqa: E731
        assert custom_id == f"r{i}"
        outcomes.record(i, line_outcome(reply, kind, payload, error))
    return outcomes, answer_table(_spec(provider, verb), outcomes, {}).to_pydict()


def _answer_of(verb: str, cols: dict[str, list[Any]], i: int) -> Any:
    return cols["content"][i] if verb == "complete" else cols["label"][i]


CASES = [(p, v) for p in ("openai", "anthropic") for v in ("complete", "classify")]


@pytest.mark.parametrize(("provider", "verb"), CASES)
def test_every_shape_is_an_answer_or_an_error(provider: str, verb: str) -> None:
    outcomes, cols = _table(provider, verb)
    names = list(_shapes(provider))
    assert len(cols[".error"]) == len(names)  # every row once
    for i, name in enumerate(names):
        answer, error, message = _answer_of(verb, cols, i), cols[".error"][i], cols[".error_msg"][i]
        assert (answer is not None) != error, (name, answer, message)
        assert (message is not None) == error, name
        assert (not error) == (name in ANSWERS[verb]), (name, message)
        if error and name in WHY:
            assert WHY[name] in message, (name, message)
        if verb == "classify" and not error:
            assert (cols["label"][i], cols["n"][i]) == ("yes", 3), name
        if error:
            assert outcomes.slots[i] is not None and outcomes.slots[i].kind is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_truncated_complete_keeps_its_text_and_says_so(provider: str) -> None:
    outcomes, cols = _table(provider, "complete")
    names = list(_shapes(provider))
    for i, name in enumerate(names):
        if name in TRUNCATED:
            assert cols["content"][i] == GOOD["complete"][:8] and not cols[".error"][i]
            assert cols[".stop_reason"][i] in {
                "length",
                "max_output_tokens",
                "max_tokens",
                "model_context_window_exceeded",
            }
    assert truncated_answers(outcomes) == len(TRUNCATED & set(names))
    classify, _ = _table(provider, "classify")
    assert truncated_answers(classify) == 0  # cut JSON is an error row, not a kept answer


def test_a_value_beyond_int64_is_that_rows_error_only() -> None:
    """10**23 (read by orjson as 1e23) in an int column: that row fails, the column stays int."""
    outcomes, cols = _table("openai", "classify")
    names = list(OPENAI)
    big = names.index("chat int beyond int64")
    assert cols[".error"][big] and cols["label"][big] is None and cols["n"][big] is None
    assert outcomes.slots[big].kind == "invalid_output"  # type: ignore[union-attr]
    assert cols["n"][names.index("chat ok")] == 3


def test_legacy_completions_are_read_by_endpoint_and_by_object() -> None:
    body = _completion("Once upon a time", "length")
    for endpoint in ("/v1/completions", "/v1/chat/completions", "/v1/responses"):
        reply = reply_from_openai(endpoint, body)
        assert (reply.text, reply.stop_reason, reply.truncated) == (
            "Once upon a time",
            "length",
            True,
        )
        assert (reply.input_tokens, reply.output_tokens) == (12, 5)
    del body["object"]
    assert reply_from_openai("/v1/completions", body).text == "Once upon a time"


@pytest.mark.parametrize(("provider", "verb"), CASES)
def test_steps_parse_every_shape_once(provider: str, verb: str) -> None:
    lines = _lines(provider, verb)
    content = "".join(json.dumps(line) + "\n" for line in lines)
    kw: dict[str, Any] = {"kind": verb, "schema": SCHEMA if verb == "classify" else None}
    if provider == "openai":
        out = steps.openai_parse(content, **kw)
    else:
        out = steps.anthropic_results(content, **kw)
    assert list(out["custom_id"]) == [f"r{i}" for i in range(len(lines))]
    answers = out["content"] if verb == "complete" else out["label"]
    assert (answers.notna() != out[".error"]).all()
    assert (out[".error"] == out[".error_msg"].notna()).all()
    good = [name in ANSWERS[verb] for name in _shapes(provider)]
    assert list(~out[".error"]) == good


OPENAI_EMBED: dict[str, Any] = {
    "ok": {"object": "list", "data": [{"object": "embedding", "index": 0,
                                      "embedding": [0.6, 0.8]}], "usage": USAGE},
    "base64": {"object": "list", "data": [{"object": "embedding", "index": 0,
                                          "embedding": "AACAPwAAAEA="}]},
    "no vectors": {"object": "list", "data": []},
    "two vectors": {"object": "list", "data": [{"index": 0, "embedding": [1.0]},
                                               {"index": 1, "embedding": [2.0]}]},
    "empty vector": {"object": "list", "data": [{"index": 0, "embedding": []}]},
    "not numbers": {"object": "list", "data": [{"index": 0, "embedding": ["a", "b"]}]},
    "beyond float": {"object": "list", "data": [{"index": 0, "embedding": [10**400]}]},
    "no index": {"object": "list", "data": [{"embedding": [1.0, 2.0]}]},
    "a chat answer": _chat("Hello."),
}  # fmt: skip


@pytest.mark.parametrize("wide", [False, True])
def test_embedding_shapes_are_answers_or_errors(wide: bool) -> None:
    names = list(OPENAI_EMBED)
    outcomes = Outcomes(len(names))
    for i, name in enumerate(names):
        _, kind, payload, error = parse_output_line(_ok(f"r{i}", OPENAI_EMBED[name]))
        reply = lambda body: reply_from_openai("/v1/embeddings", body)  # noqa: E731
        outcomes.record(i, line_outcome(reply, kind, payload, error))
    spec = TaskSpec("embed", "openai", "text-embedding-3-small", "/v1/embeddings")
    cols = answer_table(spec, outcomes, {"wide": wide}).to_pydict()
    ok = [not e for e in cols[".error"]]
    assert ok == [name in ("ok", "base64") for name in names], cols[".error_msg"]
    if wide:  # the base64 vector [1.0, 2.0] has the width of the first one
        assert (cols["V1"][:2], cols["V2"][:2]) == ([0.6, 1.0], [0.8, 2.0])
    else:
        assert cols["embedding"][1] == [1.0, 2.0]
        assert all(cols["embedding"][i] is None for i in range(2, len(names)))


def test_wide_embeddings_of_another_width_are_row_errors() -> None:
    outcomes = Outcomes(3)
    for i, vector in enumerate([[1.0, 2.0], [1.0, 2.0, 3.0], [3.0, 4.0]]):
        body = {"object": "list", "data": [{"index": 0, "embedding": vector}]}
        outcomes.record(
            i, line_outcome(lambda b: reply_from_openai("", b), "succeeded", body, None)
        )
    spec = TaskSpec("embed", "openai", "text-embedding-3-small", "/v1/embeddings")
    cols = answer_table(spec, outcomes, {"wide": True}).to_pydict()
    assert cols[".error"] == [False, True, False] and "3 values" in cols[".error_msg"][1]
    assert cols["V2"] == [2.0, None, 4.0]


# -- typed columns: one row's value never fails the job ------------------------------------
def _classify_table(schema: dict[str, Any], answers: list[Any]) -> dict[str, list[Any]]:
    outcomes = Outcomes(len(answers))
    for i, answer in enumerate(answers):
        body = _chat(json.dumps(answer))
        outcomes.record(
            i, line_outcome(lambda b: reply_from_openai("", b), "succeeded", body, None)
        )
    spec = TaskSpec("classify", "openai", "gpt-4.1-mini", "/v1/chat/completions", schema=schema)
    return answer_table(spec, outcomes, {}).to_pydict()


def _object(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}  # fmt: skip


@pytest.mark.parametrize(
    ("prop", "values", "bad"),
    [
        ({"type": "integer"}, [1, 2**63, 3], 1),
        ({"type": "integer"}, [1, 18446744073709551615, 3], 1),
        ({"type": "array", "items": {"type": "integer"}}, [[1], [2**63], [3]], 1),
        (MIXED, [[1], [2], ["a"]], 2),  # Arrow cannot unify
        (MIXED, [["a"], [1], ["b"]], 1),
        (MIXED, [[[1]], [["a"]], [[2]]], 1),
        (MIXED, [[1, 2], [[1]], []], 1),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_that_rows_error(
    prop: dict[str, Any], values: list[Any], bad: int
) -> None:
    answers = [{"x": v, "k": f"row{i}"} for i, v in enumerate(values)]
    cols = _classify_table(_object(x=prop, k={"type": "string"}), answers)
    assert cols[".error"] == [i == bad for i in range(3)], cols[".error_msg"]
    assert "does not fit the column" in cols[".error_msg"][bad]
    assert cols["x"][bad] is None and cols["k"][bad] is None  # an error row holds no answer
    assert [cols["k"][i] for i in range(3) if i != bad] == [f"row{i}" for i in range(3) if i != bad]


def test_values_are_never_converted_silently() -> None:
    """The validator is the first guard; the column builder refuses what would change value."""
    assert column("n", [1, 2.5, 3], pa.int64())[1].keys() == {1}  # not truncated to 2
    assert column("n", [1, True, 3], pa.int64())[1].keys() == {1}  # not read as 1
    assert column("b", [True, 1], pa.bool_())[1].keys() == {1}
    assert column("s", ["1.5", 2.5], pa.float64())[1].keys() == {0}  # a float as a string
    assert column("f", [1, 2.5], pa.float64())[0].to_pylist() == [1.0, 2.5]  # ints widen
    assert column("s", ["a", 1], pa.string())[1].keys() == {1}
    assert column("x", [None, None], pa.int64())[0].type == pa.int64()


def test_a_string_or_integer_property_is_a_column_of_plain_strings() -> None:
    schema = _object(either={"anyOf": [{"type": "string"}, {"type": "integer"}]},
                     kind={"type": ["string", "number", "boolean"]},
                     choice={"enum": ["a", 1, True]})  # fmt: skip
    cols = columns(schema)
    assert [c.dtype for c in cols] == ["string", "string", "string"]
    assert flatten_row({"either": "y", "kind": 1.5, "choice": True}, cols) == {
        "either": "y", "kind": "1.5", "choice": "true"}  # fmt: skip
    assert flatten_row({"either": 67, "kind": "z", "choice": 1}, cols) == {
        "either": "67", "kind": "z", "choice": "1"}  # fmt: skip
    table = _classify_table(schema, [{"either": "y", "kind": True, "choice": "a"},
                                     {"either": 67, "kind": "w", "choice": 1}])  # fmt: skip
    assert table["either"] == ["y", "67"] and table["kind"] == ["true", "w"]


# -- end to end, through the emulator and collect() ------------------------------------------
MARKED = ["A fine day.", "[[refuse]] tell me", "[[bad_json]] here", "[[bad_schema]] there"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("verb", ["complete", "classify"])
def test_collect_returns_every_row_once_as_an_answer_or_an_error(
    emu: Any, provider: str, verb: str
) -> None:
    emu.configure(request_error_rate=0.2)
    texts = [f"{MARKED[i % 4]} {i}" for i in range(24)]
    df = pd.DataFrame({"doc": [f"d{i}" for i in range(24)], "body": texts})
    if verb == "complete":
        job = df.llmbatch.complete(text="body", id="doc", provider=provider)
    else:
        job = df.llmbatch.classify(SCHEMA, text="body", id="doc", provider=provider)
    out = job.wait(poll_interval=0, progress=False)
    assert list(out["doc"]) == list(df["doc"])
    answers = out["content"] if verb == "complete" else out["label"]
    assert (answers.notna() != out[".error"]).all()
    assert (out[".error"] == out[".error_msg"].notna()).all()
    refused = out["body"].str.contains("refuse")
    assert out.loc[refused, ".error"].all()
    assert (
        out.loc[refused, ".error_msg"].str.contains("refused|HTTP 500|api_error", regex=True).all()
    )
    if verb == "classify":
        broken = out["body"].str.contains("bad_")
        assert out.loc[broken, ".error"].all()
    kinds = {o.kind for o in job.outcomes().slots if o is not None}  # type: ignore[union-attr]
    assert kinds <= {None, "errored", "invalid_output"}


@pytest.mark.parametrize(
    ("provider", "api", "stop"),
    [("openai", "chat", "length"), ("openai", "responses", "max_output_tokens"),
     ("anthropic", "chat", "max_tokens")],
)  # fmt: skip
def test_truncated_complete_answers_are_kept_with_one_warning(
    emu: Any, caplog: pytest.LogCaptureFixture, provider: str, api: str, stop: str
) -> None:
    words = " ".join(["extraordinarily"] * 12)  # the emulator echoes 12 words: past 16 tokens
    df = pd.DataFrame({"body": [f"{words} {i}" for i in range(5)]})
    job = df.llmbatch.complete(text="body", provider=provider, api=api, max_tokens=16)
    with caplog.at_level(logging.WARNING, logger="llmbatch"):
        out = job.wait(poll_interval=0, progress=False)
    assert not out[".error"].any() and out["content"].str.len().gt(0).all()
    assert (out[".stop_reason"] == stop).all()
    warnings = [r for r in caplog.records if "cut at the output limit" in r.getMessage()]
    assert len(warnings) == 1 and "5 answer(s)" in warnings[0].getMessage()
    wordy = _object(**{f"a_long_property_name_{i}": {"type": "string"} for i in range(6)})
    classify = df.llmbatch.classify(wordy, text="body", provider=provider, api=api, max_tokens=16)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="llmbatch"):
        cut = classify.wait(poll_interval=0, progress=False)
    assert cut[".error"].all() and cut[".error_msg"].str.contains("truncated").all()
    assert not [r for r in caplog.records if "cut at the output limit" in r.getMessage()]


def test_anyof_string_integer_column_end_to_end(emu: Any) -> None:
    schema = _object(either={"anyOf": [{"type": "string"}, {"type": "integer"}]})
    df = pd.DataFrame({"body": [f"row {i}" for i in range(12)]})
    out = df.llmbatch.classify(schema, text="body").wait(poll_interval=0, progress=False)
    assert not out[".error"].any()
    values = list(out["either"])
    assert all(isinstance(v, str) and not v.startswith('"') for v in values), values


def test_a_number_beyond_a_double_in_a_line_breaks_that_row_only() -> None:
    """orjson refuses `1e400`; the line is read again by the standard library, so the other
    rows of the file keep their answers and the one row is an answer or an error, once."""
    ok = {"label": "yes", "n": 1}
    huge = '{"label": "no", "n": 1e400}'
    lines = [
        json.dumps(
            {
                "custom_id": cid,
                "result": {
                    "type": "succeeded",
                    "message": {
                        "content": [{"type": "tool_use", "name": "answer", "input": "@"}],
                        "stop_reason": "tool_use",
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                },
            }
        ).replace('"@"', payload)
        for cid, payload in (("r0", json.dumps(ok)), ("r1", huge))
    ]
    out = steps.anthropic_results("\n".join(lines), kind="classify", schema=SCHEMA)
    assert out["custom_id"].tolist() == ["r0", "r1"]
    assert not out[".error"].iloc[0] and out["n"].iloc[0] == 1
    row = out.iloc[1]
    assert bool(row[".error"]) != (row["n"] is not None and not pd.isna(row["n"]))


def test_an_integer_beyond_int64_from_the_emulator_is_a_row_error(emu: Any) -> None:
    """The schema asks for n >= 1e23: the emulator answers it (no 500), each row's value does
    not fit an int64 column, and every row comes back once as an error, the job intact."""
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1e23}},
        "required": ["n"],
    }
    frame = pd.DataFrame({"doc_id": ["a", "b"], "body": ["one", "two"]})
    job = frame.llmbatch.classify(schema, text="body", id="doc_id", provider="openai")
    out = job.wait(poll_interval=0, progress=False)
    assert out["doc_id"].tolist() == ["a", "b"]
    assert out[".error"].all()
    assert all("does not fit" in m for m in out[".error_msg"])
