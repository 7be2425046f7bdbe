"""The job folder on disk: manifest, frame snapshot, request shards, raw results.

```
<job folder>/
  job.json            manifest (format version, provider name + base URL, task, shards) — no key
  job.lock, locks/    the job lock and the shard claims (see `state`)
  frame.parquet       the input frame as submitted
  requests/NNNN.jsonl the shards as sent
  results/NNNN.jsonl  raw provider output (OpenAI errors in results/NNNN.errors.jsonl)
```

Writes are atomic (temp file + `os.replace`), files are 0600 and the folders llmbatch creates
0700 (a folder that already exists, such as the user's `folder="."`, is left as it is), and
reading a folder never executes anything from it (JSON and parquet only, no pickle). An
`OSError` on the folder (read-only, disk full, permission) is a `JobFolderError` whose hint fits
the cause.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
import orjson

from llmbatch._exceptions import InputError, JobFolderError, ResultsIntegrityError

__all__ = [
    "DENIED",
    "FORMAT_VERSION",
    "JobFolder",
    "check_job_name",
    "default_home",
    "file_lock",
    "file_shape",
    "folder_error",
    "job_home",
    "line_blocks",
    "make_dir",
    "write_atomic",
]

FORMAT_VERSION = 2  # 1 = llmbatch 0.1.0, still read (migrated by `manifest`)
_READABLE = (1, 2)
MANIFEST = "job.json"
_REQUIRED = ("format", "name", "tag", "provider", "task", "shards", "n_rows")
TEMP_PREFIX = ".new-"  # a job folder being prepared; renamed to the job's name when complete
# NAME_MAX is 255 bytes; force=True may append "-YYYYmmdd-HHMMSS-xxxx" (21) to a taken name
_NAME_BYTES = 200
DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})  # errnos of a read-only folder
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def default_home() -> Path:
    """Where jobs live by default: `$LLMBATCH_HOME`, else `./.llmbatch` (`~` expanded)."""
    return Path(os.environ.get("LLMBATCH_HOME") or ".llmbatch").expanduser()


def job_home(folder: str | os.PathLike[str] | None = None) -> Path:
    """The folder a new job goes in: `folder=`, else `default_home()` (`~` expanded)."""
    if folder is None:
        return default_home()
    if not isinstance(folder, str | os.PathLike):
        msg = f"folder= must be a path, got {type(folder).__name__} {folder!r}"
        raise InputError(msg + "\nHint: e.g. folder='jobs' (or leave it out: $LLMBATCH_HOME).")
    return Path(folder).expanduser()


def check_job_name(name: object) -> None:
    """Refuse a `name=` that is not one plain folder name (before anything is created)."""
    if name is None:
        return
    problem = _name_problem(name)
    if problem is not None:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:59] + "…"
        msg = (
            f"name={shown} cannot name a job folder: {problem}\nHint: use one plain folder "
            "name of letters, digits, '-', '_' and '.', e.g. name='reviews-2026-01'."
        )
        raise InputError(msg)


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not a string"
    if not name.strip():
        return "it is empty"
    if name in (".", ".."):
        return "it names a folder itself ('.' or '..'), not a job in it"
    if "/" in name or "\\" in name:
        return "it holds a path separator (a job name is one folder, not a path)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it holds a control character (NUL, newline, tab, …)"
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        return "it is not valid unicode (a lone surrogate)"
    if size > _NAME_BYTES:
        return f"it is {size} bytes long; a job name holds at most {_NAME_BYTES}"
    if name.startswith(TEMP_PREFIX):
        return f"names starting with {TEMP_PREFIX!r} are llmbatch's folders being prepared"
    return None


def folder_error(exc: OSError, doing: str, hint: str | None = None) -> JobFolderError:
    """An OSError on a job folder as a JobFolderError whose hint fits the cause."""
    if hint is None and exc.errno in DENIED:
        hint = (
            "the folder is read-only or not yours; pass folder= (or set LLMBATCH_HOME) to a "
            "folder you can write, or fix its permissions."
        )
    elif hint is None and exc.errno in _FULL:
        hint = (
            "the disk is full (or a file-size limit was hit); free some space and run the same "
            "call again: the job is intact and goes on where it stopped, paying nothing twice."
        )
    elif hint is None:
        hint = "check the path and the disk; the job folder itself is intact."
    return JobFolderError(f"cannot {doing}: {exc}\nHint: {hint}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and os.replace (0600)."""
    try:
        _write_atomic(path, data)
    except OSError as exc:
        raise folder_error(exc, f"write {str(path)!r}") from None


def _write_atomic(path: Path, data: bytes) -> None:
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


def read_json_object(path: Path) -> dict[str, Any]:
    """A small JSON object kept beside the jobs (an index, a book); missing or damaged: {}.

    For files that only record what can be learned again, so a damaged one is not an error.
    """
    try:
        data = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def file_lock(path: Path) -> filelock.BaseFileLock:
    """A lock on `path` (0600): reentrant in one thread, exclusive across threads and processes.

    flock-based on POSIX, so a killed process releases it; the file itself is kept (deleting a
    lock file others may be waiting on would let two holders in).
    """
    return _FolderLock(path, mode=0o600, is_singleton=True, preserve_lock_file=True)


class _FolderLock(filelock.FileLock):
    """A FileLock whose failure to open its file (a read-only folder) is a JobFolderError."""

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().acquire(*args, **kwargs)
        except filelock.Timeout:
            raise
        except OSError as exc:
            raise folder_error(exc, f"lock {str(self.lock_file)!r}") from None


def make_dir(path: Path) -> None:
    """Create `path` and its missing parents as 0700; folders that exist are left as they are.

    A user's own folder (`folder="."`, a shared `LLMBATCH_HOME`) keeps its mode.
    """
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                if folder.is_dir():  # made meanwhile by another process: not ours to change
                    continue
                raise
            folder.chmod(0o700)  # mkdir's mode is masked by the umask
    except OSError as exc:
        raise folder_error(exc, f"create the folder {str(path)!r}") from None


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
        try:
            folder = cls(tempfile.mkdtemp(dir=home, prefix=TEMP_PREFIX))  # 0700
        except OSError as exc:
            raise folder_error(exc, f"create a job folder in {str(home)!r}") from None
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
        try:
            manifest = orjson.loads(self.manifest_path.read_bytes())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            msg = (
                f"{str(self.path)!r} is not an llmbatch job folder (no {MANIFEST})\n"
                "Hint: pass the folder a verb created, e.g. .llmbatch/<job name>."
            )
            if not self.path.exists():
                msg = f"no job folder at {str(self.path)!r}\nHint: check the path."
            raise JobFolderError(msg) from None
        except OSError as exc:
            hint = "check the folder's permissions (you need to read it)."
            hint_or_none = hint if exc.errno in DENIED else None
            raise folder_error(exc, "read the job", hint_or_none) from None
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
        make_dir(dest.parent)
        try:
            shutil.move(str(self.path), str(dest))
        except OSError as exc:
            raise folder_error(exc, f"move the job to {str(dest)!r}") from None
        self.path = dest

    def check_results(self, index: int, shapes: dict[str, list[int]]) -> None:
        """Raise ResultsIntegrityError if a downloaded file is gone or lost lines (truncated).

        Same size: trusted as is (cheap). Another size: its lines are counted; a file edited
        line by line keeps its count, a truncated one does not (a line cut in the middle
        fails to parse when read).
        """
        for rel, (size, lines) in shapes.items():
            path = self.path / rel
            try:
                found = path.stat().st_size
            except FileNotFoundError:
                found = None
            what = None
            if found is None:
                what = "is gone"
            elif found != size and (counted := file_shape(path)[1]) != lines:
                what = f"holds {counted:,} lines, the download had {lines:,} (truncated?)"
            if what is not None:
                msg = (
                    f"the results of shard {index} in the job folder are damaged: {rel} {what}"
                    "\nHint: job.refresh_results() (or `llmbatch refresh PATH`) downloads them "
                    "again."
                )
                raise ResultsIntegrityError(msg, shard=index)


_SHAPE_BLOCK = 1 << 24


def line_blocks(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """`(byte offset, bytes)` of a file about `size` bytes at a time, each block whole lines
    (the last one ends where the file does): memory bounded by the block, not the file."""
    start = 0
    with path.open("rb") as fh:
        while block := fh.read(size):
            if not block.endswith(b"\n"):
                block += fh.readline()
            yield start, block
            start += len(block)


def file_shape(path: Path) -> list[int]:
    """[bytes, non-blank lines] of a results file, read a block at a time."""
    lines = sum(_non_blank(block) for _, block in line_blocks(path, _SHAPE_BLOCK))
    return [path.stat().st_size, lines]


def _non_blank(block: bytes) -> int:
    """Non-blank lines of `block` (whole lines; the last one may lack its newline). When every
    line starts with `{` (a results file) three byte counts say it; else a line at a time."""
    total = block.count(b"\n") + (not block.endswith(b"\n"))
    if block.count(b"\n{") + block.startswith(b"{") == total:
        return total
    return sum(1 for line in block.split(b"\n") if line.strip())


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
