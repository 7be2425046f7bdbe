"""Request lines → shard files on disk, before any network call (`pipeline` makes the texts).

Shards are cut by the provider's limits measured on the serialised lines (count, bytes,
embedding inputs) and streamed to `requests/NNNN.jsonl`; the whole job never sits in memory
as one string. The job's identity hash is computed on the way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tqdm.auto import tqdm

from llmbatch._exceptions import InputError
from llmbatch.ids import wire_id
from llmbatch.manifest import Shard
from llmbatch.tasks import body_template

__all__ = [
    "CHUNK",
    "Limits",
    "PreparedShard",
    "ranges",
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

    The hot path of prepare: a chunk of rows at a time, each line one `orjson.dumps` of its
    text and one bytes format (`line_template`); the bodies are `pipeline.request_bodies`'s.
    (The job's identity is digested beforehand, over every row, by `reuse.digest_rows`.)
    """
    prefix, suffix = body_template(spec)
    template = line_template(line, tag, prefix, suffix)
    dumps = orjson.dumps
    out = _ShardFiles(limits, shard_path, first_index)
    progress = tqdm(total=len(rows), desc="preparing", unit="rows", delay=1.0, leave=False)
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            if template is not None:
                lines = [template % (r, dumps(texts[r])) for r in chunk]
            else:
                lines = [line(wire_id(tag, r), prefix + dumps(texts[r]) + suffix) for r in chunk]
            out.write_many(chunk, lines)
            progress.update(len(chunk))
    finally:
        progress.close()
        out.close()
    return out.shards


def line_template(
    line: Callable[[str, bytes], bytes], tag: str, prefix: bytes, suffix: bytes
) -> bytes | None:
    """A bytes format `template % (row, dumped_text)` giving exactly `line(wire_id(tag, row),
    prefix + dumped_text + suffix)`, or None when that cannot be guaranteed.

    A wire id (hex tag, "-", digits) never needs JSON escaping, so the line is the provider's
    own bytes around two slots; the template is checked against `line` itself before use.
    """
    id_mark, body_mark = "\x00id-slot\x00", b"\x00"  # neither occurs in a dumped line
    probe = line(id_mark, body_mark)
    quoted = orjson.dumps(id_mark)
    if probe.count(quoted) != 1 or probe.count(body_mark) != 1 or not _plain(tag):
        return None
    head, rest = probe.split(quoted)
    mid, tail = rest.split(body_mark)
    esc = _percent_escaped
    template = (
        esc(head) + b'"' + esc(tag.encode()) + b'-%d"' + esc(mid + prefix) + b"%s"
        + esc(suffix + tail)
    )  # fmt: skip
    sample = orjson.dumps('a"b')
    if template % (12, sample) != line(wire_id(tag, 12), prefix + sample + suffix):
        return None
    return template


def _plain(tag: str) -> bool:
    return tag.isascii() and all(c.isalnum() or c in "_." for c in tag)


def _percent_escaped(raw: bytes) -> bytes:
    return raw.replace(b"%", b"%%")


class _ShardFiles:
    """The shard files being written: a new one whenever the next line would pass a limit."""

    def __init__(self, limits: Limits, shard_path: Callable[[int], Path], first_index: int):
        self.limits = limits
        self.shard_path = shard_path
        self.first_index = first_index
        self.shards: list[PreparedShard] = []
        self._fh: Any = None
        self._digest: Any = None

    def write(self, row: int, data: bytes) -> None:
        """Append one request line (without its newline) for `row`."""
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
        data += b"\n"
        self._fh.write(data)
        self._digest.update(data)  # the file's exact bytes, checked before upload
        current = self.shards[-1]
        current.add([row])
        current.bytes += size

    def write_many(self, rows: Sequence[int], lines: list[bytes]) -> None:
        """Append request lines (without newlines) for `rows`, a run of lines per shard."""
        limits, i, n = self.limits, 0, len(lines)
        while i < n:
            if self._fh is None or _full(
                self.shards[-1], len(lines[i]) + limits.line_overhead, limits
            ):
                self.write(rows[i], lines[i])
                i += 1
                continue
            current = self.shards[-1]
            room = min(limits.max_requests, limits.max_embedding_inputs or limits.max_requests)
            stop, used = min(n, i + room - current.n), current.bytes
            j = i
            while j < stop:
                size = len(lines[j]) + limits.line_overhead
                if used + size > limits.max_bytes:
                    break
                used += size
                j += 1
            if j == i:  # the next line opens a new shard (or is refused) through write()
                self.write(rows[i], lines[i])
                i += 1
                continue
            data = b"\n".join(lines[i:j]) + b"\n"
            self._fh.write(data)
            self._digest.update(data)  # the file's exact bytes, checked before upload
            current.add(rows[i:j])
            current.bytes = used
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

    def close(self) -> None:
        """Close the open shard file and record its hash."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self.shards[-1].sha256 = self._digest.hexdigest()


def _full(shard: PreparedShard, size: int, limits: Limits) -> bool:
    if shard.n + 1 > limits.max_requests:
        return True
    if limits.max_embedding_inputs is not None and shard.n + 1 > limits.max_embedding_inputs:
        return True
    return shard.bytes + size > limits.max_bytes
