"""What the publisher's claim ends before anything is sent (shared/publishing/publisher.py,
``_ending`` and ``_deadline``), from mutants of it the publishing tests let live
(docs/MUTANTS.md): a post whose account was disconnected, or needs reconnecting, and a post
without a deadline of its own an hour after its time, each end saying why, with its history,
and nothing goes to the platform for them; one within its hour still goes out."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.publishing.publisher import Publisher
from tests.support.publishing import Shop, counts, cycle, make_due, post, state
from tests.support.social_accounts import connect

LOSE_THE_ANSWER = {"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5}


async def disconnect(client: httpx.AsyncClient, shop: Shop, account_id: str) -> None:
    gone = await client.delete(f"/v1/social-accounts/{account_id}", headers=shop.owner.headers)
    assert gone.status_code == 200, gone.text


async def test_a_post_whose_answer_was_lost_fails_when_its_account_is_disconnected(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Nobody can check any more whether it went out: it fails saying so, and is never sent
    a second time."""
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Did it go?")
    await sandbox.put("/_sandbox/faults/x", json=LOSE_THE_ANSWER)
    await cycle(app_db, publisher)
    assert (await state(admin_engine, made["id"]))["status"] == "unconfirmed"
    await sandbox.put("/_sandbox/faults/x", json={})
    await disconnect(client, shop, account["id"])
    await make_due(admin_engine, made["id"])
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == (
        "the account was disconnected before Chorus could check whether the post went out"
    )
    assert row["history"][-1] == ("unconfirmed", "failed")
    assert row["lease_token"] is None
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_a_post_for_a_disconnected_account_is_skipped_saying_why(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Gone")
    await disconnect(client, shop, account["id"])
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "skipped"
    assert row["status_reason"] == "no connected x account for this location"
    assert row["history"][-1] == ("queued", "skipped")
    assert await counts(sandbox, "x") == {}


async def test_a_post_for_an_account_that_needs_reconnecting_fails_without_calling(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE social_account SET status = 'needs_reconnect' WHERE id = :id"),
            {"id": account["id"]},
        )
    made = await post(client, shop, "x", "Stale login")
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == "the x account needs reconnecting"
    assert row["history"][-1] == ("queued", "failed")
    assert await counts(sandbox, "x") == {}


async def without_a_deadline(admin_engine: AsyncEngine, post_id: str, minutes_ago: int) -> None:
    """The post as one approved without a deadline of its own, due since ``minutes_ago``."""
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE post SET publish_deadline = NULL, "
                "scheduled_at = now() - make_interval(mins => :m) WHERE id = :id"
            ),
            {"id": post_id, "m": minutes_ago},
        )


async def test_a_post_without_a_deadline_of_its_own_fails_an_hour_after_its_time(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Yesterday's lunch")
    await without_a_deadline(admin_engine, made["id"], 61)
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == "not published by its deadline; Chorus does not post late"
    assert row["history"][-1] == ("queued", "failed")
    assert await counts(sandbox, "x") == {}


async def test_a_post_without_a_deadline_of_its_own_goes_out_within_the_hour(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Still lunch")
    await without_a_deadline(admin_engine, made["id"], 50)
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert await counts(sandbox, "x") == {made["id"]: 1}
