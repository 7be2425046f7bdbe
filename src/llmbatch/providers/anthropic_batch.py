"""Anthropic Message Batches, shard by shard: create, poll, download, read.

Exactly-once: Anthropic batches carry no metadata, so a batch whose create answer was lost
(crash, dropped connection) is found by listing the batches created since the shard's
`creating_at` and matching the request count, skipping every batch a job under the same home
has recorded (`claims`). That match is a guess: when the adopted batch ends, its custom_ids
must carry this job's tag, or the job releases it and sends the shard again (`lifecycle`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from llmbatch._exceptions import NotFoundError
from llmbatch.manifest import Observation, Shard, Status
from llmbatch.prepare import Limits
from llmbatch.providers.anthropic import Anthropic
from llmbatch.providers.anthropic_wire import WIRE
from llmbatch.providers.backend import Backend, Dest, Recover, ResultLine, now
from llmbatch.store import JobFolder

__all__ = ["ANTHROPIC_LIMITS", "AnthropicBackend", "parse_result_line"]

# the body is '{"requests":[' + lines joined by ',' + ']}'
ANTHROPIC_LIMITS = Limits(
    max_requests=100_000, max_bytes=256 * 1024 * 1024, shard_overhead=len('{"requests":[]}')
)
_SLACK = 120.0  # seconds of clock skew tolerated when matching a batch to a lost create


def _epoch(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _normalise(batch: dict[str, Any]) -> Status:
    raw = batch.get("processing_status")
    if raw == "in_progress":
        return "in_progress"
    if raw == "canceling":
        return "cancelling"
    if raw != "ended":
        return "in_progress"
    counts = batch.get("request_counts") or {}
    if batch.get("cancel_initiated_at"):
        return "cancelled"
    if counts.get("expired"):
        return "expired"
    return "completed"


class AnthropicBackend(Backend):
    """Batch mechanics for the Anthropic Message Batches API.

    The requests travel inline with the create call, so nothing is uploaded (or discarded);
    a create over quota is refused with a 429 rather than failing later, and there is no input
    file to lose (the base class's defaults).
    """

    name = "anthropic"
    wire = WIRE
    LIMITS = ANTHROPIC_LIMITS
    config: Anthropic

    @classmethod
    def fit_limits(cls, given: Limits | None) -> Limits:
        """The counts and bytes given, with this provider's envelope (no embeddings here)."""
        if given is None:
            return cls.LIMITS
        return Limits(given.max_requests, given.max_bytes, None, cls.LIMITS.shard_overhead)

    def _send(self, shard: Shard, folder: JobFolder, recover: Recover) -> dict[str, Any]:
        return self.client.create_batch(folder.path / shard.path, recover=recover)

    def _find_batch(self, shard: Shard, claimed: set[str]) -> dict[str, Any] | None:
        """The newest unclaimed batch created since the shard's create began, of its size.

        Anthropic batches carry no metadata, so this is a guess; it is proven (or released)
        when the batch ends and its custom_ids show whose rows it holds.
        """
        since = (shard.creating_at or now()) - _SLACK
        for batch in self.client.iter_batches(limit=100):
            if _epoch(batch.get("created_at")) < since:
                return None
            total = sum((batch.get("request_counts") or {}).values())
            if total == shard.n and batch["id"] not in claimed:
                return batch
        return None

    def _observation(self, batch: dict[str, Any]) -> Observation:
        counts = batch.get("request_counts") or {}
        failed = sum(counts.get(k) or 0 for k in ("errored", "canceled", "expired"))
        return Observation(
            status=_normalise(batch),
            raw_status=batch.get("processing_status"),
            counts={
                "total": sum(v or 0 for v in counts.values()),
                "completed": counts.get("succeeded") or 0,
                "failed": failed,
            },
        )

    def download(self, shard: Shard, dest: Dest) -> list[tuple[str, Path]]:
        assert shard.batch_id is not None
        path = dest("output")
        self.client.download_results(shard.batch_id, path)
        return [("output", path)]

    def is_answer(self, file_kind: str, line: dict[str, Any]) -> bool:
        result = line.get("result")
        return isinstance(result, dict) and result.get("type") == "succeeded"

    def plain_is_answer(self, file_kind: str) -> bool:
        return True  # the columnar read's plain lines are `"type": "succeeded"` results

    @staticmethod
    def parse_line(line: dict[str, Any]) -> ResultLine:
        return parse_result_line(line)

    def cleanup(self, shard: Shard) -> list[str]:
        batch_id = shard.batch_id
        if not batch_id or shard.status not in {"completed", "expired", "cancelled"}:
            return []
        with contextlib.suppress(NotFoundError):
            self.client.delete_batch(batch_id)
        return [batch_id]


def parse_result_line(line: dict[str, Any]) -> ResultLine:
    """Normalise one results line: succeeded / errored / canceled / expired (any other shape
    is that row's error, never the job's)."""
    custom_id = str(line.get("custom_id"))
    result = line.get("result")
    result = result if isinstance(result, dict) else {}
    kind = str(result.get("type") or "errored")
    if kind == "succeeded":
        return custom_id, kind, result.get("message") or {}, None
    if kind == "errored":
        outer = result.get("error")
        outer = outer if isinstance(outer, dict) else {"message": str(outer or "no details")}
        inner = outer.get("error") or outer  # the envelope, or (defensively) a flat error
        inner = inner if isinstance(inner, dict) else {"message": str(inner)}
        message = f"{inner.get('type', 'error')}: {inner.get('message', 'no details')}"
        return custom_id, kind, None, message
    messages = {
        "canceled": "canceled: the batch was cancelled before this request ran",
        "expired": "expired: the batch ended (24 h) before this request ran",
    }
    return custom_id, kind, None, messages.get(kind, f"{kind}: unknown result type")
