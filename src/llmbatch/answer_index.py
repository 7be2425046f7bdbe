"""Every successful answer in a job home, by request: the same request is never paid twice.

An SQLite file beside the jobs (``<home>/answers.sqlite``, WAL mode: several processes read
and write it at once). A row is a reference, not a copy: the request's key (a hash of the
provider, its base URL, the endpoint and the request body without the custom_id), and where
an answer to it lies (job folder, results file, byte offset and length, a digest of the line).
A reference whose file was deleted or changed is simply not a hit; a key may have several
references (the answer was reused into a newer job), so deleting one job folder does not lose
the answer while another copy exists. Lookups go 900 keys a query and inserts one transaction a
shard, never a statement per row.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

__all__ = ["INDEX_NAME", "AnswerIndex", "Ref"]

INDEX_NAME = "answers.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key BLOB NOT NULL,
    job TEXT NOT NULL,
    file TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    digest BLOB NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (key, job, file)
) WITHOUT ROWID
"""
_CHUNK = 900  # keys a lookup query (under SQLite's oldest limit of 999 parameters)
_SCAN_FACTOR = 4  # read all keys when the index holds at most this many per key wanted
_BUSY_MS = 60_000  # another process writing: wait this long before giving up


class Ref(NamedTuple):
    """Where one answer lies: a line of a job's results file, and the line's digest (a tuple:
    a million are made in one lookup)."""

    job: str
    file: str
    offset: int
    length: int
    digest: bytes


class AnswerIndex:
    """The answer index of one job home."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / INDEX_NAME

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        fresh = not self.path.exists()
        conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            if fresh:
                _user_only(self.path)
            yield conn
        finally:
            conn.close()

    def lookup(self, keys: Iterable[bytes]) -> dict[bytes, list[Ref]]:
        """The references of every key that has any, newest first (a few keys a query)."""
        if not self.path.exists():
            return {}
        found: dict[bytes, list[Ref]] = {}
        wanted = list(keys)
        with self._connect() as conn:
            wanted = _known(conn, wanted)
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT key, job, file, offset, length, digest FROM answers "
                    f"WHERE key IN ({marks}) ORDER BY at DESC",
                    chunk,
                )
                for row in rows:
                    found.setdefault(row[0], []).append(Ref._make(row[1:]))
        return found

    def add(self, entries: Iterable[tuple[bytes, Ref]]) -> int:
        """Record answers (one transaction); an answer already recorded is refreshed."""
        now = time.time()
        rows = [(k, r.job, r.file, r.offset, r.length, r.digest, now) for k, r in entries]
        if not rows:
            return 0
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        return len(rows)

    def forget(self, refs: Iterable[tuple[bytes, Ref]]) -> None:
        """Drop references found stale (the file is gone or its line changed)."""
        rows = [(k, r.job, r.file) for k, r in refs]
        if rows and self.path.exists():
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("DELETE FROM answers WHERE key = ? AND job = ? AND file = ?", rows)
                conn.execute("COMMIT")


def _known(conn: sqlite3.Connection, wanted: list[bytes]) -> list[bytes]:
    """The keys of `wanted` the index has at all. Reading every key of an index no more than a
    few times the size of `wanted` costs less than probing for each (1 µs a key against 5):
    a new job's misses then cost almost nothing."""
    (size,) = conn.execute("SELECT count(*) FROM answers").fetchone()
    if size > _SCAN_FACTOR * len(wanted):
        return wanted
    have = {key for (key,) in conn.execute("SELECT key FROM answers")}
    return [key for key in wanted if key in have]


def _user_only(path: Path) -> None:
    """The index names job folders: readable by their owner only, like the jobs."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
