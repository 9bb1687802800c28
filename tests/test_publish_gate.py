"""The platform gate: calls in flight per worker, granted in groups, first come first served,
never more than its capacity, and a cancelled wait gives nothing away."""

from __future__ import annotations

import asyncio

import pytest

from shared.publishing.gate import Gate


async def test_grants_groups_up_to_what_is_free_and_never_more() -> None:
    gate = Gate(10, min_grant=3)
    assert await gate.acquire(4) == 4
    assert await gate.acquire(100) == 6  # what is left
    assert gate.in_use == 10
    waiting = asyncio.ensure_future(gate.acquire(5))
    gate.release(2)
    await asyncio.sleep(0)
    assert not waiting.done()  # two free: below the group it waits for (three)
    gate.release(1)
    assert await waiting == 3
    assert gate.in_use == 10


async def test_first_come_first_served() -> None:
    gate = Gate(2, min_grant=1)
    assert await gate.acquire(2) == 2
    order: list[str] = []

    async def take(name: str, want: int) -> None:
        await gate.acquire(want)
        order.append(name)

    first = asyncio.ensure_future(take("first", 2))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(take("second", 1))
    await asyncio.sleep(0)
    gate.release(1)  # one free: the first in line wants two and takes the one there is
    await asyncio.sleep(0)
    assert order == ["first"]
    gate.release(1)
    await asyncio.gather(first, second)
    assert order == ["first", "second"]


async def test_a_cancelled_wait_gives_nothing_away() -> None:
    gate = Gate(1)
    assert await gate.acquire(1) == 1
    waiting = asyncio.ensure_future(gate.acquire(1))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.waiting == 0
    gate.release(1)
    assert gate.in_use == 0
    assert await gate.acquire(1) == 1


async def test_a_grant_racing_a_cancel_is_returned() -> None:
    gate = Gate(1)
    assert await gate.acquire(1) == 1
    waiting = asyncio.ensure_future(gate.acquire(1))
    await asyncio.sleep(0)
    gate.release(1)  # granted to the waiter...
    waiting.cancel()  # ...which is cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.in_use == 0


async def test_many_callers_never_exceed_the_capacity() -> None:
    gate = Gate(5, min_grant=2)
    peak = 0
    in_flight = 0

    async def caller(want: int) -> None:
        nonlocal peak, in_flight
        got = await gate.acquire(want)
        in_flight += got
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= got
        gate.release(got)

    await asyncio.gather(*(caller(1 + n % 4) for n in range(200)))
    assert peak <= 5
    assert gate.in_use == 0


def test_refuses_a_gate_that_lets_nothing_through() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Gate(0)
