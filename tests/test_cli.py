"""The `llmbatch` command: in-process through `main([...])`, and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import llmbatch
import llmbatch.emulator
from llmbatch.cli import main


def _job(df: Any, provider: str = "openai", **kw: Any) -> llmbatch.BatchHandle:
    return df.llmbatch.complete(text="body", id="doc_id", provider=provider, **kw)


def _frame(constructor: Any, n: int = 3) -> Any:
    return constructor(
        {"doc_id": [f"doc {i} ü" for i in range(n)], "body": [f"t{i}" for i in range(n)]}
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list(emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = _job(_frame(pd.DataFrame))
    b = _job(_frame(pl.DataFrame, 2), provider="anthropic")
    code, out, _ = _run(capsys, "list")
    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == [str(a.path), str(b.path)]
    assert [line[1:4] for line in lines] == [
        ["complete", "openai", "3 rows"],
        ["complete", "anthropic", "2 rows"],
    ]
    assert {line[4] for line in lines} <= {"pending", "running", "ended"}
    code, out, err = _run(capsys, "list", "--folder", tmp_path / "empty")
    assert code == 0 and out == "" and "no jobs under" in err


def test_status(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    job = _job(_frame(pd.DataFrame))
    code, out, err = _run(capsys, "status", job.path)
    assert code == 0 and err == ""
    assert out.startswith(f"llmbatch job {job.name} (openai): ended — 3 done, 0 failed")
    assert "cost so far: $" in out and "at batch prices, genai-prices" in out


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_wait_writes_parquet(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, constructor: Any, provider: str
) -> None:
    df = _frame(constructor)
    job = _job(df, provider=provider)
    target = tmp_path / "out.parquet"
    code, out, _ = _run(capsys, "wait", job.path, "-o", target, "--poll-interval", "0")
    assert code == 0 and out == f"wrote 3 rows to {target}\n"
    back = pl.read_parquet(target)
    assert back["doc_id"].to_list() == [f"doc {i} ü" for i in range(3)]
    assert back["content"].null_count() == 0
    assert not back[".error"].any()


def test_wait_timeout_is_an_error(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emu.configure(validating_seconds=30)
    job = _job(_frame(pd.DataFrame))
    code, out, err = _run(capsys, "wait", job.path, "--poll-interval", "0", "--timeout", "0")
    assert code == 1 and out == ""
    assert f"error: job {job.name} not done after 0.0 s" in err  # after the progress bar


def test_collect_csv_with_embeddings(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, constructor: Any
) -> None:
    job = _frame(constructor).llmbatch.embed(text="body", id="doc_id", dimensions=3)
    job.wait(poll_interval=0, progress=False)
    target = tmp_path / "out.csv"
    code, out, _ = _run(capsys, "collect", job.path, "-o", target)
    assert code == 0 and out == f"wrote 3 rows to {target}\n"
    back = pd.read_csv(target)
    assert list(back["doc_id"]) == [f"doc {i} ü" for i in range(3)]
    vectors = [json.loads(v) for v in back["embedding"]]  # JSON, not a truncated repr
    assert all(len(v) == 3 and all(isinstance(x, float) for x in v) for v in vectors)
    assert not back[".error"].any()


def test_collect_prints_without_output(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    job = _job(_frame(pl.DataFrame))
    job.wait(poll_interval=0, progress=False)
    code, out, _ = _run(capsys, "collect", job.path)
    assert code == 0 and "shape: (3, " in out and "doc 0 ü" in out


def test_collect_keeps_a_real_pandas_index(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    df = pd.DataFrame({"doc_id": [1, 2], "body": ["a", "b"]}, index=pd.Index([7, 3], name="row"))
    job = _job(df)
    job.wait(poll_interval=0, progress=False)
    assert _run(capsys, "collect", job.path, "-o", tmp_path / "a.csv")[0] == 0
    assert list(pd.read_csv(tmp_path / "a.csv", index_col="row").index) == [7, 3]
    plain = _job(pd.DataFrame({"doc_id": [1, 2], "body": ["c", "d"]}))
    plain.wait(poll_interval=0, progress=False)
    assert _run(capsys, "collect", plain.path, "-o", tmp_path / "b.csv")[0] == 0
    assert list(pd.read_csv(tmp_path / "b.csv").columns[:2]) == ["doc_id", "body"]


def test_collect_before_the_end(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    emu.configure(validating_seconds=30)
    job = _job(_frame(pd.DataFrame))
    code, _, err = _run(capsys, "collect", job.path)
    assert code == 1 and "has not ended yet" in err
    assert not (tmp_path / "out.csv").exists()
    code, _, _ = _run(capsys, "collect", job.path, "--partial", "-o", tmp_path / "out.csv")
    assert code == 0
    back = pd.read_csv(tmp_path / "out.csv")
    assert back[".error"].all() and back[".error_msg"].str.contains("not finished").all()


def test_cancel(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emu.configure(validating_seconds=30)
    job = _job(_frame(pd.DataFrame), provider="anthropic")
    code, out, _ = _run(capsys, "cancel", job.path)
    assert code == 0 and out.startswith(f"llmbatch job {job.name} (anthropic):")
    assert "cancel" in out
    code, out, _ = _run(capsys, "status", job.path)
    assert code == 0 and "ended" in out and "1 cancelled" in out
    rows = llmbatch.load(job.path).collect()
    assert rows[".error"].all()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cleanup(emu: Any, capsys: pytest.CaptureFixture[str], provider: str) -> None:
    job = _job(_frame(pd.DataFrame), provider=provider)
    job.wait(poll_interval=0, progress=False)
    code, out, _ = _run(capsys, "cleanup", job.path)
    deleted = out.split()
    assert code == 0 and deleted
    state = emu.state()[provider]
    assert state["files" if provider == "openai" else "batches"] == []
    assert _run(capsys, "cleanup", job.path)[:2] == (0, "nothing to delete\n")


def test_cleanup_of_a_running_job_is_an_error(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    emu.configure(validating_seconds=30)
    job = _job(_frame(pd.DataFrame))
    code, _, err = _run(capsys, "cleanup", job.path)
    assert code == 1 and "still running" in err


def test_retry(emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emu.configure(request_error_rate=0.5)
    df = pd.DataFrame({"doc_id": range(12), "body": [f"t{i}" for i in range(12)]})
    job = _job(df)
    failed = int(job.wait(poll_interval=0, progress=False)[".error"].sum())
    assert 0 < failed < 12
    emu.configure(request_error_rate=0.0)
    code, out, _ = _run(capsys, "retry", job.path)
    assert code == 0 and f"llmbatch job {job.name}" in out
    assert _run(capsys, "retry", job.path)[0] == 0  # run twice (a cron job): nothing resent
    target = tmp_path / "out.parquet"
    assert _run(capsys, "wait", job.path, "-o", target, "--poll-interval", "0")[0] == 0
    assert not pd.read_parquet(target)[".error"].any()
    assert len(emu.state()["openai"]["batches"]) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_refresh(emu: Any, capsys: pytest.CaptureFixture[str], provider: str) -> None:
    job = _job(_frame(pd.DataFrame), provider=provider)
    job.wait(poll_interval=0, progress=False)
    (job.path / "results" / "0000.jsonl").write_bytes(b"{damaged")
    code, out, _ = _run(capsys, "refresh", job.path)
    assert code == 0 and "ended" in out
    assert not llmbatch.load(job.path).collect()[".error"].any()


def test_retry_refuses_unknown_kinds(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    job = _job(_frame(pd.DataFrame))
    with pytest.raises(SystemExit) as info:
        main(["retry", str(job.path), "--kinds", "bogus"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["status", "wait", "collect", "cancel", "cleanup", "retry", "refresh"]
)
def test_not_a_job_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = _run(capsys, command, tmp_path)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "not an llmbatch job folder" in err
    code, _, err = _run(capsys, command, tmp_path / "missing")
    assert code == 1 and "no job folder" in err


@pytest.mark.parametrize(
    ("output", "match"),
    [("out.xlsx", "must end in .parquet or .csv"), ("no/such/out.csv", "does not exist")],
)
def test_bad_output_is_refused_before_waiting(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str, match: str
) -> None:
    job = _job(_frame(pd.DataFrame))
    calls = emu.call_count()
    code, out, err = _run(capsys, "wait", job.path, "-o", tmp_path / output)
    assert code == 1 and out == "" and match in err
    assert emu.call_count() == calls  # nothing was asked of the provider


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2 and "required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "emulator" in capsys.readouterr().out


def test_emulator_help_delegates(capsys: pytest.CaptureFixture[str]) -> None:
    assert callable(llmbatch.emulator.main)
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: llmbatch emulator")
    assert "--request-error-rate" in out and "--port" in out


def test_emulator_bad_flag_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--host", "8.8.8.8", "--port", "0"]) == 2
    assert "error:" in capsys.readouterr().err


def test_real_subprocess(emu: Any, tmp_path: Path) -> None:
    job = _job(_frame(pd.DataFrame))
    env = {**os.environ, "PYTHONWARNINGS": "error"}

    def run(*argv: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "llmbatch.cli", *map(str, argv)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    target = tmp_path / "out.parquet"
    done = run("wait", job.path, "-o", target, "--poll-interval", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote 3 rows to {target}\n"
    assert pd.read_parquet(target)["content"].notna().all()
    listed = run("list")
    assert listed.returncode == 0 and listed.stdout.startswith(f"{job.path}\tcomplete\topenai")
    bad = run("status", tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: ") and "not an llmbatch job folder" in bad.stderr


def test_list_needs_no_api_key(
    emu: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _job(_frame(pd.DataFrame))
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, _ = _run(capsys, "list")
    assert code == 0 and out.startswith(f"{job.path}\tcomplete\topenai")
    code, _, err = _run(capsys, "status", job.path)
    assert code == 1 and "OPENAI_API_KEY" in err
