"""OpenAI Files + Batches, shard by shard: upload, create, poll, download, read.

Exactly-once: the shard's file is uploaded under a name unique to the job and shard
(`llmbatch-<tag>-NNNN.jsonl`) and its batch carries `metadata.llmbatch_shard`; after a crash
(or a create whose answer was lost) both are found by listing instead of being created again.
Orphaned duplicate uploads are deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from llmbatch._exceptions import APIStatusError, NotFoundError, ProviderError
from llmbatch.prepare import Limits
from llmbatch.providers._config import OpenAI
from llmbatch.providers.backend import RemoteBackend, ResultLine, Save, now
from llmbatch.store import JobFolder
from llmbatch.tasks import Reply, reply_from_openai

__all__ = ["OPENAI_LIMITS", "OpenAIBackend"]

OPENAI_LIMITS = Limits(
    max_requests=50_000, max_bytes=200 * 1024 * 1024, max_embedding_inputs=50_000
)
META_KEY = "llmbatch_shard"
_STATUS = {
    "validating": "validating",
    "in_progress": "in_progress",
    "finalizing": "finalizing",
    "completed": "completed",
    "failed": "failed",
    "expired": "expired",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
}
_LINE_KINDS = {"batch_expired": "expired", "batch_cancelled": "canceled"}
# how far back (seconds) to list batches when looking for one whose create answer was lost
_LOOKBACK = 3600


def shard_filename(tag: str, index: int) -> str:
    return f"llmbatch-{tag}-{index:04d}.jsonl"


def shard_marker(tag: str, shard: dict[str, Any]) -> str:
    """The metadata value naming one creation of one shard (a quota resubmit is a new one)."""
    return f"{tag}-{shard['index']}-{shard.get('generation', 0)}"


class OpenAIBackend(RemoteBackend):
    """Batch mechanics for OpenAI and OpenAI-compatible base URLs."""

    name = "openai"

    def __init__(self, config: OpenAI, *, tag: str, endpoint: str, limits: Limits) -> None:
        super().__init__(config)
        self.tag = tag
        self.endpoint = endpoint
        self.limits = limits

    def line(self, custom_id: str, body: bytes) -> bytes:
        head = b'{"custom_id":"' + custom_id.encode() + b'","method":"POST","url":"'
        return head + self.endpoint.encode() + b'","body":' + body + b"}"

    # -- submit ---------------------------------------------------------------------------
    def submit(
        self, shard: dict[str, Any], folder: JobFolder, save: Save, claimed: set[str]
    ) -> None:
        if not shard.get("file_id"):
            self._upload(shard, folder, save)
        if not shard.get("batch_id"):
            self._create(shard, save, claimed)

    def _upload(self, shard: dict[str, Any], folder: JobFolder, save: Save) -> None:
        name = shard_filename(self.tag, shard["index"])
        resuming = shard.get("state") == "uploading"
        shard["state"] = "uploading"
        save()
        found = self._adopt_upload(name, shard["bytes"]) if resuming else None
        if found is None:
            found = self.client.upload_file(folder.path / shard["path"], filename=name)
        shard["file_id"] = found["id"]
        shard["state"] = "uploaded"
        save()

    def _adopt_upload(self, name: str, size: int) -> dict[str, Any] | None:
        """Reuse one upload of this shard left by a crash; delete any other copies."""
        copies = [f for f in self.client.iter_files(purpose="batch") if f.get("filename") == name]
        whole = [f for f in copies if f.get("status") != "error" and f.get("bytes") in (None, size)]
        keep = whole[0] if whole else None
        for f in copies:
            if f is not keep:
                self.client.delete_file(f["id"])
        return keep

    def _create(self, shard: dict[str, Any], save: Save, claimed: set[str]) -> None:
        marker = shard_marker(self.tag, shard)
        resuming = shard.get("state") == "creating"
        shard["state"] = "creating"
        shard.setdefault("creating_at", now())
        save()

        def recover() -> dict[str, Any] | None:
            return self._find_batch(marker, shard["creating_at"], claimed)

        batch = recover() if resuming else None
        if batch is None:
            metadata = {META_KEY: marker, "llmbatch_job": self.tag}
            try:
                batch = self.client.create_batch(
                    shard["file_id"], self.endpoint, metadata=metadata, recover=recover
                )
            except APIStatusError as exc:
                if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
                    raise  # may have been created: keep the file, resume looks it up
                self._undo_upload(shard, save)
                raise
        shard["batch_id"] = batch["id"]
        shard["state"] = "submitted"
        self._apply(shard, batch)
        save()

    def _undo_upload(self, shard: dict[str, Any], save: Save) -> None:
        """The create was refused: delete the uploaded file so nothing half-made is left."""
        with contextlib.suppress(ProviderError):
            self.client.delete_file(shard["file_id"])
        shard.update(file_id=None, state="written")
        shard.pop("creating_at", None)
        save()

    def adopt(self, shard: dict[str, Any], claimed: set[str]) -> bool:
        if shard.get("state") != "creating":
            return False
        batch = self._find_batch(shard_marker(self.tag, shard), shard["creating_at"], claimed)
        if batch is not None:
            shard.update(batch_id=batch["id"], state="submitted")
            self._apply(shard, batch)
        return batch is not None

    def discard(self, shard: dict[str, Any]) -> None:
        if shard.get("state") == "uploading":
            found = self._adopt_upload(shard_filename(self.tag, shard["index"]), shard["bytes"])
            shard["file_id"] = found["id"] if found else None
        if shard.get("file_id"):
            with contextlib.suppress(ProviderError):
                self.client.delete_file(shard["file_id"])
            shard["file_id"] = None

    def _find_batch(self, marker: str, since: float, claimed: set[str]) -> dict[str, Any] | None:
        for batch in self.client.iter_batches(limit=100):
            if (batch.get("metadata") or {}).get(META_KEY) == marker and batch["id"] not in claimed:
                return batch
            if (batch.get("created_at") or 0) < since - _LOOKBACK:
                return None
        return None

    # -- poll -----------------------------------------------------------------------------
    def refresh(self, shard: dict[str, Any]) -> None:
        self._apply(shard, self.client.retrieve_batch(shard["batch_id"]))

    def _apply(self, shard: dict[str, Any], batch: dict[str, Any]) -> None:
        raw = batch.get("status") or "validating"
        counts = batch.get("request_counts") or {}
        shard["raw_status"] = raw
        shard["status"] = _STATUS.get(raw, "in_progress")
        shard["counts"] = {
            "total": counts.get("total") or 0,
            "completed": counts.get("completed") or 0,
            "failed": counts.get("failed") or 0,
        }
        shard["errors"] = ((batch.get("errors") or {}).get("data")) or []
        shard["output_file_id"] = batch.get("output_file_id")
        shard["error_file_id"] = batch.get("error_file_id")
        shard["usage"] = batch.get("usage")

    def quota_failure(self, shard: dict[str, Any]) -> bool:
        """True if the batch failed only because the enqueued-token quota was full."""
        codes = {e.get("code") for e in shard.get("errors") or []}
        return shard.get("status") == "failed" and codes == {"token_limit_exceeded"}

    # -- results --------------------------------------------------------------------------
    def download(self, shard: dict[str, Any], folder: JobFolder) -> None:
        files = []
        for kind, key in (("output", "output_file_id"), ("errors", "error_file_id")):
            if shard.get(key):
                dest = folder.result_path(shard["index"], kind)
                self.client.download_file(shard[key], dest)
                files.append(str(dest.relative_to(folder.path)))
        shard["results"] = files
        shard["state"] = "downloaded"

    def read(self, shard: dict[str, Any], folder: JobFolder) -> Iterator[ResultLine]:
        for rel in shard.get("results") or []:
            yield from _read_lines(folder.path / rel)

    def reply(self, endpoint: str, payload: dict[str, Any]) -> Reply:
        return reply_from_openai(endpoint, payload)

    # -- cancel / cleanup -----------------------------------------------------------------
    def cancel(self, shard: dict[str, Any]) -> None:
        self._apply(shard, self.client.cancel_batch(shard["batch_id"]))

    def cleanup(self, shard: dict[str, Any]) -> list[str]:
        deleted = []
        for key in ("file_id", "output_file_id", "error_file_id"):
            file_id = shard.get(key)
            if file_id:
                with contextlib.suppress(NotFoundError):
                    self.client.delete_file(file_id)
                deleted.append(file_id)
        return deleted


def _read_lines(path: Path) -> Iterator[ResultLine]:
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                yield parse_output_line(orjson.loads(raw))


def parse_output_line(line: dict[str, Any]) -> ResultLine:
    """Normalise one output- or error-file line (both shapes of the error file)."""
    custom_id = str(line.get("custom_id"))
    response = line.get("response")
    error = line.get("error")
    if response is not None:
        status = int(response.get("status_code") or 0)
        body = response.get("body")
        if 200 <= status < 300 and not error and isinstance(body, dict):
            return custom_id, "succeeded", body, None
        inner = (body or {}).get("error") if isinstance(body, dict) else None
        message = (inner or {}).get("message") or (error or {}).get("message") or str(body)[:500]
        return custom_id, "errored", None, f"HTTP {status}: {message}"
    code = (error or {}).get("code") or "error"
    message = (error or {}).get("message") or "no details"
    return custom_id, _LINE_KINDS.get(code, "errored"), None, f"{code}: {message}"
