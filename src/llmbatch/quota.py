"""The provider's enqueued-token quota: each shard's estimate, the job's limit, and pacing.

OpenAI counts a batch's input tokens against a per-model queue limit when it validates it; a
batch that would pass the limit fails as a whole with `token_limit_exceeded` (the create call
itself succeeds). Rather than send every shard and see most fail, a job paces its creates: a
shard is created only while this job's batches in flight (created, not yet seen ended) plus
its own estimate stay within the limit; otherwise it waits (status `waiting_for_quota`) and is
sent when earlier shards end.

The limit, in order: `max_enqueued_tokens=` given to the verb (kept in the manifest), else a
limit learned in the job's home for (provider, base URL, model), else none (every shard is
sent, and one that fails on quota waits and is sent again, as before). The learned limit is
the in-flight total a shard was created on top of when its batch failed on quota: the queue
could not hold that plus the shard, so that total is a safe ceiling. It only goes down (the
lowest such total wins); delete `<home>/.quota.json` to forget it.

Choices, and why:
- A shard's estimate is one token per 4 characters of each request body's compact JSON (the
  rule of thumb OpenAI gives, over the body rather than only its text): it counts the JSON
  keys too, so it errs high, the safe side for a limit. It is computed once, before the
  shard's first create, and recorded on the shard (`Shard.enqueued_tokens`).
- Only this job's shards count as in flight: other jobs in the same home or organisation
  share the provider's queue, and a batch that still fails on quota waits as before.
- A shard with nothing of its job in flight is always sent, even over the limit: waiting
  would wait forever, and the provider's answer is the better judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from llmbatch._exceptions import ConfigError
from llmbatch.manifest import Manifest, Shard
from llmbatch.store import file_lock, make_dir, read_json_object, write_atomic
from llmbatch.token_estimate import CHARS_PER_TOKEN, queue_tokens

__all__ = [
    "CHARS_PER_TOKEN",
    "QueuePacer",
    "QuotaBook",
    "check_max_enqueued_tokens",
    "estimate_shard_tokens",
    "in_flight",
]

_BOOK = ".quota.json"
_HOLDING = frozenset({"creating", "submitted"})  # states whose batch may hold the queue


def check_max_enqueued_tokens(value: Any) -> None:
    """`max_enqueued_tokens=` must be None or a positive int (checked before any network call)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"max_enqueued_tokens must be a positive whole number of tokens, got {value!r}"
        raise ConfigError(
            msg + "\nHint: e.g. max_enqueued_tokens=2_000_000 (your organisation's queue "
            "limit for the model), or leave it out."
        )


def estimate_shard_tokens(path: Path) -> int:
    """The input tokens a shard file's requests put in the provider's queue (see module doc).

    Each line's `body` (OpenAI) or `params` (Anthropic) is measured; a line with neither is
    measured whole. Prepare computes the same figure on the way (`prepare.write_shards`); this
    reads a shard written without it.
    """
    total = 0
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            line = orjson.loads(raw)
            body = line.get("body", line.get("params", line)) if isinstance(line, dict) else line
            total += queue_tokens(len(orjson.dumps(body).decode("utf-8")))
    return total


def shard_cost(shard: Shard) -> int:
    """A shard's estimate; one sent before estimates were recorded counts its bytes / 4."""
    if shard.enqueued_tokens is not None:
        return shard.enqueued_tokens
    return max(1, math.ceil(shard.bytes / CHARS_PER_TOKEN))


def in_flight(shards: Iterable[Shard], *, but: int) -> int:
    """Estimated tokens of the job's batches that may hold the queue, shard `but` left out.

    A shard counts from its create until a poll sees its batch end: a lagging view counts a
    batch a little longer than the provider does, which errs on the safe side.
    """
    return sum(shard_cost(s) for s in shards if s.state in _HOLDING and s.index != but)


class QuotaBook:
    """Limits learned in one home folder, per (provider, base URL, model): `<home>/.quota.json`.

    Written atomically under `<home>/.quota.lock`, so jobs in several processes can learn at
    once; an unreadable file counts as empty (the worst case is a quota failure re-learned).
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    def _read(self) -> dict[str, Any]:
        return read_json_object(self.home / _BOOK)

    def get(self, key: str) -> int | None:
        entry = self._read().get(key)
        limit = entry.get("limit") if isinstance(entry, dict) else None
        ok = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        return limit if ok else None

    def learn(self, key: str, limit: int, *, job: str) -> int:
        """Record `limit` for `key` unless a lower one is known; returns the limit kept."""
        if not self.home.is_dir():
            make_dir(self.home)
        with file_lock(self.home / ".quota.lock"):
            book = self._read()
            known = self.get(key)
            if known is not None and known <= limit:
                return known
            book[key] = {"limit": limit, "job": job}
            write_atomic(self.home / _BOOK, orjson.dumps(book, option=orjson.OPT_INDENT_2))
        return limit


def quota_key(manifest: Manifest) -> str:
    """Which queue a job's batches go to: the provider, its base URL and the model."""
    provider = manifest.provider
    name, url = provider.get("name"), provider.get("base_url")
    return f"{name} {url} {manifest.task.get('model')}"


class QueuePacer:
    """Decides, under the home's create lock, whether a shard's batch fits in the queue now."""

    def __init__(self, book: QuotaBook) -> None:
        self.book = book

    def limit(self, manifest: Manifest) -> int | None:
        """The job's limit: `max_enqueued_tokens=`, else the learned one, else None."""
        if manifest.max_enqueued_tokens is not None:
            return manifest.max_enqueued_tokens
        return self.book.get(quota_key(manifest))

    def fits(self, manifest: Manifest, shard: Shard) -> bool:
        limit = self.limit(manifest)
        queued = in_flight(manifest.shards, but=shard.index)
        return limit is None or queued == 0 or queued + shard_cost(shard) <= limit

    def learn(self, manifest: Manifest, queued: int) -> int | None:
        """A batch created on top of `queued` tokens failed on quota: remember the ceiling
        (not when nothing was queued: the shard alone was too big, which says nothing)."""
        if queued <= 0:
            return None
        return self.book.learn(quota_key(manifest), queued, job=manifest.tag)
