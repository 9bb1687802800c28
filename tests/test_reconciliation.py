"""Reconciliation, one test per outcome of the platform lookup. A post whose attempt ended
without an answer is ``unconfirmed``; the next job asks the platform whether it went out:

- found → ``published`` with the platform's id, never sent again;
- not found → sent again, once;
- the lookup fails transiently → still ``unconfirmed``, asked again later, nothing sent;
- the lookup is refused (the token revoked) → still ``unconfirmed``, nothing sent, the
  account flagged for reconnection; after reconnecting, the next lookup settles it;
- the account reconnected as another platform account meanwhile → ``failed``, naming the old
  one, nothing sent through the new one;
- still unknown a day past the deadline → ``failed``, saying to check, nothing sent.

Each counts the sandbox's writes per post: exactly one publish reaches the platform.
Against the sandbox over HTTP (X), with the sandbox told to lose the answer or fail the read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.publishing.keeper import LeaseKeeper
from shared.publishing.publisher import BatchResult, Publisher
from tests.support.publishing import Shop, counts, cycle, lease, make_due, post, state
from tests.support.social_accounts import connect

NO_FAULTS: dict[str, Any] = {}
LOSE_THE_ANSWER = {"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5}
READS_FAIL = {"error_rates": {"server_error": 1.0}}
TOKEN_REFUSED = {"error_rates": {"auth_revoked": 1.0}}


@pytest.fixture
async def shop(shop: Shop, client: httpx.AsyncClient) -> Shop:
    """The publishing tests' shop (``tests/support/publishing.py``), with X connected."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    return shop


async def faults(sandbox: httpx.AsyncClient, config: dict[str, Any]) -> None:
    answer = await sandbox.put("/_sandbox/faults/x", json=config)
    assert answer.status_code == 200, answer.text


async def sent_but_unanswered(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    publisher: Publisher,
    shop: Shop,
    offer: str,
) -> str:
    """A post the platform stored while its answer was lost: ``unconfirmed``, one write."""
    made = await post(client, shop, "x", offer)
    await faults(sandbox, LOSE_THE_ANSWER)
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "unconfirmed"
    assert row["external_id"] is None  # we never heard the platform's id
    assert await counts(sandbox, "x") == {made["id"]: 1}
    return str(made["id"])


async def test_found_at_the_platform_is_published_with_its_id_and_not_sent_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    post_id = await sent_but_unanswered(
        client, sandbox, app_db, admin_engine, publisher, shop, "Found"
    )
    await faults(sandbox, NO_FAULTS)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "published"
    stored = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert [p["id"] for p in stored] == [row["external_id"]]  # the platform's own id
    assert row["history"][-1] == ("unconfirmed", "published")
    assert await counts(sandbox, "x") == {post_id: 1}
    assert await cycle(app_db, publisher) == 0  # settled: nothing left to do


async def test_not_found_at_the_platform_is_sent_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """The attempt started (``publishing``) and the worker died before the request left: the
    lease runs out, the post is ``unconfirmed``, the lookup finds nothing, and it goes once."""
    made = await post(client, shop, "x", "Never left")
    (leased,) = await lease(app_db)
    (work,) = await publisher._claim(leased, BatchResult())
    keeper = LeaseKeeper(app_db, leased, [work.post_id], every=60, extend_by=timedelta(seconds=60))
    await publisher._start(leased, [work], keeper, BatchResult())
    assert (await state(admin_engine, made["id"]))["status"] == "publishing"
    await make_due(admin_engine, made["id"])  # the attempt's lease ran out
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert ("publishing", "unconfirmed") in row["history"]
    assert row["status"] == "scheduled"  # not found: it never went out, so it goes again
    assert row["history"][-1] == ("unconfirmed", "scheduled")
    assert await counts(sandbox, "x") == {}  # nothing sent by the lookup itself
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["external_id"]
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_a_lookup_that_fails_transiently_is_asked_again_later_and_sends_nothing(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    post_id = await sent_but_unanswered(
        client, sandbox, app_db, admin_engine, publisher, shop, "Checking"
    )
    await faults(sandbox, READS_FAIL)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "unconfirmed"  # still unknown: not "not found"
    assert row["due_at"] > datetime.now(UTC)  # asked again later, after a backoff
    assert "could not check" in row["status_reason"]
    assert await cycle(app_db, publisher) == 0  # not before its time
    assert await counts(sandbox, "x") == {post_id: 1}
    # The platform answers again: the next lookup finds it, still without a second send.
    await faults(sandbox, NO_FAULTS)
    await make_due(admin_engine, post_id)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "published"
    assert row["external_id"]
    assert await counts(sandbox, "x") == {post_id: 1}


async def test_a_refused_lookup_sends_nothing_and_says_why(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """The platform refuses the read (token revoked, 401): whether the post went out is still
    unknown, so it is never sent again; the reason names the refusal, and the location is
    asked to reconnect the account. Once it has, the next check finds the post."""
    post_id = await sent_but_unanswered(
        client, sandbox, app_db, admin_engine, publisher, shop, "Refused"
    )
    await faults(sandbox, TOKEN_REFUSED)
    for _ in range(2):  # refused again when asked again: still nothing sent
        await make_due(admin_engine, post_id)
        await cycle(app_db, publisher)
        row = await state(admin_engine, post_id)
        assert row["status"] == "unconfirmed"
        assert "refused Chorus's check (auth); reconnect it" in row["status_reason"]
        assert await counts(sandbox, "x") == {post_id: 1}
    after_loss = row["history"][row["history"].index(("publishing", "unconfirmed")) :]
    assert {to for _, to in after_loss} == {"unconfirmed"}  # never queued or sent since

    location_id, headers = shop.location["id"], shop.owner.headers
    needs = await client.get(f"/v1/locations/{location_id}/needs", headers=headers)
    assert needs.status_code == 200, needs.text
    asks = {(item["kind"], item["platform"]) for item in needs.json()["items"]}
    assert ("reconnect_account", "x") in asks

    await faults(sandbox, NO_FAULTS)
    same_user = await x_user(admin_engine, location_id)
    await connect(client, headers, location_id, "x", sandbox_user=same_user)  # reconnects
    await make_due(admin_engine, post_id)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "published"
    assert row["status_reason"] == "found at the platform: it had gone out"
    assert await counts(sandbox, "x") == {post_id: 1}


async def test_a_post_is_not_sent_again_through_an_account_replaced_by_another(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Its answer was lost; before the check, the location connected another X account.
    "Not found" there says nothing about the old one: the post fails, saying where to look,
    and nothing is sent through the new account."""
    post_id = await sent_but_unanswered(
        client, sandbox, app_db, admin_engine, publisher, shop, "Replaced"
    )
    old_user = await x_user(admin_engine, shop.location["id"])
    await faults(sandbox, NO_FAULTS)
    await connect(client, shop.owner.headers, shop.location["id"], "x")  # a new X user
    assert await x_user(admin_engine, shop.location["id"]) != old_user
    await make_due(admin_engine, post_id)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "failed"
    assert "replaced by another" in row["status_reason"]
    assert old_user in row["status_reason"]
    assert await counts(sandbox, "x") == {post_id: 1}
    assert row["history"][-1] == ("unconfirmed", "failed")


async def x_user(admin_engine: AsyncEngine, location_id: str) -> str:
    """The X user the location's account is connected as."""
    async with admin_engine.connect() as conn:
        found = await conn.execute(
            text("SELECT external_id FROM social_account WHERE location_id = :l"),
            {"l": location_id},
        )
        return str(found.scalar_one())


async def test_lookups_that_never_answer_give_up_long_after_the_deadline_without_sending(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Still unknown a day past its deadline: the post ends ``failed``, saying the user should
    check the account before posting it again; it is not sent again."""
    post_id = await sent_but_unanswered(
        client, sandbox, app_db, admin_engine, publisher, shop, "Gave up"
    )
    give_up = timedelta(seconds=publisher.settings.reconcile_give_up_seconds)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET publish_deadline = :deadline WHERE id = :id"),
            {"deadline": datetime.now(UTC) - give_up - timedelta(minutes=1), "id": post_id},
        )
    await faults(sandbox, READS_FAIL)
    await make_due(admin_engine, post_id)
    await cycle(app_db, publisher)
    row = await state(admin_engine, post_id)
    assert row["status"] == "failed"
    assert "check the account before posting it again" in row["status_reason"]
    assert row["history"][-1] == ("unconfirmed", "failed")
    await faults(sandbox, NO_FAULTS)
    assert await cycle(app_db, publisher) == 0  # an ending: never picked up again
    assert await counts(sandbox, "x") == {post_id: 1}
