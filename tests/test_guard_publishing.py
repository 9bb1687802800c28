"""The publisher's outcomes (shared/publishing/publisher.py), from mutants of it that the
publishing and reconciliation tests let live (docs/MUTANTS.md): a retry that would land past
the post's deadline ends it, saying why, with the platform's error kept; a retry in time keeps
the error too."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.publishing.publisher import Publisher
from tests.support.publishing import Shop, counts, cycle, post, state
from tests.support.social_accounts import connect


async def test_a_retry_that_would_land_past_the_deadline_fails_the_post_saying_why(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Nearly too late")
    # Its ninth attempt: the back-off (at least 150 s) ends past a deadline a minute away.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE post SET publish_deadline = now() + interval '60 seconds', attempts = 8 "
                "WHERE id = :id"
            ),
            {"id": made["id"]},
        )
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"server_error": 1.0}})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert row["status_reason"].endswith("; retries stopped at its deadline")
    assert row["last_error"] == "Something went wrong. Try again later."
    assert row["history"][-1] == ("publishing", "failed")
    assert await counts(sandbox, "x") == {}


async def test_a_retry_in_time_keeps_the_platforms_error(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Try again")
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"server_error": 1.0}})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "scheduled"
    # The platform's own words (the sandbox's X answer), beside Chorus's explanation.
    assert row["last_error"] == "Something went wrong. Try again later."
    assert row["status_reason"].startswith("X is having trouble right now")


async def test_a_published_post_links_to_itself_on_the_platform(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Look at me")
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["external_id"]
    assert row["permalink"].startswith("http")
    assert row["external_id"] in row["permalink"]
