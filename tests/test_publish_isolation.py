"""One slow platform never holds another platform's posts: a backlog of posts waiting behind
a slow Facebook (two calls in flight, 3 s each) is far larger than the worker's job slots,
and a post due on X at the same time still goes out at once. Through a real worker (arq, its
dispatcher) and the sandbox over HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.settings import WorkerSettings
from shared.config import Settings
from tests.test_campaign_publishing import running_worker, wait_for
from tests.test_campaigns import chain  # noqa: F401

BATCH = 5
SLOW_POSTS = 2 * WorkerSettings.max_jobs * BATCH  # batches: twice the worker's job slots


async def insert_posts(
    engine: AsyncEngine, world: dict[str, Any], location: dict[str, Any], platform: str, n: int
) -> list[str]:
    """``n`` posts due now on ``platform`` at ``location`` of the ``chain`` world."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                """
                INSERT INTO post (agency_id, id, brand_id, location_id, template_id,
                    template_version, platform, text, status, status_reason, scheduled_at,
                    due_at, publish_deadline)
                SELECT l.agency_id, gen_random_uuid(), l.brand_id, l.id, :template, 1,
                    CAST(:platform AS text), CAST(:platform AS text) || ' post ' || g,
                    'scheduled', 'test', :now, :now, :deadline
                FROM location l CROSS JOIN generate_series(1, :n) AS g
                WHERE l.id = :location
                RETURNING id
                """
            ),
            {
                "template": uuid.UUID(world["template_id"]),
                "platform": platform,
                "now": now,
                "deadline": now + timedelta(hours=1),
                "n": n,
                "location": uuid.UUID(location["id"]),
            },
        )
        return [str(r[0]) for r in rows]


async def _status(engine: AsyncEngine, post_id: str) -> str:
    async with engine.connect() as conn:
        return str(
            (
                await conn.execute(text("SELECT status FROM post WHERE id = :i"), {"i": post_id})
            ).scalar_one()
        )


async def test_a_slow_platforms_backlog_never_delays_another_platform(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    chain: dict[str, Any],  # noqa: F811
) -> None:
    slow = await sandbox.put("/_sandbox/faults/facebook", json={"latency_ms": 3000})
    assert slow.status_code == 200
    await insert_posts(admin_engine, chain, chain["boston"], "facebook", SLOW_POSTS)
    async with running_worker(
        settings, publish_batch_size=BATCH, publish_concurrency_per_platform=2
    ):

        async def facebook_started() -> bool:
            async with admin_engine.connect() as conn:
                return bool(
                    (
                        await conn.execute(
                            text("SELECT count(*) FROM post WHERE status = 'publishing'")
                        )
                    ).scalar_one()
                )

        await wait_for(facebook_started)
        (x_post,) = await insert_posts(admin_engine, chain, chain["nyc"], "x", 1)
        due = time.monotonic()

        async def x_published() -> bool:
            return await _status(admin_engine, x_post) == "published"

        await wait_for(x_published, seconds=30)
        took = time.monotonic() - due
    assert took < 2.0, f"the X post waited {took:.1f} s behind Facebook's backlog"
    async with admin_engine.connect() as conn:
        waiting = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM post WHERE platform = 'facebook' "
                    "AND status <> 'published'"
                )
            )
        ).scalar_one()
    assert waiting > SLOW_POSTS // 2  # the backlog was still there
    counts = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    assert counts == {x_post: 1}
