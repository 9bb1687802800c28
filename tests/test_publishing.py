"""Dispatch and publish: due posts go out once, on time; every failure ends where it should;
a lost answer or a dead worker never publishes twice. Against the sandbox over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.settings import build_relay
from shared.config import Settings
from shared.db import Database
from shared.platforms import registry
from shared.publishing.keeper import LeaseKeeper
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import BatchResult, Publisher
from shared.social_accounts import sealing
from tests.support.clock import TestClock, advance_sandbox
from tests.support.publish_worker import wait_for
from tests.support.publishing import (
    Shop,
    counts,
    cycle,
    lease,
    make_due,
    post,
    state,
)
from tests.support.social_accounts import connect


async def test_a_due_post_is_published_once_with_its_history(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "2 for 1")
    assert made["status"] == "scheduled"
    assert await cycle(app_db, publisher) == 1
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["history"] == [
        (None, "scheduled"),
        ("scheduled", "queued"),
        ("queued", "publishing"),
        ("publishing", "published"),
    ]
    assert str(row["account_id"]) == account["id"]
    assert row["external_id"]
    assert row["attempts"] == 1
    assert row["lease_token"] is None
    assert await counts(sandbox, "x") == {made["id"]: 1}
    stored = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert stored[0]["text"] == "Fresh pizza in Leeds! 2 for 1"
    shown = (await client.get(f"/v1/posts/{made['id']}", headers=shop.owner.headers)).json()
    assert shown["status"] == "published"
    assert shown["published_at"] is not None
    events = await client.get(
        f"/v1/locations/{shop.location['id']}/events", headers=shop.owner.headers
    )
    assert "post.published" in [e["type"] for e in events.json()["items"]]
    assert await cycle(app_db, publisher) == 0  # nothing left to do


async def test_not_yet_due_posts_wait(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    later = datetime.now(UTC) + timedelta(minutes=30)
    made = await post(client, shop, "x", "Later", scheduled_at=later.isoformat())
    assert await cycle(app_db, publisher) == 0
    assert await cycle(app_db, publisher, now=later) == 1
    assert (await state(admin_engine, made["id"]))["status"] == "published"


async def test_transient_errors_retry_with_backoff_and_publish_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Retry me")
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"server_error": 1.0}})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "scheduled"
    assert row["attempts"] == 1
    assert row["due_at"] > datetime.now(UTC)  # backing off
    assert "trouble" in row["status_reason"]
    assert await cycle(app_db, publisher) == 0  # not before its time
    await sandbox.put("/_sandbox/faults/x", json={})
    await make_due(admin_engine, made["id"])
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["attempts"] == 2
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_a_lost_answer_is_reconciled_not_republished(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Did it go?")
    await sandbox.put(
        "/_sandbox/faults/x", json={"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5}
    )
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "unconfirmed"
    assert await counts(sandbox, "x") == {made["id"]: 1}  # it did reach the platform
    await sandbox.put("/_sandbox/faults/x", json={})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["external_id"]
    assert row["history"][-2:] == [("unconfirmed", "unconfirmed"), ("unconfirmed", "published")]
    assert await counts(sandbox, "x") == {made["id"]: 1}  # and only once


async def test_a_worker_killed_after_sending_never_publishes_twice(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    fast: Settings,
    shop: Shop,
) -> None:
    """The job claims the post, starts it, the platform publishes, the worker dies before
    recording it. When the attempt's lease runs out the dispatcher hands it on as
    unconfirmed; the next job finds it at the platform instead of sending it again."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Crash test")
    (leased,) = await lease(app_db)
    (work,) = await publisher._claim(leased, _result())
    keeper = LeaseKeeper(app_db, leased, [work.post_id], every=60, extend_by=timedelta(seconds=60))
    (started,) = await publisher._start(leased, [work], keeper, _result())
    row = await state(admin_engine, made["id"])
    assert row["status"] == "publishing"
    # Its lease covers the whole attempt and the time the platform may still apply it:
    assert row["due_at"] >= row["publish_started_at"] + publisher.attempt_lease
    # ... the request goes out and the process is killed before the outcome is written:
    connector = registry.connector("x", fast)
    ref = started.account
    assert ref.access_token is not None
    auth = sealing.auth_from(
        ref.agency_id, ref.id, ref.access_token, ref.external_id, ref.extra, publisher.keyring
    )
    await connector.publish(auth, started.content, str(started.post_id))
    assert await cycle(app_db, publisher) == 0  # nobody touches it while it may be in flight
    await make_due(admin_engine, made["id"])  # the attempt's lease ran out
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert ("publishing", "unconfirmed") in row["history"]
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_a_worker_killed_before_sending_sends_without_a_lookup(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """Claimed (held, waiting for the platform's gate), then killed: nothing was sent, the
    post is still ``queued``, and once its lease lapses it simply goes again."""
    await connect(client, shop.owner.headers, shop.location["id"], "facebook")
    made = await post(client, shop, "facebook", "Killed early")
    (leased,) = await lease(app_db)
    await publisher._claim(leased, _result())  # claimed, then killed: nothing was sent
    assert (await state(admin_engine, made["id"]))["status"] == "queued"
    await make_due(admin_engine, made["id"])
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert "unconfirmed" not in {to for _, to in row["history"]}
    assert await counts(sandbox, "facebook") == {made["id"]: 1}


async def test_a_lease_nobody_claimed_is_queued_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    """The job was lost with Redis: the post stays queued until its lease runs out."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Lost job")
    await lease(app_db)
    assert await cycle(app_db, publisher) == 0  # still leased
    await make_due(admin_engine, made["id"])
    assert await cycle(app_db, publisher) == 1
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert ("queued", "queued") in row["history"]


async def test_a_stale_job_cannot_touch_a_post_leased_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Stale")
    (old,) = await lease(app_db)
    await make_due(admin_engine, made["id"])
    await cycle(app_db, publisher)
    assert (await state(admin_engine, made["id"]))["status"] == "published"
    result = await publisher.run(old)  # the first job finally runs
    assert result.published == 0
    assert await counts(sandbox, "x") == {made["id"]: 1}


async def test_auth_failure_fails_the_post_and_flags_the_account(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Revoked")
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"auth_revoked": 1.0}})
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert "Reconnect" in row["status_reason"]
    shown = await client.get(f"/v1/social-accounts/{account['id']}", headers=shop.owner.headers)
    assert shown.json()["status"] == "needs_reconnect"
    # The next post for that account fails at once, without calling the platform.
    await sandbox.put("/_sandbox/faults/x", json={})
    second = await post(client, shop, "x", "After")
    await cycle(app_db, publisher)
    row = await state(admin_engine, second["id"])
    assert row["status"] == "failed"
    assert "needs reconnecting" in row["status_reason"]
    assert second["id"] not in await counts(sandbox, "x")


async def test_rejected_content_fails_with_the_platforms_reason(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    first = await post(client, shop, "x", "Same words")
    await cycle(app_db, publisher)
    second = await post(client, shop, "x", "Same words")  # X refuses duplicates
    await cycle(app_db, publisher)
    assert (await state(admin_engine, first["id"]))["status"] == "published"
    row = await state(admin_engine, second["id"])
    assert row["status"] == "failed"
    assert row["status_reason"] == "X refused this: X does not allow posting the same text twice"
    assert row["attempts"] == 1  # not retried


async def test_a_429_pauses_that_account_not_the_queue(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    await connect(client, shop.owner.headers, shop.location["id"], "facebook")
    limited = await post(client, shop, "x", "Slow down")
    await sandbox.put(
        "/_sandbox/faults/x", json={"error_rates": {"rate_limited": 1.0}, "retry_after_s": 120}
    )
    await cycle(app_db, publisher)
    row = await state(admin_engine, limited["id"])
    assert row["status"] == "scheduled"
    assert row["due_at"] > datetime.now(UTC) + timedelta(seconds=100)  # X's reset time
    await sandbox.put("/_sandbox/faults/x", json={})
    waiting = await post(client, shop, "x", "Also X")
    other = await post(client, shop, "facebook", "Facebook is fine")
    await cycle(app_db, publisher)
    assert (await state(admin_engine, other["id"]))["status"] == "published"
    row = await state(admin_engine, waiting["id"])
    assert row["status"] == "scheduled"
    assert "limits" in row["status_reason"]
    assert row["attempts"] == 0  # deferred, not tried
    assert waiting["id"] not in await counts(sandbox, "x")


async def test_no_connected_account_skips_with_the_reason(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    made = await post(client, shop, "facebook", "Nobody home")
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "skipped"
    assert row["status_reason"] == "no connected facebook account for this location"
    listed = await client.get(
        f"/v1/locations/{shop.location['id']}/posts", headers=shop.owner.headers
    )
    assert listed.json()["items"][0]["status_reason"] == row["status_reason"]


async def test_past_its_deadline_a_post_fails_rather_than_going_out_late(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
) -> None:
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Too late")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET publish_deadline = now() - interval '1 minute' WHERE id = :id"),
            {"id": made["id"]},
        )
    await cycle(app_db, publisher)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "failed"
    assert "deadline" in row["status_reason"]
    assert await counts(sandbox, "x") == {}


def _result() -> BatchResult:
    return BatchResult()


async def test_needs_approval_mails_the_deciders_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    shop: Shop,
) -> None:
    rules = await client.put(
        f"/v1/brands/{shop.brand['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=shop.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    made = await post(client, shop, "facebook", "Please approve")
    assert made["status"] == "needs_approval"
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        relay = build_relay(settings, redis)
        async with app_db.transaction() as session:
            relayed = await relay.relay_once(session)
        async with app_db.transaction() as session:
            again = await relay.relay_once(session)
    finally:
        await redis.aclose()
    assert relayed == 1
    assert again == 0  # delivered once
    async with admin_engine.connect() as conn:
        mails = (
            await conn.execute(
                text("SELECT to_address, body FROM outbound_email WHERE kind = 'approval_digest'")
            )
        ).all()
        pending = await conn.scalar(
            text("SELECT count(*) FROM outbox_event WHERE relayed_at IS NULL")
        )
    assert [m[0] for m in mails] == [shop.owner.email]
    assert "Please approve" in mails[0][1]
    assert "capl_" in mails[0][1]  # the approve/reject links
    assert pending == 0


async def test_a_retried_local_post_with_its_idempotency_key_is_written_once(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, shop: Shop
) -> None:
    body = {
        "template_id": shop.template_id,
        "version": 1,
        "platforms": ["facebook"],
        "slot_values": {"offer": "Once"},
    }
    path = f"/v1/locations/{shop.location['id']}/posts"
    headers = {**shop.owner.headers, "Idempotency-Key": "post-once-1"}
    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post(
        path, json={**body, "slot_values": {"offer": "Twice"}}, headers=headers
    )
    assert other.status_code == 422
    async with admin_engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM post WHERE location_id = :l"), {"l": shop.location["id"]}
        )
    assert count == 1


async def test_a_write_the_platform_applies_late_is_found_not_sent_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    shop: Shop,
    clock: TestClock,
) -> None:
    """The platform stores the post only after Chorus gave up waiting. Asking at once would
    hear "not there" and send it again; Chorus asks only once the platform could have applied
    it (``reconcile_delay_seconds`` after the attempt ended), and finds it. Time passes by
    moving Chorus's clock and the sandbox's, not by waiting."""
    delay_s = 60.0
    patient = Publisher(
        app_db,
        AccountLimiter(redis),
        settings.model_copy(
            update={
                "outbound_read_timeout_seconds": 0.3,
                "outbound_total_timeout_seconds": 5.0,
                "reconcile_delay_seconds": delay_s,
            }
        ),
    )
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Late")
    await sandbox.put(
        "/_sandbox/faults/x",
        json={"error_rates": {"late_commit": 1.0}, "commit_after_s": delay_s / 2, "hold_s": 5},
    )
    await cycle(app_db, patient)
    row = await state(admin_engine, made["id"])
    assert row["status"] == "unconfirmed"
    assert row["due_at"] >= clock.now() + timedelta(seconds=delay_s - 1)  # not asked yet
    assert await counts(sandbox, "x") == {}  # and the platform has nothing yet
    assert await cycle(app_db, patient) == 0
    await sandbox.put("/_sandbox/faults/x", json={})

    clock.advance(delay_s)
    await advance_sandbox(sandbox, delay_s)

    async def applied() -> bool:  # the sandbox, woken, applies the write it held
        return await counts(sandbox, "x") == {made["id"]: 1}

    await wait_for(applied)
    assert await cycle(app_db, patient) == 1
    row = await state(admin_engine, made["id"])
    assert row["status"] == "published"
    assert row["status_reason"] == "found at the platform: it had gone out"
    assert await counts(sandbox, "x") == {made["id"]: 1}
