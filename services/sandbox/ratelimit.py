"""Fixed-window call counters keyed by anything (a user and an endpoint, a page)."""

import math
from dataclasses import dataclass

from services.sandbox.config import Window


@dataclass(frozen=True, slots=True)
class WindowStatus:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds
    used: int


class Windows:
    def __init__(self) -> None:
        self._open: dict[str, tuple[float, int]] = {}  # key -> (window start, calls)
        self.fault_retry_after_s = 1.0

    def _current(self, key: str, window: Window, now: float) -> tuple[float, int]:
        start, used = self._open.get(key, (now, 0))
        if now >= start + window.seconds:
            start, used = now, 0
        return start, used

    def hit(self, key: str, window: Window, now: float) -> WindowStatus:
        """Count one call if the window has room; say whether it had."""
        start, used = self._current(key, window, now)
        allowed = used < window.limit
        if allowed:
            used += 1
        self._open[key] = (start, used)
        reset_at = math.ceil(start + window.seconds)
        return WindowStatus(allowed, window.limit, max(window.limit - used, 0), reset_at, used)

    def peek(self, key: str, window: Window, now: float) -> WindowStatus:
        start, used = self._current(key, window, now)
        reset_at = math.ceil(start + window.seconds)
        remaining = max(window.limit - used, 0)
        return WindowStatus(remaining > 0, window.limit, remaining, reset_at, used)

    def exhaust(self, key: str, window: Window, now: float) -> WindowStatus:
        """The ``rate_limited`` fault: this call is refused as if the window were full, and
        told to come back in ``fault_retry_after_s``; the real window is left as it was (a
        fault is a moment, not a day without posting)."""
        return WindowStatus(
            False, window.limit, 0, math.ceil(now + self.fault_retry_after_s), window.limit
        )

    def clear(self) -> None:
        self._open.clear()
