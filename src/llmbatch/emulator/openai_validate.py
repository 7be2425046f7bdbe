"""Validation of an OpenAI batch input file, run when a batch leaves `validating` (B.4, F.1).

Problems in the file are not HTTP errors: they turn the batch `failed` with
`errors.data[i] = {code, message, param, line}` (line 1-based). The codes and messages marked
F.1 were recorded from the real service; the others are [EMULATOR CHOICE]s:

| code | when |
|---|---|
| `invalid_json_line` | a line is not a JSON object (also an empty line inside the file) (F.1) |
| `missing_required_parameter` | `custom_id`, `method`, `url` or `body` missing (F.1) |
| `invalid_request` | a required body field missing, e.g. `body.model` (F.1); `method` not POST; |
| | `body` not an object |
| `invalid_url` | `url` differs from the batch `endpoint` (F.1) |
| `streaming_unsupported` | `body.stream` is true (F.1) |
| `model_not_found` | the model is not one the Batch API serves: the whole batch fails (F.1) |
| `duplicate_custom_id` | a `custom_id` used twice |
| `mismatched_model` | a second model in one file |
| `empty_file` | no request line at all |
| `max_requests_exceeded` | more lines than `openai_max_requests` (`line` null) |
| `max_file_size_exceeded` | more bytes than `openai_max_bytes` (`line` null) |
| `max_embedding_inputs_exceeded` | more embedding inputs than `openai_max_embedding_inputs` |
| `token_limit_exceeded` | the enqueued-token quota (checked by the state, B.5 text) |

The file is read line by line; only `(custom_id, offset, length)` per line is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from llmbatch.emulator import fake_model
from llmbatch.emulator.catalog import OPENAI_ENDPOINT_TITLES, OPENAI_REQUIRED
from llmbatch.emulator.gc_pause import paused_gc
from llmbatch.emulator.request_checks import openai_model_known

MAX_REPORTED_ERRORS = 100


@dataclass
class Validation:
    """What validation learnt: line spans, the model, the token estimate, and any errors."""

    refs: list[tuple[str, int, int]] = field(default_factory=list)
    model: str | None = None
    tokens: int = 0
    embedding_inputs: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(
        self, code: str, message: str, param: str | None = None, line: int | None = None
    ) -> None:
        """Record one BatchError (at most MAX_REPORTED_ERRORS line errors are kept)."""
        error = {"code": code, "message": message, "param": param, "line": line}
        if line is None:
            self.errors.insert(0, error)  # whole-file errors come first and are never dropped
        elif len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def validate_file(
    path: Path, size: int, endpoint: str, max_requests: int, max_bytes: int, max_embedding: int
) -> Validation:
    """Check every line of the input file at `path` against the batch `endpoint`."""
    result = Validation()
    if size > max_bytes:
        message = (
            f"The input file is {size:,} bytes, more than the limit of {max_bytes:,} bytes "
            "per batch."
        )
        result.fail("max_file_size_exceeded", message)
        return result
    with paused_gc():  # each line's objects die with it: collections would find nothing
        _scan(path, endpoint, result)
    _check_totals(result, max_requests, max_embedding)
    return result


def _scan(path: Path, endpoint: str, result: Validation) -> None:
    seen: dict[str, int] = {}
    blank: list[int] = []  # blank lines count as errors only when a request follows them
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            length = len(raw)
            if raw.strip():
                for line_no in blank:
                    result.fail("invalid_json_line", f"Line {line_no} is empty.", None, line_no)
                blank.clear()
                _check_line(raw, number, offset, length, endpoint, seen, result)
            else:
                blank.append(number)
            offset += length


def _check_line(
    raw: bytes,
    number: int,
    offset: int,
    length: int,
    endpoint: str,
    seen: dict[str, int],
    result: Validation,
) -> None:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        line = None
    if not isinstance(line, dict):
        result.fail("invalid_json_line", "This line is not parseable as valid JSON.", None, number)
        return
    for name in ("custom_id", "method", "url", "body"):
        if line.get(name) in (None, ""):
            message = f"Missing required parameter: '{name}'."
            result.fail("missing_required_parameter", message, name, number)
            return
    custom_id = line["custom_id"]
    if not isinstance(custom_id, str):
        result.fail("invalid_request", "custom_id must be a string.", "custom_id", number)
        return
    if custom_id in seen:
        message = (
            f"Line {number}: custom_id {custom_id!r} is already used on line {seen[custom_id]}; "
            "custom_id must be unique within a batch."
        )
        result.fail("duplicate_custom_id", message, "custom_id", number)
        return
    seen[custom_id] = number
    result.refs.append((custom_id, offset, length))
    _check_request(line, number, endpoint, result)


def _check_request(line: dict[str, Any], number: int, endpoint: str, result: Validation) -> None:
    if line["method"] != "POST":
        message = f"The method {line['method']!r} is not supported; batch requests use 'POST'."
        result.fail("invalid_request", message, "method", number)
        return
    if line["url"] != endpoint:
        message = "The URL provided for this request does not match the batch endpoint."
        result.fail("invalid_url", message, "url", number)
        return
    body = line["body"]
    if not isinstance(body, dict):
        result.fail("invalid_request", "The body must be a JSON object.", "body", number)
        return
    if body.get("stream"):
        title = OPENAI_ENDPOINT_TITLES.get(endpoint, "This endpoint")
        message = f"{title}: Streaming is not supported in the Batch API."
        result.fail("streaming_unsupported", message, "body.stream", number)
        return
    for name in OPENAI_REQUIRED.get(endpoint, ()):
        if body.get(name) is None:
            message = f"{name.capitalize()} parameter is required."
            result.fail("invalid_request", message, f"body.{name}", number)
            return
    _check_model(body, number, result)
    if endpoint == "/v1/embeddings":
        result.embedding_inputs += fake_model.embedding_input_count(body)
    result.tokens += fake_model.estimate_tokens(body)


def _check_model(body: dict[str, Any], number: int, result: Validation) -> None:
    model = body.get("model")
    if not isinstance(model, str):
        return  # the request itself fails with a 400 line when it runs
    if result.model is None:
        result.model = model
        if not openai_model_known(model):
            message = f"The provided model '{model}' is not supported by the Batch API."
            result.fail("model_not_found", message, "body.model", number)
    elif model != result.model:
        message = (
            f"Line {number} uses model {model!r}, but earlier lines use {result.model!r}. "
            "Each input file can only include requests to a single model."
        )
        result.fail("mismatched_model", message, "body.model", number)


def _check_totals(result: Validation, max_requests: int, max_embedding: int) -> None:
    count = len(result.refs)
    if count == 0 and not result.errors:
        result.fail("empty_file", "The input file contains no requests.")
    if count > max_requests:
        message = (
            f"The input file has {count:,} requests, more than the limit of "
            f"{max_requests:,} requests per batch."
        )
        result.fail("max_requests_exceeded", message)
    if result.embedding_inputs > max_embedding:
        message = (
            f"The input file has {result.embedding_inputs:,} embedding inputs, more than the "
            f"limit of {max_embedding:,} per batch."
        )
        result.fail("max_embedding_inputs_exceeded", message)
