"""`python -m llmbatch.emulator` stopped with SIGTERM still removes its stored files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _emulator(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """The emulator in a child process, with a temp dir of its own, so emulators of other
    processes (the session emulator, a parallel run) can neither hide nor fake its files;
    killed and its pipe closed whatever the test asserted."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbatch.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _stores(tmp_path: Path) -> list[Path]:
    return list(tmp_path.glob("llmbatch-emulator-*"))


def test_sigterm_cleans_up(tmp_path: Path) -> None:
    with _emulator(tmp_path) as proc:
        assert proc.stdout is not None
        assert "127.0.0.1" in proc.stdout.readline() + proc.stdout.readline()
        deadline = time.monotonic() + 30  # generous: only a bound on a hung child
        while not _stores(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _stores(tmp_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not _stores(tmp_path)


def test_sigterm_right_after_the_banner(tmp_path: Path) -> None:
    """A signal sent the moment the banner is read (before uvicorn starts) still exits 0."""
    for _ in range(3):
        with _emulator(tmp_path) as proc:
            assert proc.stdout is not None
            assert "127.0.0.1" in proc.stdout.readline()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            assert not _stores(tmp_path)
