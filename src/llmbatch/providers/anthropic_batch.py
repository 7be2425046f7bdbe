"""Anthropic Message Batches, shard by shard: create, poll, download, read.

Exactly-once: Anthropic batches carry no metadata, so a batch whose create answer was lost
(crash, dropped connection) is found by listing the batches created since the shard's
`creating_at` and matching the request count; the wire custom_ids carry the job tag, so a
wrongly adopted batch could never put a foreign answer on a row (its lines would not map).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from llmbatch._exceptions import NotFoundError
from llmbatch.prepare import Limits
from llmbatch.providers._config import Anthropic
from llmbatch.providers.backend import RemoteBackend, ResultLine, Save, now
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


def _normalise(batch: dict[str, Any]) -> str:
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

    def __init__(self, config: Anthropic, *, tag: str, limits: Limits) -> None:
        super().__init__(config)
        self.tag = tag
        self.limits = limits

    def line(self, custom_id: str, body: bytes) -> bytes:
        return b'{"custom_id":"' + custom_id.encode() + b'","params":' + body + b"}"

    def submit(
        self, shard: dict[str, Any], folder: JobFolder, save: Save, claimed: set[str]
    ) -> None:
        if shard.get("batch_id"):
            return
        resuming = shard.get("state") == "creating"
        shard["state"] = "creating"
        shard.setdefault("creating_at", now())
        save()

        def recover() -> dict[str, Any] | None:
            return self._find_batch(shard, claimed)

        batch = recover() if resuming else None
        if batch is None:
            batch = self.client.create_batch(folder.path / shard["path"], recover=recover)
        shard["batch_id"] = batch["id"]
        shard["state"] = "submitted"
        self._apply(shard, batch)
        save()

    def adopt(self, shard: dict[str, Any], claimed: set[str]) -> bool:
        if shard.get("state") != "creating":
            return False
        batch = self._find_batch(shard, claimed)
        if batch is not None:
            shard.update(batch_id=batch["id"], state="submitted")
            self._apply(shard, batch)
        return batch is not None

    def discard(self, shard: dict[str, Any]) -> None:
        return None  # nothing is uploaded before the create

    def _find_batch(self, shard: dict[str, Any], claimed: set[str]) -> dict[str, Any] | None:
        since = shard["creating_at"] - _SLACK
        for batch in self.client.iter_batches(limit=100):
            if _epoch(batch.get("created_at")) < since:
                return None
            total = sum((batch.get("request_counts") or {}).values())
            if total == shard["n"] and batch["id"] not in claimed:
                return batch
        return None

    def refresh(self, shard: dict[str, Any]) -> None:
        self._apply(shard, self.client.retrieve_batch(shard["batch_id"]))

    def _apply(self, shard: dict[str, Any], batch: dict[str, Any]) -> None:
        counts = batch.get("request_counts") or {}
        shard["raw_status"] = batch.get("processing_status")
        shard["status"] = _normalise(batch)
        failed = sum(counts.get(k) or 0 for k in ("errored", "canceled", "expired"))
        shard["counts"] = {
            "total": sum(v or 0 for v in counts.values()),
            "completed": counts.get("succeeded") or 0,
            "failed": failed,
        }
        shard["errors"] = []

    def quota_failure(self, shard: dict[str, Any]) -> bool:
        return False  # Anthropic refuses a create over quota with a 429 instead

    def download(self, shard: dict[str, Any], folder: JobFolder) -> None:
        dest = folder.result_path(shard["index"])
        self.client.download_results(shard["batch_id"], dest)
        shard["results"] = [str(dest.relative_to(folder.path))]
        shard["state"] = "downloaded"

    def read(self, shard: dict[str, Any], folder: JobFolder) -> Iterator[ResultLine]:
        for rel in shard.get("results") or []:
            with (folder.path / rel).open("rb") as fh:
                for raw in fh:
                    if raw.strip():
                        yield parse_result_line(orjson.loads(raw))

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        return reply_from_anthropic(payload)

    def cancel(self, shard: dict[str, Any]) -> None:
        self._apply(shard, self.client.cancel_batch(shard["batch_id"]))

    def cleanup(self, shard: dict[str, Any]) -> list[str]:
        batch_id = shard.get("batch_id")
        if not batch_id or shard.get("status") not in {"completed", "expired", "cancelled"}:
            return []
        with contextlib.suppress(NotFoundError):
            self.client.delete_batch(batch_id)
        return [batch_id]


def parse_result_line(line: dict[str, Any]) -> ResultLine:
    """Normalise one results line: succeeded / errored / canceled / expired."""
    custom_id = str(line.get("custom_id"))
    result = line.get("result") or {}
    kind = result.get("type") or "errored"
    if kind == "succeeded":
        return custom_id, kind, result.get("message") or {}, None
    if kind == "errored":
        outer = result.get("error") or {}
        inner = outer.get("error") or outer  # the envelope, or (defensively) a flat error
        message = f"{inner.get('type', 'error')}: {inner.get('message', 'no details')}"
        return custom_id, kind, None, message
    messages = {
        "canceled": "canceled: the batch was cancelled before this request ran",
        "expired": "expired: the batch ended (24 h) before this request ran",
    }
    return custom_id, kind, None, messages.get(kind, f"{kind}: unknown result type")
