"""A campaign from launch to the platform, through a real worker (arq, its dispatcher and
relay loops) and the sandbox: launched, fanned out, published on time, completed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import loops as worker_loops
from services.worker.loops import Loops
from shared.campaigns import service as campaign_service
from shared.config import Settings
from shared.db import Database
from shared.events.relay import Relay
from shared.jobs import QUEUE_NAME
from tests.factories import Tenant
from tests.support.campaigns import campaign_body, create_campaign
from tests.support.clock import TestClock, advance_sandbox
from tests.support.publish_isolation import insert_posts
from tests.support.publish_worker import running_worker, wait_for


async def test_a_launched_campaign_publishes_on_time_and_completes(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    chain: dict[str, Any],
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its posts wait for their time while the dispatcher goes on sending what is due, and go
    out once it comes: time passes by moving Chorus's clock (and the sandbox's, whose time
    the platforms stamp on what they publish), not by waiting for it."""
    # When the campaign's last batches finish together, neither completes it; the loop's
    # sweep does, every 5 s in production (a loop's pace, on real time): here more often.
    monkeypatch.setattr(worker_loops, "SWEEP_EVERY_S", 0.2)
    owner: Tenant = chain["owner"]
    at = clock.now() + campaign_service.MIN_LEAD + timedelta(minutes=1)
    campaign = await create_campaign(
        client,
        owner.headers,
        campaign_body(
            chain["brand"]["id"],
            chain["template_id"],
            schedule={"kind": "absolute", "at": at.isoformat()},
        ),
    )

    async def detail() -> dict[str, Any]:
        shown = await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)
        return dict(shown.json())

    async with running_worker(settings):
        launched = await client.post(
            f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers
        )
        assert launched.status_code == 202

        # New York: Facebook and X; Boston: Facebook; Chicago: nothing → skipped.
        async def fanned_out() -> dict[str, int] | None:
            by_status: dict[str, int] = (await detail())["posts_by_status"]
            return by_status if sum(by_status.values()) == 6 else None

        assert await wait_for(fanned_out) == {"scheduled": 3, "skipped": 3}
        # A post due now goes out meanwhile: the dispatcher ran, and left the campaign's be.
        (due_now,) = await insert_posts(admin_engine, chain, chain["nyc"], "x", 1)

        async def due_now_published() -> bool:
            return due_now in (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]

        await wait_for(due_now_published)
        assert (await detail())["posts_by_status"] == {"scheduled": 3, "skipped": 3}

        moved = (at - clock.now()).total_seconds() + 1
        clock.advance(moved)
        await advance_sandbox(sandbox, moved)

        async def completed() -> dict[str, Any] | None:
            body = await detail()
            return body if body["status"] == "completed" else None

        shown = await wait_for(completed)
    assert shown["posts_by_status"] == {"published": 3, "skipped": 3}
    fb = (await sandbox.get("/_sandbox/publish-counts/facebook")).json()["counts"]
    x = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    assert sorted(fb.values()) == [1, 1]
    assert x.pop(due_now) == 1
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
    chain: dict[str, Any],
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
