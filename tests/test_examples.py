"""The examples run as users run them (each starts its own emulator on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env["LLMBATCH_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_quickstart_ends_with_no_row_errors(tmp_path: Path) -> None:
    assert "rows with errors: 0 of 300" in run_example("quickstart.py", tmp_path)


def test_develop_then_scale_keeps_the_columns_from_sync_to_batch(tmp_path: Path) -> None:
    out = run_example("develop_then_scale.py", tmp_path)
    assert "600 rows labelled; same columns as the sync tries: True" in out
    assert "rows with errors: 0" in out
