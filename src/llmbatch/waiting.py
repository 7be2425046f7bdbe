"""`wait()`'s loop: poll, show progress, stop when the job has ended (or at the timeout).

Rounds that change nothing wait longer and longer (up to 10 poll intervals or 5 minutes). No
lock is held while sleeping between polls, so other processes can work on the job; Ctrl-C stops
waiting and says how to go on (the job itself is intact).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from llmbatch._exceptions import InputError, JobNotReady
from llmbatch.status import JobStatus

__all__ = ["BACKOFF_CAP", "check_seconds", "poll_until_done"]

BACKOFF_CAP = 10  # the longest wait between polls, in poll intervals (see `_next_pause`)


def check_seconds(name: str, value: Any) -> None:
    """A wait parameter must be a finite number of seconds >= 0 (checked before any poll)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        msg = f"{name} must be a finite number of seconds >= 0, got {value!r}"
        raise InputError(f"{msg}\nHint: e.g. wait(poll_interval=30, timeout=3600).")


def _progress(st: JobStatus) -> tuple[Any, ...]:
    """What a round can change: each shard's status, counts and download."""
    return tuple((s.status, s.completed, s.failed, s.fetched, s.batch_id) for s in st.shards)


def _next_pause(
    pause: float, interval: float, last: tuple[Any, ...] | None, now: tuple[Any, ...]
) -> tuple[float, tuple[Any, ...]]:
    """Back-off: a round that changed nothing waits 1.5 times longer than the one before, up
    to `BACKOFF_CAP` poll intervals or 300 s, whichever is shorter (never below the interval);
    any change starts again at `interval`. Long batches cost few polls; a change is seen soon."""
    if now != last:
        return interval, now
    cap = max(interval, min(interval * BACKOFF_CAP, 300.0))
    return min(pause * 1.5, cap), now


def poll_until_done(
    poll: Callable[[], JobStatus],
    *,
    name: str,
    path: Path,
    total: int,
    poll_interval: float,
    timeout: float | None,
    progress: bool,
) -> None:
    """Call `poll` (one round of the job's work, then its status) until the job has ended."""
    start = time.monotonic()
    bar = tqdm(total=total, desc=name, unit="req", disable=not progress)
    pause, last = poll_interval, None
    try:
        while True:
            st = poll()
            pause, last = _next_pause(pause, poll_interval, last, _progress(st))
            bar.total = max(st.total, bar.total or 0)
            bar.n = st.completed + st.failed
            bar.set_postfix_str("waiting for quota" if st.waiting_for_quota else st.state)
            bar.refresh()
            if st.done:
                return
            if timeout is not None and time.monotonic() - start > timeout:
                raise JobNotReady(f"job {name} not done after {timeout} s\n{st}", st)
            time.sleep(pause)  # no lock is held while sleeping
    except KeyboardInterrupt as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"The job is intact: llmbatch.load({str(path)!r}).wait() goes on.")
        raise
    finally:
        bar.close()
