"""The job folder on disk: manifest, frame snapshot, request shards, raw results.

```
<job folder>/
  job.json            manifest (format version, provider name + base URL, task, shards) — no key
  job.lock, locks/    the job lock and the shard claims (see `state`)
  frame.parquet       the input frame as submitted
  requests/NNNN.jsonl the shards as sent
  results/NNNN.jsonl  raw provider output (OpenAI errors in results/NNNN.errors.jsonl)
```

Writes are atomic (temp file + `os.replace`), files are 0600 and folders 0700, and reading a
folder never executes anything from it (JSON and parquet only, no pickle).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import filelock
import orjson

from llmbatch._exceptions import JobFolderError

__all__ = ["FORMAT_VERSION", "JobFolder", "default_home", "file_lock", "make_dir", "write_atomic"]

FORMAT_VERSION = 2  # 1 = llmbatch 0.1.0, still read (migrated by `manifest`)
_READABLE = (1, 2)
MANIFEST = "job.json"
_REQUIRED = ("format", "name", "tag", "provider", "task", "shards", "n_rows")


def default_home() -> Path:
    """Where jobs live by default: `$LLMBATCH_HOME`, else `./.llmbatch`."""
    return Path(os.environ.get("LLMBATCH_HOME") or ".llmbatch")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and os.replace (0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_lock(path: Path) -> filelock.BaseFileLock:
    """A lock on `path` (0600): reentrant in one thread, exclusive across threads and processes.

    flock-based on POSIX, so a killed process releases it; the file itself is kept (deleting a
    lock file others may be waiting on would let two holders in).
    """
    return filelock.FileLock(path, mode=0o600, is_singleton=True, preserve_lock_file=True)


def make_dir(path: Path) -> None:
    """Create `path` (and parents) as 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


class JobFolder:
    """One job's folder; knows paths and the manifest, nothing of providers or frames."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    @classmethod
    def new_temp(cls, home: Path) -> JobFolder:
        """A fresh hidden folder under `home`, renamed to the job's name once it is known."""
        make_dir(home)
        folder = cls(tempfile.mkdtemp(dir=home, prefix=".new-"))
        folder.path.chmod(0o700)
        make_dir(folder.requests_dir)
        make_dir(folder.results_dir)
        return folder

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def frame_path(self) -> Path:
        return self.path / "frame.parquet"

    @property
    def requests_dir(self) -> Path:
        return self.path / "requests"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    def shard_path(self, index: int) -> Path:
        return self.requests_dir / f"{index:04d}.jsonl"

    def result_path(self, index: int, kind: str = "output") -> Path:
        suffix = "" if kind == "output" else f".{kind}"
        return self.results_dir / f"{index:04d}{suffix}.jsonl"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def save(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        write_atomic(self.manifest_path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))

    def load(self) -> dict[str, Any]:
        """Read and check the manifest; JobFolderError says what is wrong and what to do."""
        if not self.path.exists():
            raise JobFolderError(f"no job folder at {str(self.path)!r}\nHint: check the path.")
        if not self.manifest_path.is_file():
            msg = (
                f"{str(self.path)!r} is not an llmbatch job folder (no {MANIFEST})\n"
                "Hint: pass the folder a verb created, e.g. .llmbatch/<job name>."
            )
            raise JobFolderError(msg)
        try:
            manifest = orjson.loads(self.manifest_path.read_bytes())
        except orjson.JSONDecodeError as exc:
            msg = (
                f"the manifest {str(self.manifest_path)!r} is damaged or truncated ({exc})\n"
                "Hint: restore it from a backup; the remote batches can still be listed."
            )
            raise JobFolderError(msg) from None
        check_manifest(manifest, self.manifest_path)
        return manifest

    def move_to(self, dest: Path) -> None:
        """Move the whole folder to `dest` (which must not exist yet)."""
        if dest.exists():
            msg = f"{str(dest)!r} already exists\nHint: choose another path or remove it."
            raise JobFolderError(msg)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.path), str(dest))
        self.path = dest


def check_manifest(manifest: Any, where: Path) -> None:
    """Raise JobFolderError if the manifest is not one this version can read."""
    if not isinstance(manifest, dict):
        raise JobFolderError(f"{str(where)!r} is not an llmbatch manifest\nHint: check the path.")
    version = manifest.get("format")
    if isinstance(version, int) and version > FORMAT_VERSION:
        msg = (
            f"the job at {str(where.parent)!r} has format {version}, newer than this llmbatch "
            f"understands ({FORMAT_VERSION})\nHint: upgrade llmbatch (pip install -U llmbatch)."
        )
        raise JobFolderError(msg)
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing or version not in _READABLE:
        msg = (
            f"{str(where)!r} is damaged or not an llmbatch manifest (missing {missing or 'format'})"
            "\nHint: restore it from a backup; the remote batches can still be listed."
        )
        raise JobFolderError(msg)
