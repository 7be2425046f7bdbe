"""The examples run as users run them (each starts its own emulator on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


NOTEBOOK = EXAMPLES / "classify.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs_offline_and_shows_the_status_labels_and_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executed as a user would, in a kernel of its own, against the emulator it starts."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LLMBATCH_HOME", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    html = [
        out["data"]["text/html"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]
    assert any("<table" in h and "ended" in h for h in html)  # the job's status, at the end
    text = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    assert "rows with errors: 0 of 60" in text
    assert "answers:" in text and "cost" in text  # job.usage()
