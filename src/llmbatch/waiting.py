"""`wait()`'s loop: poll, show progress, stop when the job has ended (or at the timeout).

No lock is held while sleeping between polls, so other processes can work on the job; Ctrl-C
stops waiting and says how to go on (the job itself is intact).
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

__all__ = ["check_seconds", "poll_until_done"]


def check_seconds(name: str, value: Any) -> None:
    """A wait parameter must be a finite number of seconds >= 0 (checked before any poll)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        msg = f"{name} must be a finite number of seconds >= 0, got {value!r}"
        raise InputError(f"{msg}\nHint: e.g. wait(poll_interval=30, timeout=3600).")


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
    try:
        while True:
            st = poll()
            bar.total = max(st.total, bar.total or 0)
            bar.n = st.completed + st.failed
            bar.set_postfix_str("waiting for quota" if st.waiting_for_quota else st.state)
            bar.refresh()
            if st.done:
                return
            if timeout is not None and time.monotonic() - start > timeout:
                raise JobNotReady(f"job {name} not done after {timeout} s\n{st}", st)
            time.sleep(poll_interval)  # no lock is held while sleeping
    except KeyboardInterrupt as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"The job is intact: llmbatch.load({str(path)!r}).wait() goes on.")
        raise
    finally:
        bar.close()
