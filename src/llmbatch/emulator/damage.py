"""Damaged answers: fault kinds that let the handler run, then spoil what it answered.

They test a client's download-integrity checks. Each damaged answer is a complete, well-formed
HTTP response (its Content-Length matches the damaged body), so the client's HTTP library sees
no transport error; only the content is wrong:

- "html": any answer becomes a 200 `text/html` gateway page (a captive portal or a
  misconfigured proxy).
- "truncate": a 2xx body is cut to its first `len(body) // 2` bytes (usually mid-line).
- "truncate_lines": a 2xx body keeps only the first half of its lines, each with its `\\n`.
- "null_output_file": in a 2xx JSON object, `output_file_id` (when present) becomes null.

Streaming and file answers (large file contents) are read into memory first; these faults are
for tests, so the copy is acceptable. Non-2xx answers pass through unchanged, except for
"html". Headers are kept, except content-length (and content-type for "html").
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from starlette.responses import FileResponse, Response, StreamingResponse

HTML_BODY = (
    b"<!DOCTYPE html><html><head><title>Gateway</title></head>"
    b"<body><h1>Service temporarily unavailable</h1></body></html>"
)
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


async def damage(response: Response, kind: str) -> Response:
    """The answer `response` becomes under the damage fault `kind`."""
    if kind == "html":
        return _rebuild(response, HTML_BODY, 200, HTML_CONTENT_TYPE)
    if not 200 <= response.status_code < 300:
        return response
    body = await read_body(response)
    if kind == "truncate":
        damaged = body[: len(body) // 2]
    elif kind == "truncate_lines":
        damaged = first_half_of_lines(body)
    elif kind == "null_output_file":
        damaged = _null_output_file(body)
    else:
        raise ValueError(f"not a damage fault kind: {kind!r}")
    return _rebuild(response, damaged, response.status_code)


async def read_body(response: Response) -> bytes:
    """The whole body of `response`, whether plain, streamed or served from a file."""
    if isinstance(response, FileResponse):
        return await asyncio.to_thread(Path(response.path).read_bytes)
    if isinstance(response, StreamingResponse):
        chunks: list[bytes] = []
        async for chunk in response.body_iterator:
            if isinstance(chunk, str):
                chunks.append(chunk.encode(response.charset))
            else:
                chunks.append(bytes(chunk))
        return b"".join(chunks)
    return bytes(response.body)


def first_half_of_lines(body: bytes) -> bytes:
    """The first `n // 2` of the body's `n` lines, each with its trailing newline."""
    lines = body.split(b"\n")
    count = len(lines) - 1 if body.endswith(b"\n") else len(lines)
    if not body:
        count = 0
    return b"".join(line + b"\n" for line in lines[: count // 2])


def _null_output_file(body: bytes) -> bytes:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(data, dict) or "output_file_id" not in data:
        return body
    data["output_file_id"] = None
    return orjson.dumps(data)


def _rebuild(
    original: Response, body: bytes, status: int, content_type: str | None = None
) -> Response:
    """A plain response with `body`, the original's headers and a matching Content-Length."""
    dropped = {b"content-length"}
    if content_type is not None:
        dropped.add(b"content-type")
    headers = [(k, v) for k, v in original.raw_headers if k.lower() not in dropped]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    headers.append((b"content-length", str(len(body)).encode("latin-1")))
    rebuilt = Response(body, status, background=original.background)
    rebuilt.raw_headers = headers
    return rebuilt
