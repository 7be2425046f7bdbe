"""Everything one emulator knows, and the Python control API over it.

`Backend` holds the config, the clock, both providers' state, the fault rules and the call log,
behind one lock (handlers run on the server thread, the control API on the caller's). The HTTP
control plane (`/_emulator/*`) and `Emulator` methods call the same methods.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

from llmbatch.emulator.anthropic_state import AnthropicState
from llmbatch.emulator.clock import Clock
from llmbatch.emulator.config import EmulatorConfig, FaultRule
from llmbatch.emulator.faults import FaultSet, route_matches
from llmbatch.emulator.openai_state import OpenAIState
from llmbatch.emulator.realtime_state import RealtimeState


class Backend:
    """The emulator's state and control API, without any server."""

    def __init__(self, config: EmulatorConfig | None = None, **knobs: Any) -> None:
        base = config or EmulatorConfig()
        self.initial_config = base.replace(**knobs) if knobs else base
        self.lock = threading.RLock()
        self.root = Path(tempfile.mkdtemp(prefix="llmbatch-emulator-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, True)
        self.clock = Clock()
        self.openai = OpenAIState(self.root)
        self.anthropic = AnthropicState()
        self.realtime = RealtimeState()
        self._config = self.initial_config
        self.faults = FaultSet(self._config.faults, self._config.seed)
        self.calls: Counter[str] = Counter()
        self.request_log: list[dict[str, Any]] = []

    @property
    def config(self) -> EmulatorConfig:
        """The current config (frozen; change it with `configure`)."""
        return self._config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change knobs; `faults=[...]` replaces the fault rules (and their counters).

        Timing, limits and error knobs apply to batches created afterwards.
        """
        with self.lock:
            self._config = self._config.replace(**changes)
            if "faults" in changes or "seed" in changes:
                self.faults = FaultSet(self._config.faults, self._config.seed)
            return self._config

    def add_fault(self, rule: FaultRule | dict[str, Any] | None = None, **fields: Any) -> FaultRule:
        """Append a fault rule, given as a FaultRule, a dict, or keyword fields.

        Example: `emu.add_fault(kind="429", route="POST /v1/batches", calls=[1])`.
        """
        made = FaultRule.from_value(rule if rule is not None else fields)
        with self.lock:
            self._config = self._config.replace(faults=(*self._config.faults, made))
            old = self.faults.armed
            self.faults = FaultSet(self._config.faults, self._config.seed)
            for fresh, armed in zip(self.faults.armed, old, strict=False):
                fresh.seen, fresh.fired = armed.seen, armed.fired
        return made

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.configure(faults=())

    def reset(self) -> None:
        """Back to the moment the emulator started: no files, no batches, no calls, the
        starting config (faults included) and the real clock."""
        with self.lock:
            self.openai.clear()
            self.anthropic.clear()
            self.realtime.clear()
            self._config = self.initial_config
            self.faults = FaultSet(self._config.faults, self._config.seed)
            self.calls.clear()
            self.request_log.clear()
            self.clock.offset = 0.0

    def advance(self, seconds: float) -> None:
        """Move emulator time forward, e.g. past a batch's completion window."""
        with self.lock:
            self.clock.advance(seconds)

    def record_call(
        self,
        key: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Count one API call under its route key and log it; the entry is filled in later.

        `headers` (names lowercased) and `query` are logged as sent, credentials included:
        the emulator is a loopback test double, and tests check what reached it.
        """
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "route": key,
            "status": None,
            "fault": None,
            "headers": {name.lower(): value for name, value in (headers or {}).items()},
            "query": dict(query or {}),
        }
        with self.lock:
            self.calls[key] += 1
            self.request_log.append(entry)
        return entry

    def call_count(self, route: str | None = None) -> int:
        """Calls made to `route`, or to every route.

        `route` is a route key ("GET /v1/batches/{batch_id}") or a fault-style pattern
        ("GET /v1/files/*/content", "*").
        """
        with self.lock:
            if route is None:
                return sum(self.calls.values())
            return sum(
                1
                for entry in self.request_log
                if entry["route"] == route or route_matches(route, entry["method"], entry["path"])
            )

    def state(self) -> dict[str, Any]:
        """Files, batches, call counts and faults (the GET /_emulator/state body)."""
        with self.lock:
            now = self.clock.now()
            openai = self.openai.summary(now)
            anthropic = self.anthropic.summary(now)
            return {
                "openai": {
                    **openai,
                    "file_count": len(openai["files"]),
                    "batch_count": len(openai["batches"]),
                },
                "anthropic": {**anthropic, "batch_count": len(anthropic["batches"])},
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "faults": self.faults.describe(),
                "clock_offset": self.clock.offset,
            }

    def close(self) -> None:
        """Remove the stored file contents from disk."""
        with self.lock:
            self.openai.clear()
        self._cleanup()
