"""The job folder when things go wrong on disk: bad names, read-only or full disks, hand-edited
manifests, damaged results, a missing frame snapshot, and the folders llmbatch must not touch.

Read-only and disk-full cases run for real in a subprocess: a root test process first drops
its capabilities (so file modes apply to it), and a full disk is a file-size limit
(`RLIMIT_FSIZE`, with SIGXFSZ ignored the write fails with EFBIG).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch

DOWNLOAD = "GET /v1/files/*/content"

# A subprocess prelude: without root's capabilities, file modes apply to the process.
_DROP_CAPS = """
import ctypes, os, sys
if os.geteuid() == 0:
    class Head(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.capset(ctypes.byref(Head(0x20080522, 0)), (Data * 2)()) != 0:
        print("SKIP: cannot drop capabilities"); sys.exit(0)
"""


def _frame(n: int = 3, prefix: str = "text") -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(range(n)), "body": [f"{prefix} {i}" for i in range(n)]})


def _job(emu: Any, n: int = 3, **kw: Any) -> llmbatch.BatchHandle:
    job = _frame(n).llmbatch.complete(text="body", id="doc_id", **kw)
    job.wait(poll_interval=0, progress=False)
    return job


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PYTHONWARNINGS": "error"},
        timeout=120,
        check=False,
    )
    if done.stdout.startswith("SKIP"):
        pytest.skip(done.stdout)
    return done


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "names a folder itself"),
        (".", "names a folder itself"),
        ("x" * 300, "300 bytes long"),
        ("é" * 150, "300 bytes long"),
        ("a\x00b", "control character"),
        ("line\nbreak", "control character"),
        ("", "empty"),
        ("\ud800", "not valid unicode"),
        (".new-abc", "being prepared"),
        (3, "not a string"),
    ],
)
def test_a_bad_name_is_refused_before_anything_is_created(
    emu: Any, tmp_path: Path, name: Any, match: str
) -> None:
    with pytest.raises(llmbatch.InputError, match=match) as info:
        _frame().llmbatch.complete(text="body", name=name)
    assert str(info.value).splitlines()[-1].startswith("Hint: ")
    assert not (tmp_path / "jobs").exists()  # no folder, not even the home
    assert emu.call_count() == 0


def test_a_hidden_name_is_listed_but_a_folder_being_prepared_is_not(emu: Any) -> None:
    job = _job(emu, name=".hidden")
    (job.path.parent / ".new-x1y2").mkdir()
    (job.path.parent / ".new-x1y2" / "job.json").write_bytes((job.path / "job.json").read_bytes())
    assert [j.path for j in llmbatch.jobs()] == [job.path]


# -- folders llmbatch did not create keep their mode ------------------------------------------
@pytest.mark.parametrize("via", ["folder", "env"])
def test_an_existing_folder_keeps_its_mode(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2775)
    if via == "env":
        monkeypatch.setenv("LLMBATCH_HOME", str(shared))
        job = _job(emu)
    else:
        job = _job(emu, folder=shared)
    assert job.path.parent == shared
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
    assert job.path.stat().st_mode & 0o777 == 0o700  # the job's own folder is private


def test_folders_llmbatch_creates_are_private(emu: Any, tmp_path: Path) -> None:
    job = _job(emu, folder=tmp_path / "a" / "b")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", job.path, job.path / "results"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_current_folder_as_home_is_left_alone(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "project"
    here.mkdir()
    here.chmod(0o755)
    monkeypatch.chdir(here)
    job = _job(emu, folder=".")
    assert job.path.resolve().parent == here
    assert stat.S_IMODE(here.stat().st_mode) == 0o755


# -- ~ in paths -------------------------------------------------------------------------------
def test_save_and_load_expand_the_user(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    job = _job(emu)
    job.save("~/moved.llmbatch")
    assert job.path == tmp_path / "home" / "moved.llmbatch"
    assert not (tmp_path / "cwd" / "~").exists()
    assert not llmbatch.load("~/moved.llmbatch").collect()[".error"].any()
    monkeypatch.setenv("LLMBATCH_HOME", "~/jobs")
    assert _job(emu, n=2).path.parent == tmp_path / "home" / "jobs"


# -- read-only and unreadable homes -----------------------------------------------------------
def test_a_read_only_home_is_a_job_folder_error_before_anything_is_sent(
    emu: Any, tmp_path: Path
) -> None:
    home = tmp_path / "readonly"
    home.mkdir()
    home.chmod(0o500)
    code = (
        _DROP_CAPS
        + """
import pandas as pd, llmbatch
for home in (sys.argv[1], sys.argv[1] + "/sub"):
    try:
        pd.DataFrame({"body": ["a"]}).llmbatch.complete(text="body", folder=home)
    except llmbatch.JobFolderError as exc:
        print(str(exc).replace("\\n", " | "))
"""
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(home)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=120,
        check=False,
    )
    if done.stdout.startswith("SKIP"):
        pytest.skip(done.stdout)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    for line in lines:
        assert "Permission denied" in line and "Hint: the folder is read-only" in line
    assert emu.call_count() == 0
    assert not list(home.iterdir())


@pytest.mark.parametrize("locked", ["home", "parent"])
def test_list_on_an_unreadable_home_says_so(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locked: str
) -> None:
    home = tmp_path / "outer" / "jobs"
    monkeypatch.setenv("LLMBATCH_HOME", str(home))
    _job(emu)
    lock = home if locked == "home" else home.parent
    lock.chmod(0o300 if locked == "home" else 0o600)  # cannot list it / cannot enter it
    try:
        done = _python(
            _DROP_CAPS
            + """
from llmbatch.cli import main
sys.exit(main(["list"]))
"""
        )
    finally:
        lock.chmod(0o700)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: cannot list the jobs in {str(home)!r}")
    assert "Hint: check the folder's permissions" in done.stderr
    assert "no jobs" not in done.stderr and "Traceback" not in done.stderr


def test_list_with_no_home_is_no_jobs_and_a_file_is_an_error(tmp_path: Path) -> None:
    assert llmbatch.jobs(tmp_path / "missing") == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(llmbatch.JobFolderError, match="cannot list the jobs"):
        llmbatch.jobs(tmp_path / "file")


# -- disk full while downloading --------------------------------------------------------------
def test_a_full_disk_during_download_says_the_job_resumes(emu: Any, tmp_path: Path) -> None:
    job = _frame(300, "a longer text to make the results file big").llmbatch.complete(
        text="body", id="doc_id"
    )
    limit = 64 * 1024  # job.json fits; the results (~300 answers) do not
    done = _python(
        f"""
import resource, signal, sys
import llmbatch
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
try:
    llmbatch.load({str(job.path)!r}).wait(poll_interval=0, progress=False)
except llmbatch.JobFolderError as exc:
    print(str(exc).replace("\\n", " | "))
"""
    )
    assert done.returncode == 0, done.stderr
    assert "cannot write the results of shard 0" in done.stdout
    assert "File too large" in done.stdout
    assert "free some disk space" in done.stdout and "nothing is paid twice" in done.stdout
    assert not list((job.path / "results").iterdir())  # no half file kept
    assert json.loads((job.path / "job.json").read_text())["shards"][0]["state"] == "ended"
    out = llmbatch.load(job.path).wait(poll_interval=0, progress=False)  # space again
    assert len(out) == 300 and not out[".error"].any()
    assert len(emu.state()["openai"]["batches"]) == 1  # paid once


# -- hand-edited manifests --------------------------------------------------------------------
def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((path / "job.json").read_text())
    change(manifest)
    (path / "job.json").write_text(json.dumps(manifest))


EDITS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "fewer rows": (lambda m: m.update(n_rows=1), "not row ranges within n_rows=1"),
    "more rows": (lambda m: m.update(n_rows=10), "do not cover rows 0-9"),
    "n_rows text": (lambda m: m.update(n_rows="3"), "n_rows is '3'"),
    "empty shard": (lambda m: m.update(shards=[{}]), "missing"),
    "shard without its hash": (lambda m: m["shards"][0].pop("sha256"), "missing sha256"),
    "state a list": (lambda m: m["shards"][0].update(state=["downloaded"]), "state ['downloaded']"),
    "no shards": (lambda m: m.update(shards=[]), "do not cover"),
    "empty task": (lambda m: m.update(task={}), "task is not one"),
    "task kind": (lambda m: m["task"].update(kind="translate"), "task kind is 'translate'"),
    "task model": (lambda m: m["task"].update(model=None), "task model is None"),
    "rows past the end": (lambda m: m["shards"][0].update(rows=[[0, 9]]), "rows is [[0, 9]]"),
    "rows not pairs": (lambda m: m["shards"][0].update(rows=[[0]]), "rows is [[0]]"),
    "results not a list": (lambda m: m["shards"][0].update(results=5), "results is 5"),
    "results outside": (
        lambda m: m["shards"][0].update(results=["/etc/passwd"]),
        "not all inside the job folder",
    ),
    "counts": (lambda m: m["shards"][0].update(counts=5), "counts is 5"),
    "state": (lambda m: m["shards"][0].update(state="bogus"), "state 'bogus'"),
    "columns": (lambda m: m.update(columns={}), "columns is {}"),
    "skipped": (lambda m: m.update(skipped=[[5]]), "skipped is [[5]]"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_manifest_is_a_job_folder_error(emu: Any, edit: str) -> None:
    job = _job(emu)
    change, match = EDITS[edit]
    _edit(job.path, change)
    with pytest.raises(llmbatch.JobFolderError, match="is damaged") as info:
        llmbatch.load(job.path).collect()
    assert match in str(info.value)
    assert str(info.value).splitlines()[-1].startswith("Hint: ")


# -- damaged results --------------------------------------------------------------------------
@pytest.mark.parametrize("cut", ["to nothing", "at a line end", "mid-line"])
def test_a_truncated_results_file_is_an_integrity_error(emu: Any, cut: str) -> None:
    job = _job(emu)
    result = job.path / "results" / "0000.jsonl"
    raw = result.read_bytes()
    end = {"to nothing": 0, "at a line end": raw.index(b"\n") + 1, "mid-line": 40}[cut]
    result.write_bytes(raw[:end])
    with pytest.raises(llmbatch.ResultsIntegrityError, match="shard 0") as info:
        llmbatch.load(job.path).collect()
    assert "refresh_results()" in str(info.value)
    assert not llmbatch.load(job.path).refresh_results().collect()[".error"].any()


def test_a_deleted_results_folder_is_downloaded_again(emu: Any) -> None:
    job = _job(emu)
    for path in (job.path / "results").iterdir():
        path.unlink()
    (job.path / "results").rmdir()
    with pytest.raises(llmbatch.ResultsIntegrityError, match="is gone"):
        llmbatch.load(job.path).collect()
    assert not llmbatch.load(job.path).refresh_results().collect()[".error"].any()


# -- a missing frame snapshot -----------------------------------------------------------------
def _no_snapshot(emu: Any, df: Any) -> llmbatch.BatchHandle:
    emu.configure(request_error_rate=0.5, seed=3)
    job = df.llmbatch.complete(text="body", id="doc_id")
    job.wait(poll_interval=0, progress=False)
    (job.path / "frame.parquet").unlink()
    emu.configure(request_error_rate=0.0)
    return job


def _df(constructor: Any, n: int = 12, prefix: str = "text") -> Any:
    return constructor(
        {"doc_id": list(range(n)), "body": [f"{prefix} {i}" for i in range(n)], "x": [1] * n}
    )


def test_without_a_snapshot_the_hint_leads_somewhere(emu: Any, constructor: Any) -> None:
    df = _df(constructor)
    job = _no_snapshot(emu, df)
    with pytest.raises(llmbatch.InputError, match="no frame snapshot") as info:
        llmbatch.load(job.path).collect()
    assert "llmbatch.load(path, frame=df)" in str(info.value)
    out = llmbatch.load(job.path).collect(df)
    assert len(out) == 12 and out[".error"].any() and not out[".error"].all()
    out = llmbatch.load(job.path, frame=df).collect()
    assert list(out.columns[:3]) == ["doc_id", "body", "x"]


def test_without_a_snapshot_retry_works_from_the_frame_given(emu: Any, constructor: Any) -> None:
    df = _df(constructor)
    job = _no_snapshot(emu, df)
    with pytest.raises(llmbatch.InputError, match="no frame snapshot"):
        llmbatch.load(job.path).retry_failed()
    again = llmbatch.load(job.path, frame=df).retry_failed()
    out = again.wait(poll_interval=0, progress=False)
    assert not out[".error"].any()
    assert all(f"text {i}" in c for i, c in enumerate(out["content"]))


@pytest.mark.parametrize(
    ("wrong", "match"),
    [
        (lambda c: _df(c, n=11), "it has 11 rows, the job 12"),
        (lambda c: _df(c, prefix="other"), "its texts differ"),
        (lambda c: c({"id": list(range(12)), "body": [f"text {i}" for i in range(12)]}), "doc_id"),
    ],
)
def test_a_frame_that_is_not_the_jobs_is_refused(
    emu: Any, constructor: Any, wrong: Callable[[Any], Any], match: str
) -> None:
    job = _no_snapshot(emu, _df(constructor))
    other = wrong(constructor)
    with pytest.raises(llmbatch.InputError, match=match):
        llmbatch.load(job.path, frame=other).collect()
    with pytest.raises(llmbatch.InputError, match=match):
        llmbatch.load(job.path, frame=other).retry_failed()
    with pytest.raises(llmbatch.InputError, match=match):
        llmbatch.load(job.path).collect(other)


def test_reversed_ids_are_not_the_jobs_frame(emu: Any) -> None:
    df = _df(pd.DataFrame)
    job = _no_snapshot(emu, df)
    flipped = df.assign(doc_id=df["doc_id"][::-1].to_numpy())
    with pytest.raises(llmbatch.InputError, match="its id values differ"):
        llmbatch.load(job.path, frame=flipped).collect()


def test_load_with_another_frame_is_refused_even_with_a_snapshot(emu: Any) -> None:
    job = _job(emu)
    with pytest.raises(llmbatch.InputError, match="its texts differ"):
        llmbatch.load(job.path, frame=_frame(3, "other")).collect()


# -- status wording ---------------------------------------------------------------------------
def test_status_says_downloading_until_the_results_are_in(emu: Any) -> None:
    emu.add_fault(kind="html", route=DOWNLOAD, every=1)
    job = _frame().llmbatch.complete(text="body", id="doc_id")
    with pytest.raises(llmbatch.ResultsIntegrityError):
        job.wait(poll_interval=0, progress=False)
    text = str(llmbatch.load(job.path).status(refresh=False))
    assert "downloading results — 3 done, 0 failed of 3 requests" in text
    assert "shards: 1 downloading" in text and "1 completed" not in text
    emu.clear_faults()
    assert "ended — 3 done" in str(llmbatch.load(job.path).status())


def test_status_after_a_retry_reports_rows_and_attempts(emu: Any) -> None:
    emu.configure(request_error_rate=0.5, seed=3)
    job = _frame(12).llmbatch.complete(text="body", id="doc_id")
    job.wait(poll_interval=0, progress=False)
    first = job.status(refresh=False)
    assert 0 < first.failed < 12
    emu.configure(request_error_rate=0.0)
    job.retry_failed().wait(poll_interval=0, progress=False)
    text = str(job.status(refresh=False))
    again = first.failed
    assert f"12 rows in 2 attempts: {first.completed} done, {again} failed of 12 requests, " in text
    assert f"then {again} done, 0 failed of {again} requests" in text
    assert "requests (12 rows)" not in text


# -- orphan uploads ---------------------------------------------------------------------------
def test_cleanup_deletes_the_orphan_copies_of_a_retried_upload(emu: Any) -> None:
    other = _job(emu, n=2)  # another job: its files must stay
    kept = {f["id"] for f in emu.state()["openai"]["files"]}
    emu.add_fault(kind="drop_after", route="POST /v1/files", calls=(1,))
    job = _job(emu)
    files = emu.state()["openai"]["files"]
    inputs = [f for f in files if f["id"] not in kept and f["filename"].startswith("llmbatch-")]
    assert len(inputs) == 2  # the copy whose answer was lost, and the one the batch used
    deleted = job.cleanup()
    assert {f["id"] for f in inputs} <= set(deleted) and len(deleted) == 3
    assert {f["id"] for f in emu.state()["openai"]["files"]} == kept
    assert len(other.cleanup()) == 2


# -- disk full while preparing ----------------------------------------------------------------
def test_a_full_disk_while_preparing_sends_nothing_and_leaves_nothing(
    emu: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    done = _python(
        f"""
import resource, signal
import pandas as pd
import llmbatch
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
df = pd.DataFrame({{"doc_id": range(200), "body": ["a text of some length"] * 200}})
try:
    df.llmbatch.complete(text="body", id="doc_id", folder={str(home)!r})
except llmbatch.JobFolderError as exc:
    print(str(exc).replace("\\n", " | "))
"""
    )
    assert done.returncode == 0, done.stderr
    assert "cannot prepare a job in" in done.stdout and "File too large" in done.stdout
    assert "nothing was sent" in done.stdout
    assert emu.state()["total_calls"] == 0
    assert not home.exists() or not any(home.iterdir())


def test_a_shard_reads_back_as_written_with_unknown_keys_kept() -> None:
    from llmbatch.manifest import Shard

    required = {"index": 2, "attempt": 1, "path": "requests/0002.jsonl", "rows": [[20, 30]],
                "n": 10, "bytes": 5, "sha256": "ab" * 32}  # fmt: skip
    made = Shard(**required, counts={"total": 10}, events=[{"event": "x", "at": 1.0}])
    stored = json.loads(json.dumps({**made.to_dict(), "from_a_newer_version": [1, 2]}))
    read = Shard.from_dict(stored)
    assert read.to_dict() == stored  # the newer key is written back
    assert read.extra == {"from_a_newer_version": [1, 2]}
    assert Shard.from_dict(made.to_dict()) == made
    first, second = Shard.from_dict(dict(required)), Shard.from_dict(dict(required))
    assert first == Shard(**required)  # the defaults, as __init__ gives them
    first.errors.append({"x": 1})
    first.counts["total"] = 1
    assert second.errors == [] and second.counts == {}  # never one object shared
