"""Which job recorded which remote batch, for every job under one home folder.

A batch whose create answer was lost is found again by listing the provider's batches. Before
a job adopts one, it checks this index: a batch that any job under the same home has recorded
is never adopted by another. The index (`<home>/.claims.json`, a map from batch id to job tag)
is small — one entry per batch — and changed only under `<home>/.claims.lock`.

Residual risk (documented, tested by the tag check after download): a batch created by another
job whose create answer has not come back *yet* is in no index; a job recovering its own lost
create at that very moment could adopt it. Its results then carry the other job's tag, the job
releases the batch and sends its shard again (see `lifecycle`).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from llmbatch.state import file_lock
from llmbatch.store import make_dir, write_atomic

__all__ = ["Claims"]

_INDEX = ".claims.json"


class Claims:
    """The batch-claims index of one home folder."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    def _read(self) -> dict[str, str]:
        try:
            data = orjson.loads((self.home / _INDEX).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def taken_by_others(self, tag: str) -> set[str]:
        """Batch ids recorded by jobs other than the one tagged `tag`."""
        return {batch for batch, owner in self._read().items() if owner != tag}

    def owner(self, batch_id: str) -> str | None:
        return self._read().get(batch_id)

    def record(self, batch_id: str, tag: str) -> bool:
        """Record that job `tag` holds `batch_id`; False if another job recorded it first."""
        return self._change(batch_id, tag, release=False)

    def release(self, batch_id: str, tag: str) -> None:
        """Forget `batch_id` if job `tag` holds it (an adopted batch that proved foreign)."""
        self._change(batch_id, tag, release=True)

    def _change(self, batch_id: str, tag: str, *, release: bool) -> bool:
        if not self.home.is_dir():
            make_dir(self.home)
        with file_lock(self.home / ".claims.lock"):
            index = self._read()
            owner = index.get(batch_id)
            if release:
                if owner == tag:
                    del index[batch_id]
            elif owner is None:
                index[batch_id] = tag
            write_atomic(self.home / _INDEX, orjson.dumps(index))
        return owner in (None, tag)
