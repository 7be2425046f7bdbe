"""The columnar read of a results file gives every row the outcome the line-by-line read gives.

`reading.read_file` reads a file at once (`result_columns`) when it fits, and line by line
otherwise. A corpus of odd lines (every shape of `test_row_shapes`, and lines only a whole-file
read could get wrong: a row named twice, blank lines, two records on a line, unread fields
holding numbers orjson refuses, odd custom_ids) is read both ways, file by file: the answer
tables, the outcomes, the truncated count and the errors raised must be the same.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from llmbatch._json import loads
from llmbatch.outcomes import ERROR_KINDS, Outcomes
from llmbatch.providers.anthropic_batch import AnthropicBackend
from llmbatch.providers.backend import Backend
from llmbatch.providers.openai_batch import OpenAIBackend
from llmbatch.reading import line_recorder, read_file
from llmbatch.result_columns import line_count, line_ends, newlines, parse_file
from llmbatch.results import answer_table, truncated_answers
from llmbatch.tasks import TaskSpec
from test_row_shapes import ANTHROPIC, GOOD, OPENAI, SCHEMA

TAG = "t0"
N = 12  # rows of every job here; row numbers 0..N-1
_MB = 1 << 20  # result_columns scans for newlines a megabyte at a time
ENDPOINT = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
VERBS = ("complete", "classify")


def _backend(provider: str) -> Backend:
    cls = OpenAIBackend if provider == "openai" else AnthropicBackend
    return cls(None, tag=TAG, endpoint=ENDPOINT[provider], limits=cls.LIMITS)


def _spec(provider: str, verb: str) -> TaskSpec:
    model = "gpt-4.1-mini" if provider == "openai" else "claude-haiku-4-5"
    schema = SCHEMA if verb == "classify" else None
    return TaskSpec(verb, provider, model, ENDPOINT[provider], schema=schema)  # type: ignore[arg-type]


def _dump(line: Any) -> bytes:
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode()


def _ok(provider: str, verb: str, row: int, text: str | None = None) -> bytes:
    """A plain success for `row`."""
    shapes = OPENAI if provider == "openai" else ANTHROPIC
    name = "chat ok" if provider == "openai" else "ok"
    return _dump(shapes[name](f"{TAG}-{row}", text or GOOD[verb]))


def _read(provider: str, verb: str, files: list[bytes], columnar: bool) -> tuple[Any, ...]:
    """Everything collect() derives from the files, or the error it raises."""
    backend = _backend(provider)
    endpoint = ENDPOINT[provider]
    out = Outcomes(N)
    out.expect(range(N))
    record = line_recorder(TAG, backend, endpoint)
    try:
        for buf in files:
            read_file(out, buf, record, TAG, endpoint, backend.wire.columnar if columnar else None)
        plain = len(out.plain()[0])
        table = answer_table(_spec(provider, verb), out, {}).to_pydict()
    except orjson.JSONDecodeError as exc:
        return ("raised", type(exc))
    cut = truncated_answers(out)
    failed = out.failed_rows(ERROR_KINDS)
    slots = [(o.kind, o.message, o.reply) if o is not None else None for o in out.slots]
    return (table, cut, failed, slots, plain)


def _same(provider: str, verb: str, files: list[bytes]) -> int:
    """Both reads agree; returns how many rows the columnar read took as columns."""
    fast, slow = _read(provider, verb, files, True), _read(provider, verb, files, False)
    assert fast[:-1] == slow[:-1]
    return int(fast[-1]) if fast[0] != "raised" else 0


def _file(*lines: bytes, end: bytes = b"\n") -> bytes:
    return end.join(lines) + end


def _plain_file(provider: str, verb: str, odd: bytes, row: int = 5) -> bytes:
    """Plain successes for rows 0..N-1 but `row`, whose line is `odd` (in the middle)."""
    lines = [_ok(provider, verb, r) for r in range(N) if r != row]
    return _file(*lines[:row], odd, *lines[row:])


def _shape_cases() -> list[tuple[str, str, str]]:
    names = [("openai", name) for name in OPENAI] + [("anthropic", name) for name in ANTHROPIC]
    return [(p, name, verb) for p, name in names for verb in VERBS]


@pytest.mark.parametrize(("provider", "shape", "verb"), _shape_cases())
def test_every_shape_reads_the_same_both_ways(provider: str, shape: str, verb: str) -> None:
    shapes: dict[str, Callable[[str, str], dict[str, Any]]] = (
        OPENAI if provider == "openai" else ANTHROPIC
    )
    odd = _dump(shapes[shape](f"{TAG}-5", GOOD[verb]))
    _same(provider, verb, [_plain_file(provider, verb, odd)])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("verb", VERBS)
def test_every_shape_the_columnar_read_takes_in_one_file(provider: str, verb: str) -> None:
    """The shapes that parse as columns, all in one file with plain lines: the columnar read
    takes that file, and gives what the line-by-line read gives."""
    shapes = OPENAI if provider == "openai" else ANTHROPIC
    columnar = _backend(provider).wire.columnar
    lines = []
    for make in shapes.values():
        line = _dump(make(f"{TAG}-{len(lines)}", GOOD[verb]))
        if parse_file(line + b"\n", 1, columnar) is not None and len(lines) < N:
            lines.append(line)
    assert len(lines) >= 8  # the corpus has plenty of shapes that parse
    taken = _same(provider, verb, [_file(*lines)])
    assert 0 < taken < len(lines)  # plain ones as columns, the others line by line


def _odd_openai(verb: str) -> dict[str, bytes]:
    """Lines (for row 5) only a whole-file read could get wrong, raw where JSON cannot say it."""
    good = GOOD[verb]
    base = OPENAI["chat ok"](f"{TAG}-5", good)
    body = base["response"]["body"]
    choice = body["choices"][0]

    def with_body(**changes: Any) -> bytes:
        return _dump({**base, "response": {**base["response"], "body": {**body, **changes}}})

    def with_message(**changes: Any) -> bytes:
        message = {**choice["message"], **changes}
        return with_body(choices=[{**choice, "message": message}])

    text = json.dumps(good)
    return {
        "no object": _dump(
            {
                **base,
                "response": {
                    **base["response"],
                    "body": {k: v for k, v in body.items() if k != "object"},
                },
            }
        ),
        "object response": with_body(object="response"),
        "object unknown": with_body(object="thing"),
        "empty tool calls": with_message(tool_calls=[]),
        "null tool calls": with_message(tool_calls=None),
        "empty message": with_body(choices=[{**choice, "message": {}}]),
        "no message": with_body(choices=[{"finish_reason": "stop"}]),
        "null choice": with_body(choices=[None]),
        "two choices": with_body(choices=[choice, choice]),
        "empty usage": with_body(usage={}),
        "null usage": with_body(usage=None),
        "cached tokens": with_body(
            usage={"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}
        ),
        "null details": with_body(usage={"prompt_tokens": 3, "prompt_tokens_details": None}),
        "float tokens": with_body(usage={"prompt_tokens": 12.0, "completion_tokens": 5}),
        "string tokens": with_body(usage={"prompt_tokens": "12"}),
        "status 201": _dump({**base, "response": {**base["response"], "status_code": 201}}),
        "status 200.0": _dump({**base, "response": {**base["response"], "status_code": 200.0}}),
        "empty error": _dump({**base, "error": {}}),
        "no error key": _dump({k: v for k, v in base.items() if k != "error"}),
        "refusal empty string": with_message(refusal=""),
        "finish null": with_body(choices=[{**choice, "finish_reason": None}]),
        "nan in an unread field": _dump(base)[:-1] + b',"extra":NaN}',
        "1e400 in an unread field": _dump(base)[:-1] + b',"extra":1e400}',
        "big int in an unread field": _dump(base)[:-1] + b',"extra":123456789012345678901234}',
        "custom_id twice in a line": b'{"custom_id":"t0-7",' + _dump(base)[1:],
        "lone surrogate": _dump(base).replace(text.encode()[1:-1], b"\\ud800 hi"),
        "escaped emoji": _dump(base).replace(text.encode()[1:-1], b"\\ud83d\\ude00"),
        "invalid utf-8 in an unread field": _dump(base)[:-1] + b',"extra":"\xff"}',
    }


def _odd_anthropic(verb: str) -> dict[str, bytes]:
    good = GOOD[verb]
    base = ANTHROPIC["ok"](f"{TAG}-5", good)
    message = base["result"]["message"]

    def with_message(**changes: Any) -> bytes:
        return _dump({**base, "result": {**base["result"], "message": {**message, **changes}}})

    def text(value: Any) -> dict[str, Any]:
        return {"type": "text", "text": value}

    return {
        "two text blocks": with_message(content=[text(good[:4]), text(good[4:])]),
        "thinking then text": with_message(content=[{"type": "thinking"}, text(good)]),
        "null text": with_message(content=[text(None)]),
        "no text": with_message(content=[{"type": "text"}]),
        "null block": with_message(content=[None]),
        "null content": with_message(content=None),
        "empty message": _dump({**base, "result": {"type": "succeeded", "message": {}}}),
        "refusal with text": with_message(stop_reason="refusal"),
        "context window": with_message(stop_reason="model_context_window_exceeded"),
        "null usage": with_message(usage=None),
        "cache tokens": with_message(
            usage={"cache_read_input_tokens": 4, "cache_creation_input_tokens": 9}
        ),
        "float tokens": with_message(usage={"input_tokens": 1.5}),
        "nan in an unread field": _dump(base)[:-1] + b',"extra":NaN}',
        "1e400 in an unread field": _dump(base)[:-1] + b',"extra":1e400}',
    }


def _odd_cases() -> list[tuple[str, str, str]]:
    cases = [("openai", name, v) for name in _odd_openai("complete") for v in VERBS]
    return cases + [("anthropic", name, v) for name in _odd_anthropic("complete") for v in VERBS]


@pytest.mark.parametrize(("provider", "case", "verb"), _odd_cases())
def test_odd_lines_read_the_same_both_ways(provider: str, case: str, verb: str) -> None:
    odd = (_odd_openai if provider == "openai" else _odd_anthropic)(verb)[case]
    _same(provider, verb, [_plain_file(provider, verb, odd)])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "custom_id",
    [
        "t0-007",
        "t0-+5",
        "t0- 5",
        "t0-٣",
        "t0-99999999999999999999999",
        "t0--1",
        "t0-12",
        "t0-",
        "other-5",
        "T0-5",
        "t0-5 ",
        None,
        5,
    ],
)
def test_custom_ids_name_the_same_rows_both_ways(provider: str, custom_id: Any) -> None:
    line = json.loads(_ok(provider, "complete", 5, "other text"))
    line["custom_id"] = custom_id
    _same(provider, "complete", [_plain_file(provider, "complete", _dump(line))])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("verb", VERBS)
def test_a_plain_file_is_read_as_columns(provider: str, verb: str) -> None:
    lines = [_ok(provider, verb, r) for r in (3, 1, 0, 2)]  # out of order, as Anthropic writes
    assert _same(provider, verb, [_file(*lines)]) == 4


def _error_line(provider: str, row: int) -> bytes:
    shapes = OPENAI if provider == "openai" else ANTHROPIC
    name = "request timeout" if provider == "openai" else "errored"
    return _dump(shapes[name](f"{TAG}-{row}", ""))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_row_named_twice_reads_the_same_both_ways(provider: str) -> None:
    first, later = _ok(provider, "complete", 2, "first"), _ok(provider, "complete", 2, "later")
    error = _error_line(provider, 2)
    others = [_ok(provider, "complete", r) for r in (0, 1, 3)]
    for lines in ([first, later], [first, error], [error, first], [error, error]):
        _same(provider, "complete", [_file(*others, *lines)])  # in one file
        _same(provider, "complete", [_file(*others, lines[0]), _file(lines[1])])  # two files
    taken = _same(provider, "complete", [_file(*others, first), _file(later)])
    assert taken == 4  # both files as columns: the later file's answer wins


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_file_layouts_read_the_same_both_ways(provider: str) -> None:
    lines = [_ok(provider, "complete", r) for r in range(4)]
    layouts = {
        "crlf": _file(*lines, end=b"\r\n"),
        "no final newline": b"\n".join(lines),
        "blank line": _file(lines[0], b"", *lines[1:]),
        "leading blank line": _file(b"", *lines),
        "whitespace line": _file(lines[0], b" \t\r", *lines[1:]),
        "blank lines at the end": _file(*lines) + b"\n\n",
        "empty file": b"",
        "only a newline": b"\n",
    }
    for name, buf in layouts.items():
        assert _same(provider, "complete", [buf]) in (0, 4), name


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_damaged_files_fail_the_same_both_ways(provider: str) -> None:
    lines = [_ok(provider, "complete", r) for r in range(3)]
    damaged = {
        "two records on a line": _file(lines[0], lines[1] + lines[2]),
        "two records, a space between": _file(lines[0], lines[1] + b" " + lines[2]),
        "a record over two lines": _file(lines[0], lines[1][:20], lines[1][20:], lines[2]),
        "both at once": _file(lines[0] + lines[1], lines[2][:20], lines[2][20:]),
        "cut short": _file(*lines)[:-30],
        "not json": _file(lines[0], b"garbage", lines[2]),
        "a list": _file(lines[0], b"[1, 2]", lines[2]),
    }
    for name, buf in damaged.items():
        fast = _read(provider, "complete", [buf], True)
        assert fast == _read(provider, "complete", [buf], False), name


def test_a_lone_surrogate_in_an_answer_becomes_the_replacement_character() -> None:
    """A model cut mid-emoji can write `\\ud83d` alone: the row is read, not the file lost."""
    line = b'{"custom_id":"t0-1","text":"cut \\ud83d","ok":"\\ud83d\\ude00"}'
    assert loads(line) == {"custom_id": "t0-1", "text": "cut \ufffd", "ok": "\U0001f600"}


@pytest.mark.parametrize(
    "buf",
    [b"", b"{}", b"{}\n", b"{}\r\n", b"{}\r", b"{}\n{}", b"{}\n\n{}", b"{}\n{}\n\n", b"\n{}",
     b"{} \n{}", b" {}\n", b"{\n}", b"{}\n}{", b'{"a":"}\\n{"}\n{}', b"{}\r\n{}\r\n", b"{}}\n{{}",
     b"x", b"}", b"{"],
)  # fmt: skip
def test_line_count_is_the_split_s_count_without_splitting(buf: bytes) -> None:
    lines = _split_lines(buf)
    assert line_count(buf) == (None if lines is None else len(lines))
    if lines is not None:  # each line ends where a plain split says
        ends = list(itertools.accumulate(len(line) + 1 for line in lines))
        assert line_ends(buf).tolist() == [min(e - 1, len(buf)) for e in ends]


@pytest.mark.parametrize("size", [0, 1, _MB - 1, _MB, _MB + 1, 3 * _MB + 5])
def test_newlines_are_found_across_the_scan_s_megabytes(size: int) -> None:
    data = np.zeros(size, dtype=np.uint8)
    for at in (0, 1, _MB - 1, _MB, _MB + 1, 2 * _MB, size - 1):  # the pieces' edges
        if 0 <= at < size:
            data[at] = ord("\n")
    data[::997] = ord("\n")
    assert newlines(data).tolist() == np.flatnonzero(data == ord("\n")).tolist()


def test_a_file_of_several_megabytes_ends_its_lines_where_a_split_says() -> None:
    lines = [b'{"custom_id":"t0-%d","pad":"%s"}' % (i, b"x" * (i % 900)) for i in range(9000)]
    buf = b"\n".join(lines) + b"\n"
    assert len(buf) > 3 * _MB
    ends = list(itertools.accumulate(len(line) + 1 for line in lines))
    assert line_ends(buf).tolist() == [e - 1 for e in ends]


def _split_lines(buf: bytes) -> list[bytes] | None:
    """The file's lines, when every one starts with `{` and ends with `}` (or `}\\r`)."""
    lines = buf.split(b"\n")
    if buf.endswith(b"\n"):
        lines.pop()
    if not lines or not all(x.startswith(b"{") and x.endswith((b"}", b"}\r")) for x in lines):
        return None
    return lines
