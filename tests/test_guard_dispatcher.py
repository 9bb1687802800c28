"""What the dispatcher writes in a post's history (shared/publishing/dispatcher.py), from mutants
of ``lease_due`` that the publishing tests let live (docs/MUTANTS.md): each hand-over says why,
not a generic "leased", and each due post goes to exactly one job."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock
from shared.db import Database
from shared.publishing.dispatcher import lease_due
from tests.support.publishing import Shop, lease, make_due, post
from tests.support.social_accounts import connect


async def history(engine: AsyncEngine, post_id: str) -> list[tuple[str | None, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT from_status, to_status, reason FROM post_status_change "
                "WHERE post_id = :id ORDER BY changed_at, id"
            ),
            {"id": post_id},
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_each_hand_over_says_why_in_the_posts_history(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, shop: Shop
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "On time")
    await lease(app_db)
    assert (await history(admin_engine, made["id"]))[-1] == (
        "scheduled",
        "queued",
        "its time has come",
    )
    # No job took it and its lease ran out: it goes again, and the history says so.
    await make_due(admin_engine, made["id"])
    await lease(app_db)
    assert (await history(admin_engine, made["id"]))[-1] == (
        "queued",
        "queued",
        "no job took it before its lease ran out; queued again",
    )


async def test_each_due_post_goes_to_exactly_one_job(
    client: httpx.AsyncClient, app_db: Database, shop: Shop
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = [await post(client, shop, "x", f"Batch {n}") for n in range(3)]
    async with app_db.transaction() as session:
        leases = await lease_due(
            session, now=clock.now(), limit=100, lease_for=timedelta(seconds=60), batch_size=2
        )
    assert sorted(len(leased.post_ids) for leased in leases) == [1, 2]
    handed = [str(post_id) for leased in leases for post_id in leased.post_ids]
    assert sorted(handed) == sorted(m["id"] for m in made)
