"""Finding jobs on disk: `llmbatch.load(path)` and `llmbatch.jobs()`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from llmbatch._exceptions import JobFolderError
from llmbatch.job import BatchHandle
from llmbatch.providers import Anthropic, OpenAI
from llmbatch.store import MANIFEST, TEMP_PREFIX, folder_error, job_home

__all__ = ["jobs", "load"]

log = logging.getLogger("llmbatch")


def load(
    path: str | Path, *, provider: OpenAI | Anthropic | None = None, frame: Any = None
) -> BatchHandle:
    """Reopen a job folder in any process (the API key comes from `provider=` or the env).

    `frame=`: the frame the job was made from, for a job folder whose frame snapshot is
    missing (it is checked against the job's ids and texts).

    Example:
        >>> job = llmbatch.load(".llmbatch/classify-0123456789abcdef")
        >>> df = job.wait()
    """
    return BatchHandle.open(path, provider=provider, frame=frame)


def jobs(folder: str | Path | None = None) -> list[BatchHandle]:
    """The jobs under `folder` (default `$LLMBATCH_HOME` or `./.llmbatch`), oldest first.

    A folder that does not exist holds no jobs; one that cannot be read raises JobFolderError
    (never an empty list). Job folders that are damaged are skipped with a warning.
    """
    home = job_home(folder)
    found: list[BatchHandle] = []
    for child in _children(home):
        if child.name.startswith(TEMP_PREFIX) or not _is_job(child):
            continue
        try:
            found.append(BatchHandle.open(child))
        except JobFolderError as exc:
            log.warning("skipping %s: %s", child, str(exc).splitlines()[0])
    return sorted(found, key=lambda h: h.created_at)


def _children(home: Path) -> list[Path]:
    """The entries of `home` (none if it does not exist); JobFolderError if unreadable."""
    try:
        return sorted(home.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        hint = "check the folder's permissions (listing jobs needs to read it)."
        if isinstance(exc, NotADirectoryError):
            hint = "pass the folder that holds the job folders (default: $LLMBATCH_HOME)."
        raise folder_error(exc, f"list the jobs in {str(home)!r}", hint) from None


def _is_job(child: Path) -> bool:
    """Whether `child` holds a manifest; a folder that cannot be looked into is reported."""
    try:
        os.stat(child / MANIFEST)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        log.warning("skipping %s: cannot read it (%s)", child, exc.strerror)
        return False
    return True
