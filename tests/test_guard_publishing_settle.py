"""What a post becomes after the platform's answer (``Publisher._settle`` in
shared/publishing/publisher.py), from mutants of it that the publishing and reconciliation
tests let live (docs/MUTANTS.md): each outcome says why in the post's reason, keeps the
platform's own words in its error, and records where it came from in its history; a 429
pauses the account for as long as the platform asked — the longest, when one account's posts
are told different waits; a campaign whose last post the batch settles is completed by it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock
from shared.campaigns import service as campaign_service
from shared.db import Database
from shared.platforms.errors import ErrorKind, PlatformError, message_for
from shared.publishing.publisher import BatchResult, Publisher
from tests.factories import Tenant
from tests.support.campaigns import all_posts, campaign_body, create_campaign, launch_and_fan_out
from tests.support.publishing import Shop, counts, cycle, make_due, post, started, state
from tests.support.social_accounts import connect

PAUSED = "waiting for the account's publishing limits"


async def faults(sandbox: httpx.AsyncClient, config: dict[str, Any]) -> None:
    answer = await sandbox.put("/_sandbox/faults/x", json=config)
    assert answer.status_code == 200, answer.text


async def test_a_post_the_lookup_does_not_find_says_so_and_goes_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """The attempt started and the worker died before the request left: the lookup finds
    nothing, and the post's reason says so (the portal shows it)."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Never left")
    await started(app_db, publisher)
    await make_due(admin_engine, made["id"])  # the attempt's lease ran out
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "scheduled"
    assert row["status_reason"] == "not found at the platform; trying again"
    assert row["history"][-1] == ("unconfirmed", "scheduled")
    assert await counts(sandbox, "x") == {}


async def test_a_lost_answer_keeps_what_chorus_knows_as_the_posts_error(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Did it go?")
    await faults(sandbox, {"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "unconfirmed"
    assert row["last_error"] == message_for(ErrorKind.AMBIGUOUS, "X")
    assert row["status_reason"] == row["last_error"]
    assert row["history"][-1] == ("publishing", "unconfirmed")


async def test_a_refused_token_fails_the_post_from_publishing_with_the_platforms_words(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Revoked")
    await faults(sandbox, {"error_rates": {"auth_revoked": 1.0}})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == message_for(ErrorKind.AUTH, "X")
    assert row["last_error"] == "Unauthorized"  # the sandbox's X, in its own words
    assert row["history"][-1] == ("publishing", "failed")


async def test_a_refused_post_fails_from_publishing_with_the_platforms_words(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    await post(client, shop, "x", "Same words")
    await cycle(app_db, publisher)
    second = await post(client, shop, "x", "Same words")  # X refuses duplicates
    await cycle(app_db, publisher)
    row = await state(admin_engine, second["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == "X refused this: X does not allow posting the same text twice"
    assert row["last_error"] == "You are not allowed to create a Tweet with duplicate content."
    assert row["history"][-1] == ("publishing", "failed")


async def test_a_429_pauses_the_account_for_as_long_as_the_platform_asked(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Ten minutes, not the minute Chorus assumes when the platform does not say."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    await post(client, shop, "x", "Slow down")
    await faults(sandbox, {"error_rates": {"rate_limited": 1.0}, "retry_after_s": 600})
    asked = datetime.now(UTC)
    await cycle(app_db, publisher)
    await faults(sandbox, {})
    waiting = await post(client, shop, "x", "Also X")
    await cycle(app_db, publisher)
    row = await state(admin_engine, waiting["id"])
    assert row["status"] == "scheduled"
    assert row["status_reason"] == PAUSED
    assert row["due_at"] > asked + timedelta(minutes=5)  # ten, less this test's own time
    assert waiting["id"] not in await counts(sandbox, "x")


async def test_an_account_told_two_waits_in_one_batch_is_paused_for_the_longer(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Two posts of one account sent together; the platform answers the first "come back in
    ten minutes" and the second "in half a minute" (windows of different lengths). The
    account waits ten minutes: the second answer does not shorten the first."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    await post(client, shop, "x", "First")
    await post(client, shop, "x", "Second")
    leased, (first, second) = await started(app_db, publisher)

    def slow_down(seconds: float) -> PlatformError:
        message = message_for(ErrorKind.RATE_LIMITED, "X")
        return PlatformError(ErrorKind.RATE_LIMITED, "x", message, status=429, retry_after=seconds)

    asked = datetime.now(UTC)
    answers = [(first, slow_down(600)), (second, slow_down(30))]
    await publisher._settle(leased, answers, BatchResult())
    waiting = await post(client, shop, "x", "Third")
    await cycle(app_db, publisher)
    row = await state(admin_engine, waiting["id"])
    assert row["status"] == "scheduled"
    assert row["status_reason"] == PAUSED
    assert row["due_at"] > asked + timedelta(minutes=5)  # ten, less this test's own time


async def test_the_batch_that_settles_a_campaigns_last_post_completes_the_campaign(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    publisher: Publisher,
    chain: dict[str, Any],
    worker_ctx: dict[str, Any],
) -> None:
    """At once, in the outcome's transaction; the worker's sweep (every few seconds) only
    catches what two batches finishing together leave. No sweep runs here."""
    owner: Tenant = chain["owner"]
    at = clock.now() + campaign_service.MIN_LEAD + timedelta(minutes=5)
    body = campaign_body(
        chain["brand"]["id"],
        chain["template_id"],
        channels=["x"],
        schedule={"kind": "absolute", "at": at.isoformat()},
    )
    campaign = await create_campaign(client, owner.headers, body)
    shown = await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
    assert shown["status"] == "running"
    (only,) = await all_posts(client, owner.headers, campaign["id"], status="scheduled")
    await make_due(admin_engine, only["id"])  # its time has come
    await cycle(app_db, publisher)
    shown = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).json()
    assert shown["posts_by_status"] == {"published": 1, "skipped": 2}  # Boston, Chicago: no X
    assert shown["status"] == "completed"
