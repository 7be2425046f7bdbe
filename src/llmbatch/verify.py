"""Checks that decide whether bytes on disk can be trusted: request shards and downloads.

- A request shard is sent only if its bytes still hash to the sha256 recorded when it was
  written (a file edited after preparation is never sent).
- A download is trusted only if every line parses as a JSON object with a `custom_id`, every
  custom_id is one of this shard's wire ids and appears once across the shard's files, and
  there are at least as many answer lines as the provider counted as succeeded. The counts are
  a floor, never a ceiling: rows are never declared lost from the counts alone (an expired
  OpenAI batch was seen with counts that do not add up); missing rows are derived from the
  files. A final line without a newline is accepted when it parses (the APIs do not promise a
  trailing newline); a body cut mid-line fails to parse. A body shorter than its
  Content-Length is caught by the HTTP layer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmbatch._exceptions import JobFolderError
from llmbatch._json import loads
from llmbatch.ids import row_of

__all__ = ["Problem", "check_download", "check_request_file", "hash_file"]

_CHUNK = 1 << 20
OnAnswer = Callable[[Path, int, int, bytes, dict[str, Any]], None]


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


def check_download(
    files: Iterable[tuple[str, Path]],
    *,
    tag: str,
    rows: set[int],
    succeeded: int,
    is_answer: Callable[[str, dict[str, Any]], bool],
    on_answer: OnAnswer | None = None,
) -> Problem | None:
    """Check a shard's downloaded files (`(file kind, path)` pairs); None if trustworthy.

    `on_answer(path, row, offset, raw, line)` sees each answer line on the way (the one
    parse of a download: `result_tally`); what it saw counts only if the check passes.
    """
    seen: set[int] = set()
    answers = 0
    fast = orjson.loads
    for file_kind, path in files:
        offset = 0
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                start, offset = offset, offset + len(raw)
                try:  # the usual line, without a call (this runs for every row)
                    line = fast(raw)
                except orjson.JSONDecodeError:
                    if not raw.strip():
                        continue
                    line = None
                if type(line) is not dict or type(line.get("custom_id")) is not str:
                    line, problem = _parse(raw, path.name, number)
                    if problem is not None:
                        return problem
                custom_id = line["custom_id"]
                row = row_of(custom_id, tag)
                if row is None:
                    msg = (
                        f"line {number} of {path.name} has custom_id {custom_id!r}, not this job's"
                    )
                    return Problem(msg, wrong_batch=True)
                if row not in rows:
                    msg = f"line {number} of {path.name}: row {row} is not in this shard"
                    return Problem(msg, wrong_batch=True)
                if row in seen:
                    return Problem(f"line {number} of {path.name}: custom_id {custom_id!r} twice")
                seen.add(row)
                if is_answer(file_kind, line):
                    answers += 1
                    if on_answer is not None:
                        on_answer(path, row, start, raw, line)
    if answers < succeeded:
        msg = f"{answers} answer line(s) but the provider counted {succeeded} succeeded"
        return Problem(msg + " (the download is incomplete)")
    return None


def _parse(raw: bytes, name: str, number: int) -> tuple[Any, Problem | None]:
    try:
        line = loads(raw)
    except orjson.JSONDecodeError:
        return None, Problem(f"line {number} of {name} is not JSON: {raw[:60]!r}")
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None, Problem(f"line {number} of {name} is not a result line: {raw[:60]!r}")
    return line, None
