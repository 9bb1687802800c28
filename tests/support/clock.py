"""The ``clock`` fixture: move Chorus's time forward instead of sleeping until a due time,
lease, back-off or delay has passed (see ``shared/clock.py``). Registered as a pytest plugin in
tests/conftest.py; every test ends with the clock back on the system's time.

The platform sandbox runs in its own process with its own clock; :func:`advance_sandbox`
moves that one. arq's own schedule (a job deferred by ``Retry(defer=…)``) reads the system's
time, which nothing here moves: :func:`bring_forward` makes such a job due at once, after
saying how long it had left to wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from shared import clock as shared_clock


class TestClock:
    """This process's clock, as the code under test reads it."""

    __test__ = False  # not a test class, whatever its name says

    def now(self) -> datetime:
        return shared_clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds``; the new now."""
        shared_clock.advance(seconds)
        return shared_clock.now()

    def set(self, instant: datetime) -> datetime:
        """Move forward to ``instant`` (never back)."""
        return self.advance(max(0.0, (instant - shared_clock.now()).total_seconds()))


@pytest.fixture(autouse=True)
def _system_time_after_each_test() -> Iterator[None]:
    yield
    shared_clock.reset()


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


async def advance_sandbox(sandbox: httpx.AsyncClient, seconds: float) -> None:
    """Move the platform sandbox's clock (its late commits, token expiries, rate windows)."""
    moved = await sandbox.post("/_sandbox/clock/advance", json={"seconds": seconds})
    assert moved.status_code == 200, moved.text


async def bring_forward(redis: Redis, queue: str, job_id: str, within_s: float = 10.0) -> timedelta:
    """Once arq has deferred the job (its score in ``queue`` lies ahead), make it due now; how
    long it still had to wait, as arq scheduled it. Waits (up to ``within_s``) for the worker
    to finish the failed run and put the job back."""
    deadline = time.monotonic() + within_s
    while True:
        score = await redis.zscore(queue, job_id)
        now_ms = time.time() * 1000
        if score is not None and score > now_ms:
            break
        assert time.monotonic() < deadline, f"job {job_id} was not deferred in {queue}"
        await asyncio.sleep(0.02)
    await redis.zadd(queue, {job_id: now_ms}, xx=True)
    return timedelta(milliseconds=score - now_ms)
