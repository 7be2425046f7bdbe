"""Request lines → shard files on disk, before any network call (`pipeline` makes the texts).

Shards are cut by the provider's limits measured on the serialised lines (count, bytes,
embedding inputs) and streamed to `requests/NNNN.jsonl`; the whole job never sits in memory
as one string. The job's identity hash is computed on the way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from tqdm.auto import tqdm

from llmbatch import json_texts
from llmbatch._exceptions import InputError
from llmbatch.ids import wire_id
from llmbatch.manifest import Shard
from llmbatch.tasks import body_template
from llmbatch.token_estimate import CHARS_PER_TOKEN

__all__ = [
    "CHUNK",
    "Limits",
    "LineParts",
    "PreparedShard",
    "chunk_texts",
    "line_parts",
    "line_template",
    "ranges",
    "text_chunks",
    "unranges",
    "write_shards",
]


CHUNK = 8192  # rows a list comprehension makes at a time in the hot loops


@dataclass(frozen=True)
class Limits:
    """One provider's per-batch limits (tests pass tiny ones)."""

    max_requests: int
    max_bytes: int
    max_embedding_inputs: int | None = None
    shard_overhead: int = 0  # bytes the envelope adds (Anthropic: '{"requests":[...]}')
    line_overhead: int = 1  # bytes each line adds besides itself (newline or comma)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_requests": self.max_requests,
            "max_bytes": self.max_bytes,
            "max_embedding_inputs": self.max_embedding_inputs,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Limits:
        """The counts a job was sharded with (the provider's envelope is added later)."""
        return cls(d["max_requests"], d["max_bytes"], d.get("max_embedding_inputs"))


@dataclass
class PreparedShard:
    """A shard file written: its rows as [start, stop) runs (compact at millions of rows)."""

    index: int
    path: Path
    runs: list[list[int]] = field(default_factory=list)
    n: int = 0
    bytes: int = 0
    sha256: str = ""
    tokens: int = 0  # the enqueued-token estimate of its requests (`quota`)

    @property
    def rows(self) -> list[int]:
        return list(unranges(self.runs))

    def add(self, rows: Sequence[int]) -> None:
        """Append rows (in increasing order) to the shard's runs."""
        runs = self.runs
        if isinstance(rows, range) and rows.step == 1 and rows:
            if runs and runs[-1][1] == rows.start:
                runs[-1][1] = rows.stop
            else:
                runs.append([rows.start, rows.stop])
        else:
            for r in rows:
                if runs and runs[-1][1] == r:
                    runs[-1][1] = r + 1
                else:
                    runs.append([r, r + 1])
        self.n += len(rows)

    def to_shard(self, attempt: int, root: Path) -> Shard:
        """The shard's manifest entry: written locally, not yet sent."""
        return Shard(
            index=self.index,
            attempt=attempt,
            path=str(self.path.relative_to(root)),
            rows=[list(run) for run in self.runs],
            n=self.n,
            bytes=self.bytes,
            sha256=self.sha256,
            enqueued_tokens=self.tokens,
        )


def ranges(rows: Sequence[int]) -> list[list[int]]:
    """Sorted row positions as [[start, stop), ...] runs (compact in the manifest)."""
    out: list[list[int]] = []
    for r in rows:
        if out and out[-1][1] == r:
            out[-1][1] = r + 1
        else:
            out.append([r, r + 1])
    return out


def unranges(runs: Sequence[Sequence[int]]) -> Iterator[int]:
    for start, stop in runs:
        yield from range(start, stop)


def write_shards(
    texts: Sequence[Any],
    rows: Sequence[int],
    *,
    spec: Any,
    tag: str,
    line: Callable[[str, bytes], bytes],
    limits: Limits,
    shard_path: Callable[[int], Path],
    first_index: int = 0,
) -> list[PreparedShard]:
    """Stream the request lines of `rows` into shard files cut at the provider's limits.

    The hot path of prepare: a chunk of rows at a time, built as Arrow columns (the provider's
    line bytes around each row's number and dumped text: `json_texts`); a chunk Arrow can't
    take is one `orjson.dumps` and one bytes format a row (`line_template`). The bodies are
    `pipeline.request_bodies`'s. (The job's identity is digested beforehand, over every row,
    by `reuse.digest_rows`.)
    """
    prefix, suffix = body_template(spec)
    parts = line_parts(line, tag, prefix, suffix)
    fixed = len((prefix + suffix).decode("utf-8"))  # a body's characters besides its text
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmbatch-shards")
    out = _ShardFiles(limits, shard_path, first_index, writer)
    progress = tqdm(total=len(rows), desc="preparing", unit="rows", delay=1.0, leave=False)
    try:
        for chunk, given in text_chunks(texts, rows, len(prefix) + len(suffix)):
            dumped = None if parts is None else json_texts.dumped(given)
            if parts is not None and dumped is not None:
                lines = parts.columns(json_texts.numbers(chunk), dumped)
                tokens = _queue_tokens(fixed + json_texts.characters(dumped))
                out.write_block(chunk, json_texts.values(lines), json_texts.offsets(lines), tokens)
            else:
                each = [orjson.dumps(text) for text in given]
                tokens = _queue_tokens(fixed + np.fromiter(map(_characters, each), np.int64))
                if parts is not None:
                    made = [parts.template % pair for pair in zip(chunk, each, strict=True)]
                else:
                    made = [
                        line(wire_id(tag, r), prefix + d + suffix)
                        for r, d in zip(chunk, each, strict=True)
                    ]
                out.write_many(chunk, made, tokens)
            progress.update(len(chunk))
    finally:
        progress.close()
        try:
            out.close()
        finally:
            writer.shutdown()
    return out.shards


def text_chunks(
    texts: Sequence[Any], rows: Sequence[int], fixed: int
) -> Iterator[tuple[Sequence[int], list[Any]]]:
    """`rows` a chunk at a time, with their texts: some `json_texts.ROW_BUDGET` bytes of output
    a chunk when each row's output is `fixed` bytes plus its text (long texts: fewer rows)."""
    step, start, budget = json_texts.chunk_size(fixed), 0, json_texts.ROW_BUDGET
    while start < len(rows):
        chunk = rows[start : start + step]
        given = chunk_texts(texts, chunk)
        size = fixed * len(chunk) + _text_bytes(given)
        if size > 2 * budget and len(chunk) > 1:
            keep = max(1, len(chunk) * budget // size)
            chunk, given = chunk[:keep], given[:keep]
        yield chunk, given
        start += len(chunk)


def _text_bytes(given: list[Any]) -> int:
    """The texts' lengths summed (what is not a str counts 0): one C pass when all are str."""
    if set(map(type, given)) <= {str}:
        return sum(map(len, given))
    return sum(len(t) for t in given if type(t) is str)


def chunk_texts(texts: Sequence[Any], chunk: Sequence[int]) -> list[Any]:
    """The texts of `chunk`'s rows: one slice when they are a run (the usual chunk)."""
    if len(chunk) and chunk[-1] - chunk[0] + 1 == len(chunk):
        return list(texts[chunk[0] : chunk[-1] + 1])
    return [texts[r] for r in chunk]


def _characters(dumped: bytes) -> int:
    return len(dumped.decode("utf-8"))


def _queue_tokens(chars: np.ndarray) -> np.ndarray:
    """Each request's enqueued-token estimate from its body's characters (`queue_tokens`)."""
    return np.maximum(1, -(-chars // CHARS_PER_TOKEN))


@dataclass(frozen=True)
class LineParts:
    """A request line around its two slots: `head + row + mid + dumped_text + tail`."""

    head: bytes  # up to the row number of the custom_id
    mid: bytes  # from after the row number to the text (the body's prefix included)
    tail: bytes  # after the text (the body's suffix included)

    @property
    def size(self) -> int:
        return len(self.head) + len(self.mid) + len(self.tail)

    @property
    def template(self) -> bytes:
        """The bytes format `template % (row, dumped_text)`."""
        esc = _percent_escaped
        return esc(self.head) + b"%d" + esc(self.mid) + b"%s" + esc(self.tail)

    def columns(self, numbers: Any, dumped: Any) -> Any:
        """A chunk's lines, each with its newline, as one Arrow array."""
        return json_texts.joined(self.head, numbers, self.mid, dumped, self.tail + b"\n")


def line_template(
    line: Callable[[str, bytes], bytes], tag: str, prefix: bytes, suffix: bytes
) -> bytes | None:
    """A bytes format `template % (row, dumped_text)` giving exactly `line(wire_id(tag, row),
    prefix + dumped_text + suffix)`, or None when that cannot be guaranteed."""
    parts = line_parts(line, tag, prefix, suffix)
    return None if parts is None else parts.template


def line_parts(
    line: Callable[[str, bytes], bytes], tag: str, prefix: bytes, suffix: bytes
) -> LineParts | None:
    """`line(wire_id(tag, row), prefix + dumped_text + suffix)` as fixed bytes around the two
    slots, or None when that cannot be guaranteed.

    A wire id (hex tag, "-", digits) never needs JSON escaping, so the line is the provider's
    own bytes around two slots; the parts are checked against `line` itself before use.
    """
    id_mark, body_mark = "\x00id-slot\x00", b"\x00"  # neither occurs in a dumped line
    probe = line(id_mark, body_mark)
    quoted = orjson.dumps(id_mark)
    if probe.count(quoted) != 1 or probe.count(body_mark) != 1 or not _plain(tag):
        return None
    head, rest = probe.split(quoted)
    mid, tail = rest.split(body_mark)
    parts = LineParts(head + b'"' + tag.encode() + b"-", b'"' + mid + prefix, suffix + tail)
    sample = orjson.dumps('a"b')
    if parts.template % (12, sample) != line(wire_id(tag, 12), prefix + sample + suffix):
        return None
    return parts


def _plain(tag: str) -> bool:
    return tag.isascii() and all(c.isalnum() or c in "_." for c in tag)


def _percent_escaped(raw: bytes) -> bytes:
    return raw.replace(b"%", b"%%")


class _ShardFiles:
    """The shard files being written: a new one whenever the next line would pass a limit."""

    def __init__(
        self,
        limits: Limits,
        shard_path: Callable[[int], Path],
        first_index: int,
        writer: ThreadPoolExecutor,
    ) -> None:
        self.limits = limits
        self.shard_path = shard_path
        self.first_index = first_index
        self.shards: list[PreparedShard] = []
        self._fh: Any = None
        self._digest: Any = None
        self._writer = writer
        self._pending: Future[None] | None = None

    def write(self, row: int, data: bytes, tokens: int) -> None:
        """Append one request line (without its newline) for `row` (`tokens`: its enqueued-
        token estimate)."""
        limits = self.limits
        size = len(data) + limits.line_overhead
        if size + limits.shard_overhead > limits.max_bytes:
            msg = (
                f"row {row} makes a request of {size:,} bytes, more than the provider "
                f"allows in one batch ({limits.max_bytes:,} bytes)\nHint: shorten that text."
            )
            raise InputError(msg)
        if self._fh is None or _full(self.shards[-1], size, limits):
            self._next()
        self._put(data + b"\n")
        current = self.shards[-1]
        current.add([row])
        current.bytes += size
        current.tokens += tokens

    def write_many(self, rows: Sequence[int], lines: list[bytes], tokens: np.ndarray) -> None:
        """Append request lines (without newlines) for `rows`."""
        if not lines:
            return
        ends = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, lines), np.int64, len(lines)) + 1, out=ends[1:])
        self.write_block(rows, memoryview(b"\n".join(lines) + b"\n"), ends, tokens)

    def write_block(
        self, rows: Sequence[int], data: memoryview, ends: np.ndarray, tokens: np.ndarray
    ) -> None:
        """Append the lines of `rows`, given end to end in `data`, each with its newline
        (`ends`: where each starts, and the last one ends; `tokens`: each one's enqueued-token
        estimate): a run of lines per shard."""
        limits = self.limits
        sizes = np.diff(ends) - 1 + limits.line_overhead
        room = min(limits.max_requests, limits.max_embedding_inputs or limits.max_requests)
        i, n = 0, len(rows)
        while i < n:
            if self._fh is None or _full(self.shards[-1], int(sizes[i]), limits):
                line = bytes(data[ends[i] : ends[i + 1] - 1])
                self.write(rows[i], line, int(tokens[i]))  # opens a shard
                i += 1
                continue
            current = self.shards[-1]
            used = current.bytes + np.cumsum(sizes[i : min(n, i + room - current.n)])
            j = i + int(np.searchsorted(used, limits.max_bytes, side="right"))
            self._put(data[ends[i] : ends[j]])
            current.add(rows[i:j])
            current.bytes = int(used[j - i - 1])
            current.tokens += int(tokens[i:j].sum())
            i = j

    def _next(self) -> None:
        self.close()
        index = self.first_index + len(self.shards)
        current = PreparedShard(index, self.shard_path(index))
        current.bytes = self.limits.shard_overhead
        self.shards.append(current)
        self._fh = current.path.open("wb")
        current.path.chmod(0o600)
        self._digest = hashlib.sha256()

    def _put(self, data: bytes | memoryview) -> None:
        """Append `data` to the open shard file and its hash, in the writer thread (a file
        write and a large hash update let go of the GIL: the next chunk is built meanwhile).
        One write waits at a time, so memory holds at most two chunks' lines."""
        self._settle()
        self._pending = self._writer.submit(_append, self._fh, self._digest, data)

    def _settle(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        """Close the open shard file and record its hash."""
        self._settle()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self.shards[-1].sha256 = self._digest.hexdigest()


def _append(fh: Any, digest: Any, data: bytes | memoryview) -> None:
    fh.write(data)
    digest.update(data)  # the file's exact bytes, checked before upload


def _full(shard: PreparedShard, size: int, limits: Limits) -> bool:
    if shard.n + 1 > limits.max_requests:
        return True
    if limits.max_embedding_inputs is not None and shard.n + 1 > limits.max_embedding_inputs:
        return True
    return shard.bytes + size > limits.max_bytes
