"""`python -m llmbatch.emulator` stopped with SIGTERM still removes its stored files."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time


def _stores() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "llmbatch-emulator-*")))


def test_sigterm_cleans_up() -> None:
    before = _stores()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbatch.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert "127.0.0.1" in proc.stdout.readline() + proc.stdout.readline()
    deadline = time.monotonic() + 10
    while not (_stores() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stores() - before
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    proc.stdout.close()
    assert not (_stores() - before)
