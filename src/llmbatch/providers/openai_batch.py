"""OpenAI Files + Batches, shard by shard: upload, create, poll, download, read.

Exactly-once: the shard's file is uploaded under a name unique to the job and shard
(`llmbatch-<tag>-NNNN.jsonl`) and its batch carries `metadata.llmbatch_shard`; after a crash
(or a create whose answer was lost) both are found by listing instead of being created again.
Orphaned duplicate uploads are deleted.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, cast, get_args

from llmbatch._exceptions import NotFoundError, ProviderError
from llmbatch.manifest import TERMINAL, Observation, Shard, Status
from llmbatch.prepare import Limits
from llmbatch.providers.backend import LOST_INPUT, Backend, Dest, Recover, ResultLine, now
from llmbatch.providers.openai import OpenAI
from llmbatch.providers.openai_wire import WIRE
from llmbatch.store import JobFolder

__all__ = ["OPENAI_LIMITS", "OpenAIBackend", "parse_output_line"]

OPENAI_LIMITS = Limits(
    max_requests=50_000, max_bytes=200 * 1024 * 1024, max_embedding_inputs=50_000
)
META_KEY = "llmbatch_shard"
# OpenAI's batch statuses, spelt as ours (`Status`) already, less our own two; any other is
# read as running
_STATUSES = frozenset(get_args(Status)) - {"pending", "waiting_for_quota"}
_LINE_KINDS = {"batch_expired": "expired", "batch_cancelled": "canceled"}
# how far back (seconds) to list batches when looking for one whose create answer was lost
_LOOKBACK = 3600


def shard_filename(tag: str, index: int) -> str:
    return f"llmbatch-{tag}-{index:04d}.jsonl"


def shard_marker(tag: str, shard: Shard) -> str:
    """The metadata value naming one creation of one shard (a quota resubmit is a new one)."""
    return f"{tag}-{shard.index}-{shard.generation}"


class OpenAIBackend(Backend):
    """Batch mechanics for OpenAI and OpenAI-compatible base URLs."""

    name = "openai"
    wire = WIRE
    LIMITS = OPENAI_LIMITS
    uploads = True
    config: OpenAI

    # -- submit ---------------------------------------------------------------------------
    def upload(self, shard: Shard, folder: JobFolder, *, resuming: bool) -> str:
        name = shard_filename(self.tag, shard.index)
        found = self._adopt_upload(name, shard.bytes) if resuming else None
        if found is None:
            found = self.client.upload_file(folder.path / shard.path, filename=name)
        return str(found["id"])

    def _adopt_upload(self, name: str, size: int) -> dict[str, Any] | None:
        """Reuse one upload of this shard left by a crash; delete any other copies."""
        copies = [f for f in self.client.iter_files(purpose="batch") if f.get("filename") == name]
        whole = [f for f in copies if f.get("status") != "error" and f.get("bytes") in (None, size)]
        keep = whole[0] if whole else None
        for f in copies:
            if f is not keep:
                self.client.delete_file(f["id"])
        return keep

    def _send(self, shard: Shard, folder: JobFolder, recover: Recover) -> dict[str, Any]:
        metadata = {META_KEY: shard_marker(self.tag, shard), "llmbatch_job": self.tag}
        assert shard.file_id is not None
        return self.client.create_batch(
            shard.file_id, self.endpoint, metadata=metadata, recover=recover
        )

    def discard(self, shard: Shard) -> None:
        file_id = shard.file_id
        if shard.state == "uploading":
            found = self._adopt_upload(shard_filename(self.tag, shard.index), shard.bytes)
            file_id = found["id"] if found else None
        if file_id:
            with contextlib.suppress(ProviderError):
                self.client.delete_file(file_id)

    def _find_batch(self, shard: Shard, claimed: set[str]) -> dict[str, Any] | None:
        """The batch whose metadata names this creation of the shard (`shard_marker`), among
        those created up to `_LOOKBACK` seconds before the create began."""
        marker = shard_marker(self.tag, shard)
        since = shard.creating_at or now()
        for batch in self.client.iter_batches(limit=100):
            meta = batch.get("metadata") or {}
            ours = meta.get(META_KEY) == marker and meta.get("llmbatch_job", self.tag) == self.tag
            if ours and batch["id"] not in claimed:
                return batch
            if (batch.get("created_at") or 0) < since - _LOOKBACK:
                return None
        return None

    # -- poll -----------------------------------------------------------------------------
    def _observation(self, batch: dict[str, Any]) -> Observation:
        raw = batch.get("status") or "validating"
        counts = batch.get("request_counts") or {}
        seen = Observation(
            status=cast(Status, raw) if raw in _STATUSES else "in_progress",
            raw_status=raw,
            counts={
                "total": counts.get("total") or 0,
                "completed": counts.get("completed") or 0,
                "failed": counts.get("failed") or 0,
            },
            errors=((batch.get("errors") or {}).get("data")) or [],
            output_file_id=batch.get("output_file_id") or None,  # "" means none (F.5)
            error_file_id=batch.get("error_file_id") or None,
            usage=batch.get("usage"),
        )
        if seen.status in TERMINAL and seen.counts["completed"] and not seen.output_file_id:
            # answers were counted but no file is named yet: not trusted as an end, polled again
            seen.status = "finalizing"
            seen.note = f"{raw} without an output file although {seen.counts['completed']} "
            seen.note += "requests succeeded; polling again"
        return seen

    def quota_failure(self, shard: Shard) -> bool:
        """True if the batch failed only because the enqueued-token quota was full."""
        codes = {e.get("code") for e in shard.errors}
        return shard.status == "failed" and codes == {"token_limit_exceeded"}

    def lost_input_failure(self, shard: Shard) -> bool:
        """True if the batch failed only with "Cannot find file" for its input (reference
        F.1), the first time. OpenAI has answered so for files that existed, so the file is
        uploaded again and the shard sent once more; a second such failure stands."""
        if shard.status != "failed" or not shard.errors:
            return False
        if any(e.get("event") == LOST_INPUT for e in shard.events):
            return False
        return all(
            e.get("code") == "invalid_request" and e.get("param") in ("file_id", "input_file_id")
            for e in shard.errors
        )

    # -- results --------------------------------------------------------------------------
    def download(self, shard: Shard, dest: Dest) -> list[tuple[str, Path]]:
        files = []
        for kind, file_id in (("output", shard.output_file_id), ("errors", shard.error_file_id)):
            if file_id:
                path = dest(kind)
                self.client.download_file(file_id, path)
                files.append((kind, path))
        return files

    def is_answer(self, file_kind: str, line: dict[str, Any]) -> bool:
        return file_kind == "output"  # the output file holds the 2xx lines `completed` counts

    def plain_is_answer(self, file_kind: str) -> bool:
        return file_kind == "output"  # `is_answer` reads the file's kind only

    @staticmethod
    def parse_line(line: dict[str, Any]) -> ResultLine:
        return parse_output_line(line)

    # -- cleanup --------------------------------------------------------------------------
    def cleanup(self, shard: Shard) -> list[str]:
        """Delete the shard's files: those recorded, and any other upload of its file name (a
        retried upload whose first answer was lost leaves one). The name carries this job's
        tag and shard index, and the shard has finished, so no live shard uses such a copy."""
        recorded = [f for f in (shard.file_id, shard.output_file_id, shard.error_file_id) if f]
        name = shard_filename(self.tag, shard.index)
        files = self.client.iter_files(purpose="batch")
        copies = [f["id"] for f in files if f.get("filename") == name]
        deleted = []
        for file_id in dict.fromkeys([*recorded, *copies]):
            with contextlib.suppress(NotFoundError):
                self.client.delete_file(file_id)
            deleted.append(file_id)
        return deleted


def parse_output_line(line: dict[str, Any]) -> ResultLine:
    """Normalise one output- or error-file line (both shapes of the error file)."""
    custom_id = str(line.get("custom_id"))
    response = line.get("response")
    error = line.get("error")
    if error is not None and not isinstance(error, dict):  # any shape is one row's error
        error = {"message": str(error)[:500]}
    if response is not None and not isinstance(response, dict):
        response = {"body": response}
    if response is not None:
        code = response.get("status_code")
        status = code if isinstance(code, int) else 0
        body = response.get("body")
        if 200 <= status < 300 and not error and isinstance(body, dict):
            return custom_id, "succeeded", body, None
        inner = body.get("error") if isinstance(body, dict) else None
        inner = inner if isinstance(inner, dict) else {}
        message = inner.get("message") or (error or {}).get("message") or str(body)[:500]
        return custom_id, "errored", None, f"HTTP {status}: {message}"
    code = str((error or {}).get("code") or "error")
    message = (error or {}).get("message") or "no details"
    return custom_id, _LINE_KINDS.get(code, "errored"), None, f"{code}: {message}"
