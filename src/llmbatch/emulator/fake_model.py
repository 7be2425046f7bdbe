"""The emulator's model: SYNTHETIC, a deterministic stand-in, not a language model.

Nothing here understands text. Every answer is a pure function of the request: choices are
drawn from blake2b/shake_256 hashes of the relevant input, so the same request always gets
the same answer, in any process, batch or order. It exists so that clients can be built and
tested offline; its output only has the *shape* of a real model's.

What it answers:

- **Embeddings**: a unit vector per input of ``dimensions`` floats (else the model default:
  text-embedding-3-small 1536, text-embedding-3-large 3072, text-embedding-ada-002 1536,
  unknown models 1536); the same text always gives the same vector, and a smaller
  ``dimensions`` is the re-normalised prefix of the full one. ``encoding_format: "base64"``
  gives little-endian float32.
- **Text** (chat completions, Responses, legacy completions, Anthropic messages):
  ``"[synthetic] <first 12 words of the last user message> [<8 hex digest>]"``.
- **Structured output** (OpenAI ``response_format``/``text.format`` json_schema, Anthropic
  ``output_config.format``, forced tool use): compact JSON that conforms to the schema, every
  value chosen from the request (see :mod:`fake_schema`); ``json_object`` gives
  ``{"answer": <text>}``.
- **Usage**: about 4 characters per token (at least 1). Reasoning models (names starting with
  o1, o3, o4, gpt-5) also spend 32-127 hidden reasoning tokens, which count against
  ``max_completion_tokens``/``max_output_tokens``. OpenAI prompts of 1024+ tokens report
  ``cached_tokens`` 3 times in 4; Anthropic ``cache_control`` is described in
  :mod:`fake_anthropic`.
- **Limits**: past ``max_tokens`` (``max_completion_tokens``, ``max_output_tokens``) the text
  is cut to about 4 characters per token: ``finish_reason: "length"``, Responses
  ``status: "incomplete"``, Anthropic ``stop_reason: "max_tokens"`` (cut JSON is invalid, as
  it is for real). Legacy completions default to ``max_tokens`` 16. Stop sequences cut too.
- **Validation**: requests the real APIs reject get their 400 (OpenAI) or ``errored``
  ``invalid_request_error`` (Anthropic), with the real messages where known.

Markers, placed in the last user message, steer the answer so clients can test their
unhappy paths:

- ``[[refuse]]``: a refusal. OpenAI chat ``content: null`` and ``refusal: "I'm sorry, I can't
  help with that."`` (finish ``stop``); Responses a ``refusal`` content part; Anthropic
  ``stop_reason: "refusal"`` with that sentence as text.
- ``[[bad_json]]``: structured output cut in half, so it is not valid JSON (OpenAI tool
  arguments too). Anthropic tool ``input`` is already parsed, so there it breaks the schema.
- ``[[bad_schema]]``: valid JSON that breaks the schema (first key dropped, an
  ``"__unexpected__": true`` key added).
- ``[[flag]]`` (moderations input): flagged for ``violence``; nothing else is ever flagged.

``created`` stamps default to 2026-01-01T00:00:00Z so answers stay pure; the server passes
its clock. ``salt`` (e.g. the ``custom_id``) only varies the ids, never the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from llmbatch.emulator.fake_anthropic import messages_answer
from llmbatch.emulator.fake_anthropic_line import messages_json
from llmbatch.emulator.fake_chat_line import ChatRow, Tokens, chat_answers_json
from llmbatch.emulator.fake_embeddings import (
    embedding_input_count,
    embeddings_answer,
    embeddings_answers_json,
)
from llmbatch.emulator.fake_openai import chat_answer, completions_answer, moderations_answer
from llmbatch.emulator.fake_openai_checks import openai_error
from llmbatch.emulator.fake_responses import responses_answer
from llmbatch.emulator.fake_text import (
    BAD_JSON_MARKER,
    BAD_SCHEMA_MARKER,
    DEFAULT_CREATED,
    FLAG_MARKER,
    REFUSE_MARKER,
    estimate_tokens,
)
from llmbatch.emulator.gc_pause import paused_gc

__all__ = [
    "BAD_JSON_MARKER",
    "BAD_SCHEMA_MARKER",
    "FLAG_MARKER",
    "REFUSE_MARKER",
    "anthropic_answer",
    "anthropic_answer_json",
    "anthropic_answers_json",
    "embedding_input_count",
    "estimate_tokens",
    "openai_answer",
    "openai_answer_json",
    "openai_answers_json",
]

SLICE = 512
"""Rows answered together. Enough for numpy to pay (ids, vectors, draws), and few enough
that a slice's short-lived objects fit in the memory the previous slice freed: a chunk of
4,096 made the process fault fresh pages in for each chunk, and a page fault is dear in a
sandboxed VM (100k chat rows: 44k faults and 40k rows/s against 19k faults and 66k rows/s)."""

OPENAI_URLS = (
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/completions",
    "/v1/moderations",
)


def openai_answer(
    url: str, body: dict, *, created: int | None = None, salt: str = ""
) -> tuple[int, dict]:
    """``(status_code, response body)`` for one OpenAI batch line.

    Args:
        url: one of ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses``,
            ``/v1/completions``, ``/v1/moderations``; anything else is a 400.
        body: the line's ``body``.
        created: unix time for ``created``/``created_at`` (default: a fixed 2026-01-01).
        salt: varies the ids only (pass the ``custom_id`` for distinct ids).

    Example: ``openai_answer("/v1/embeddings", {"model": "text-embedding-3-small",
    "input": "hi"})`` is ``(200, {"object": "list", "data": [...], ...})``.
    """
    stamp = DEFAULT_CREATED if created is None else created
    if not isinstance(body, dict):
        return 400, openai_error("The request body must be a JSON object.")
    if url == "/v1/chat/completions":
        return chat_answer(body, stamp, salt)
    if url == "/v1/embeddings":
        return embeddings_answer(body)
    if url == "/v1/responses":
        return responses_answer(body, stamp, salt)
    if url == "/v1/completions":
        return completions_answer(body, stamp, salt)
    if url == "/v1/moderations":
        return moderations_answer(body, salt)
    return 400, openai_error(f"Invalid URL (POST {url})", None, "unknown_url")


def openai_answer_json(
    url: str, body: object, *, created: int, salt: str
) -> tuple[bytes, Tokens] | None:
    """The 200 body :func:`openai_answer` gives, as its JSON bytes, with its usage tokens.

    ``(prompt, cached, completion, reasoning)`` tokens come with it. A shortcut for the rows
    of a batch: None whenever the request is not one it covers (an endpoint other than chat
    and embeddings, an invalid body, several choices, a forced tool...); :func:`openai_answer`
    answers those. :func:`openai_answers_json` answers many rows at once.
    """
    return openai_answers_json(url, [(body, created, salt)])[0]


def openai_answers_json(
    url: str, rows: Sequence[tuple[object, int, str]]
) -> list[tuple[bytes, Tokens] | None]:
    """:func:`openai_answer_json` of each ``(body, created, salt)``, their ids drawn together.

    At most :data:`SLICE` rows are answered together (more are answered slice by slice).
    """
    if len(rows) > SLICE:
        return [
            answer
            for start in range(0, len(rows), SLICE)
            for answer in openai_answers_json(url, rows[start : start + SLICE])
        ]
    with paused_gc():
        return _openai_slice(url, rows)


def _openai_slice(
    url: str, rows: Sequence[tuple[object, int, str]]
) -> list[tuple[bytes, Tokens] | None]:
    if url == "/v1/chat/completions":
        if set(map(type, [body for body, _, _ in rows])) == {dict}:
            return chat_answers_json(cast("list[ChatRow]", rows))
        chat = [(body, created, salt) for body, created, salt in rows if type(body) is dict]
        answers = iter(chat_answers_json(cast("list[ChatRow]", chat)))
        return [next(answers) if type(body) is dict else None for body, _, _ in rows]
    if url == "/v1/embeddings":
        plain = [body for body, _, _ in rows if type(body) is dict]
        embedded = iter(embeddings_answers_json(cast("list[dict]", plain)))
        return [_with_tokens(next(embedded)) if type(b) is dict else None for b, _, _ in rows]
    return [None] * len(rows)


def _with_tokens(embedded: tuple[bytes, int] | None) -> tuple[bytes, Tokens] | None:
    return None if embedded is None else (embedded[0], (embedded[1], 0, 0, 0))


def anthropic_answer(params: dict, *, salt: str = "", checked: bool = False) -> tuple[str, dict]:
    """``("succeeded", Message)`` or ``("errored", ErrorResponse)`` for one batch request.

    The error form is ``{"type": "error", "error": {"type": "invalid_request_error",
    "message": ...}, "request_id": None}``. ``salt`` varies the ids only. ``checked``: the
    caller has already validated ``params`` (``request_checks.anthropic_params_error`` found
    nothing), so the Messages checks are not run twice.

    Example: ``anthropic_answer({"model": "claude-haiku-4-5", "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}]})[0]`` is ``"succeeded"``.
    """
    return messages_answer(params, salt, checked=checked)


def anthropic_answer_json(params: dict, *, salt: str = "") -> bytes | None:
    """The ``succeeded`` Message :func:`anthropic_answer` gives, as its JSON bytes, or None.

    For requests that passed the batch checks (``checked=True`` there). A shortcut for the
    plain requests of a batch: None whenever it does not cover one (thinking, a forced tool,
    ...); :func:`anthropic_answer` answers those. :func:`anthropic_answers_json` answers many
    at once.
    """
    return anthropic_answers_json([(params, salt)])[0]


def anthropic_answers_json(rows: Sequence[tuple[object, str]]) -> list[bytes | None]:
    """:func:`anthropic_answer_json` of each ``(params, salt)``, their ids drawn together
    (:data:`SLICE` at a time)."""
    if len(rows) > SLICE:
        return [
            answer
            for start in range(0, len(rows), SLICE)
            for answer in anthropic_answers_json(rows[start : start + SLICE])
        ]
    with paused_gc():
        return _anthropic_slice(rows)


def _anthropic_slice(rows: Sequence[tuple[object, str]]) -> list[bytes | None]:
    if set(map(type, [params for params, _ in rows])) == {dict}:
        return messages_json(cast("list[tuple[dict, str]]", rows))
    plain = [(params, salt) for params, salt in rows if type(params) is dict]
    answers = iter(messages_json(cast("list[tuple[dict, str]]", plain)))
    return [next(answers) if type(params) is dict else None for params, _ in rows]
