"""Jobs that fail for a transient reason come back with back-off; a failed job never blocks
its id, so a sweep can always hand the work on again. The errors here are real: PostgreSQL's
own lock timeout, statement timeout and deadlock, a refused Redis connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.worker import registry
from services.worker import settings as worker_settings
from services.worker.registry import job, transient_reason
from shared.config import Settings
from shared.db import Database
from shared.jobs import JOB_COUNTS_KEY, URGENT_QUEUE, enqueue
from shared.platforms.errors import ErrorKind, PlatformError
from tests.support.clock import bring_forward
from tests.support.sandbox_server import free_port

LOCK_KEY = 912_345


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


@contextlib.asynccontextmanager
async def advisory_lock_held(engine: AsyncEngine, key: int) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield conn
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock_all()"))


async def _error_of(coro: Any) -> BaseException:
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("no error")


async def test_real_database_and_redis_failures_are_told_apart(
    admin_engine: AsyncEngine, app_db: Database
) -> None:
    async def lock_timeout() -> None:
        async with app_db.transaction() as session:
            await session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})

    async with advisory_lock_held(admin_engine, LOCK_KEY):
        assert transient_reason(await _error_of(lock_timeout())) == "lock timeout"

    async def statement_timeout() -> None:
        async with app_db.transaction() as session:
            await session.execute(text("SET LOCAL statement_timeout = '20ms'"))
            await session.execute(text("SELECT pg_sleep(1)"))

    assert transient_reason(await _error_of(statement_timeout())) == "statement timeout"

    # A deadlock: each side holds one lock and waits for the other's. The side PostgreSQL
    # picks fails; its rollback lets the other through.
    async with admin_engine.connect() as a, admin_engine.connect() as b:
        for conn, key in ((a, LOCK_KEY + 1), (b, LOCK_KEY + 2)):
            await conn.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

        async def wait_for_lock(conn: AsyncConnection, key: int) -> BaseException | None:
            try:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            except Exception as exc:
                await conn.rollback()
                return exc
            await conn.rollback()
            return None

        outcomes = await asyncio.wait_for(
            asyncio.gather(wait_for_lock(a, LOCK_KEY + 2), wait_for_lock(b, LOCK_KEY + 1)),
            timeout=20,
        )
    errors = [e for e in outcomes if e is not None]
    assert len(errors) == 1
    assert transient_reason(errors[0]) == "deadlock"

    # Permanent: retrying the same statement gives the same answer.
    async def divide_by_zero() -> None:
        async with app_db.transaction() as session:
            await session.execute(text("SELECT 1 / 0"))

    assert transient_reason(await _error_of(divide_by_zero())) is None

    nobody = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        assert transient_reason(await _error_of(nobody.ping())) == "redis unreachable"
    finally:
        await nobody.aclose()

    down = PlatformError(ErrorKind.TRANSIENT, "x", "X is having trouble", retry_after=30)
    refused = PlatformError(ErrorKind.REJECTED, "x", "too long")
    assert transient_reason(down) == "x transient"
    assert transient_reason(refused) is None
    wrapped = RuntimeError("collection failed")
    wrapped.__cause__ = down
    assert transient_reason(wrapped) == "x transient"


async def _run_burst(arq_redis: ArqRedis, functions: list[Any]) -> Worker:
    worker = Worker(
        functions=functions,
        redis_pool=arq_redis,
        queue_name=URGENT_QUEUE,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()
    return worker


async def test_a_job_hitting_a_lock_timeout_is_retried_soon_and_completes(
    admin_engine: AsyncEngine,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    """The first run finds a row lock held past its lock timeout; it is retried a second later
    (not after an hour, not never) and does its work once the lock is gone. arq's deferral is
    on the system's time: the test reads how long it was and makes the job due at once."""
    failed_once = asyncio.Event()

    async def touch(ctx: dict[str, Any], key: int) -> str:
        try:
            async with app_db.transaction() as session:
                await session.execute(text("SET LOCAL lock_timeout = '100ms'"))
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        except Exception:
            failed_once.set()
            raise
        await ctx["redis"].set("test:touched", str(ctx["job_try"]))
        return "touched"

    functions = [job("test.touch", touch, backoff=registry.BACKOFF_S)]
    async with advisory_lock_held(admin_engine, LOCK_KEY) as holder:
        await enqueue(arq_redis, "test.touch", LOCK_KEY, job_id="touch-1")
        running = asyncio.create_task(_run_burst(arq_redis, functions))
        await asyncio.wait_for(failed_once.wait(), timeout=10)
        await holder.execute(text("SELECT pg_advisory_unlock_all()"))
    left = await bring_forward(arq_redis, URGENT_QUEUE, "touch-1")
    assert timedelta(0) < left <= timedelta(seconds=registry.BACKOFF_S[0] * 1.2)
    worker = await asyncio.wait_for(running, timeout=20)

    assert (worker.jobs_retried, worker.jobs_complete, worker.jobs_failed) == (1, 1, 0)
    assert await arq_redis.get("test:touched") == b"2"  # done, on its second run
    counts = await arq_redis.hgetall(JOB_COUNTS_KEY)  # type: ignore[misc]
    assert counts[b"test.touch:retry"] == b"1"
    assert counts[b"test.touch:ok"] == b"1"


async def test_a_failed_job_leaves_its_id_free_for_the_sweep(arq_redis: ArqRedis) -> None:
    """A permanent failure is not retried, and, keeping no result, does not block the same job
    id (the id a sweep uses when it finds the work still undone in PostgreSQL)."""
    runs: list[int] = []

    async def broken(ctx: dict[str, Any]) -> None:
        runs.append(ctx["job_try"])
        if len(runs) == 1:
            raise ValueError("a bug")

    functions = [job("test.broken", broken)]
    assert await enqueue(arq_redis, "test.broken", job_id="work:42") is not None
    first = await _run_burst(arq_redis, functions)
    assert (first.jobs_failed, first.jobs_retried) == (1, 0)
    assert runs == [1]

    assert await enqueue(arq_redis, "test.broken", job_id="work:42") is not None  # not blocked
    second = await _run_burst(arq_redis, functions)
    assert second.jobs_complete == 1
    assert runs == [1, 1]


def test_every_job_that_can_fail_transiently_may_be_retried_and_keeps_no_result() -> None:
    functions = {f.name: f for f in worker_settings.build_functions()}
    retried = [
        "billing.process_stripe_event",
        "billing.sync_quantity",
        "campaign.fan_out",
        "metrics.collect_account",
        "metrics.backfill_account",
        "reviews.collect",
        "reviews.send_reply",
        "social_account.refresh",
        "mail.deliver",
    ]
    for name in retried:
        assert (functions[name].max_tries or 0) > 1, name
    for function in functions.values():
        assert function.keep_result_s == 0, function.name


def test_the_back_off_follows_its_schedule_with_jitter() -> None:
    delays = [registry.backoff_delay((1, 5, 20), n) for n in (1, 2, 3, 4, 9)]
    for delay, base in zip(delays, (1, 5, 20, 20, 20), strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert registry.backoff_delay((1, 5), 1, at_least=30) >= 24  # a platform's Retry-After
    assert len({registry.backoff_delay((60,), 1) for _ in range(20)}) > 1  # jittered
