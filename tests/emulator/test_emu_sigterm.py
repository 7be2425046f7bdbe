"""`python -m llmbatch.emulator` stopped with SIGTERM still removes its stored files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sigterm_cleans_up(tmp_path: Path) -> None:
    # The child gets a temp dir of its own, so emulators of other processes (the session
    # emulator, a parallel run) can neither hide nor fake its stored files.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbatch.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert "127.0.0.1" in proc.stdout.readline() + proc.stdout.readline()
        deadline = time.monotonic() + 30  # generous: only a bound on a hung child
        while not list(tmp_path.glob("llmbatch-emulator-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("llmbatch-emulator-*"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not list(tmp_path.glob("llmbatch-emulator-*"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_sigterm_right_after_the_banner(tmp_path: Path) -> None:
    """A signal sent the moment the banner is read (before uvicorn starts) still exits 0."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmbatch.emulator", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            assert "127.0.0.1" in proc.stdout.readline()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            assert not list(tmp_path.glob("llmbatch-emulator-*"))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
