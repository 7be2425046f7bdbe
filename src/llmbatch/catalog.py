"""Finding jobs on disk: `llmbatch.load(path)` and `llmbatch.jobs()`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbatch._exceptions import JobFolderError
from llmbatch.job import BatchHandle
from llmbatch.providers._config import Anthropic, OpenAI
from llmbatch.store import MANIFEST, default_home

__all__ = ["jobs", "load"]


def load(
    path: str | Path, *, provider: OpenAI | Anthropic | None = None, frame: Any = None
) -> BatchHandle:
    """Reopen a job folder in any process (the API key comes from `provider=` or the env).

    Example:
        >>> job = llmbatch.load(".llmbatch/classify-0123456789abcdef")
        >>> df = job.wait()
    """
    return BatchHandle.open(path, provider=provider, frame=frame)


def jobs(folder: str | Path | None = None) -> list[BatchHandle]:
    """The jobs under `folder` (default `$LLMBATCH_HOME` or `./.llmbatch`), oldest first.

    Folders that are damaged or not jobs are skipped.
    """
    home = Path(folder) if folder is not None else default_home()
    found: list[BatchHandle] = []
    if not home.is_dir():
        return found
    for child in sorted(home.iterdir()):
        if child.name.startswith(".") or not (child / MANIFEST).is_file():
            continue
        try:
            found.append(BatchHandle.open(child))
        except JobFolderError:
            continue
    return sorted(found, key=lambda h: h.created_at)
