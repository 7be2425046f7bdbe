"""Anthropic Message Batches state (C.2-C.4): batches, their results, and time.

A batch is `in_progress` from creation (requests start after `validating_seconds`, which plays
the part of queueing delay), `canceling` after a cancel, and `ended` once every request has a
result. `request_counts` keep every request under `processing` until the batch has ended.
Like the OpenAI side, state is brought up to date lazily by `advance(now)`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmbatch.emulator import fake_model, faults, ids
from llmbatch.emulator.anthropic_row_checks import params_error, params_errors
from llmbatch.emulator.anthropic_validate import check_create
from llmbatch.emulator.clock import rfc3339
from llmbatch.emulator.config import EmulatorConfig
from llmbatch.emulator.errors import ApiError, anthropic_invalid
from llmbatch.emulator.gc_pause import paused_gc
from llmbatch.emulator.jsondump import dumps
from llmbatch.emulator.request_checks import ERROR_DETAILS, anthropic_result_error
from llmbatch.emulator.timeline import Timeline

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")
_SUCCEEDED = b'{"custom_id":%s,"result":{"type":"succeeded","message":%s}}'
_RUN_CHUNK = fake_model.SLICE  # requests answered together (their message ids drawn at once)


def _succeeded_line(custom_id: str, message: bytes) -> bytes | None:
    """The `succeeded` result line around a Message's JSON (None: the id has no JSON form)."""
    try:
        return _SUCCEEDED % (orjson.dumps(custom_id), message)
    except orjson.JSONEncodeError:
        return None


@dataclass
class MessageBatch:
    """One Message Batch with its requests and the results produced so far."""

    id: str
    seq: int
    created_at: float
    cfg: EmulatorConfig
    requests: list[tuple[str, dict[str, Any]]]
    timeline: Timeline
    results: list[bytes] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULT_TYPES, 0))
    ended_at: float | None = None
    results_body: bytes | None = None
    lagged: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """`in_progress`, `canceling` or `ended`."""
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.timeline.cancel_at is not None else "in_progress"

    def advance(self, now: float) -> None:
        """Run the requests the schedule says have run by `now`; end the batch if due."""
        if self.ended_at is not None:
            return
        self._run(self.timeline.processed_by(now))
        outcome, end = self.timeline.outcome()
        if now >= end:
            self._end(outcome, end)

    def _run(self, upto: int) -> None:
        pending = self.requests[len(self.results) : upto]
        for start in range(0, len(pending), _RUN_CHUNK):
            with paused_gc():
                self._run_chunk(pending[start : start + _RUN_CHUNK])

    def _run_chunk(self, chunk: list[tuple[str, dict[str, Any]]]) -> None:
        """Run a chunk of requests in order; the plain ones are answered together as bytes."""
        problems = params_errors([params for _, params in chunk])
        asked = [
            (params if problem is None and not self._fails(custom_id) else None, custom_id)
            for (custom_id, params), problem in zip(chunk, problems, strict=True)
        ]
        messages = fake_model.anthropic_answers_json(asked)
        for (custom_id, params), message in zip(chunk, messages, strict=True):
            line = None if message is None else _succeeded_line(custom_id, message)
            kind = "succeeded"
            if line is None:
                kind, payload = self._answer(custom_id, params)
                key = "message" if kind == "succeeded" else "error"
                line = dumps({"custom_id": custom_id, "result": {"type": kind, key: payload}})
            self.results.append(line)
            self.counts[kind] += 1

    def _fails(self, custom_id: str) -> bool:
        """An error is injected for this request (it passed the batch checks)."""
        cfg = self.cfg
        return faults.request_fails(cfg.seed, self.seq, custom_id, cfg.request_error_rate)

    def _answer(self, custom_id: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """`(result type, message or error)`: the API's own checks first (F.8), then an
        injected error, then the fake model."""
        cfg = self.cfg
        problem = params_error(params)
        if problem is not None:
            return "errored", anthropic_result_error(*problem)
        if faults.request_fails(cfg.seed, self.seq, custom_id, cfg.request_error_rate):
            kind, payload = "errored", faults.anthropic_line_error(cfg.request_error_type)
        else:
            kind, payload = fake_model.anthropic_answer(params, salt=custom_id, checked=True)
        if kind == "errored":
            payload["error"].setdefault("details", dict(ERROR_DETAILS))  # F.10
        return kind, payload

    def lag(self, what: str) -> None:
        """Answer 404 to the first `anthropic_not_found_reads` retrieves after the create and
        after the end, and results reads after the end (F.11: a few seconds of lag)."""
        phase = "created" if self.ended_at is None else "ended"
        key = f"{phase}:{what}"
        if self.lagged.get(key, 0) < self.cfg.anthropic_not_found_reads:
            self.lagged[key] = self.lagged.get(key, 0) + 1
            raise ApiError(404, f"Message batch {self.id} not found", type="not_found_error")

    def _end(self, outcome: str, at: float) -> None:
        kind = {"cancelled": "canceled", "expired": "expired"}.get(outcome)
        if kind is not None:
            for custom_id, _ in self.requests[len(self.results) :]:
                line = {"custom_id": custom_id, "result": {"type": kind}}
                self.results.append(dumps(line))
                self.counts[kind] += 1
        order = list(self.results)
        random.Random(f"{self.cfg.seed}:{self.seq}:results").shuffle(order)
        order.append(b"")  # the last line ends with a newline too, with no copy of each line
        self.results_body = b"\n".join(order)
        self.results.clear()
        self.requests = []
        self.ended_at = at

    def to_dict(self, base_url: str) -> dict[str, Any]:
        """The MessageBatch object, every key present."""
        if self.ended_at is None:
            counts = dict.fromkeys(RESULT_TYPES, 0)
            processing = self.timeline.n
            results_url = None
        else:
            counts, processing = dict(self.counts), 0
            results_url = f"{base_url}/v1/messages/batches/{self.id}/results"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": {"processing": processing, **counts},
            "ended_at": rfc3339(self.ended_at),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.timeline.expires_at),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(self.timeline.cancel_at),
            "results_url": results_url,
        }


class AnthropicState:
    """Every Message Batch of one emulator."""

    def __init__(self) -> None:
        self.batches: dict[str, MessageBatch] = {}
        self.seq = 0

    def clear(self) -> None:
        """Forget every batch."""
        self.batches.clear()
        self.seq = 0

    def advance(self, now: float) -> None:
        """Bring every batch up to `now`."""
        for batch in self.batches.values():
            batch.advance(now)

    def create(self, body: Any, now: float, cfg: EmulatorConfig, base_url: str) -> dict[str, Any]:
        """POST /v1/messages/batches: validate synchronously, then start."""
        self.advance(now)
        requests = check_create(body, cfg.anthropic_max_requests)
        self.seq += 1
        timeline = Timeline(
            start=now + cfg.validating_seconds,
            n=len(requests),
            rps=cfg.requests_per_second,
            finalizing_seconds=cfg.finalizing_seconds,
            cancel_seconds=cfg.cancel_seconds,
            expires_at=now + cfg.completion_window_seconds,
        )
        batch = MessageBatch(ids.message_batch_id(), self.seq, now, cfg, requests, timeline)
        self.batches[batch.id] = batch
        return batch.to_dict(base_url)

    def get(self, batch_id: str, now: float, base_url: str) -> dict[str, Any]:
        """GET /v1/messages/batches/{id}."""
        self.advance(now)
        batch = self._batch(batch_id)
        batch.lag("retrieve")
        return batch.to_dict(base_url)

    def cancel(self, batch_id: str, now: float, base_url: str) -> dict[str, Any]:
        """POST .../{id}/cancel: -> canceling (a repeated cancel is a no-op)."""
        self.advance(now)
        batch = self._batch(batch_id)
        if batch.status == "ended":
            # [UNVERIFIED] the real answer for an ended batch; a 400 is the likely one.
            raise anthropic_invalid(f"Batch {batch_id} has already ended and cannot be canceled.")
        if batch.timeline.cancel_at is None:
            batch.timeline.cancel_at = now
        return batch.to_dict(base_url)

    def delete(self, batch_id: str, now: float) -> dict[str, Any]:
        """DELETE .../{id}: only once ended (400 before, [UNVERIFIED] status code)."""
        self.advance(now)
        batch = self._batch(batch_id)
        if batch.status != "ended":
            message = (
                f"Batch {batch_id} cannot be deleted while its processing_status is "
                f"{batch.status!r}; cancel it and wait until it has ended."
            )
            raise anthropic_invalid(message)
        del self.batches[batch_id]
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, batch_id: str, now: float) -> bytes:
        """GET .../{id}/results: the JSONL body; 400 before the batch has ended.

        [EMULATOR CHOICE] the real answer before the end is undocumented (the SDK refuses
        client-side); the emulator sends 400 invalid_request_error.
        """
        self.advance(now)
        batch = self._batch(batch_id)
        if batch.results_body is not None:
            batch.lag("results")
        if batch.results_body is None:
            message = (
                f"Results for batch {batch_id} are not available: its processing_status is "
                f"{batch.status!r}. Results are available once it has ended."
            )
            raise anthropic_invalid(message)
        return batch.results_body

    def listing(self, query: dict[str, str], now: float, base_url: str) -> dict[str, Any]:
        """GET /v1/messages/batches: newest first; `after_id` pages on, `before_id` back."""
        self.advance(now)
        limit = _limit(query.get("limit"))
        ordered = sorted(self.batches.values(), key=lambda b: (b.created_at, b.seq), reverse=True)
        before, after = query.get("before_id"), query.get("after_id")
        if before is not None and after is not None:
            raise anthropic_invalid("Cannot specify both before_id and after_id.")
        if after is not None:
            rest = ordered[self._position(ordered, after) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif before is not None:
            rest = ordered[: self._position(ordered, before)]
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        return {
            "data": [b.to_dict(base_url) for b in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }

    def summary(self, now: float) -> dict[str, Any]:
        """Batches with ids and statuses (GET /_emulator/state)."""
        self.advance(now)
        return {
            "batches": [{"id": b.id, "status": b.status} for b in self.batches.values()],
        }

    @staticmethod
    def _position(ordered: list[MessageBatch], batch_id: str) -> int:
        for index, batch in enumerate(ordered):
            if batch.id == batch_id:
                return index
        raise ApiError(404, f"Message batch {batch_id} not found", type="not_found_error")

    def _batch(self, batch_id: str) -> MessageBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"Message batch {batch_id} not found", type="not_found_error")
        return batch


def _limit(value: str | None) -> int:
    try:
        limit = 20 if value is None else int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise anthropic_invalid(f"limit: Input should be between 1 and 1000, got {value!r}")
    return limit
