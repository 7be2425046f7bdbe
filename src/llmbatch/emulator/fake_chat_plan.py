"""What a chat completions body asks apart from its messages, checked and prepared once.

The rows of a batch usually share everything but their ``messages``: model, format, tools,
limits. :func:`chat_plan` keys a :class:`ChatPlan` by the exact JSON bytes of that rest
(:func:`fake_memo.by_rest`), so a batch validates its options, compiles its schema and
serialises its constant parts once, and each row only checks, hashes and answers its
messages. Every field is what the plain per-row code computes from the same body.
"""

from __future__ import annotations

import hashlib

import orjson

from llmbatch.emulator.catalog import OPENAI_ALIASES
from llmbatch.emulator.fake_memo import by_rest
from llmbatch.emulator.fake_openai_checks import (
    check_chat_model,
    check_chat_options,
    is_reasoning_model,
    options_read_messages,
)
from llmbatch.emulator.fake_schema import compile_schema
from llmbatch.emulator.fake_schema_plan import Plan
from llmbatch.emulator.fake_text import digest, estimate_tokens

_CANONICAL = orjson.OPT_SORT_KEYS


class ChatPlan:
    """The per-batch part of a chat answer: its problems, constants and compiled schema.

    ``problem`` is the first failing check other than the messages' (``model`` first, so it
    comes before them), or None; ``options_per_row`` means the options read the messages and
    must be checked row by row.
    """

    __slots__ = (
        "compiled",
        "copies",
        "extra_tokens",
        "fingerprint",
        "fmt",
        "forces_tool",
        "head",
        "limit",
        "model",
        "model_problem",
        "options_per_row",
        "plain_text",
        "problem",
        "reasons",
        "snapshot",
        "stop",
        "tail",
        "template",
    )

    def __init__(self, rest: dict) -> None:
        self.model_problem = check_chat_model(rest)
        self.options_per_row = self.model_problem is None and options_read_messages(rest)
        self.problem = None
        if self.model_problem is None and not self.options_per_row:
            self.problem = check_chat_options(rest)
        self.model = model = rest.get("model")
        if self.model_problem is not None or self.problem is not None:
            rest = {"model": model}  # the row is refused: nothing else is read
        self.fmt = fmt = chat_format(rest.get("response_format"))
        self.compiled: tuple[Plan, object] | None = None
        if fmt[0] == "json_schema":
            self.compiled = compile_schema(fmt[1] or {"type": "object"})
        tools = rest.get("tools")
        self.head, self.tail = _seed_parts(model, tools, fmt)
        self.extra_tokens = (estimate_tokens(tools) if tools else 0) + (
            estimate_tokens(fmt[1]) if fmt[1] else 0
        )
        reasons = isinstance(model, str) and is_reasoning_model(model)
        self.reasons = reasons and rest.get("reasoning_effort") not in ("none", "minimal")
        self.limit = _first_int(rest, "max_completion_tokens", "max_tokens")
        self.stop = rest.get("stop")
        # plain text that nothing cuts: the answer is the reply or the refusal, whole
        self.plain_text = fmt[0] == "text" and self.limit is None and self.stop is None
        self.copies = rest.get("n") or 1
        self.forces_tool = rest.get("tool_choice") is not None
        self.snapshot = OPENAI_ALIASES.get(model, model) if isinstance(model, str) else model
        self.fingerprint = "fp_" + digest("fingerprint", model).hex()[:10]
        self.template = self._template() if self._answers_rows_as_bytes() else None

    def _answers_rows_as_bytes(self) -> bool:
        """Whether a valid row's answer has the one shape :attr:`template` writes.

        One choice, no forced tool, the messages not read by the checks, the seed's constant
        parts serialised (other rows take the dict path of :mod:`fake_openai`).
        """
        return (
            self.model_problem is None
            and self.problem is None
            and not self.options_per_row
            and self.copies == 1
            and not self.forces_tool
            and self.head is not None
            and self.fmt[0] in ("text", "json_schema")
        )

    def _template(self) -> bytes | None:
        """The answer's JSON with ``%`` holes, as orjson writes the dict of ``chat_answer``.

        Holes: id, created, content, refusal, finish reason, prompt, completion and total
        tokens, cached tokens, reasoning tokens. None when the model name has no JSON form.
        """
        try:
            model = orjson.dumps(self.snapshot).replace(b"%", b"%%")
        except orjson.JSONEncodeError:
            return None
        fingerprint = orjson.dumps(self.fingerprint)
        return (
            b'{"id":"%s","object":"chat.completion","created":%d,"model":'
            + model
            + b',"choices":[{"index":0,"message":{"role":"assistant","content":%s,'
            b'"refusal":%s,"annotations":[]},"logprobs":null,"finish_reason":"%s"}],'
            b'"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
            b'"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},'
            b'"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0,'
            b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},'
            b'"service_tier":"default","system_fingerprint":' + fingerprint + b"}"
        )

    def seed(self, messages: object, tools: object) -> bytes:
        """``digest("chat", model, messages, tools, fmt)``, the constant parts serialised once.

        ``tools`` (the row's own) is used only when the constant parts have no JSON form.
        """
        if self.head is not None:
            try:  # wrapped in a list, so orjson meets the messages as deep as in the tuple
                middle = orjson.dumps([messages], option=_CANONICAL, default=repr)[1:-1]
            except orjson.JSONEncodeError:
                pass
            else:
                return hashlib.blake2b(self.head + middle + self.tail, digest_size=16).digest()
        return digest("chat", self.model, messages, tools, self.fmt)


@by_rest("messages")
def chat_plan(rest: dict) -> ChatPlan:
    """The shared :class:`ChatPlan` of every body whose rest (all but ``messages``) is equal."""
    return ChatPlan(rest)


def chat_format(value: object) -> tuple[str, object]:
    """``(kind, schema)`` of a chat ``response_format`` (already validated)."""
    if not isinstance(value, dict):
        return "text", None
    spec = value.get("json_schema")
    return value["type"], spec.get("schema") if isinstance(spec, dict) else None


def _seed_parts(model: object, tools: object, fmt: object) -> tuple[bytes | None, bytes]:
    """The canonical JSON before and after the messages in the seed's parts (None if none)."""
    try:
        head = orjson.dumps(["chat", model], option=_CANONICAL, default=repr)[:-1]
        tail = orjson.dumps([[tools, fmt]], option=_CANONICAL, default=repr)[2:-2]
    except orjson.JSONEncodeError:
        return None, b""
    return head + b",", b"," + tail + b"]"


def _first_int(body: dict, *names: str) -> int | None:
    for name in names:
        if isinstance(body.get(name), int):
            return body[name]
    return None
