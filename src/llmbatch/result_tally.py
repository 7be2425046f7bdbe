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

from llmbatch.answer_index import KEY, Run
from llmbatch.costs import TOKEN_KINDS
from llmbatch.providers.backend import Backend
from llmbatch.results import READ_ERRORS

__all__ = ["KEYS_FILE", "NO_KEY", "ResultTally", "line_digest"]

KEYS_FILE = "requests/keys.bin"  # 16 bytes per row, by position (`reuse.digest_rows`)
NO_KEY = bytes(KEY)  # a row that is not sent


def line_digest(line: bytes) -> bytes:
    """What an answer line is checked against before it is copied into another job."""
    return hashlib.blake2b(line, digest_size=8).digest()


@dataclass
class _Places:
    rows: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)


class ResultTally:
    """Tokens and answer places of one shard's result files, fed a line at a time."""

    def __init__(self, backend: Backend, endpoint: str) -> None:
        self._parse = backend.parse_line
        self._succeeded = backend.wire.succeeded
        self._reply = backend.wire.reply
        self._endpoint = endpoint
        self.tokens = dict.fromkeys(TOKEN_KINDS, 0)
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
        tokens["input"] += reply.input_tokens or 0
        tokens["output"] += reply.output_tokens or 0
        tokens["cache_read"] += reply.cache_read_tokens or 0
        tokens["cache_write"] += reply.cache_write_tokens or 0
        text = raw.rstrip(b"\r\n")
        places = self._files.get(path)
        if places is None:
            places = self._files[path] = _Places()
        places.rows.append(row)
        places.offsets.append(offset)
        places.lengths.append(len(text))
        places.digests.append(line_digest(text))

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
            rows = np.asarray(places.rows, dtype=np.int64)
            keep = rows < len(all_keys)
            keys = np.asarray(all_keys[rows[keep]])
            sent = keys != np.void(NO_KEY)
            keep[keep], keys = sent, keys[sent]
            digests = np.frombuffer(b"".join(places.digests), dtype="V8")[keep]
            out.append(
                Run(
                    str(job.resolve()),
                    names[path],
                    keys.tobytes(),
                    np.asarray(places.offsets, dtype=np.uint64)[keep],
                    np.asarray(places.lengths, dtype=np.uint32)[keep],
                    digests.tobytes(),
                )
            )
        del all_keys
        return out
