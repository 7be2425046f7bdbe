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
    "Limits",
    "PreparedShard",
    "ranges",
    "unranges",
    "write_shards",
]


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
    index: int
    path: Path
    rows: list[int] = field(default_factory=list)
    bytes: int = 0
    sha256: str = ""

    def to_shard(self, attempt: int, root: Path) -> Shard:
        """The shard's manifest entry: written locally, not yet sent."""
        return Shard(
            index=self.index,
            attempt=attempt,
            path=str(self.path.relative_to(root)),
            rows=ranges(self.rows),
            n=len(self.rows),
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

    The bodies are `pipeline.request_bodies`'s, inlined: this loop is the hot path of prepare.
    (The job's identity is digested beforehand, over every row, by `reuse.digest_rows`.)
    """
    prefix, suffix = body_template(spec)
    out = _ShardFiles(limits, shard_path, first_index)
    progress = tqdm(total=len(rows), desc="preparing", unit="rows", delay=1.0, leave=False)
    try:
        for row in rows:
            body = prefix + orjson.dumps(texts[row]) + suffix
            out.write(row, line(wire_id(tag, row), body))
            progress.update(1)
    finally:
        progress.close()
        out.close()
    return out.shards


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
        current.rows.append(row)
        current.bytes += size

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
    if len(shard.rows) + 1 > limits.max_requests:
        return True
    if (
        limits.max_embedding_inputs is not None
        and len(shard.rows) + 1 > limits.max_embedding_inputs
    ):
        return True
    return shard.bytes + size > limits.max_bytes
