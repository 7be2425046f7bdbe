"""What the realtime routes remember: each provider's call count and its rate-limit window.

The window is a sliding 60 s of the emulator clock: a call is admitted while fewer than
`realtime_rpm` calls were admitted in the last 60 s; otherwise the caller is told how long
until the oldest of them leaves the window. Moving the clock (`advance(60)`) empties it.
"""

from __future__ import annotations

from collections import Counter, deque

WINDOW_SECONDS = 60.0


class RealtimeState:
    """Per-provider realtime call counters and admission times (callers hold the lock)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.admitted: dict[str, deque[float]] = {}

    def next_call(self, provider: str) -> int:
        """The 1-based number of this realtime call to `provider` (the error knob's salt)."""
        self.calls[provider] += 1
        return self.calls[provider]

    def admit(self, provider: str, now: float, rpm: int | None) -> float | None:
        """None when the call may run (it takes a slot), else the seconds until a slot frees."""
        if rpm is None:
            return None
        window = self.admitted.setdefault(provider, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        if len(window) < rpm:
            window.append(now)
            return None
        return max(window[0] + WINDOW_SECONDS - now, 0.001)

    def clear(self) -> None:
        """Forget every call (the emulator's reset)."""
        self.calls.clear()
        self.admitted.clear()
