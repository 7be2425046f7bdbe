"""The `llmbatch` command never shows a traceback: an LLMBatchError is one line and its hint
(exit 1), a bad option value is a usage error (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llmbatch.cli import main


def _job(emu: Any) -> Any:
    df = pd.DataFrame({"doc_id": [1, 2, 3], "body": ["a", "b", "c"]})
    return df.llmbatch.complete(text="body", id="doc_id")


def _cli(*argv: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmbatch.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--poll-interval", "-1"],
        ["--poll-interval", "nan"],
        ["--poll-interval", "soon"],
        ["--timeout", "-5"],
        ["--timeout", "inf"],
    ],
)
def test_a_bad_number_is_a_usage_error(
    emu: Any, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    job = _job(emu)
    calls = emu.call_count()
    with pytest.raises(SystemExit) as info:
        main(["wait", str(job.path), *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[0]}: expected seconds >= 0, got {argv[1]!r}" in err
    assert emu.call_count() == calls


def test_an_error_is_one_line_and_its_hint(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emu.configure(validating_seconds=30)
    job = _job(emu)
    assert main(["collect", str(job.path)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: job {job.name} has not ended yet", "Hint: call wait()."]


def test_a_damaged_job_in_a_real_process(emu: Any) -> None:
    job = _job(emu)
    manifest = json.loads((job.path / "job.json").read_text())
    manifest["n_rows"] = 1
    (job.path / "job.json").write_text(json.dumps(manifest))
    for command in ("status", "collect", "wait", "retry", "cleanup"):
        done = _cli(command, job.path)
        assert done.returncode == 1 and done.stdout == "", done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 2 and "Traceback" not in done.stderr
        assert lines[0].startswith("error: the manifest") and "is damaged" in lines[0]
        assert lines[1].startswith("Hint: restore it from a backup")


def test_bad_usage_in_a_real_process(emu: Any, tmp_path: Path) -> None:
    job = _job(emu)
    done = _cli("wait", job.path, "--poll-interval", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "expected seconds >= 0" in done.stderr
    done = _cli("emulator", "--port", "99999")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_list_of_a_file_is_an_error_and_of_nothing_is_no_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["list", "--folder", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: cannot list the jobs in") and err[1].startswith("Hint: ")
    assert main(["list", "--folder", str(tmp_path / "missing")]) == 0
    assert "no jobs under" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_is_one_line(
    emu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _job(emu)
    job.wait(poll_interval=0, progress=False)
    (tmp_path / "taken.csv").mkdir()  # a folder where the file should go
    assert main(["collect", str(job.path), "-o", str(tmp_path / "taken.csv")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: ") and err[1].startswith("Hint: ")
