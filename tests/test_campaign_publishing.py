"""A campaign from launch to the platform, through a real worker (arq, its dispatcher and
relay loops) and the sandbox: launched, fanned out, published on time, completed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import settings as worker_settings
from services.worker.loops import Loops
from shared.campaigns import service as campaign_service
from shared.config import Settings
from shared.db import Database
from shared.events.relay import Relay
from shared.jobs import QUEUE_NAME
from tests.factories import Tenant
from tests.test_campaigns import campaign_body, chain, create_campaign  # noqa: F401


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **overrides: Any) -> AsyncIterator[None]:
    """A worker in this process: jobs from the queue, the dispatcher and relay loops, as many
    jobs at once as the urgent worker runs. Jobs queued before it are dropped: this is about
    publishing, and a job still running at the end would be cancelled mid-way. ``overrides``
    change its settings."""
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await redis.delete(QUEUE_NAME)
    fast = settings.model_copy(update={"dispatch_interval_seconds": 0.1, **overrides})

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, fast)

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        poll_delay=0.05,
        handle_signals=False,
        max_jobs=worker_settings.WorkerSettings.max_jobs,
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Whatever arq's close managed, no loop of this worker may outlive the test.
        wctx = worker.ctx.get("chorus")
        if wctx is not None and wctx.loops is not None:
            await wctx.loops.stop()
        await redis.aclose()


async def wait_for(check: Any, seconds: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_a_launched_campaign_publishes_on_time_and_completes(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    chain: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Campaigns must be set a minute ahead; this one may start in three seconds.
    monkeypatch.setattr(campaign_service, "MIN_LEAD", timedelta(0))
    owner: Tenant = chain["owner"]
    at = datetime.now(UTC) + timedelta(seconds=3)
    campaign = await create_campaign(
        client,
        owner.headers,
        campaign_body(
            chain["brand"]["id"],
            chain["template_id"],
            schedule={"kind": "absolute", "at": at.isoformat()},
        ),
    )
    async with running_worker(settings):
        launched = await client.post(
            f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers
        )
        assert launched.status_code == 202

        async def completed() -> dict[str, Any] | None:
            detail = await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)
            body: dict[str, Any] = detail.json()
            return body if body["status"] == "completed" else None

        detail = await wait_for(completed)
    # New York: Facebook and X; Boston: Facebook; Chicago: nothing → skipped.
    assert detail["posts_by_status"] == {"published": 3, "skipped": 3}
    fb = (await sandbox.get("/_sandbox/publish-counts/facebook")).json()["counts"]
    x = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    assert sorted(fb.values()) == [1, 1]
    assert list(x.values()) == [1]
    posts = await client.get(
        f"/v1/campaigns/{campaign['id']}/posts",
        params={"status": "published"},
        headers=owner.headers,
    )
    for post in posts.json()["items"]:
        published = datetime.fromisoformat(post["published_at"])
        assert published >= at  # not before its time
        assert published - at < timedelta(seconds=10)  # and not late
    events = await client.get(f"/v1/locations/{chain['nyc']['id']}/events", headers=owner.headers)
    assert "post.published" in {e["type"] for e in events.json()["items"]}


async def test_a_launch_whose_job_was_lost_is_relaunched(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    chain: dict[str, Any],  # noqa: F811
) -> None:
    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client, owner.headers, campaign_body(chain["brand"]["id"], chain["template_id"])
    )
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.status_code == 202
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await redis.flushdb()  # Redis restarted: the fan-out job is gone
        loops = Loops(settings, app_db, redis, Relay())
        now = datetime.now(UTC)
        assert await loops.relaunch_stalled(now) == 0  # not stalled yet
        async with admin_engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE campaign SET updated_at = now() - interval '5 minutes' WHERE id = :id"
                ),
                {"id": campaign["id"]},
            )
        assert await loops.relaunch_stalled(now) == 1
        assert await loops.relaunch_stalled(now) == 1  # the same job id: not doubled
        assert len(await redis.zrange(QUEUE_NAME, 0, -1)) == 1
    finally:
        await redis.aclose()
