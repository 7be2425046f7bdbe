"""Which shard of which job recorded which remote batch, for every job under one home folder.

A batch whose create answer was lost is found again by listing the provider's batches. Before
a shard adopts one, it checks this index: a batch that any other shard or job under the same
home has recorded is never adopted. The index (`<home>/.claims.json`) maps batch id to owner
(`<job tag>/<shard>/<generation>`), one entry per batch. Creates, and the lookups that recover
lost ones, run one at a time per home under `<home>/.batches.lock`, with the claim recorded
before the lock is let go: so a lookup never sees a batch whose create is still on its way
back to a process of this home.

Residual risk (documented, and covered by the check after download): a batch made meanwhile
from outside this home (another home, another tool) is in no index; a lookup could take it.
Its results then carry another job's ids; the job releases it and sends its shard again.
"""

from __future__ import annotations

from pathlib import Path

import filelock
import orjson

from llmbatch.store import file_lock, make_dir, read_json_object, write_atomic

__all__ = ["Claims"]

_INDEX = ".claims.json"


class Claims:
    """The batch-claims index of one home folder."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    def _read(self) -> dict[str, str]:
        data = read_json_object(self.home / _INDEX)
        return {str(k): str(v) for k, v in data.items()}

    def creates(self) -> filelock.BaseFileLock:
        """Held around a create (or a lost create's lookup) and the claim that follows it."""
        if not self.home.is_dir():
            make_dir(self.home)
        return file_lock(self.home / ".batches.lock")

    def taken(self, *, but: str) -> set[str]:
        """Batch ids recorded by any owner other than `but`."""
        return {batch for batch, owner in self._read().items() if owner != but}

    def record(self, batch_id: str, owner: str) -> bool:
        """Record that `owner` holds `batch_id`; False if another owner recorded it first."""
        return self._change(batch_id, owner, release=False)

    def release(self, batch_id: str, owner: str) -> None:
        """Forget `batch_id` if `owner` holds it (an adopted batch that proved foreign)."""
        self._change(batch_id, owner, release=True)

    def _change(self, batch_id: str, owner: str, *, release: bool) -> bool:
        if not self.home.is_dir():
            make_dir(self.home)
        with file_lock(self.home / ".claims.lock"):
            index = self._read()
            holder = index.get(batch_id)
            if release:
                if holder == owner:
                    del index[batch_id]
            elif holder is None:
                index[batch_id] = owner
            write_atomic(self.home / _INDEX, orjson.dumps(index))
        return holder in (None, owner)
