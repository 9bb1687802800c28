"""What the publisher's claim ends before anything is sent (shared/publishing/publisher.py,
``_ending`` and ``_deadline``), from mutants of it the publishing tests let live
(docs/MUTANTS.md): a post whose account was disconnected, or needs reconnecting, and a post
without a deadline of its own an hour after its time, each end saying why, with its history,
and nothing goes to the platform for them; one within its hour still goes out. The publish
job's answer (the worker's log line) counts what the claim skipped and failed, and the posts
behind an ended one still go; the account's details reach the platform; a job that waited in
the queue renews its posts' lease when it claims them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from services.worker.jobs.publishing import publish_batch
from shared.db import Database
from shared.publishing.publisher import BatchResult, Publisher
from tests.factories import create_location
from tests.support.publishing import Shop, counts, cycle, lease, make_due, post, state
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


async def test_the_publish_job_counts_what_its_claim_ended_and_the_rest_still_goes(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
    worker_ctx: dict[str, Any],
) -> None:
    """The worker logs each job's answer (arq's ``● {...}`` line): of one batch (one
    agency's X posts), the posts its claim skipped and failed, each counted as what it
    became. The one behind them goes out in the same job."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    elsewhere = Shop(
        shop.owner, shop.brand, await create_location(client, shop.owner, shop.brand["id"])
    )
    elsewhere.template_id = shop.template_id
    for i in range(3):
        await post(client, elsewhere, "x", f"No account {i}")  # skipped: no X there
    late = [uuid.UUID((await post(client, shop, "x", f"Too late {i}"))["id"]) for i in range(2)]
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE post SET publish_deadline = now() - interval '1 minute' "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": late},
        )
    going = await post(client, shop, "x", "On time")
    (leased,) = await lease(app_db)
    assert len(leased.post_ids) == 6
    WorkerContext.of(worker_ctx).publisher = publisher
    ids = [str(i) for i in leased.post_ids]
    answer = await publish_batch(worker_ctx, str(leased.token), str(leased.agency_id), ids)
    await publisher.drain()
    assert (answer["skipped"], answer["failed"]) == (3, 2)
    assert (await state(admin_engine, going["id"]))["status"] == "published"
    assert await counts(sandbox, "x") == {going["id"]: 1}


async def test_a_published_x_post_links_to_it_under_the_accounts_handle(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,  # reset after the test: the next one counts X's writes
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """The account's details read with the post (X's handle; Pinterest's board) reach the
    connector."""
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    assert account["username"]
    made = await post(client, shop, "x", "Under my name")
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["permalink"] == f"https://x.com/{account['username']}/status/{row['external_id']}"
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_a_job_that_waited_in_the_queue_renews_its_posts_lease_when_it_claims_them(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """With less than half its lease left, the claim renews it from now: the lease keeper's
    first beat comes only a third of a lease later, and a lease run out meanwhile would hand
    the posts to another job. With more than half left it is left as it is."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Kept waiting")
    (leased,) = await lease(app_db)
    lease_s = publisher.settings.queue_lease_seconds

    async def lease_left(fraction: float) -> datetime:
        ends = datetime.now(UTC) + timedelta(seconds=fraction * lease_s)
        async with admin_engine.begin() as conn:
            await conn.execute(
                text("UPDATE post SET due_at = :ends WHERE id = :id"),
                {"ends": ends, "id": made["id"]},
            )
        return ends

    ends = await lease_left(0.6)
    (held,) = await publisher._claim(leased, BatchResult())
    assert (await state(admin_engine, made["id"]))["due_at"] == ends  # left as it was

    await lease_left(0.4)
    claimed = datetime.now(UTC)
    (held,) = await publisher._claim(leased, BatchResult())
    row = await state(admin_engine, made["id"])
    assert row["status"] == "queued"
    assert row["due_at"] >= claimed + timedelta(seconds=lease_s)
