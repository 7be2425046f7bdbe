"""One OpenAI batch: its state machine (B.3), its requests and its result lines (B.6).

```
validating ──(bad file / quota)──► failed
validating ──(ok)──► in_progress ──► finalizing ──► completed
in_progress ──(window passed)──► expired      (unexecuted lines: batch_expired)
validating|in_progress|finalizing ──(cancel)──► cancelling ──► cancelled
                                                (unexecuted lines: batch_cancelled)
```

The batch never runs on its own: `OpenAIState.advance()` moves it to the present whenever
anything is read. A request's answer is computed (by the fake model) once, when the schedule
says it has run, and is fixed from then on.
"""

from __future__ import annotations

import itertools
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from llmbatch.emulator import fake_model, faults, ids
from llmbatch.emulator.catalog import OPENAI_BODY_FIELDS
from llmbatch.emulator.clock import unix
from llmbatch.emulator.config import EmulatorConfig
from llmbatch.emulator.fake_chat_line import Tokens
from llmbatch.emulator.gc_pause import paused_gc
from llmbatch.emulator.jsondump import dumps
from llmbatch.emulator.request_checks import openai_unknown_field
from llmbatch.emulator.timeline import Timeline

TERMINAL = ("failed", "completed", "expired", "cancelled")
STOP_ERRORS = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
    # [UNVERIFIED] message text; the code is documented.
    "cancelled": ("batch_cancelled", "The batch was cancelled before this request executed."),
}
_CHUNK_BYTES = 8 * 1024 * 1024
_ID_BLOCK = 8192  # lines whose ids are drawn per system call, at most
_RUN_CHUNK = fake_model.SLICE  # requests parsed and answered together (ids drawn at once)
# A 200 line whose answer is already JSON: id, custom_id, request_id, body (key order as the
# dict of `_run_one`).
_OK_LINE = (
    b'{"id":"batch_req_%s","custom_id":%s,'
    b'"response":{"status_code":200,"request_id":"%s","body":%s},"error":null}'
)
_STAMPS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


class _LineIds:
    """Random 32-hex ids (a line's `batch_req_` id and its `request_id`), drawn in blocks.

    Like :mod:`ids`, random and never seeded: one system call per block instead of two
    random draws per line.
    """

    __slots__ = ("_at", "_block", "_size")

    def __init__(self, lines: int) -> None:
        self._block = b""
        self._at = 0
        self._size = 2 * min(lines, _ID_BLOCK)  # two ids a line; a few lines draw a few

    def next(self) -> bytes:
        """The next id."""
        at = self._at
        if at >= len(self._block):
            self._block, at = os.urandom(self._size * 16).hex().encode(), 0
        self._at = at + 32
        return self._block[at : at + 32]


@dataclass
class Usage:
    """The batch's summed token usage (reported once the batch has ended)."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, body: dict[str, Any]) -> None:
        """Add one successful response body's usage (chat, responses, embeddings...)."""
        usage = body.get("usage")
        if not isinstance(usage, dict):
            return
        inp = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
        out = usage.get("completion_tokens", usage.get("output_tokens")) or 0
        in_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        out_details = (
            usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
        )
        self.input_tokens += inp
        self.output_tokens += out
        self.cached_tokens += in_details.get("cached_tokens") or 0
        self.reasoning_tokens += out_details.get("reasoning_tokens") or 0

    def to_dict(self, shown: bool) -> dict[str, Any]:
        """The `usage` object; all zeros until `shown`."""
        u = self if shown else Usage()
        return {
            "input_tokens": u.input_tokens,
            "input_tokens_details": {"cached_tokens": u.cached_tokens},
            "output_tokens": u.output_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
            "total_tokens": u.input_tokens + u.output_tokens,
        }


def read_lines(
    handle: BinaryIO,
    refs: list[tuple[str, int, int]],
    start: int,
    stop: int,
    chunk_bytes: int = _CHUNK_BYTES,
) -> Iterator[tuple[str, memoryview]]:
    """``(custom_id, line bytes)`` of ``refs[start:stop]``, read ``chunk_bytes`` at a time.

    The refs are in file order, so one read covers many lines (one syscall, not two per line);
    a line longer than a chunk is read on its own.
    """
    index = start
    while index < stop:
        first = refs[index][1]
        end = index + 1
        while end < stop and refs[end][1] + refs[end][2] - first <= chunk_bytes:
            end += 1
        handle.seek(first)
        chunk = memoryview(handle.read(refs[end - 1][1] + refs[end - 1][2] - first))
        for custom_id, offset, length in refs[index:end]:
            yield custom_id, chunk[offset - first : offset - first + length]
        index = end


@dataclass
class OpenAIBatch:
    """A batch and everything it has produced so far."""

    id: str
    seq: int
    endpoint: str
    input_file_id: str
    input_path: Path | None  # None: the input file did not exist (the batch fails, F.1)
    input_bytes: int
    completion_window: str
    metadata: dict[str, str] | None
    output_retention: int | None
    created_at: float
    cfg: EmulatorConfig
    status: str = "validating"
    model: str | None = None
    errors: list[dict[str, Any]] | None = None
    refs: list[tuple[str, int, int]] = field(default_factory=list)
    tokens: int = 0
    timeline: Timeline | None = None
    stamps: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(_STAMPS))
    ok_lines: list[bytes] = field(default_factory=list)
    error_lines: list[bytes] = field(default_factory=list)
    # lines already written to the result files and dropped (a million-row job's answers are
    # never all held in memory): (succeeded, failed)
    released: tuple[int, int] = (0, 0)
    usage: Usage = field(default_factory=Usage)
    output_file_id: str | None = None
    error_file_id: str | None = None

    @property
    def validates_at(self) -> float:
        """When validation runs."""
        return self.created_at + self.cfg.validating_seconds

    @property
    def expires_at(self) -> float:
        """When the completion window ends."""
        return self.created_at + self.cfg.completion_window_seconds

    def end_time(self) -> float | None:
        """When the batch ends (None while validating and not cancelled)."""
        if self.stamps["failed_at"] is not None:
            return self.stamps["failed_at"]
        if self.timeline is None:
            cancel = self.stamps["cancelling_at"]
            return None if cancel is None else cancel + self.cfg.cancel_seconds
        return self.timeline.outcome()[1]

    def holds_queue_at(self, t: float) -> bool:
        """True if this batch's tokens count as enqueued at time `t` (validated, not ended)."""
        end = self.end_time()
        return self.timeline is not None and self.timeline.start <= t and (end is None or t < end)

    def run_requests(self, upto: int) -> None:
        """Execute requests up to index `upto` (exclusive) that have not run yet."""
        done = sum(self.line_counts())
        timeline = self.timeline
        if upto <= done or timeline is None or self.input_path is None:
            return
        index = done
        line_ids = _LineIds(upto - done)
        with self.input_path.open("rb") as handle:
            lines = read_lines(handle, self.refs, done, upto)
            while chunk := list(itertools.islice(lines, _RUN_CHUNK)):
                with paused_gc():
                    self._run_chunk(chunk, index, timeline, line_ids)
                index += len(chunk)

    def _run_chunk(
        self,
        chunk: list[tuple[str, memoryview]],
        first: int,
        timeline: Timeline,
        line_ids: _LineIds,
    ) -> None:
        """Run a chunk of requests in order; the plain ones are answered together as bytes."""
        custom_ids = [custom_id for custom_id, _ in chunk]
        bodies = [orjson.loads(line)["body"] for _, line in chunk]
        if timeline.rps is None:  # every request runs at the start: one `created`
            created = [math.floor(timeline.start)] * len(chunk)
        else:
            created = [math.floor(timeline.done_at(first + at)) for at in range(len(chunk))]
        reached = self._reach_model(custom_ids, bodies)
        asked = [
            (body if reaches else None, stamp, custom_id)
            for custom_id, body, stamp, reaches in zip(
                custom_ids, bodies, created, reached, strict=True
            )
        ]
        answers = fake_model.openai_answers_json(self.endpoint, asked)
        lines = self._ok_lines(custom_ids, answers, line_ids)
        if None not in lines:
            self.ok_lines += cast("list[bytes]", lines)
            return
        for custom_id, body, stamp, line in zip(custom_ids, bodies, created, lines, strict=True):
            if line is None:
                self._run_one(custom_id, body, stamp)
            else:
                self.ok_lines.append(line)

    def _reach_model(self, custom_ids: list[str], bodies: list[Any]) -> list[bool]:
        """Per request, :meth:`_reaches_model`; the known fields checked once for the chunk."""
        known = OPENAI_BODY_FIELDS.get(self.endpoint)
        plain = known is not None and set(map(type, bodies)) == {dict}
        if plain and self.cfg.request_error_rate <= 0:
            used = set().union(*map(dict.keys, bodies))
            if known is not None and known.issuperset(used):  # no unknown field anywhere
                return [True] * len(bodies)
        return list(map(self._reaches_model, custom_ids, bodies))

    def _reaches_model(self, custom_id: str, body: Any) -> bool:
        """No unknown field (F.4) and no injected error: the fake model answers the row."""
        cfg = self.cfg
        if openai_unknown_field(self.endpoint, body) is not None:
            return False
        return not faults.request_fails(cfg.seed, self.seq, custom_id, cfg.request_error_rate)

    def _run_one(self, custom_id: str, body: dict[str, Any], created: int) -> None:
        cfg = self.cfg
        unknown = openai_unknown_field(self.endpoint, body)  # F.4: a 400 line, not a failure
        if unknown is not None:
            status, answer = 400, unknown
        elif faults.request_fails(cfg.seed, self.seq, custom_id, cfg.request_error_rate):
            status, answer = faults.openai_line_error(cfg.request_error_type)
        else:
            # salt: distinct response ids per line; created: when the request "ran".
            status, answer = fake_model.openai_answer(
                self.endpoint, body, created=created, salt=custom_id
            )
        response = {"status_code": status, "request_id": ids.request_id_hex(), "body": answer}
        line: dict[str, Any] = {
            "id": ids.batch_request_id(),
            "custom_id": custom_id,
            "response": response,
        }
        line["error"] = None
        if 200 <= status < 300:
            self.usage.add(answer)
            self.ok_lines.append(dumps(line))
        else:
            self.error_lines.append(dumps(line))

    def _ok_lines(
        self,
        custom_ids: list[str],
        answers: list[tuple[bytes, Tokens] | None],
        line_ids: _LineIds,
    ) -> list[bytes | None]:
        """The 200 line of each answer already in JSON bytes, its usage counted; None where
        there is no answer or the custom_id has no JSON form (the row is run the plain way)."""
        lines: list[bytes | None] = []
        tokens: list[Tokens] = []
        for custom_id, fast in zip(custom_ids, answers, strict=True):
            line = None
            if fast is not None:
                try:
                    custom = orjson.dumps(custom_id)
                except orjson.JSONEncodeError:
                    pass
                else:
                    line = _OK_LINE % (line_ids.next(), custom, line_ids.next(), fast[0])
                    tokens.append(fast[1])
            lines.append(line)
        if tokens:
            usage = self.usage
            prompt, cached, completion, reasoning = map(sum, zip(*tokens, strict=True))
            usage.input_tokens += prompt
            usage.cached_tokens += cached
            usage.output_tokens += completion
            usage.reasoning_tokens += reasoning
        return lines

    def stop_remaining(self, reason: str) -> None:
        """Write `batch_expired` / `batch_cancelled` lines for requests that never ran."""
        code, message = STOP_ERRORS[reason]
        done = sum(self.line_counts())
        for custom_id, _, _ in self.refs[done:]:
            line = {
                "id": ids.batch_request_id(),
                "custom_id": custom_id,
                "response": None,
                "error": {"code": code, "message": message},
            }
            self.error_lines.append(dumps(line))

    def shuffled(self, lines: list[bytes], salt: str) -> bytes:
        """The JSONL file body, lines in a seeded random order (clients must join on custom_id)."""
        order = list(lines)
        random.Random(f"{self.cfg.seed}:{self.seq}:{salt}").shuffle(order)
        order.append(b"")  # the last line ends with a newline too, with no copy of each line
        return b"\n".join(order)

    def request_counts(self) -> dict[str, int]:
        """`{total, completed, failed}`: zeros while validating or failed."""
        if self.timeline is None:
            return {"total": 0, "completed": 0, "failed": 0}
        completed, failed = self.line_counts()
        return {"total": len(self.refs), "completed": completed, "failed": failed}

    def line_counts(self) -> tuple[int, int]:
        """(succeeded, failed) lines so far, those already written out included."""
        return len(self.ok_lines) + self.released[0], len(self.error_lines) + self.released[1]

    def release_lines(self) -> None:
        """Drop the lines once the result files hold them (the counts stay)."""
        self.released = self.line_counts()
        self.ok_lines, self.error_lines = [], []

    def to_dict(self) -> dict[str, Any]:
        """The Batch object, every key present (null when unset)."""
        errors = None if self.errors is None else {"object": "list", "data": self.errors}
        stamps = {name: unix(value) for name, value in self.stamps.items()}
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": unix(self.created_at),
            "in_progress_at": stamps["in_progress_at"],
            "expires_at": unix(self.expires_at),
            "finalizing_at": stamps["finalizing_at"],
            "completed_at": stamps["completed_at"],
            "failed_at": stamps["failed_at"],
            "expired_at": stamps["expired_at"],
            "cancelling_at": stamps["cancelling_at"],
            "cancelled_at": stamps["cancelled_at"],
            "request_counts": self.request_counts(),
            "usage": self.usage.to_dict(self.status in TERMINAL),
            "metadata": self.metadata,
        }
