"""A platform's concurrency gate: how many calls one worker process has in flight to it.

Unlike a semaphore it hands out permits in groups: a publish job asks for up to as many as
it has posts waiting, and gets them once at least ``min(asked, min_grant)`` are free (first
come, first served). Each group is written to PostgreSQL as ``publishing`` in one statement
before its requests leave, so groups keep that write at a few per second per platform instead
of one per post, while the platform still sees a steady number of calls in flight.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Gate:
    def __init__(self, capacity: int, *, min_grant: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("a gate lets at least one call through")
        self.capacity = capacity
        self.min_grant = max(1, min(capacity, min_grant or max(1, capacity // 3)))
        self._free = capacity
        self._waiters: deque[tuple[int, asyncio.Future[int]]] = deque()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, want: int) -> int:
        """Up to ``want`` permits (at least one); waits its turn."""
        want = max(1, want)
        if not self._waiters and self._free >= min(want, self.min_grant):
            granted = min(want, self._free)
            self._free -= granted
            return granted
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        entry = (want, future)
        self._waiters.append(entry)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(future.result())  # granted as it was cancelled: give it back
            else:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                self._wake()
            raise

    def release(self, n: int = 1) -> None:
        self._free = min(self.capacity, self._free + n)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            want, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            if self._free < min(want, self.min_grant):
                return
            self._waiters.popleft()
            granted = min(want, self._free)
            self._free -= granted
            future.set_result(granted)
