"""One slow platform never holds another platform's posts: a backlog of posts waiting behind
a slow Facebook (two calls in flight, 3 s each) is far larger than the worker's job slots,
and a post due on X at the same time still goes out at once. Through a real worker (arq, its
dispatcher) and the sandbox over HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.settings import WorkerSettings
from shared.config import Settings
from tests.support.publish_isolation import insert_posts
from tests.support.publish_worker import running_worker, wait_for

BATCH = 5
SLOW_POSTS = 2 * WorkerSettings.max_jobs * BATCH  # batches: twice the worker's job slots


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
    chain: dict[str, Any],
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
