"""Urgent work is never stuck behind bulk work (issue #12): 600 metric backfills against a
slow platform fill the bulk workers, and a campaign on a healthy platform still fans out and
publishes at once, through the urgent queue's own workers."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from services.worker import settings as worker_settings
from shared import jobs
from shared.campaigns import service as campaign_service
from shared.config import Settings
from shared.jobs import BULK_QUEUE, URGENT_QUEUE, enqueue
from shared.metrics.service import BACKFILL_JOB
from tests.factories import Tenant
from tests.support.campaigns import campaign_body, create_campaign

BACKLOG = 600
SLOW_MS = 5000
"""Every call to the slow platform takes this long: a backfill holds its worker slot."""


@contextlib.asynccontextmanager
async def running_workers(settings: Settings) -> AsyncIterator[tuple[Worker, Worker]]:
    """The two workers as production runs them (``WorkerSettings`` with its loops,
    ``BulkWorkerSettings``), each with its own capacity, here in this process."""
    fast = settings.model_copy(update={"dispatch_interval_seconds": 0.1})

    async def urgent_startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, fast)

    async def bulk_startup(ctx: dict[str, Any]) -> None:
        await worker_settings.bulk_startup(ctx, fast)

    made: list[tuple[Worker, asyncio.Task[None]]] = []
    for queue, startup, capacity in (
        (URGENT_QUEUE, urgent_startup, settings.worker_max_jobs),
        (BULK_QUEUE, bulk_startup, settings.bulk_worker_max_jobs),
    ):
        pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        worker = Worker(
            functions=worker_settings.build_functions(),
            redis_pool=pool,
            queue_name=queue,
            on_startup=startup,
            on_shutdown=worker_settings.shutdown,
            max_jobs=capacity,
            keep_result=0,
            poll_delay=0.05,
            handle_signals=False,
        )
        made.append((worker, asyncio.create_task(worker.async_run())))
    try:
        yield made[0][0], made[1][0]
    finally:
        for worker, task in reversed(made):  # the bulk worker first: its jobs are cancelled
            with contextlib.suppress(asyncio.CancelledError):
                await worker.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            wctx = worker.ctx.get("chorus")
            if wctx is not None and wctx.loops is not None:
                await wctx.loops.stop()


async def wait_until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_campaign_on_a_healthy_platform_publishes_at_once_behind_600_slow_backfills(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    chain: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(campaign_service, "MIN_LEAD", timedelta(0))
    # The worst case: the whole backlog due at once (pacing off, or queued while the bulk
    # workers were down).
    monkeypatch.setattr(jobs, "PACED", {})
    owner: Tenant = chain["owner"]
    slow = await sandbox.put("/_sandbox/faults/facebook", json={"latency_ms": SLOW_MS})
    assert slow.status_code == 200, slow.text
    facebook = [
        account["id"]
        for (_, platform), account in chain["accounts"].items()
        if platform == "facebook"
    ]
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        for n in range(BACKLOG):
            account_id = facebook[n % len(facebook)]
            queued = await enqueue(
                redis,
                BACKFILL_JOB,
                str(owner.agency_id),
                account_id,
                job_id=f"{BACKFILL_JOB}:{account_id}:{n}",
            )
            assert queued is not None
        assert await redis.zcard(BULK_QUEUE) >= BACKLOG  # routed by name to the bulk queue
        assert await redis.zcard(URGENT_QUEUE) == 0

        async with running_workers(settings) as (urgent, bulk):

            async def bulk_is_full() -> bool:
                return len(bulk.job_tasks) >= settings.bulk_worker_max_jobs

            await wait_until(bulk_is_full, 10, "the bulk worker to fill up with backfills")

            at = datetime.now(UTC) + timedelta(milliseconds=300)
            campaign = await create_campaign(
                client,
                owner.headers,
                campaign_body(
                    chain["brand"]["id"],
                    chain["template_id"],
                    channels=["x"],
                    schedule={"kind": "absolute", "at": at.isoformat()},
                ),
            )
            started = time.monotonic()
            launched = await client.post(
                f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers
            )
            assert launched.status_code == 202, launched.text
            fanned_out: float | None = None

            async def first_published() -> dict[str, Any] | None:
                nonlocal fanned_out
                detail = await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)
                body: dict[str, Any] = detail.json()
                if fanned_out is None and body["status"] != "launching":
                    fanned_out = time.monotonic() - started
                return body if body["posts_by_status"].get("published") else None

            detail = await wait_until(first_published, 30, "the first post to be published")
            published = time.monotonic() - started
            backlog_left = await redis.zcard(BULK_QUEUE)
            bulk_busy = len(bulk.job_tasks)
    finally:
        await redis.aclose()

    assert fanned_out is not None
    assert fanned_out < 2.0, f"fan-out took {fanned_out:.2f}s"
    assert published < 2.0, f"the first post went out {published:.2f}s after the launch"
    # ... while the backlog was still draining: the bulk worker busy, most of it still queued.
    assert bulk_busy > 0
    assert backlog_left > BACKLOG - 100
    assert detail["posts_by_status"]["published"] == 1  # New York's X account
    x_counts = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    assert list(x_counts.values()) == [1]
    assert urgent.jobs_failed == 0


async def test_backfills_are_paced_as_they_are_queued(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connecting many accounts at once queues their backfills a step apart (2 a second by
    default), across every process, so they reach the bulk workers as a stream, not a wall;
    other jobs are not paced."""
    monkeypatch.setattr(jobs, "PACED", {BACKFILL_JOB: 4.0})
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        before_ms = time.time() * 1000
        for n in range(6):
            await enqueue(redis, BACKFILL_JOB, str(uuid.uuid4()), str(uuid.uuid4()), job_id=f"b{n}")
        await enqueue(redis, "metrics.collect_account", "a", "b", job_id="c0")
        scores = dict(await redis.zrange(BULK_QUEUE, 0, -1, withscores=True))
    finally:
        await redis.aclose()
    paced = [scores[f"b{n}".encode()] - before_ms for n in range(6)]
    assert paced[0] < 200  # the first goes at once
    steps = [b - a for a, b in zip(paced, paced[1:], strict=False)]
    assert all(240 <= step <= 260 for step in steps), steps  # 1 / 4 s apart
    assert scores[b"c0"] - before_ms < 200  # a collection is not paced
