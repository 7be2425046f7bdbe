"""The input texts a realtime call asks about, for the request log's `texts` field.

Tests use them to prove that no row was sent twice. Chat Completions and Messages: the last
user message's text (its string content, or its text parts joined by newlines); Responses: the
input string, or the last user item's text; Embeddings, Moderations and Completions: one
entry per input or prompt (a token array as its repr). Anything unreadable gives no text.
"""

from __future__ import annotations

from typing import Any

from llmbatch.emulator.fake_text import content_text


def request_texts(endpoint: str, body: Any) -> list[str]:
    """The input texts of one realtime request `body` sent to `endpoint`."""
    if not isinstance(body, dict):
        return []
    if endpoint in ("/v1/chat/completions", "/v1/messages"):
        return _last_user(body.get("messages"))
    if endpoint == "/v1/responses":
        given = body.get("input")
        return [given] if isinstance(given, str) else _last_user(given)
    if endpoint == "/v1/completions":
        return _each(body.get("prompt"))
    return _each(body.get("input"))


def _last_user(messages: Any) -> list[str]:
    if not isinstance(messages, list):
        return []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return [content_text(message.get("content"))]
    return []


def _each(value: Any) -> list[str]:
    """One text per input: a string, a list of strings, a token array, a list of arrays."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return []
    if all(isinstance(item, int) for item in value):
        return [repr(value)]  # a single token array
    return [item if isinstance(item, str) else repr(item) for item in value]
