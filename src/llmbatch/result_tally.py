"""A shard's result lines as they are read: the tokens they used, and where each answer lies.

A download is read once: `verify.check_download` parses every line to trust it, and hands
each line the provider counts as an answer to `ResultTally.answer`. That gives the shard's
tokens (for `usage()`) and each answer's place in its file, which becomes the file's run in
the answer index (`AnswerIndex.add_runs`): later jobs asking the same request copy the line.

Whether an answer is one collect() keeps (not refused, cut or off its schema) is decided when
a later job would reuse it, not here: the same key means the same request body, so the same
schema and the same verdict, and a download is not parsed a second time to index it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmbatch.answer_index import KEY, Run
from llmbatch.costs import TOKEN_KINDS
from llmbatch.providers.backend import Backend
from llmbatch.results import READ_ERRORS

__all__ = ["KEYS_FILE", "NO_KEY", "ResultTally", "line_digest"]

KEYS_FILE = "requests/keys.bin"  # 16 bytes per row, by position (`reuse.digest_rows`)
NO_KEY = bytes(KEY)  # a row that is not sent


def line_digest(line: bytes | memoryview) -> bytes:
    """What an answer line is checked against before it is copied into another job."""
    return hashlib.blake2b(line, digest_size=8).digest()


@dataclass
class _Places:
    """Where a file's answers lie: a line at a time, and a block of plain lines at a time."""

    rows: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, bytes]] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
        """(rows, offsets, lengths, digests) of every answer, as arrays and one blob."""
        singles = (
            np.asarray(self.rows, dtype=np.int64),
            np.asarray(self.offsets, dtype=np.uint64),
            np.asarray(self.lengths, dtype=np.uint32),
            b"".join(self.digests),
        )
        parts = [*self.blocks, singles]
        rows, offsets, lengths = (np.concatenate([p[k] for p in parts]) for k in range(3))
        return rows, offsets, lengths, b"".join(p[3] for p in parts)


class ResultTally:
    """Tokens and answer places of one shard's result files, fed a line at a time."""

    def __init__(self, backend: Backend, endpoint: str) -> None:
        self._parse = backend.parse_line
        self._succeeded = backend.wire.succeeded
        self._reply = backend.wire.reply
        self._endpoint = endpoint
        self.tokens = dict.fromkeys(TOKEN_KINDS, 0)
        self.shapes: dict[Path, list[int]] = {}  # file → [bytes, non-blank lines]
        self._files: dict[Path, _Places] = {}

    def answer(self, path: Path, row: int, offset: int, raw: bytes, line: dict[str, Any]) -> None:
        """One answer line of `path` (at byte `offset`, `raw` as read) for row `row`."""
        payload = self._succeeded(line)
        if payload is None:
            _, kind, payload, _ = self._parse(line)
            if kind != "succeeded" or not isinstance(payload, dict):
                return
        try:
            reply = self._reply(self._endpoint, payload)
        except READ_ERRORS:
            return  # collect() words this row's error; nothing to count or to reuse
        tokens = self.tokens
        tokens["input"] += _count(reply.input_tokens)
        tokens["output"] += _count(reply.output_tokens)
        tokens["cache_read"] += _count(reply.cache_read_tokens)
        tokens["cache_write"] += _count(reply.cache_write_tokens)
        text = raw.rstrip(b"\r\n")
        places = self._files.setdefault(path, _Places())
        places.rows.append(row)
        places.offsets.append(offset)
        places.lengths.append(len(text))
        places.digests.append(line_digest(text))

    def plain(self, path: Path, rows: np.ndarray, block: bytes, at: int, starts: np.ndarray,
              stops: np.ndarray, replies: Any) -> None:  # fmt: skip
        """A block's plain successes at once (`download_check`): their tokens and places.
        `block` is the bytes at offset `at` of `path`; line i is `block[starts[i]:stops[i]]`."""
        tokens = self.tokens
        for kind, column in zip(TOKEN_KINDS, _token_columns(replies), strict=True):
            tokens[kind] += pc.sum(column).as_py() or 0
        if not len(rows):
            return
        data = memoryview(block)
        # a CRLF line's answer is the line without its \r (every line ends in "}" or "}\r")
        stops = stops - (np.frombuffer(block, dtype=np.uint8)[stops - 1] == 0x0D)
        bounds = zip(starts.tolist(), stops.tolist(), strict=True)
        digests = b"".join([line_digest(data[a:b]) for a, b in bounds])
        places = self._files.setdefault(path, _Places())
        offsets = (starts + at).astype(np.uint64)
        lengths = (stops - starts).astype(np.uint32)
        places.blocks.append((rows.astype(np.int64), offsets, lengths, digests))

    def shape(self, path: Path, size: int, lines: int) -> None:
        """A file read whole (`store.file_shape`, without reading it again)."""
        self.shapes[path] = [size, lines]

    def runs(self, job: Path, names: dict[Path, str]) -> list[Run]:
        """The answers as runs of the index: each file under its name in the job folder
        (`names`: path as read → final relative path), keyed from the job's keys file. Rows
        without a key (not sent, or a job made before the index) are left out."""
        keys_path = job / KEYS_FILE
        if not keys_path.exists() or not self._files:
            return []
        all_keys = np.memmap(keys_path, dtype=f"V{KEY}", mode="r")
        out = []
        for path, places in self._files.items():
            rows, offsets, lengths, blob = places.arrays()
            keep = rows < len(all_keys)
            keys = np.asarray(all_keys[rows[keep]])
            sent = keys != np.void(NO_KEY)
            keep[keep], keys = sent, keys[sent]
            digests = np.frombuffer(blob, dtype="V8")[keep]
            out.append(
                Run(
                    str(job.resolve()),
                    names[path],
                    keys.tobytes(),
                    offsets[keep],
                    lengths[keep],
                    digests.tobytes(),
                )
            )
        del all_keys
        return out


def _token_columns(replies: Any) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """The token count columns of `result_columns.ReplyColumns`, in `TOKEN_KINDS` order."""
    return (
        replies.input_tokens,
        replies.output_tokens,
        replies.cache_read_tokens,
        replies.cache_write_tokens,
    )


def _count(value: Any) -> int:
    """A token count as the provider wrote it, when it is a whole number (a count written as
    a string or a fraction, seen on no provider but possible on a compatible service, counts
    nothing rather than failing the download)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return 0
