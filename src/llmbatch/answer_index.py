"""Every successful answer in a job home, by request: the same request is never paid twice.

An SQLite file beside the jobs (``<home>/answers.sqlite``, WAL mode: several processes read
and write it at once). What it records is a reference, not a copy: the request's key (a hash
of the provider, its base URL, the endpoint and the request body without the custom_id), and
where an answer to it lies (job folder, results file, byte offset and length, a digest of the
line). A reference whose file was deleted or changed is simply not a hit; a key may have
several references (the answer was reused into a newer job), so deleting one job folder does
not lose the answer while another copy exists.

One row per results file (a *run*): its keys sorted, packed into one blob, with their spans
and digests in the same order. Adding a shard's answers is one small insert, whatever the
size of the index. (The first design, a row per answer keyed by the random key, made every
shard's commit touch nearly every page of the index: 38 µs an answer at a million answers
and growing with the index.) A lookup reads every run's keys once and matches them in numpy
by their first 8 bytes, then compares the whole key.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["INDEX_NAME", "AnswerIndex", "Ref", "Run"]

INDEX_NAME = "answers.sqlite"
KEY = 16  # bytes of a request key
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    file TEXT NOT NULL,
    at REAL NOT NULL,
    keys BLOB NOT NULL,
    spans BLOB NOT NULL,
    digests BLOB NOT NULL,
    UNIQUE (job, file)
)
"""
_SPAN = np.dtype([("offset", "<u8"), ("length", "<u4")])
_DIGEST = 8  # bytes of a line digest (`reuse._digest`)
_BUSY_MS = 60_000  # another process writing: wait this long before giving up


class Ref(NamedTuple):
    """Where one answer lies: a line of a job's results file, and the line's digest (a tuple:
    a million are made in one lookup)."""

    job: str
    file: str
    offset: int
    length: int
    digest: bytes


class Run(NamedTuple):
    """A results file's answers, columnar: `keys` (16 bytes each), and per key its line's
    byte offset, length and digest (8 bytes each), in any order."""

    job: str
    file: str
    keys: bytes
    offsets: Any  # sequence of int
    lengths: Any  # sequence of int
    digests: bytes


class AnswerIndex:
    """The answer index of one job home. A lookup reads the index once per instance and
    keeps what it read (a new instance, or `add`/`forget`, reads it again)."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / INDEX_NAME
        self._seen: _Keys | None = None

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
            _migrate(conn)
            yield conn
        finally:
            conn.close()

    def lookup(self, keys: Iterable[bytes]) -> dict[bytes, list[Ref]]:
        """The references of every key that has any, newest first."""
        wanted = list(keys)
        if not wanted or not self.path.exists():
            return {}
        if self._seen is None:
            with self._connect() as conn:
                self._seen = _Keys(conn, self.path)
        return self._seen.find(wanted)

    def add(self, entries: Iterable[tuple[bytes, Ref]]) -> int:
        """Record answers (one transaction); an answer already recorded is refreshed."""
        runs: dict[tuple[str, str], dict[bytes, Ref]] = {}
        for key, ref in entries:
            runs.setdefault((ref.job, ref.file), {})[key] = ref
        return self.add_runs([_run(job, file, refs) for (job, file), refs in runs.items()])

    def add_runs(self, runs: Iterable[Run]) -> int:
        """Record whole results files' answers (one transaction). A file already recorded
        keeps its other answers; the ones given replace theirs."""
        todo = [run for run in runs if run.keys]
        if not todo:
            return 0
        now = time.time()
        self._seen = None
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            for run in todo:
                old = _read_run(conn, run.job, run.file)
                merged = _sorted(run) if old is None else _merged(old, run)
                _write_run(conn, merged, now)
            conn.execute("COMMIT")
        return sum(len(run.keys) // KEY for run in todo)

    def forget(self, refs: Iterable[tuple[bytes, Ref]]) -> None:
        """Drop references found stale (the file is gone or its line changed)."""
        gone: dict[tuple[str, str], set[bytes]] = {}
        for key, ref in refs:
            gone.setdefault((ref.job, ref.file), set()).add(key)
        if not gone or not self.path.exists():
            return
        self._seen = None
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            for (job, file), keys in gone.items():
                old = _read_run(conn, job, file)
                if old is None:
                    continue
                refs_left = {k: r for k, r in _refs(old) if k not in keys}
                if refs_left:
                    _write_run(conn, _run(job, file, refs_left), _at(conn, job, file))
                else:
                    conn.execute("DELETE FROM runs WHERE job = ? AND file = ?", (job, file))
            conn.execute("COMMIT")

    def distinct_keys(self) -> int:
        """How many different requests the index can answer."""
        if not self.path.exists():
            return 0
        with self._connect() as conn:
            blobs = [row[0] for row in conn.execute("SELECT keys FROM runs")]
        return len({blob[i : i + KEY] for blob in blobs for i in range(0, len(blob), KEY)})


class _Keys:
    """Every run's keys, matched by their first 8 bytes (sorted once) then whole."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        rows = conn.execute("SELECT id, job, file, at, keys FROM runs ORDER BY at DESC, id DESC")
        self.runs: list[tuple[int, str, str]] = []
        self.keys: list[bytes] = []
        heads, owners = [], []
        for number, (rowid, job, file, _, blob) in enumerate(rows):
            self.runs.append((rowid, job, file))
            self.keys.append(blob)
            heads.append(np.frombuffer(blob, dtype=">u8")[0::2])
            owners.append(np.full(len(blob) // KEY, number, dtype=np.int32))
        head = np.concatenate(heads) if heads else np.empty(0, dtype=">u8")
        order = np.argsort(head, kind="stable")  # stable: newest run first among equals
        self.head = head[order]
        del head, heads
        self.owner = np.concatenate(owners)[order] if owners else np.empty(0, np.int32)
        starts = np.cumsum([0] + [len(b) // KEY for b in self.keys])
        # 32 bytes an answer in all (keys, head, owner, position): 320 MB for 10M answers
        self.position = (order - starts[self.owner]).astype(np.int32)

    def find(self, wanted: list[bytes]) -> dict[bytes, list[Ref]]:
        if not len(self.head):
            return {}
        heads = np.frombuffer(b"".join(wanted), dtype=">u8")[0::2]
        lo = np.searchsorted(self.head, heads, side="left")
        hi = np.searchsorted(self.head, heads, side="right")
        found: dict[bytes, list[tuple[int, int]]] = {}
        for i in np.flatnonzero(hi > lo).tolist():
            key = wanted[i]
            if key in found:
                continue
            for j in range(int(lo[i]), int(hi[i])):
                owner, pos = int(self.owner[j]), int(self.position[j])
                if self.keys[owner][pos * KEY : (pos + 1) * KEY] == key:
                    found.setdefault(key, []).append((owner, pos))
        return self._refs(found)

    def _refs(self, found: dict[bytes, list[tuple[int, int]]]) -> dict[bytes, list[Ref]]:
        """The hits' spans and digests, read once per run that has any."""
        needed = sorted({owner for hits in found.values() for owner, _ in hits})
        spans: dict[int, tuple[Any, bytes]] = {}
        if needed:
            with _reader(self.path) as conn:
                for owner in needed:
                    row = conn.execute(
                        "SELECT spans, digests FROM runs WHERE id = ?", (self.runs[owner][0],)
                    ).fetchone()
                    if row is not None:
                        spans[owner] = (np.frombuffer(row[0], dtype=_SPAN), row[1])
        out: dict[bytes, list[Ref]] = {}
        for key, hits in found.items():
            for owner, pos in sorted(hits):  # runs are numbered newest first
                if owner not in spans:
                    continue  # the run went between the two reads
                span, digests = spans[owner]
                _, job, file = self.runs[owner]
                offset, length = int(span[pos]["offset"]), int(span[pos]["length"])
                digest = digests[pos * _DIGEST : (pos + 1) * _DIGEST]
                out.setdefault(key, []).append(Ref(job, file, offset, length, digest))
        return out


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        yield conn
    finally:
        conn.close()


def _run(job: str, file: str, refs: dict[bytes, Ref]) -> Run:
    keys = sorted(refs)
    return Run(
        job,
        file,
        b"".join(keys),
        [refs[k].offset for k in keys],
        [refs[k].length for k in keys],
        b"".join(refs[k].digest for k in keys),
    )


def _sorted(run: Run) -> Run:
    """`run` with its keys in order (a run is searched by its sorted keys)."""
    n = len(run.keys) // KEY
    keys = np.frombuffer(run.keys, dtype=f"V{KEY}")
    heads = np.frombuffer(run.keys, dtype=">u8")
    order = np.lexsort((heads[1::2], heads[0::2]))  # the bytes' order, as sorted() gives
    digests = np.frombuffer(run.digests, dtype=f"V{_DIGEST}")
    assert len(digests) == n
    return Run(
        run.job,
        run.file,
        keys[order].tobytes(),
        np.asarray(run.offsets, dtype=np.uint64)[order],
        np.asarray(run.lengths, dtype=np.uint32)[order],
        digests[order].tobytes(),
    )


def _refs(run: Run) -> Iterator[tuple[bytes, Ref]]:
    for i in range(len(run.keys) // KEY):
        digest = run.digests[i * _DIGEST : (i + 1) * _DIGEST]
        ref = Ref(run.job, run.file, int(run.offsets[i]), int(run.lengths[i]), digest)
        yield run.keys[i * KEY : (i + 1) * KEY], ref


def _merged(old: Run, new: Run) -> Run:
    refs = dict(_refs(old))
    refs.update(_refs(new))
    return _run(new.job, new.file, refs)


def _read_run(conn: sqlite3.Connection, job: str, file: str) -> Run | None:
    row = conn.execute(
        "SELECT keys, spans, digests FROM runs WHERE job = ? AND file = ?", (job, file)
    ).fetchone()
    if row is None:
        return None
    span = np.frombuffer(row[1], dtype=_SPAN)
    return Run(job, file, row[0], span["offset"], span["length"], row[2])


def _at(conn: sqlite3.Connection, job: str, file: str) -> float:
    row = conn.execute("SELECT at FROM runs WHERE job = ? AND file = ?", (job, file)).fetchone()
    return float(row[0]) if row else time.time()


def _write_run(conn: sqlite3.Connection, run: Run, at: float) -> None:
    spans = np.empty(len(run.keys) // KEY, dtype=_SPAN)
    spans["offset"] = run.offsets
    spans["length"] = run.lengths
    conn.execute(
        "INSERT OR REPLACE INTO runs (job, file, at, keys, spans, digests) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (run.job, run.file, at, run.keys, spans.tobytes(), run.digests),
    )


def _migrate(conn: sqlite3.Connection) -> None:
    """An index of the first design (a row per answer, table `answers`) becomes runs."""
    old = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'"
    ).fetchone()
    if old is None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        still = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'"
        ).fetchone()
        if still is not None:  # another process may have migrated it meanwhile
            rows = conn.execute(
                "SELECT key, job, file, offset, length, digest, at FROM answers ORDER BY job, file"
            )
            runs: dict[tuple[str, str], tuple[dict[bytes, Ref], float]] = {}
            for key, job, file, offset, length, digest, at in rows:
                refs, newest = runs.setdefault((job, file), ({}, 0.0))
                refs[key] = Ref(job, file, offset, length, digest)
                runs[(job, file)] = (refs, max(newest, at))
            for (job, file), (refs, at) in runs.items():
                _write_run(conn, _run(job, file, refs), at)
            conn.execute("DROP TABLE answers")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _user_only(path: Path) -> None:
    """The index names job folders: readable by their owner only, like the jobs."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
