"""OpenAI Files: records plus their bytes on disk (A.1-A.3).

Contents live in one temporary folder, never in memory: a 200 MB upload is copied once from
the multipart spool file to disk, and read back line by line. A deleted file's bytes stay on
disk while a batch still reads them (real batches keep running when the input is deleted).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from llmbatch.emulator import ids
from llmbatch.emulator.clock import unix
from llmbatch.emulator.errors import ApiError, openai_bad_value, openai_not_found

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
DEFAULT_BATCH_RETENTION = 30 * 24 * 3600  # files with purpose=batch expire after 30 days
MIN_EXPIRY, MAX_EXPIRY = 3600, 2_592_000


@dataclass
class FileRecord:
    """One stored file; `path` holds its bytes."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: float
    expires_at: float | None
    path: Path

    def to_dict(self) -> dict[str, Any]:
        """The FileObject, every key present."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": unix(self.created_at),
            "expires_at": unix(self.expires_at),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


def parse_expires_after(anchor: str | None, seconds: str | int | None) -> int | None:
    """Validate `expires_after[anchor]` / `expires_after[seconds]`; the retention in seconds."""
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise openai_bad_value("expires_after.anchor", "expires_after.anchor must be 'created_at'.")
    try:
        value = int(seconds) if seconds is not None else -1
    except (TypeError, ValueError):
        value = -1
    if not MIN_EXPIRY <= value <= MAX_EXPIRY:
        msg = f"expires_after.seconds must be an integer between {MIN_EXPIRY} and {MAX_EXPIRY}."
        raise openai_bad_value("expires_after.seconds", msg)
    return value


class FileStore:
    """Every OpenAI file of one emulator, in creation order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, FileRecord] = {}
        self.pinned: dict[Path, int] = {}  # paths still read by a running batch

    def add_stream(
        self, src: BinaryIO, filename: str, purpose: str, now: float, retention: int | None
    ) -> FileRecord:
        """Store an upload, copying it once from `src` to disk."""
        record = self._new(filename, purpose, now, retention)
        with record.path.open("wb") as dest:
            shutil.copyfileobj(src, dest, 1024 * 1024)
        record.bytes = record.path.stat().st_size
        return record

    def add_bytes(
        self, data: bytes, filename: str, purpose: str, now: float, retention: int | None
    ) -> FileRecord:
        """Store bytes made by the emulator (batch output and error files)."""
        record = self._new(filename, purpose, now, retention)
        record.path.write_bytes(data)
        record.bytes = len(data)
        return record

    def _new(self, filename: str, purpose: str, now: float, retention: int | None) -> FileRecord:
        if retention is None and purpose == "batch":
            retention = DEFAULT_BATCH_RETENTION
        file_id = ids.file_id()
        expires = None if retention is None else now + retention
        record = FileRecord(file_id, filename, purpose, 0, now, expires, self.root / file_id)
        self.files[file_id] = record
        return record

    def get(self, file_id: str, now: float, param: str = "id") -> FileRecord:
        """The live file `file_id`, or a 404 (expired files are gone)."""
        record = self.files.get(file_id)
        if record is None or (record.expires_at is not None and record.expires_at <= now):
            raise openai_not_found("File", file_id, param)
        return record

    def delete(self, file_id: str, now: float) -> dict[str, Any]:
        """Delete `file_id`; its bytes go unless a running batch still reads them."""
        record = self.get(file_id, now)
        del self.files[file_id]
        if not self.pinned.get(record.path):
            record.path.unlink(missing_ok=True)
        return {"id": file_id, "object": "file", "deleted": True}

    def pin(self, path: Path) -> None:
        """Keep `path` on disk while a batch reads it."""
        self.pinned[path] = self.pinned.get(path, 0) + 1

    def unpin(self, path: Path) -> None:
        """Release a pin; remove the bytes if the file was deleted meanwhile."""
        self.pinned[path] -= 1
        if self.pinned[path] <= 0:
            del self.pinned[path]
            if not any(r.path == path for r in self.files.values()):
                path.unlink(missing_ok=True)

    def listing(
        self, now: float, purpose: str | None, limit: int, order: str, after: str | None
    ) -> dict[str, Any]:
        """GET /v1/files: cursor paging over live files."""
        live = [r for r in self.files.values() if r.expires_at is None or r.expires_at > now]
        if purpose is not None:
            live = [r for r in live if r.purpose == purpose]
        live.sort(key=lambda r: r.created_at, reverse=order == "desc")
        if after is not None:
            position = next((i for i, r in enumerate(live) if r.id == after), None)
            if position is None:
                raise openai_not_found("File", after, "after")
            live = live[position + 1 :]
        page = live[:limit]
        return {
            "object": "list",
            "data": [r.to_dict() for r in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(live) > limit,
        }

    def clear(self) -> None:
        """Forget every file and remove its bytes."""
        self.files.clear()
        self.pinned.clear()
        for entry in self.root.iterdir():
            if entry.is_file():
                os.remove(entry)


def check_list_args(limit: str | None, order: str | None) -> tuple[int, str]:
    """Validate GET /v1/files `limit` (1..10,000, default 10,000) and `order` (asc|desc)."""
    try:
        value = 10_000 if limit is None else int(limit)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise openai_bad_value("limit", f"Invalid limit {limit!r}: must be between 1 and 10000.")
    chosen = order or "desc"
    if chosen not in ("asc", "desc"):
        raise openai_bad_value("order", f"Invalid order {order!r}: must be 'asc' or 'desc'.")
    return value, chosen


def check_upload(filename: str, purpose: str | None) -> str:
    """Validate an upload's purpose and, for batch input, the `.jsonl` extension."""
    if purpose is None:
        raise ApiError(
            400,
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    if purpose not in UPLOAD_PURPOSES:
        raise openai_bad_value("purpose", f"Invalid value for purpose: {purpose!r}.")
    # [UNVERIFIED] the SDK docstring says the Batch API "only supports .jsonl files"; the
    # emulator rejects another extension at upload time so that such a client mistake shows.
    if purpose == "batch" and not filename.endswith(".jsonl"):
        raise openai_bad_value("file", "Invalid file format for Batch API. Must be .jsonl")
    return purpose
