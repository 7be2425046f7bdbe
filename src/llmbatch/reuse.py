"""Answers reused across jobs: a row whose exact request was answered before is not sent again.

At prepare, every row's request gets a key: a hash of the provider, its base URL, the endpoint
and the request body (the bytes that would be sent, without the custom_id). The keys go to
``requests/keys.bin`` (16 bytes per row, by position) and are looked up in the home's
`AnswerIndex` in one query. A hit's result line is read from the older job's folder, checked
against its digest, given this job's custom_id and copied into ``results/reused.jsonl``: each
job folder stays whole on its own, so deleting the older job later breaks nothing. Those rows
form one shard that is born downloaded; the rest is sharded and sent as usual.

When a job's results are in its folder, its usable answers are indexed (`index_shard`): a line
the provider counts as succeeded and that collect() would keep (not refused, cut, empty or off
its schema). Errors are never indexed, so they are never reused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from llmbatch import json_texts
from llmbatch._json import loads
from llmbatch.answer_index import KEY, AnswerIndex, Ref
from llmbatch.ids import row_of, wire_id
from llmbatch.manifest import Manifest, Shard
from llmbatch.prepare import ranges, text_chunks
from llmbatch.providers.backend import Backend
from llmbatch.result_tally import KEYS_FILE, ResultTally, line_digest
from llmbatch.results import READ_ERRORS, usable_reply
from llmbatch.state import JobState
from llmbatch.store import file_shape
from llmbatch.tasks import TaskSpec, body_template

__all__ = [
    "KEYS_FILE",
    "KEY_SIZE",
    "REUSED_FILE",
    "Reused",
    "copy_answers",
    "digest_rows",
    "index_collected",
    "index_shard",
    "keeps_answer",
    "request_header",
    "reused_shard",
]

log = logging.getLogger("llmbatch")

KEY_SIZE = KEY
REUSED_FILE = "results/reused.jsonl"
_LOOKUP_ROWS = 100_000  # rows looked up (and copied) at a time
# a result line's bytes → whether collect() keeps it as an answer (`keeps_answer`)
Keeps = Callable[[bytes], bool]


def request_header(provider: str, base_url: str, endpoint: str) -> bytes:
    """What, besides the body, makes two requests the same request."""
    return orjson.dumps([provider, base_url, endpoint]) + b"\n"


def digest_rows(
    spec: TaskSpec,
    texts: Sequence[Any],
    rows: Sequence[int],
    header: bytes,
    hasher: Any,
    text_hasher: Any,
) -> bytearray:
    """Every sent row's request key (16 bytes each, by row position), and the job's identity
    digests fed on the way: for each row, `b"<row>\\0" + body + b"\\n"` into `hasher` and the
    same with the dumped text into `text_hasher` (`identity.texts_digest`).

    A chunk of rows at a time, as Arrow columns (`json_texts`); a chunk Arrow can't take goes
    row by row (`_chunk_by_row`), to the same bytes. Each identity digest is fed one joined
    chunk (the bytes, and so the digest, of one update per row), in a second thread: hashlib
    lets go of the GIL for a large update, so the two digests cost no wall time beside the
    keys, which hash each row apart.
    """
    prefix, suffix = body_template(spec)
    keys = bytearray(KEY_SIZE * len(texts))
    by_row = np.frombuffer(keys, dtype=np.uint8).reshape(-1, KEY_SIZE)
    keyed = hashlib.blake2b(header + prefix, digest_size=KEY_SIZE)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmbatch-digest") as feeder:
        fed: Future[None] | None = None
        for chunk, given in text_chunks(texts, rows, len(prefix) + len(suffix)):
            digests, parts = _chunk_digests(given, chunk, (prefix, suffix), keyed)
            if fed is not None:
                fed.result()  # one chunk's bytes waiting at a time: memory stays one chunk's
            fed = feeder.submit(_feed, (hasher, text_hasher), parts)
            by_row[np.asarray(chunk, dtype=np.int64)] = np.frombuffer(digests, np.uint8).reshape(
                -1, KEY_SIZE
            )
        if fed is not None:
            fed.result()
    return keys


def _feed(hashers: tuple[Any, Any], parts: tuple[Any, Any]) -> None:
    for hasher, data in zip(hashers, parts, strict=True):
        hasher.update(data)


def _chunk_digests(
    given: list[Any], chunk: Sequence[int], template: tuple[bytes, bytes], keyed: Any
) -> tuple[bytes, tuple[Any, Any]]:
    """A chunk's request keys end to end, and its bytes for the two identity digests
    (`given`: the texts of the chunk's rows)."""
    prefix, suffix = template
    dumped = json_texts.dumped(given)
    if dumped is None:
        return _chunk_by_row(given, chunk, template, keyed)
    digests = _key_digests(json_texts.joined(dumped, suffix), keyed)
    number = json_texts.numbers(chunk)
    lines = json_texts.joined(number, b"\x00" + prefix, dumped, suffix + b"\n")
    dumped_texts = json_texts.joined(number, b"\x00", dumped, b"\n")
    return digests, (json_texts.values(lines), json_texts.values(dumped_texts))


def _key_digests(bodies_after_prefix: Any, keyed: Any) -> bytes:
    """Each row's request key: `keyed` (the header and body prefix, hashed once) continued
    with the row's bytes, all the keys end to end."""
    data, ends = json_texts.values(bodies_after_prefix), json_texts.offsets(bodies_after_prefix)
    bounds = zip(ends[:-1].tolist(), ends[1:].tolist(), strict=True)
    return _continued(keyed, (data[a:b] for a, b in bounds))


def _continued(keyed: Any, pieces: Iterable[Any]) -> bytes:
    fresh = keyed.copy
    digests = []
    for piece in pieces:
        one = fresh()
        one.update(piece)
        digests.append(one.digest())
    return b"".join(digests)


def _chunk_by_row(
    given: list[Any], chunk: Sequence[int], template: tuple[bytes, bytes], keyed: Any
) -> tuple[bytes, tuple[bytes, bytes]]:
    """`_chunk_digests` a row at a time, for what Arrow can't take: the same bytes."""
    prefix, suffix = template
    as_line = b"%d\x00" + prefix.replace(b"%", b"%%") + b"%s" + suffix.replace(b"%", b"%%") + b"\n"
    # copied (`b"%s" %`): keeping orjson's own result objects alive costs some 4 µs a row
    # in allocation (measured at 200,000 rows: 0.84 s kept as is, 0.13 s copied)
    dumped = [b"%s" % orjson.dumps(text) for text in given]
    digests = _continued(keyed, (text + suffix for text in dumped))
    pairs = list(zip(chunk, dumped, strict=True))
    lines = b"".join([as_line % pair for pair in pairs])
    return digests, (lines, b"".join([b"%d\x00%s\n" % pair for pair in pairs]))


def key_of(keys: bytes | bytearray, row: int) -> bytes:
    return bytes(keys[KEY_SIZE * row : KEY_SIZE * (row + 1)])


@dataclass
class Reused:
    """The rows a new job takes from earlier answers, and the file they were copied to."""

    rows: list[int] = field(default_factory=list)
    path: Path | None = None


def copy_answers(
    index: AnswerIndex,
    keys: bytes | bytearray,
    rows: Sequence[int],
    tag: str,
    dest: Path,
    keeps: Keeps,
) -> Reused:
    """Copy the earlier answers of `rows` into `dest` under this job's custom_ids.

    A reference is used only if its line is still there, byte for byte, and is an answer
    collect() keeps (`keeps`: not refused, cut or off its schema); else the key's next
    reference is tried. References that fail are dropped from the index, and a row with none
    left is sent. Rows go 100,000 at a time; each results file is read in offset order.
    """
    if not index.path.exists():
        return Reused()
    done: list[int] = []
    stale: list[tuple[bytes, Ref]] = []
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for start in range(0, len(rows), _LOOKUP_ROWS):  # bounded memory: a chunk at a time
            wanted: dict[bytes, list[int]] = {}
            for row in rows[start : start + _LOOKUP_ROWS]:
                wanted.setdefault(key_of(keys, row), []).append(row)
            found = _found(index, wanted)
            if found is None:
                break
            copied: list[bytes] = []
            for key, raw in _lines(found, stale, keeps):
                for row in wanted[key]:
                    copied.append(_with_custom_id(raw, wire_id(tag, row)))
                    done.append(row)
            if copied:
                out.write(b"\n".join(copied) + b"\n")
    with contextlib.suppress(OSError, sqlite3.Error):
        index.forget(stale)  # else they are found stale again next time
    if not done:
        dest.unlink(missing_ok=True)
        return Reused()
    return Reused(sorted(done), dest)


def _found(index: AnswerIndex, wanted: dict[bytes, list[int]]) -> dict[bytes, list[Ref]] | None:
    """The index's references for `wanted`; None if it cannot be read (logged: the rows are
    sent, as reuse is a saving, never a condition of the job)."""
    try:
        return index.lookup(wanted)
    except (OSError, sqlite3.Error) as exc:
        log.warning("earlier answers not looked up, the rows are sent (%s)", exc)
        return None


def _lines(
    hits: dict[bytes, list[Ref]], stale: list[tuple[bytes, Ref]], keeps: Keeps
) -> Iterator[tuple[bytes, bytes]]:
    """Each hit's answer line: its newest reference that still reads as recorded and is
    an answer collect() keeps."""
    todo = dict.fromkeys(hits, 0)  # key -> which of its references to try
    while todo:
        by_file: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
        for key, k in todo.items():
            ref = hits[key][k]
            by_file.setdefault((ref.job, ref.file), []).append((ref.offset, key))
        retry: dict[bytes, int] = {}
        for (job, file), wanted in by_file.items():
            refs = [(key, hits[key][todo[key]]) for _, key in sorted(wanted)]
            for (key, ref), raw in zip(refs, _read(Path(job) / file, refs), strict=True):
                if raw is not None and line_digest(raw) == ref.digest and keeps(raw):
                    yield key, raw
                    continue
                stale.append((key, ref))
                if todo[key] + 1 < len(hits[key]):
                    retry[key] = todo[key] + 1
        todo = retry


_ID_KEY = b'"custom_id":"'


def _with_custom_id(raw: bytes, custom_id: str) -> bytes:
    """The result line with another custom_id, spliced into its bytes.

    A custom_id written by llmbatch is plain ASCII (a tag, a dash, a row) and the line's first
    unescaped `"custom_id":"` is its key (inside a JSON string every quote is escaped); a line
    that does not look so is parsed and written again instead.
    """
    at = raw.find(_ID_KEY)
    end = raw.find(b'"', at + len(_ID_KEY)) if at >= 0 else -1
    if end < 0 or b"\\" in raw[at:end]:
        line = loads(raw)
        line["custom_id"] = custom_id
        return orjson.dumps(line)
    return raw[: at + len(_ID_KEY)] + custom_id.encode() + raw[end:]


def _read(path: Path, refs: list[tuple[bytes, Ref]]) -> list[bytes | None]:
    """The recorded byte ranges of one file, in the order given (None: gone or cut short).

    A results file is one shard's (at most the provider's batch size): read whole, at once,
    rather than a seek and a read per line.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return [None] * len(refs)
    out: list[bytes | None] = []
    for _, ref in refs:
        raw = data[ref.offset : ref.offset + ref.length]
        out.append(raw if len(raw) == ref.length else None)
    return out


def reused_shard(index: int, reused: Reused, root: Path) -> Shard:
    """The shard of the reused rows: born downloaded, its results the copied answers."""
    assert reused.path is not None
    rel = str(reused.path.relative_to(root))
    n = len(reused.rows)
    shape = file_shape(reused.path)
    return Shard(
        index=index,
        attempt=0,
        path=rel,
        rows=ranges(reused.rows),
        n=n,
        bytes=shape[0],
        sha256="",
        state="downloaded",
        status="completed",
        raw_status="reused",
        counts={"total": n, "completed": n, "failed": 0},
        results=[rel],
        result_files={rel: shape},
        reused=True,
    )


def index_shard(
    index: AnswerIndex | None, folder: Path, shard: Shard, tag: str, tally: ResultTally
) -> None:
    """Read one collected shard's files into `tally` (its tokens, its answers' places) and
    add its answers to `index` (if given). A download was read this way as it was checked
    (`lifecycle`); this reads the files of a shard that was not (an index that could not be
    written then, a sync job, reused rows)."""
    names: dict[Path, str] = {}
    for rel in shard.results:
        path = folder / rel
        names[path] = rel
        offset = 0
        with path.open("rb") as fh:
            for raw in fh:
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                line = loads(raw)
                row = row_of(str(line.get("custom_id")), tag)
                if row is not None:
                    tally.answer(path, row, start, raw, line)
    if index is not None:
        index.add_runs(tally.runs(folder, names))


def keeps_answer(spec: TaskSpec, backend: Backend) -> Keeps:
    """Whether a result line holds an answer collect() keeps (a success, not refused, cut,
    empty or off its schema): the only kind worth reusing."""
    keeps = usable_reply(spec)

    def check(raw: bytes) -> bool:
        try:
            _, kind, payload, _ = backend.parse_line(loads(raw))
            if kind != "succeeded" or not isinstance(payload, dict):
                return False
            return keeps(backend.reply(spec.endpoint, payload))
        except (orjson.JSONDecodeError, *READ_ERRORS):
            return False

    return check


def index_collected(
    state: JobState, home: Path, tag: str, tally: Callable[[], ResultTally]
) -> Manifest:
    """Tally the tokens of every collected shard not yet done (for `usage()` and the status)
    and index its answers in `home`'s answer index; returns the manifest as saved.

    A job made before the index existed has no keys file: its tokens are tallied, nothing is
    indexed. A failure (a locked or damaged index, a file gone) is logged, never raised: reuse
    is a saving, not a condition of the job.
    """
    manifest = state.read()
    try:
        index = AnswerIndex(home) if (state.folder.path / KEYS_FILE).exists() else None
        for shard in [s for s in manifest.shards if s.collected and not s.indexed]:
            counted = tally()
            index_shard(index, state.folder.path, shard, tag, counted)
            mark = functools.partial(Shard.mark_indexed, tokens=counted.tokens)
            manifest, _ = state.update_shard(shard.index, mark)
    except (OSError, sqlite3.Error, ValueError) as exc:
        log.warning("job %s: answers not indexed for reuse (%s)", manifest.name, exc)
    return manifest
