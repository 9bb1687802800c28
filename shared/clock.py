"""The time Chorus's guards read: the system clock, plus an offset only tests move.

Leases, due times, back-offs, reconcile delays and expiries are decided by comparing an
instant with "now". Code on those paths reads :func:`now` (and passes it to SQL as a bound
parameter rather than calling PostgreSQL's ``now()``), so a test can move time forward with
:func:`advance` instead of sleeping until a deadline passes. In production nothing moves
the offset: :func:`now` is ``datetime.now(UTC)``.

The offset lives in this process only. A worker the tests run in another process keeps the
system's time; the tests that move the clock run the loop or job they exercise in-process.
(The platform sandbox, another process, has a clock of its own: ``POST /_sandbox/clock/advance``.)

Timeouts that bound a wait on the network or a lock (``asyncio.timeout``, read timeouts,
``lock_timeout``) stay on the event loop's and the servers' own clocks: they measure real
waiting, which moving this clock cannot shorten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current instant, UTC, timezone-aware."""
    return datetime.now(UTC) + _offset


def advance(seconds: float) -> None:
    """Move time forward (tests only: production never calls this)."""
    global _offset
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    """Back to the system's time (tests: after each test)."""
    global _offset
    _offset = timedelta(0)
