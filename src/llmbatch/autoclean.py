"""Opt-in automatic cleanup: `collect(cleanup=True)` / `wait(cleanup=True)`, or a provider's
`cleanup=True` default, delete the provider's copies of a job once its answers were read from
the job folder, for users with data-retention rules.

The deletion is `BatchHandle.cleanup()`; what this module adds is when it may run (every shard
ended, never after a partial collect that returned early, never for a sync job, which made
nothing remote) and that a failure never costs the collected frame: it is logged with a hint.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from llmbatch._exceptions import InputError, LLMBatchError
from llmbatch.manifest import Manifest
from llmbatch.status import JobStatus

__all__ = ["clean_collected", "wants_cleanup"]

log = logging.getLogger("llmbatch")


class Cleanable(Protocol):
    """What cleaning needs of a job handle (`job.BatchHandle`, which imports this module)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...

    @property
    def provider(self) -> Any: ...

    @property
    def n_rows(self) -> int: ...

    @property
    def manifest(self) -> Manifest: ...

    def cleanup(self) -> list[str]: ...


def wants_cleanup(cleanup: bool | None, default: bool) -> bool:
    """The `cleanup=` of collect() and wait(): `None` is the provider's `default`."""
    if cleanup is None:
        return default
    if not isinstance(cleanup, bool):
        msg = (
            f"cleanup must be True, False or None, got {cleanup!r}\nHint: None uses the "
            "provider's default, e.g. llmbatch.OpenAI(cleanup=True)."
        )
        raise InputError(msg)
    return cleanup


def clean_collected(job: Cleanable) -> None:
    """Delete the provider's copies of a job whose answers were just collected.

    Only once every shard has ended; a failure is logged, not raised, and only the shards whose
    copies are gone are marked cleaned (`cleanup()` marks each after its deletes).
    """
    m = job.manifest
    if m.mode == "sync" or all(s.state == "cleaned" for s in m.shards):
        return  # a sync job made nothing remote; a cleaned one has nothing left
    if not JobStatus.of(job.name, job.provider.name, job.n_rows, m.shards).done:
        log.info("job %s has not ended: the provider's copies are kept for now", job.name)
        return
    try:
        deleted = job.cleanup()
    except (LLMBatchError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning(
            "job %s: the answers are in the job folder, but deleting the provider's copies "
            "failed: %s\nHint: call job.cleanup() (or `llmbatch cleanup %s`) to try again.",
            job.name, first, job.path,
        )  # fmt: skip
        return
    log.info("job %s: deleted %d remote object(s) at the provider", job.name, len(deleted))
