"""Wall-clock time with an offset that tests (and the admin API) can move forward."""

import asyncio
import contextlib
import time


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0.0
        self._moved = asyncio.Event()

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds
        self._wake()

    def reset(self) -> None:
        self.offset_s = 0.0
        self._wake()

    async def sleep_until(self, when: float) -> None:
        """Wait until this clock reads ``when``: as time passes, or at once when the clock is
        moved past it (a late commit a test fast-forwards to)."""
        while (left := when - self.now()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), left)

    def _wake(self) -> None:
        """Wake every sleeper to read the clock again; later sleepers wait on a new event."""
        self._moved.set()
        self._moved = asyncio.Event()
