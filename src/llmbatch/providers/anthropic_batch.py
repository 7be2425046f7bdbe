"""Anthropic Message Batches, shard by shard: create, poll, download, read.

Exactly-once: Anthropic batches carry no metadata, so a batch whose create answer was lost
(crash, dropped connection) is found by listing the batches created since the shard's
`creating_at` and matching the request count, skipping every batch a job under the same home
has recorded (`claims`). That match is a guess: when the adopted batch ends, its custom_ids
must carry this job's tag, or the job releases it and sends the shard again (`lifecycle`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from llmbatch._exceptions import NotFoundError
from llmbatch._json import loads
from llmbatch.manifest import Observation, Shard, Status
from llmbatch.prepare import Limits
from llmbatch.providers._config import Anthropic
from llmbatch.providers.backend import Created, Dest, RemoteBackend, ResultLine, now
from llmbatch.store import JobFolder
from llmbatch.tasks import Reply, reply_from_anthropic

__all__ = ["ANTHROPIC_LIMITS", "AnthropicBackend"]

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


class AnthropicBackend(RemoteBackend):
    """Batch mechanics for the Anthropic Message Batches API."""

    name = "anthropic"
    uploads = False  # the requests travel inline in the create call

    def __init__(self, config: Anthropic, *, tag: str, limits: Limits) -> None:
        super().__init__(config)
        self.tag = tag
        self.limits = limits

    def line(self, custom_id: str, body: bytes) -> bytes:
        return b'{"custom_id":"' + custom_id.encode() + b'","params":' + body + b"}"

    def upload(self, shard: Shard, folder: JobFolder, *, resuming: bool) -> str:
        raise NotImplementedError("Anthropic batches carry their requests inline")

    def create(
        self, shard: Shard, folder: JobFolder, claimed: set[str], *, resuming: bool
    ) -> Created:
        found: list[dict[str, Any]] = []

        def recover() -> dict[str, Any] | None:
            batch = self._find_batch(shard, claimed)
            if batch is not None:
                found.append(batch)
            return batch

        batch = recover() if resuming else None
        if batch is None:
            batch = self.client.create_batch(folder.path / shard.path, recover=recover)
        return Created(str(batch["id"]), _observation(batch), adopted=bool(found))

    def find(self, shard: Shard, claimed: set[str]) -> Created | None:
        batch = self._find_batch(shard, claimed)
        return None if batch is None else Created(batch["id"], _observation(batch), True)

    def discard(self, shard: Shard) -> None:
        return None  # nothing is uploaded before the create

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

    def observe(self, batch_id: str) -> Observation:
        return _observation(self.client.retrieve_batch(batch_id))

    def quota_failure(self, shard: Shard) -> bool:
        return False  # Anthropic refuses a create over quota with a 429 instead

    def lost_input_failure(self, shard: Shard) -> bool:
        return False  # the requests travel inline with the create: there is no input file

    def download(self, shard: Shard, dest: Dest) -> list[tuple[str, Path]]:
        assert shard.batch_id is not None
        path = dest("output")
        self.client.download_results(shard.batch_id, path)
        return [("output", path)]

    def is_answer(self, file_kind: str, line: dict[str, Any]) -> bool:
        result = line.get("result")
        return isinstance(result, dict) and result.get("type") == "succeeded"

    def read(self, shard: Shard, folder: JobFolder) -> Iterator[ResultLine]:
        for rel in shard.results:
            with (folder.path / rel).open("rb") as fh:
                for raw in fh:
                    if raw.strip():
                        yield parse_result_line(loads(raw))

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        return reply_from_anthropic(payload)

    def cancel(self, batch_id: str) -> Observation:
        return _observation(self.client.cancel_batch(batch_id))

    def cleanup(self, shard: Shard) -> list[str]:
        batch_id = shard.batch_id
        if not batch_id or shard.status not in {"completed", "expired", "cancelled"}:
            return []
        with contextlib.suppress(NotFoundError):
            self.client.delete_batch(batch_id)
        return [batch_id]


def _observation(batch: dict[str, Any]) -> Observation:
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
