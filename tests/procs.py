"""Real client processes for the multi-process tests: run scripts against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from llmbatch.emulator.faults import route_matches


def client_env(emu: Any, home: str | None = None) -> dict[str, str]:
    """The environment of a client process pointed at the emulator (zero-wait retries)."""
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="sk-test-key",
        OPENAI_BASE_URL=emu.openai_base_url,
        ANTHROPIC_API_KEY="sk-ant-test-key",
        ANTHROPIC_BASE_URL=emu.anthropic_base_url,
        LLMBATCH_RETRY_ZERO_WAIT="1",
    )
    if home is not None:
        env["LLMBATCH_HOME"] = home
    return env


def run(
    emu: Any, script: str, *args: str, home: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a client script in a fresh process and wait for it."""
    cmd = [sys.executable, "-c", script, *args]
    env = client_env(emu, home)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)


def start(emu: Any, script: str, *args: str, home: str | None = None) -> subprocess.Popen[str]:
    """Start a client script in a fresh process (collect it with `finish`)."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=client_env(emu, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Wait for every process; (returncode, stdout, stderr) of each, in order."""
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        out.append((proc.returncode, stdout, stderr))
    return out


def handled(emu: Any, route: str) -> int:
    """Calls to `route` whose handler has run: the log entry gets its status then, before a
    `slow_after` fault holds the answer back."""
    with emu.lock:
        return sum(
            1
            for entry in emu.request_log
            if entry["status"] is not None and route_matches(route, entry["method"], entry["path"])
        )


def wait_handled(emu: Any, route: str, n: int, proc: subprocess.Popen[str]) -> None:
    """Until the handler of call `n` to `route` has run (the state has changed)."""
    deadline = time.monotonic() + 60  # a bound on a hung client only, never a timing assert
    while handled(emu, route) < n:
        assert proc.poll() is None, "the client ended before the call was handled"
        assert time.monotonic() < deadline, f"call {n} to {route} was never handled"
        time.sleep(0.005)
