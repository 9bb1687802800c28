"""Cross-agency passes with several agencies, one of them read-only (issue #14).

Each pass listed in ``tests/support/cross_agency.py`` runs here, as the worker runs it, over
two or three agencies with due work, one of which has stopped paying (read-only, publishing
paused): the healthy agencies' work goes on and the read-only one's is handled as designed,
never blocking anyone. The list itself is checked against the code's named scans and the
database's policies, so a new cross-agency query cannot go unlisted.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from arq.connections import ArqRedis
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.worker.loops import Loops
from shared.billing import service as billing
from shared.config import Settings
from shared.crypto import Sealed, keyring_from_settings
from shared.crypto.keys import DEV_KID, dev_key
from shared.db import Database
from shared.events import service as events
from shared.events.models import OutboxEvent
from shared.events.relay import Relay
from shared.ids import new_id
from shared.jobs import QUEUE_NAME
from shared.mail import service as mail
from shared.media import housekeeping, processing, resumable
from shared.media.storage import Storage
from shared.media.storage.filesystem import FilesystemStorage
from shared.metrics import service as metrics
from shared.publishing import sweeps
from shared.publishing.dispatcher import lease_due
from shared.reviews import collection
from shared.social_accounts import refresh, sealing
from shared.social_accounts.models import SocialAccount
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.media.files import write_phone_jpeg
from tests.media.uploads import upload_media
from tests.support.clock import TestClock
from tests.support.cross_agency import SCANS, scan_names_in_policy, scans_in_code

THIS_MODULE = Path(__file__).read_text()
"""Every listed scan names a test in this module."""

BODY = "Fresh bread in {{ location.city }}"


@dataclass(frozen=True)
class Shop:
    owner: Tenant
    brand_id: uuid.UUID
    location_id: uuid.UUID
    template_id: uuid.UUID

    @property
    def agency_id(self) -> uuid.UUID:
        return self.owner.agency_id


async def open_shop(client: httpx.AsyncClient) -> Shop:
    """An agency with a brand, a location and a published template, through the API."""
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], city="York")
    made = await client.post(
        "/v1/templates",
        json={"brand_id": brand["id"], "name": "Daily", "bodies": {"default": BODY}},
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    template_id = made.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    return Shop(owner, uuid.UUID(brand["id"]), uuid.UUID(location["id"]), uuid.UUID(template_id))


async def make_read_only(engine: AsyncEngine, agency_id: uuid.UUID) -> None:
    """The agency stopped paying and its grace ran out: read-only, publishing paused."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO billing_account (agency_id, id, plan, status, access,
                    publishing_paused, past_due_since, grace_ends_at)
                VALUES (:a, gen_random_uuid(), 'growth', 'past_due', 'read_only', true,
                    now() - interval '10 days', now() - interval '1 day')
                ON CONFLICT (agency_id) DO UPDATE SET status = 'past_due',
                    access = 'read_only', publishing_paused = true
                """
            ),
            {"a": agency_id},
        )


async def insert_post(
    engine: AsyncEngine, shop: Shop, *, status: str, due_at: datetime, platform: str = "x"
) -> uuid.UUID:
    async with engine.begin() as conn:
        return uuid.UUID(
            str(
                (
                    await conn.execute(
                        text(
                            """
                            INSERT INTO post (agency_id, id, brand_id, location_id, template_id,
                                template_version, platform, text, status, status_reason,
                                scheduled_at, due_at, publish_deadline)
                            VALUES (:agency, gen_random_uuid(), :brand, :location, :template,
                                1, :platform, 'Fresh bread', :status, 'test', :due, :due,
                                :deadline)
                            RETURNING id
                            """
                        ),
                        {
                            "agency": shop.agency_id,
                            "brand": shop.brand_id,
                            "location": shop.location_id,
                            "template": shop.template_id,
                            "platform": platform,
                            "status": status,
                            "due": due_at,
                            "deadline": due_at + timedelta(hours=1),
                        },
                    )
                ).scalar_one()
            )
        )


async def post_row(engine: AsyncEngine, post_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, due_at, lease_token FROM post WHERE id = :i"), {"i": post_id}
            )
        ).one()
    return {"status": row.status, "due_at": row.due_at, "lease_token": row.lease_token}


# -- The list --------------------------------------------------------------------------------


async def test_registry_matches_the_code_and_the_policies(admin_engine: AsyncEngine) -> None:
    listed = {(s.module, s.function) for s in SCANS}
    in_code = scans_in_code()
    assert in_code - listed == set(), "cross-agency queries missing from tests/support/cross_agency"
    assert listed - in_code == set(), "listed cross-agency queries no longer set a named scan"

    async with admin_engine.connect() as conn:
        policies = (
            await conn.execute(
                text(
                    "SELECT tablename, policyname, coalesce(qual, '') || ' ' || "
                    "coalesce(with_check, '') FROM pg_policies WHERE schemaname = 'public'"
                )
            )
        ).all()
    admitted: set[str] = set()
    for _table, _policy, expression in policies:
        if "app.scan" in expression:
            names = scan_names_in_policy(expression)
            assert names, f"a policy on {_table} ({_policy}) reads app.scan but names no scan"
            admitted |= names
    assert admitted == {s.scan for s in SCANS}

    for scan in SCANS:
        assert re.search(rf"^async def {scan.test}\(", THIS_MODULE, re.M), scan


# -- The dispatcher ----------------------------------------------------------------------------


async def test_a_paused_agency_holds_only_its_own_scheduled_posts(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    first, paused, third = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, paused.agency_id)
    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    first_post = await insert_post(admin_engine, first, status="scheduled", due_at=due)
    third_post = await insert_post(admin_engine, third, status="scheduled", due_at=due)
    third_fb = await insert_post(
        admin_engine, third, status="scheduled", due_at=due, platform="facebook"
    )
    paused_post = await insert_post(admin_engine, paused, status="scheduled", due_at=due)
    # Handed on before the agency was paused, its job lost: it finishes.
    paused_queued = await insert_post(admin_engine, paused, status="queued", due_at=due)

    async with app_db.transaction() as session:
        leases = await lease_due(
            session, now=now, limit=100, lease_for=timedelta(seconds=60), batch_size=50
        )

    leased = {(lease.agency_id, post) for lease in leases for post in lease.post_ids}
    assert leased == {
        (first.agency_id, first_post),
        (third.agency_id, third_post),
        (third.agency_id, third_fb),
        (paused.agency_id, paused_queued),
    }
    for post_id in (first_post, third_post, third_fb, paused_queued):
        assert (await post_row(admin_engine, post_id))["status"] == "queued"
    waiting = await post_row(admin_engine, paused_post)
    assert waiting == {"status": "scheduled", "due_at": due, "lease_token": None}


# -- The relay -------------------------------------------------------------------------------


async def test_the_relay_delivers_every_agencys_events_a_read_only_one_included(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    healthy, read_only = await open_shop(client), await open_shop(client)
    await make_read_only(admin_engine, read_only.agency_id)
    for shop in (healthy, read_only):
        async with app_db.transaction(shop.agency_id) as session:
            events.emit(
                session,
                agency_id=shop.agency_id,
                type="test.sweep",
                subject_type="brand",
                subject_id=shop.brand_id,
                brand_id=shop.brand_id,
            )
    seen: list[tuple[uuid.UUID, str, uuid.UUID]] = []

    async def consumer(session: Any, agency_id: uuid.UUID, batch: list[OutboxEvent]) -> None:
        """Records whose events it got, and the tenant its own writes would go under."""
        tenant = (await session.execute(text("SELECT current_setting('app.agency_id')"))).scalar()
        seen.extend((agency_id, tenant, event.agency_id) for event in batch)

    relay = Relay()
    relay.on("test.sweep", consumer)
    while True:
        async with app_db.transaction() as session:
            if not await relay.relay_once(session):
                break

    assert sorted(seen) == sorted(
        (shop.agency_id, str(shop.agency_id), shop.agency_id) for shop in (healthy, read_only)
    )
    async with admin_engine.connect() as conn:
        left = (
            await conn.execute(text("SELECT count(*) FROM outbox_event WHERE relayed_at IS NULL"))
        ).scalar_one()
    assert left == 0


async def test_one_agencys_failing_events_do_not_hold_the_others(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, clock: TestClock
) -> None:
    failing, first, read_only = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, read_only.agency_id)
    for shop in (failing, first, read_only):
        async with app_db.transaction(shop.agency_id) as session:
            events.emit(
                session,
                agency_id=shop.agency_id,
                type="test.sweep",
                subject_type="brand",
                subject_id=shop.brand_id,
            )
    broken = {failing.agency_id}

    async def consumer(session: Any, agency_id: uuid.UUID, batch: list[OutboxEvent]) -> None:
        """Writes a row of its own, then fails on the broken agency's data."""
        events.emit(
            session,
            agency_id=agency_id,
            type="test.followed",
            subject_type="brand",
            subject_id=batch[0].subject_id,
        )
        await session.flush()
        if agency_id in broken:
            raise ValueError("this agency's data trips the consumer")

    relay = Relay()
    relay.on("test.sweep", consumer)

    async def one_pass() -> int:
        async with app_db.transaction() as session:
            return await relay.relay_once(session)

    async def state() -> set[tuple[uuid.UUID, str, bool]]:
        async with admin_engine.connect() as conn:
            return {
                (r.agency_id, r.type, r.relayed_at is not None)
                for r in await conn.execute(
                    text("SELECT agency_id, type, relayed_at FROM outbox_event")
                )
            }

    assert await one_pass() == 2  # the two healthy agencies' events
    # Their follow-ups; the failing agency's event waits out its back-off.
    assert await one_pass() == 2
    assert await state() == {
        (failing.agency_id, "test.sweep", False),
        (first.agency_id, "test.sweep", True),
        (first.agency_id, "test.followed", True),
        (read_only.agency_id, "test.sweep", True),
        (read_only.agency_id, "test.followed", True),
    }
    (deferred,) = await deferred_events(admin_engine)
    assert (deferred.attempts, deferred.error) == (
        1,
        "ValueError: this agency's data trips the consumer",
    )
    wait = deferred.after - clock.now()
    assert timedelta(seconds=4) < wait <= timedelta(seconds=10)

    clock.advance((wait - timedelta(seconds=1)).total_seconds())
    assert await one_pass() == 0  # not yet
    assert (await deferred_events(admin_engine))[0].attempts == 1
    clock.set(deferred.after)
    assert await one_pass() == 0  # tried again: fails again, and waits longer
    (again,) = await deferred_events(admin_engine)
    assert again.attempts == 2
    assert again.after - clock.now() > timedelta(seconds=9)

    broken.clear()  # the consumer is fixed
    clock.set(again.after)
    assert await one_pass() == 1
    assert (failing.agency_id, "test.followed", False) in await state()


async def test_a_failing_agency_with_a_full_pass_of_events_does_not_starve_the_others(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    """Its events are the oldest and more than one pass takes: backed off, they leave room."""
    failing, healthy = await open_shop(client), await open_shop(client)
    for shop, count in ((failing, 5), (healthy, 1)):
        async with app_db.transaction(shop.agency_id) as session:
            for _ in range(count):
                events.emit(
                    session,
                    agency_id=shop.agency_id,
                    type="test.sweep",
                    subject_type="brand",
                    subject_id=shop.brand_id,
                )

    async def consumer(session: Any, agency_id: uuid.UUID, batch: list[OutboxEvent]) -> None:
        if agency_id == failing.agency_id:
            raise ValueError("this agency's data trips the consumer")

    relay = Relay()
    relay.on("test.sweep", consumer)
    relayed = 0
    for _ in range(3):
        async with app_db.transaction() as session:
            relayed += await relay.relay_once(session, limit=3)
    assert relayed == 1  # the healthy agency's event, behind three of the failing one's
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT agency_id, relayed_at IS NOT NULL AS done FROM outbox_event")
            )
        ).all()
    assert {(r.agency_id, r.done) for r in rows} == {
        (failing.agency_id, False),
        (healthy.agency_id, True),
    }
    assert len(await deferred_events(admin_engine)) == 5


@dataclass(frozen=True)
class Deferred:
    attempts: int
    error: str
    after: datetime


async def deferred_events(admin_engine: AsyncEngine) -> list[Deferred]:
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT relay_attempts, relay_error, relay_after"
                " FROM outbox_event WHERE relayed_at IS NULL ORDER BY id"
            )
        )
        return [Deferred(r.relay_attempts, r.relay_error, r.relay_after) for r in rows]


# -- The mail sweep --------------------------------------------------------------------------


async def test_the_mail_sweep_hands_on_every_agencys_due_mail(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, redis: Redis
) -> None:
    healthy, read_only = await open_shop(client), await open_shop(client)
    await make_read_only(admin_engine, read_only.agency_id)
    queued: list[tuple[uuid.UUID, uuid.UUID]] = []
    for shop in (healthy, read_only):
        async with app_db.transaction(shop.agency_id) as session:
            email = mail.queue(
                session,
                None,  # its job is "lost": only the sweep can hand it on
                agency_id=shop.agency_id,
                to=shop.owner.email,
                subject="Your week",
                body="Hello",
                kind="digest",
            )
            await session.flush()
            queued.append((shop.agency_id, email.id))

    later = datetime.now(UTC) + timedelta(hours=1)
    handed = await mail.sweep(app_db, ArqRedis(connection_pool=redis.connection_pool), later)

    assert handed == 2
    for _agency, email_id in queued:
        assert await redis.exists(f"arq:job:mail:{email_id}"), email_id


# -- The dispatcher loop's sweeps ------------------------------------------------------------


async def insert_campaign(
    engine: AsyncEngine, shop: Shop, *, status: str, idle_for: timedelta = timedelta(0)
) -> uuid.UUID:
    async with engine.begin() as conn:
        return uuid.UUID(
            str(
                (
                    await conn.execute(
                        text(
                            """
                            INSERT INTO campaign (agency_id, id, brand_id, name, template_id,
                                template_version, audience, channels, schedule, status,
                                updated_at)
                            VALUES (:agency, gen_random_uuid(), :brand, 'Spring', :template, 1,
                                '{}', ARRAY['x'], '{}', :status, :updated)
                            RETURNING id
                            """
                        ),
                        {
                            "agency": shop.agency_id,
                            "brand": shop.brand_id,
                            "template": shop.template_id,
                            "status": status,
                            "updated": datetime.now(UTC) - idle_for,
                        },
                    )
                ).scalar_one()
            )
        )


async def column(engine: AsyncEngine, table: str, name: str, row_id: uuid.UUID) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(text(f"SELECT {name} FROM {table} WHERE id = :i"), {"i": row_id})
        ).scalar_one()


async def test_finished_campaigns_of_every_agency_complete_a_read_only_one_included(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    healthy, read_only, busy = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, read_only.agency_id)
    now = datetime.now(UTC)
    campaigns = {}
    for shop, post_status in ((healthy, "published"), (read_only, "failed"), (busy, "queued")):
        campaign = await insert_campaign(admin_engine, shop, status="running")
        post_id = await insert_post(admin_engine, shop, status="scheduled", due_at=now)
        async with admin_engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE post SET campaign_id = :c, status = CAST(:s AS text), "
                    "due_at = CASE WHEN CAST(:s AS text) = 'queued' THEN due_at END "
                    "WHERE id = :p"
                ),
                {"c": campaign, "s": post_status, "p": post_id},
            )
        campaigns[shop.agency_id] = campaign

    assert await sweeps.complete_finished_campaigns(app_db, now) == 2

    status = {a: await column(admin_engine, "campaign", "status", c) for a, c in campaigns.items()}
    assert status == {
        healthy.agency_id: "completed",
        read_only.agency_id: "completed",
        busy.agency_id: "running",  # a post still on its way
    }


async def test_overdue_approvals_are_skipped_in_every_agency(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    healthy, read_only = await open_shop(client), await open_shop(client)
    await make_read_only(admin_engine, read_only.agency_id)
    now = datetime.now(UTC)
    overdue: list[uuid.UUID] = []
    upcoming: list[uuid.UUID] = []
    for shop in (healthy, read_only):
        for ago, into in ((timedelta(minutes=5), overdue), (-timedelta(hours=1), upcoming)):
            post_id = await insert_post(admin_engine, shop, status="scheduled", due_at=now - ago)
            async with admin_engine.begin() as conn:
                await conn.execute(
                    text("UPDATE post SET status = 'needs_approval', due_at = NULL WHERE id = :p"),
                    {"p": post_id},
                )
            into.append(post_id)

    assert await sweeps.skip_overdue_approvals(app_db, now) == 2

    assert [await column(admin_engine, "post", "status", p) for p in overdue] == ["skipped"] * 2
    assert [await column(admin_engine, "post", "status", p) for p in upcoming] == [
        "needs_approval"
    ] * 2


STALLED = timedelta(minutes=10)


async def test_stalled_launches_of_every_agency_are_relaunched(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    redis: Redis,
    settings: Settings,
) -> None:
    healthy, read_only = await open_shop(client), await open_shop(client)
    await make_read_only(admin_engine, read_only.agency_id)
    stalled = [
        await insert_campaign(
            admin_engine, shop, status="launching", idle_for=timedelta(minutes=10)
        )
        for shop in (healthy, read_only)
    ]
    await insert_campaign(admin_engine, healthy, status="launching")  # still making progress
    loops = Loops(settings, app_db, ArqRedis(connection_pool=redis.connection_pool), Relay())

    assert await loops.relaunch_stalled(datetime.now(UTC)) == 2

    queued = [job.decode() for job in await redis.zrange(QUEUE_NAME, 0, -1)]
    assert sorted(job.split(":")[1] for job in queued) == sorted(str(c) for c in stalled)


# -- Billing ---------------------------------------------------------------------------------


async def set_billing(engine: AsyncEngine, agency_id: uuid.UUID, **values: Any) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO billing_account (agency_id, id, plan, status) "
                "VALUES (:a, gen_random_uuid(), 'growth', 'active') ON CONFLICT DO NOTHING"
            ),
            {"a": agency_id},
        )
        await conn.execute(
            text(f"UPDATE billing_account SET {assignments} WHERE agency_id = :a"),
            {"a": agency_id, **values},
        )


async def test_the_billing_sweep_turns_read_only_only_the_agencies_whose_grace_ran_out(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, settings: Settings
) -> None:
    lapsed, in_grace, read_only = [await open_shop(client) for _ in range(3)]
    now = datetime.now(UTC)
    await set_billing(
        admin_engine,
        lapsed.agency_id,
        status="past_due",
        access="warning",
        grace_ends_at=now - timedelta(minutes=1),
    )
    await set_billing(
        admin_engine,
        in_grace.agency_id,
        status="past_due",
        access="warning",
        grace_ends_at=now + timedelta(days=2),
        quantity_dirty_at=now - timedelta(hours=1),
    )
    await make_read_only(admin_engine, read_only.agency_id)
    await set_billing(admin_engine, read_only.agency_id, quantity_dirty_at=now - timedelta(hours=1))

    result = await billing.sweep(app_db, settings, now=now)

    assert result.read_only == 1
    assert {agency for agency, _ in result.quantity_due} == {
        in_grace.agency_id,
        read_only.agency_id,
    }
    async with admin_engine.connect() as conn:
        rows = {
            r.agency_id: (r.access, r.publishing_paused)
            for r in await conn.execute(
                text("SELECT agency_id, access, publishing_paused FROM billing_account")
            )
        }
    assert rows == {
        lapsed.agency_id: ("read_only", True),
        in_grace.agency_id: ("warning", False),
        read_only.agency_id: ("read_only", True),
    }


async def test_a_webhook_finds_only_its_own_customers_agency(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    paying, read_only = await open_shop(client), await open_shop(client)
    await set_billing(admin_engine, paying.agency_id, stripe_customer_id="cus_paying")
    await make_read_only(admin_engine, read_only.agency_id)
    await set_billing(admin_engine, read_only.agency_id, stripe_customer_id="cus_late")

    async with app_db.transaction() as session:
        found = [
            await billing._agency_of_customer(session, customer)
            for customer in ("cus_paying", "cus_late", "cus_nobody")
        ]

    assert found == [paying.agency_id, read_only.agency_id, None]


# -- Social accounts: metrics collection, token refresh, key rotation, review collection -----


async def insert_account(
    engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
    *,
    status: str = "connected",
    failures: int = 0,
    retry_at: datetime | None = None,
) -> uuid.UUID:
    """A Facebook page whose token expires in five minutes, written directly with sealed
    (made-up) tokens; ``failures`` and ``retry_at``: its refresh failed and backs off."""
    account = SocialAccount(
        id=new_id(),
        agency_id=shop.agency_id,
        brand_id=shop.brand_id,
        location_id=shop.location_id,
        platform="facebook",
        external_id=f"page-{uuid.uuid4().hex[:8]}",
        name="Bakery page",
        kind="page",
        status=status,
        connected_at=datetime.now(UTC),
        refresh_failures=failures,
        next_refresh_at=retry_at,
    )
    sealing.store_tokens(
        account,
        keyring_from_settings(settings),
        access_token=Sealed("EAAsweep"),
        refresh_token=Sealed("refresh-sweep"),
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        refresh_expires_at=None,
    )
    account_id = account.id
    async with AsyncSession(engine) as session, session.begin():
        session.add(account)
    return account_id


@dataclass(frozen=True)
class Accounts:
    healthy: uuid.UUID
    read_only: uuid.UUID
    backing_off: uuid.UUID
    """Connected, but its last refresh failed: the platform is erroring for this agency."""
    disconnected: uuid.UUID
    """The platform revoked its access: the agency must reconnect."""


async def four_agencies(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> Accounts:
    healthy, read_only, failing, revoked = [await open_shop(client) for _ in range(4)]
    await make_read_only(engine, read_only.agency_id)
    later = datetime.now(UTC) + timedelta(hours=1)
    return Accounts(
        healthy=await insert_account(engine, settings, healthy),
        read_only=await insert_account(engine, settings, read_only),
        backing_off=await insert_account(engine, settings, failing, failures=3, retry_at=later),
        disconnected=await insert_account(engine, settings, revoked, status="needs_reconnect"),
    )


async def test_metrics_and_token_refresh_find_every_agencys_accounts(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, settings: Settings
) -> None:
    accounts = await four_agencies(client, admin_engine, settings)

    async with app_db.transaction() as session:
        due = await refresh.find_due(session, now=datetime.now(UTC), lead=timedelta(minutes=15))
        collectable = await metrics.find_collectable(session)

    assert {d.account_id for d in due} == {accounts.healthy, accounts.read_only}
    assert {c.account_id for c in collectable} == {
        accounts.healthy,
        accounts.read_only,
        accounts.backing_off,
    }


async def test_a_key_rotation_reseals_every_agencys_tokens(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, settings: Settings
) -> None:
    await four_agencies(client, admin_engine, settings)
    dev = base64.urlsafe_b64encode(dev_key(settings.secret_key.get_secret_value())).decode()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    rotated = settings.model_copy(update={"token_keys": SecretStr(f"k2:{new},{DEV_KID}:{dev}")})

    assert await refresh.reseal_all(app_db, rotated) == (4, 4)

    async with admin_engine.connect() as conn:
        keys = (await conn.execute(text("SELECT DISTINCT token_key_id FROM social_account"))).all()
    assert keys == [("k2",)]


async def test_review_sources_of_every_agency_are_due(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, settings: Settings
) -> None:
    accounts = await four_agencies(client, admin_engine, settings)
    async with admin_engine.begin() as conn:  # it was connected when collection began
        await conn.execute(
            text("UPDATE social_account SET status = 'connected' WHERE id = :i"),
            {"i": accounts.disconnected},
        )
    async with app_db.transaction() as session:
        await collection.sweep(session, now=datetime.now(UTC))
    async with admin_engine.begin() as conn:  # then the platform revoked its access
        await conn.execute(
            text("UPDATE social_account SET status = 'needs_reconnect' WHERE id = :i"),
            {"i": accounts.disconnected},
        )

    async with app_db.transaction() as session:
        sources, _ = await collection.sweep(session, now=datetime.now(UTC) + timedelta(hours=1))

    async with admin_engine.connect() as conn:
        by_account = {
            row.account_id: (row.id, row.status)
            for row in await conn.execute(text("SELECT account_id, id, status FROM review_source"))
        }
    assert {s.source_id for s in sources} == {
        by_account[accounts.healthy][0],
        by_account[accounts.read_only][0],
        by_account[accounts.backing_off][0],
    }
    assert by_account[accounts.disconnected][1] == "needs_reconnect"


# -- Resumable media uploads -----------------------------------------------------------------


async def open_upload(engine: AsyncEngine, storage: Storage, agency_id: uuid.UUID) -> uuid.UUID:
    """An unfinished upload that expired an hour ago, a multipart upload begun in storage."""
    upload_id = uuid.uuid4()
    key = f"agencies/{agency_id}/uploads/{upload_id}"
    storage_upload_id = await storage.create_multipart(key)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO media_upload (agency_id, id, upload_length, storage_key, "
                "storage_upload_id, details, expires_at) VALUES (:agency, :id, 10000000, :key, "
                ':upload, \'{"name": "clip"}\', :expires)'
            ),
            {
                "agency": agency_id,
                "id": upload_id,
                "key": key,
                "upload": storage_upload_id,
                "expires": datetime.now(UTC) - timedelta(hours=1),
            },
        )
    return upload_id


async def test_expired_uploads_of_every_agency_are_aborted(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    redis: Redis,
    tmp_path: Path,
) -> None:
    healthy, read_only, busy = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, read_only.agency_id)
    arq_redis = ArqRedis(connection_pool=redis.connection_pool)
    async with FilesystemStorage(tmp_path) as storage:
        uploads = {
            shop.agency_id: await open_upload(admin_engine, storage, shop.agency_id)
            for shop in (healthy, read_only, busy)
        }
        writing = resumable.UploadLock(arq_redis, busy.agency_id, uploads[busy.agency_id])
        assert await writing.acquire()
        try:
            aborted = await resumable.expire_due(app_db, storage, arq_redis, now=datetime.now(UTC))
        finally:
            await writing.release()

    assert aborted == 2
    status = {
        agency: await column(admin_engine, "media_upload", "status", upload_id)
        for agency, upload_id in uploads.items()
    }
    assert status == {
        healthy.agency_id: "aborted",
        read_only.agency_id: "aborted",
        busy.agency_id: "open",
    }


# -- Media housekeeping ------------------------------------------------------------------------


async def test_media_uploads_left_waiting_in_every_agency_are_handed_back(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, tmp_path: Path
) -> None:
    healthy, read_only, recent = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, read_only.agency_id)
    photo = write_phone_jpeg(tmp_path / "shop.jpg", (400, 300))
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    async with FilesystemStorage(tmp_path / "media") as storage:
        lost = {
            shop.agency_id: await upload_media(
                admin_engine, storage, shop.agency_id, photo, created_at=long_ago
            )
            for shop in (healthy, read_only)
        }
        await upload_media(admin_engine, storage, recent.agency_id, photo)

        waiting = await housekeeping.find_waiting_uploads(app_db, datetime.now(UTC))

    assert sorted(waiting) == sorted(lost.items())


async def test_deleted_media_and_unnamed_files_of_every_agency_are_purged(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database, tmp_path: Path
) -> None:
    healthy, read_only, keeper = [await open_shop(client) for _ in range(3)]
    await make_read_only(admin_engine, read_only.agency_id)
    photo = write_phone_jpeg(tmp_path / "shop.jpg", (400, 300))
    async with FilesystemStorage(tmp_path / "media") as storage:
        media = {}
        for shop in (healthy, read_only, keeper):
            media[shop.agency_id] = await upload_media(admin_engine, storage, shop.agency_id, photo)
            await processing.process_upload(app_db, storage, shop.agency_id, media[shop.agency_id])
        async with admin_engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE media SET deleted_at = now(), purge_after = now() "
                    "WHERE agency_id IN (:a, :b)"
                ),
                {"a": healthy.agency_id, "b": read_only.agency_id},
            )

        purged = await housekeeping.purge(
            app_db, storage, datetime.now(UTC), orphan_grace=timedelta(0)
        )

        async with admin_engine.connect() as conn:
            blobs = (await conn.execute(text("SELECT agency_id, clean_key FROM media_blob"))).all()
        assert [agency for agency, _key in blobs] == [keeper.agency_id]
        assert await storage.head(blobs[0][1]) is not None
    assert (purged.media, purged.blobs) == (2, 2)
