"""What Anthropic Messages ``params`` ask apart from their messages, checked and prepared once.

The requests of a Message Batch usually share model, system prompt, tools and output format
and differ in ``messages``. :func:`messages_plan` keys a :class:`MessagesPlan` by the exact
JSON bytes of that rest (:func:`fake_memo.by_rest`), so a batch checks its options, compiles
its schema, counts its tool and system tokens and serialises the rest of the seed once. Every
field is what the plain per-request code computes from the same params.
"""

from __future__ import annotations

import hashlib

import orjson

from llmbatch.emulator.catalog import ANTHROPIC_ALIASES
from llmbatch.emulator.fake_anthropic_checks import check_basics, check_options, output_schema
from llmbatch.emulator.fake_memo import by_rest
from llmbatch.emulator.fake_schema import compile_schema
from llmbatch.emulator.fake_schema_plan import Plan
from llmbatch.emulator.fake_text import content_text, digest, estimate_tokens

_CANONICAL = orjson.OPT_SORT_KEYS
_UNSEEDED = ("metadata", "service_tier")
_MARK = "\x00llmbatch:messages\x00"  # stands for the messages while the rest is serialised
IMAGE_TOKENS = 1600

Segment = tuple[int, object]
"""``(tokens, cache_control)`` of one prompt piece."""


class MessagesPlan:
    """The per-batch part of a Messages answer.

    ``basics_problem`` comes before the messages' checks, ``options_problem`` after them.
    """

    __slots__ = (
        "basics_problem",
        "compiled",
        "found",
        "head",
        "model",
        "options_problem",
        "rest_tokens",
        "schema_tokens",
        "segments",
        "tail",
        "template",
        "usage_template",
    )

    def __init__(self, rest: dict) -> None:
        self.basics_problem = check_basics(rest)
        self.options_problem = None if self.basics_problem else check_options(rest)
        model = rest.get("model")
        self.model = ANTHROPIC_ALIASES.get(model, model) if isinstance(model, str) else model
        self.found = found = output_schema(rest)
        self.schema_tokens = estimate_tokens(found[1]) if found is not None else 0
        self.compiled: tuple[Plan, object] | None = None
        if found is not None and isinstance(found[1], dict) and "schema" in found[1]:
            self.compiled = compile_schema(found[1]["schema"])
        fine = self.basics_problem is None and self.options_problem is None
        self.segments = rest_segments(rest) if fine else None  # else read row by row
        self.head, self.tail = _seed_parts(rest)
        self.template = _template(self.model) if fine and _plain_answer(rest, found) else None
        self.rest_tokens = sum(tokens for tokens, _ in self.segments or ())
        self.usage_template = None
        if self.template is not None and _uncached(rest, self.segments or []):
            self.usage_template = _USAGE

    def seed(self, params: dict) -> bytes:
        """``digest("messages", params without metadata and service_tier)``, the rest ready."""
        if self.head is not None and "messages" in params:
            try:  # wrapped twice, so orjson meets the messages as deep as in the full value
                middle = orjson.dumps([[params["messages"]]], option=_CANONICAL, default=repr)
            except orjson.JSONEncodeError:
                pass
            else:
                data = self.head + middle[2:-2] + self.tail
                return hashlib.blake2b(data, digest_size=16).digest()
        return digest("messages", {k: v for k, v in params.items() if k not in _UNSEEDED})


@by_rest("messages")
def messages_plan(rest: dict) -> MessagesPlan:
    """The shared :class:`MessagesPlan` of every ``params`` whose rest is equal."""
    return MessagesPlan(rest)


def rest_segments(params: dict) -> list[Segment]:
    """The prompt pieces before the messages: each tool, then each system block."""
    segments: list[Segment] = []
    for tool in params.get("tools") or []:
        if isinstance(tool, dict):
            body = {k: v for k, v in tool.items() if k != "cache_control"}
            segments.append((estimate_tokens(body), tool.get("cache_control")))
    system = params.get("system")
    for block in [system] if isinstance(system, str) else system or []:
        segments.append(block_segment(block))
    return segments


def block_segment(block: object) -> Segment:
    """One system or content block's tokens and ``cache_control``."""
    if isinstance(block, str):
        return estimate_tokens(block), None
    if not isinstance(block, dict):
        return estimate_tokens(block), None
    if block.get("type") == "image":
        return IMAGE_TOKENS, block.get("cache_control")
    text = content_text([block]) or {k: v for k, v in block.items() if k != "cache_control"}
    return estimate_tokens(text), block.get("cache_control")


_USAGE = (
    b'{"input_tokens":%d,"output_tokens":%d,"cache_creation_input_tokens":0,'
    b'"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,'
    b'"ephemeral_1h_input_tokens":0},"server_tool_use":null,"service_tier":"batch"}'
)
"""``usage`` with no cache marks, as orjson writes it: input tokens, output tokens."""


def _plain_answer(rest: dict, found: tuple[str, object] | None) -> bool:
    """No thinking block, no forced tool, a compiled schema or none: one text block at most."""
    thinking = rest.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        return False
    choice = rest.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("tool", "any"):
        return False
    return found is None or (isinstance(found[1], dict) and "schema" in found[1])


def _uncached(rest: dict, segments: list[Segment]) -> bool:
    """Neither the tools, the system blocks nor the params mark a cache prefix."""
    return not isinstance(rest.get("cache_control"), dict) and not any(
        isinstance(mark, dict) for _, mark in segments
    )


def _template(model: object) -> bytes | None:
    """The Message's JSON with ``%`` holes: id, content, stop reason, stop sequence, usage."""
    try:
        name = orjson.dumps(model).replace(b"%", b"%%")
    except orjson.JSONEncodeError:
        return None
    return (
        b'{"id":"%s","type":"message","role":"assistant","model":'
        + name
        + b',"content":%s,"stop_reason":"%s","stop_sequence":%s,"usage":%s}'
    )


def _seed_parts(rest: dict) -> tuple[bytes | None, bytes]:
    """The canonical JSON before and after the messages in the seed (None when it has none)."""
    seeded = {k: v for k, v in rest.items() if k not in _UNSEEDED}
    seeded["messages"] = _MARK
    try:
        data = orjson.dumps(["messages", seeded], option=_CANONICAL, default=repr)
    except orjson.JSONEncodeError:
        return None, b""
    mark = orjson.dumps(_MARK)
    if data.count(mark) != 1:
        return None, b""
    head, tail = data.split(mark)
    return head, tail
