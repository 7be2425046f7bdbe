"""Checks that decide whether bytes on disk can be trusted: request shards (downloads:
`download_check`, whose verdict is a `Problem`).

A request shard is sent only if its bytes still hash to the sha256 recorded when it was
written (a file edited after preparation is never sent).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from llmbatch._exceptions import JobFolderError

__all__ = ["Problem", "check_request_file", "hash_file"]

_CHUNK = 1 << 20


def hash_file(path: Path, form: str = "bytes") -> str:
    """sha256 of the file's exact bytes (`form="lines"`: without newlines, as 0.1.0 did)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk.replace(b"\n", b"") if form == "lines" else chunk)
    return digest.hexdigest()


def check_request_file(path: Path, sha256: str, form: str, index: int) -> None:
    """Raise JobFolderError unless the shard file is exactly what was prepared."""
    try:
        actual = hash_file(path, form)
    except FileNotFoundError:
        actual = None
    if actual == sha256:
        return
    what = "is missing" if actual is None else "was changed after it was prepared"
    msg = (
        f"request shard {index} ({str(path)!r}) {what}; it is not sent\nHint: prepare the job "
        "again (call the verb again, with force=True if the same work exists) instead of "
        "editing request files."
    )
    raise JobFolderError(msg)


@dataclass(frozen=True)
class Problem:
    """Why a download is not trusted. `wrong_batch`: it holds rows that are not this shard's
    (another job's, or another shard's): the batch itself is the wrong one."""

    message: str
    wrong_batch: bool = False
