"""Billing against a real localstripe: subscribing, the quantity following the active
locations, plan changes, plan limits at every edge, and dunning (payment failure → grace →
read-only with publishing paused → payment → everything restored, no post lost)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from services.worker.jobs import billing as billing_jobs
from services.worker.registry import job
from shared.billing import service
from shared.billing.gateway import StripeGateway
from shared.config import Settings
from shared.db import Database
from shared.jobs import QUEUE_NAME
from shared.publishing.publisher import Publisher
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.localstripe import API_KEY
from tests.test_publishing import (  # noqa: F401  (fixtures)
    Shop,
    cycle,
    fast,
    post,
    publisher,
    shop,
    state,
)
from tests.test_social_accounts import connect

GOOD_CARD = "4242424242424242"
FAILING_CARD = "4000000000000341"
"""Attaches fine, every charge is declined (Stripe's test card, as localstripe knows it)."""
NEEDS_AUTHENTICATION_CARD = "4000002500003155"


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    made = StripeGateway(settings)
    yield made
    await made.aclose()


@pytest.fixture
async def stripe_http(localstripe_url: str) -> Any:
    async with httpx.AsyncClient(
        base_url=localstripe_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as c:
        yield c


async def card(stripe_http: httpx.AsyncClient, number: str = GOOD_CARD) -> str:
    """A PaymentMethod as Stripe.js makes it in the browser."""
    made = await stripe_http.post(
        "/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": str(datetime.now(UTC).year + 2),
            "card[cvc]": "123",
        },
    )
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


async def billing(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    got = await client.get("/v1/billing", headers=tenant.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


async def subscribe(
    client: httpx.AsyncClient, stripe_http: httpx.AsyncClient, tenant: Tenant, plan: str
) -> dict[str, Any]:
    made = await client.post(
        "/v1/billing/subscription",
        json={"plan": plan, "payment_method": await card(stripe_http)},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def stripe_subscription(
    stripe_http: httpx.AsyncClient, engine: AsyncEngine, tenant: Tenant
) -> dict[str, Any]:
    async with engine.connect() as conn:
        sub_id = (
            await conn.execute(
                text("SELECT stripe_subscription_id FROM billing_account WHERE agency_id = :a"),
                {"a": tenant.agency_id},
            )
        ).scalar_one()
    got = await stripe_http.get(f"/v1/subscriptions/{sub_id}")
    assert got.status_code == 200, got.text
    return dict(got.json())


async def locations(client: httpx.AsyncClient, tenant: Tenant, brand_id: str, n: int) -> list[str]:
    return [(await create_location(client, tenant, brand_id))["id"] for _ in range(n)]


async def run_quantity_sync(app_db: Database, settings: Settings, gateway: StripeGateway) -> None:
    """The sweep after the debounce, then the sync jobs it finds due."""
    later = datetime.now(UTC) + timedelta(seconds=settings.billing_quantity_debounce_seconds + 1)
    result = await service.sweep(app_db, settings, now=later)
    for agency_id, _marked in result.quantity_due:
        await service.sync_quantity(app_db, settings, gateway, agency_id, now=later)


# Webhooks as Stripe sends them ------------------------------------------------------------


def signed(settings: Settings, body: bytes, *, secret: str | None = None) -> dict[str, str]:
    stamp = int(time.time())
    key = secret or settings.stripe_webhook_secret.get_secret_value()
    digest = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json"}


async def stripe_events(stripe_http: httpx.AsyncClient, customer: str) -> list[dict[str, Any]]:
    """Every event localstripe raised about this customer, oldest first."""
    listed = await stripe_http.get("/v1/events", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    out = []
    for event in listed.json()["data"]:
        obj = event["data"]["object"]
        owner = obj["id"] if obj.get("object") == "customer" else obj.get("customer")
        if owner == customer:
            out.append(event)
    out.sort(key=lambda e: (e["created"], e["id"]))
    return out


async def deliver(
    client: httpx.AsyncClient, settings: Settings, event: dict[str, Any]
) -> httpx.Response:
    body = json.dumps(event).encode()
    return await client.post(
        "/v1/billing/stripe/webhook", content=body, headers=signed(settings, body)
    )


async def process_all(
    app_db: Database, settings: Settings, gateway: StripeGateway, ids: list[str]
) -> list[str]:
    return [
        (await service.process_event(app_db, settings, gateway, i, now=datetime.now(UTC))).outcome
        for i in ids
    ]


async def customer_of(engine: AsyncEngine, tenant: Tenant) -> str:
    async with engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    text("SELECT stripe_customer_id FROM billing_account WHERE agency_id = :a"),
                    {"a": tenant.agency_id},
                )
            ).scalar_one()
        )


async def fail_next_renewal(stripe_http: httpx.AsyncClient, customer: str, sub: str) -> None:
    """The next period's invoice is charged and the payment fails (the bank asks for an
    authentication the cardholder does not complete): Stripe's renewal, done by hand because
    localstripe has no clock."""
    strict = await card(stripe_http, NEEDS_AUTHENTICATION_CARD)
    attached = await stripe_http.post(
        f"/v1/payment_methods/{strict}/attach", data={"customer": customer}
    )
    assert attached.status_code == 200, attached.text
    updated = await stripe_http.post(
        f"/v1/customers/{customer}",
        data={"invoice_settings[default_payment_method]": strict},
    )
    assert updated.status_code == 200, updated.text
    invoice = await stripe_http.post(
        "/v1/invoices", data={"customer": customer, "subscription": sub}
    )
    assert invoice.status_code == 200, invoice.text
    paid = await stripe_http.post(f"/v1/invoices/{invoice.json()['id']}/pay")
    assert paid.status_code == 200, paid.text
    intent = await stripe_http.get(f"/v1/payment_intents/{paid.json()['payment_intent']}")
    refused = await stripe_http.post(
        f"/v1/payment_intents/{intent.json()['id']}/_authenticate",
        data={"client_secret": intent.json()["client_secret"], "success": "false"},
    )
    assert refused.status_code == 200, refused.text
    after = await stripe_http.get(f"/v1/subscriptions/{sub}")
    assert after.json()["status"] == "past_due", after.text


# Tests ---------------------------------------------------------------------------------------


async def test_a_new_agency_is_on_its_trial_and_can_see_the_plans(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    shown = await billing(client, owner)
    assert shown["status"] == "trialing"
    assert shown["access"] == "full"
    assert shown["subscribed"] is False
    assert shown["trial_ends_at"] is not None
    plans = (await client.get("/v1/billing/plans", headers=owner.headers)).json()
    assert [p["code"] for p in plans] == ["starter", "pro", "enterprise"]
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    assert me["billing"]["show"] is False


async def test_subscribe_then_the_quantity_follows_the_active_locations(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    gateway: StripeGateway,
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    ids = await locations(client, owner, brand["id"], 3)

    shown = await subscribe(client, stripe_http, owner, "pro")
    assert (shown["status"], shown["access"], shown["plan"]["code"]) == ("active", "full", "pro")
    assert shown["billed_quantity"] == 3
    sub = await stripe_subscription(stripe_http, admin_engine, owner)
    assert (sub["status"], sub["quantity"], sub["plan"]["id"]) == (
        "active",
        3,
        "chorus_pro_monthly",
    )

    # Two more, one paused, one archived: 3 + 2 - 2 = 3 … then one more active = 4.
    more = await locations(client, owner, brand["id"], 2)
    for location_id, status in ((ids[0], "paused"), (ids[1], "archived")):
        changed = await client.patch(
            f"/v1/locations/{location_id}", json={"status": status}, headers=owner.headers
        )
        assert changed.status_code == 200, changed.text
    await locations(client, owner, brand["id"], 1)
    assert (await billing(client, owner))["quantity_pending"] is True
    await run_quantity_sync(app_db, settings, gateway)
    shown = await billing(client, owner)
    assert (shown["billed_quantity"], shown["active_locations"]) == (4, 4)
    assert shown["quantity_pending"] is False
    assert (await stripe_subscription(stripe_http, admin_engine, owner))["quantity"] == 4
    assert len(more) == 2

    # The other agency is untouched and still on its trial; and it cannot see ours.
    assert (await billing(client, other))["status"] == "trialing"
    upcoming = await client.get("/v1/billing/upcoming-invoice", headers=owner.headers)
    assert upcoming.status_code == 200, upcoming.text
    assert upcoming.json()["amount_due"] > 0
    refused = await client.get("/v1/billing/upcoming-invoice", headers=other.headers)
    assert refused.status_code == 409


async def test_change_plan_cancel_and_resume(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    await locations(client, owner, brand["id"], 2)
    await subscribe(client, stripe_http, owner, "starter")

    changed = await client.post(
        "/v1/billing/subscription/plan", json={"plan": "enterprise"}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["plan"]["code"] == "enterprise"
    sub = await stripe_subscription(stripe_http, admin_engine, owner)
    assert (sub["plan"]["id"], sub["quantity"]) == ("chorus_enterprise_monthly", 2)

    canceled = await client.post("/v1/billing/subscription/cancel", headers=owner.headers)
    assert canceled.status_code == 200
    assert canceled.json()["cancel_at_period_end"] is True
    assert canceled.json()["access"] == "full"  # paid until the period ends
    assert (await stripe_subscription(stripe_http, admin_engine, owner))[
        "cancel_at_period_end"
    ] is True
    resumed = await client.post("/v1/billing/subscription/resume", headers=owner.headers)
    assert resumed.json()["cancel_at_period_end"] is False

    again = await client.post(
        "/v1/billing/subscription",
        json={"plan": "pro", "payment_method": await card(stripe_http)},
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_subscribed"


async def test_only_owners_manage_billing(
    client: httpx.AsyncClient, stripe_http: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    admin_invite = await client.post(
        "/v1/api-keys", json={"name": "ops", "role": "admin"}, headers=owner.headers
    )
    assert admin_invite.status_code == 201, admin_invite.text
    admin = {"Authorization": f"Bearer {admin_invite.json()['key']}"}
    assert (await client.get("/v1/billing", headers=admin)).status_code == 200
    refused = await client.post(
        "/v1/billing/subscription",
        json={"plan": "pro", "payment_method": await card(stripe_http)},
        headers=admin,
    )
    assert refused.status_code == 403
    assert refused.json()["missing_permission"] == "billing.manage"


async def test_plan_limits_answer_402_naming_the_plan_and_the_way_up(
    client: httpx.AsyncClient, stripe_http: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    await subscribe(client, stripe_http, owner, "starter")

    # Starter has no API keys.
    refused = await client.post(
        "/v1/api-keys", json={"name": "CRM", "role": "admin"}, headers=owner.headers
    )
    assert refused.status_code == 402, refused.text
    problem = refused.json()
    assert problem["code"] == "plan_feature_missing"
    assert "Starter" in problem["detail"]
    assert "/v1/billing/subscription/plan" in problem["detail"]
    assert (problem["plan"], problem["feature"], problem["upgrade_to"]) == (
        "starter",
        "api_keys",
        "pro",
    )

    # Starter allows 25 active locations: an import to 30 is refused whole.
    rows = ["external_ref,name,country,time_zone,status"] + [
        f"r{i},Shop {i},GB,Europe/London,active" for i in range(30)
    ]
    imported = await client.post(
        f"/v1/brands/{brand['id']}/locations/import?mode=all_or_nothing",
        content="\n".join(rows).encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 402, imported.text
    assert imported.json()["code"] == "plan_location_limit"
    assert imported.json()["location_limit"] == 25
    assert "25" in imported.json()["detail"]
    assert "Pro" in imported.json()["detail"]
    assert (await billing(client, owner))["active_locations"] == 0  # nothing written

    # 25 paused ones are fine (not billed); activating the 26th is not.
    rows = ["external_ref,name,country,time_zone,status"] + [
        f"r{i},Shop {i},GB,Europe/London,{'active' if i < 25 else 'paused'}" for i in range(26)
    ]
    imported = await client.post(
        f"/v1/brands/{brand['id']}/locations/import?mode=all_or_nothing",
        content="\n".join(rows).encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    listed = await client.get(
        f"/v1/locations?brand_id={brand['id']}&status=paused", headers=owner.headers
    )
    paused_id = listed.json()["items"][0]["id"]
    activate = await client.patch(
        f"/v1/locations/{paused_id}", json={"status": "active"}, headers=owner.headers
    )
    assert activate.status_code == 402
    assert activate.json()["code"] == "plan_location_limit"

    # Downgrading below the active locations is refused too, naming both numbers.
    upgraded = await client.post(
        "/v1/billing/subscription/plan", json={"plan": "pro"}, headers=owner.headers
    )
    assert upgraded.status_code == 200
    assert (
        await client.patch(
            f"/v1/locations/{paused_id}", json={"status": "active"}, headers=owner.headers
        )
    ).status_code == 200
    down = await client.post(
        "/v1/billing/subscription/plan", json={"plan": "starter"}, headers=owner.headers
    )
    assert down.status_code == 402
    assert "26" in down.json()["detail"]


async def test_a_declined_card_subscribes_nothing(
    client: httpx.AsyncClient, stripe_http: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    refused = await client.post(
        "/v1/billing/subscription",
        json={"plan": "pro", "payment_method": await card(stripe_http, FAILING_CARD)},
        headers=owner.headers,
    )
    assert refused.status_code == 402, refused.text
    assert refused.json()["code"] == "card_declined"
    shown = await billing(client, owner)
    assert shown["subscribed"] is False
    assert shown["access"] == "full"


async def test_payment_failure_grace_read_only_then_payment_restores_without_losing_a_post(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    gateway: StripeGateway,
    publisher: Publisher,  # noqa: F811
    shop: Shop,  # noqa: F811
    redis: Redis,
    sandbox: httpx.AsyncClient,  # reset after the test: the posts published here
) -> None:
    owner = shop.owner
    await connect(client, owner.headers, shop.location["id"], "x")
    await subscribe(client, stripe_http, owner, "pro")
    customer = await customer_of(admin_engine, owner)
    sub = await stripe_subscription(stripe_http, admin_engine, owner)
    made = (await post(client, shop, "x", "2 for 1"))["id"]
    expiring = (await post(client, shop, "x", "Today only"))["id"]

    await fail_next_renewal(stripe_http, customer, sub["id"])
    events = await stripe_events(stripe_http, customer)
    assert "invoice.payment_failed" in [e["type"] for e in events]
    for event in events:
        assert (await deliver(client, settings, event)).status_code == 200
    # Answered at once; each event is a job.
    assert await redis.exists(f"arq:job:billing.process_stripe_event:{events[-1]['id']}")
    await process_all(app_db, settings, gateway, [e["id"] for e in events])

    # Grace: everything works, with a warning.
    shown = await billing(client, owner)
    assert (shown["status"], shown["access"]) == ("past_due", "warning")
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    assert me["billing"]["show"] is True
    assert me["billing"]["level"] == "warning"
    assert (
        await client.post("/v1/brands", json={"name": "Still"}, headers=owner.headers)
    ).status_code == 201
    async with admin_engine.connect() as conn:
        types = list(
            (
                await conn.execute(
                    text("SELECT type FROM outbox_event WHERE agency_id = :a"),
                    {"a": owner.agency_id},
                )
            ).scalars()
        )
    assert "billing.payment_failed" in types

    # The grace period ends: read-only, publishing paused.
    after_grace = datetime.now(UTC) + timedelta(seconds=settings.billing_grace_seconds + 1)
    assert (await service.sweep(app_db, settings, now=after_grace)).read_only == 1
    refused = await client.post("/v1/brands", json={"name": "No"}, headers=owner.headers)
    assert refused.status_code == 402
    assert refused.json()["code"] == "agency_read_only"
    assert (await client.get("/v1/brands", headers=owner.headers)).status_code == 200
    me = (await client.get("/v1/me", headers=owner.headers)).json()
    assert me["billing"]["level"] == "critical"

    # The posts scheduled before are due: they wait, still scheduled, nothing lost.
    assert await cycle(app_db, publisher) == 0
    assert (await state(admin_engine, made))["status"] == "scheduled"
    assert (await state(admin_engine, expiring))["status"] == "scheduled"
    # Meanwhile one of them runs out of time.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET publish_deadline = now() - interval '1 minute' WHERE id = :id"),
            {"id": expiring},
        )

    # Paying (a new card) restores everything; the waiting post goes out.
    paid = await client.put(
        "/v1/billing/payment-method",
        json={"payment_method": await card(stripe_http)},
        headers=owner.headers,
    )
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["access"]) == ("active", "full")
    assert paid.json()["publishing_paused"] is False
    assert (
        await client.post("/v1/brands", json={"name": "Back"}, headers=owner.headers)
    ).status_code == 201
    assert await cycle(app_db, publisher) == 1
    assert (await state(admin_engine, made))["status"] == "published"
    late = await state(admin_engine, expiring)
    assert late["status"] == "skipped"
    assert "deadline passed while the agency was read-only" in late["status_reason"]
    # The events of the payment agree, when they come.
    later = await stripe_events(stripe_http, customer)
    for event in later:
        await deliver(client, settings, event)
    await process_all(app_db, settings, gateway, [e["id"] for e in later])
    assert (await billing(client, owner))["access"] == "full"


async def test_webhook_refuses_a_bad_signature_and_ignores_a_duplicate(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    gateway: StripeGateway,
) -> None:
    owner = await sign_up(client)
    await subscribe(client, stripe_http, owner, "pro")
    customer = await customer_of(admin_engine, owner)
    event = (await stripe_events(stripe_http, customer))[-1]
    body = json.dumps(event).encode()

    forged = await client.post(
        "/v1/billing/stripe/webhook",
        content=body,
        headers=signed(settings, body, secret="whsec_not_ours"),
    )
    assert forged.status_code == 400
    assert forged.json()["code"] == "bad_signature"
    altered = body.replace(b'"livemode": false', b'"livemode": true')
    assert altered != body
    tampered = await client.post(
        "/v1/billing/stripe/webhook", content=altered, headers=signed(settings, body)
    )
    assert tampered.status_code == 400
    async with admin_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM stripe_event"))).scalar_one() == 0

    first = await deliver(client, settings, event)
    second = await deliver(client, settings, event)
    assert first.json() == {"received": True, "duplicate": False}
    assert second.json() == {"received": True, "duplicate": True}
    assert await process_all(app_db, settings, gateway, [event["id"], event["id"]]) == [
        "applied",
        "duplicate",
    ]
    async with admin_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, processed_at FROM stripe_event"))).all()
        changes = (
            await conn.execute(
                text("SELECT count(*) FROM outbox_event WHERE agency_id = :a"),
                {"a": owner.agency_id},
            )
        ).scalar_one()
    assert len(rows) == 1
    assert rows[0].processed_at is not None
    # Applying the same event again changed nothing (no new events either).
    assert await process_all(app_db, settings, gateway, [event["id"]]) == ["duplicate"]
    async with admin_engine.connect() as conn:
        assert (
            await conn.execute(
                text("SELECT count(*) FROM outbox_event WHERE agency_id = :a"),
                {"a": owner.agency_id},
            )
        ).scalar_one() == changes


_FIELDS = (
    "plan, status, access, publishing_paused, stripe_customer_id, stripe_subscription_id, "
    "quantity, cancel_at_period_end"
)


async def _account_state(engine: AsyncEngine, agency_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text(f"SELECT {_FIELDS} FROM billing_account WHERE agency_id = :a"),
                    {"a": agency_id},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


async def test_a_shuffled_duplicated_replay_ends_like_the_ordered_one(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    gateway: StripeGateway,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    await locations(client, owner, brand["id"], 2)
    await subscribe(client, stripe_http, owner, "starter")
    await locations(client, owner, brand["id"], 3)
    await run_quantity_sync(app_db, settings, gateway)
    await client.post("/v1/billing/subscription/plan", json={"plan": "pro"}, headers=owner.headers)
    customer = await customer_of(admin_engine, owner)
    sub = await stripe_subscription(stripe_http, admin_engine, owner)
    await fail_next_renewal(stripe_http, customer, sub["id"])
    stream = await stripe_events(stripe_http, customer)
    types = {e["type"] for e in stream}
    assert {
        "customer.created",
        "customer.subscription.created",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
    } <= types

    async def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
        async with admin_engine.begin() as conn:
            await conn.execute(text("DELETE FROM stripe_event"))
            await conn.execute(
                text(
                    "UPDATE billing_account SET plan = 'enterprise', status = 'none', "
                    "access = 'full', publishing_paused = false, quantity = 0, "
                    "stripe_subscription_id = NULL, past_due_since = NULL, "
                    "grace_ends_at = NULL WHERE agency_id = :a"
                ),
                {"a": owner.agency_id},
            )
        for event in events:
            assert (await deliver(client, settings, event)).status_code == 200
        await process_all(app_db, settings, gateway, [e["id"] for e in events])
        return await _account_state(admin_engine, owner.agency_id)

    ordered = await replay(stream)
    assert (ordered["status"], ordered["access"], ordered["plan"], ordered["quantity"]) == (
        "past_due",
        "warning",
        "pro",
        5,
    )
    shuffled = stream + random.Random(8).sample(stream, k=len(stream) // 2)
    random.Random(20261127).shuffle(shuffled)
    assert await replay(shuffled) == ordered

    # And once the customer is deleted at Stripe, late events cannot bring it back.
    deleted = await stripe_http.delete(f"/v1/customers/{customer}")
    assert deleted.status_code == 200
    final_stream = await stripe_events(stripe_http, customer)
    assert "customer.deleted" in [e["type"] for e in final_stream]
    late = list(reversed(final_stream))
    ended = await replay(late)
    assert (ended["status"], ended["access"], ended["publishing_paused"]) == (
        "canceled",
        "read_only",
        True,
    )


async def run_billing_worker(settings: Settings, **overrides: Any) -> Worker:
    """A burst arq worker with the billing jobs, on the test Redis: runs what is queued."""
    job_settings = settings.model_copy(update=overrides)
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    db = Database(settings.app_db_url, pool_size=2)

    async def startup(ctx: dict[str, Any]) -> None:
        WorkerContext(settings=job_settings, db=db, redis=ctx["redis"]).install(ctx)

    worker = Worker(
        functions=[
            job(billing_jobs.PROCESS_EVENT_JOB, billing_jobs.process_stripe_event),
            job(billing_jobs.SYNC_QUANTITY_JOB, billing_jobs.sync_quantity),
            job(billing_jobs.SWEEP_JOB, billing_jobs.sweep),
        ],
        redis_pool=redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await db.dispose()
        await redis.aclose()
    return worker


async def test_a_worker_applies_webhooks_and_syncs_the_quantity_from_the_queue(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    await subscribe(client, stripe_http, owner, "pro")
    customer = await customer_of(admin_engine, owner)
    for event in await stripe_events(stripe_http, customer):
        assert (await deliver(client, settings, event)).status_code == 200
    await locations(client, owner, brand["id"], 2)
    # The sweep (a cron in the worker) finds the due sync once the debounce has passed.
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await redis.enqueue_job(billing_jobs.SWEEP_JOB, _queue_name=QUEUE_NAME)
    finally:
        await redis.aclose()
    first = await run_billing_worker(settings, billing_quantity_debounce_seconds=0)
    assert first.jobs_failed == 0
    second = await run_billing_worker(settings)  # the sync the sweep enqueued
    assert second.jobs_failed == 0
    shown = await billing(client, owner)
    assert (shown["status"], shown["billed_quantity"], shown["quantity_pending"]) == (
        "active",
        2,
        False,
    )
    assert (await stripe_subscription(stripe_http, admin_engine, owner))["quantity"] == 2
    async with admin_engine.connect() as conn:
        unprocessed = (
            await conn.execute(text("SELECT count(*) FROM stripe_event WHERE processed_at IS NULL"))
        ).scalar_one()
    assert unprocessed == 0


async def test_the_plans_api_rate_answers_429_naming_the_plan(
    client: httpx.AsyncClient, stripe_http: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    await subscribe(client, stripe_http, owner, "starter")  # 300/minute
    answered = 0
    response = None
    for _ in range(400):
        response = await client.get("/v1/billing/plans", headers=owner.headers)
        if response.status_code != 200:
            break
        answered += 1
    assert response is not None
    assert response.status_code == 429
    assert 290 <= answered <= 310
    problem = response.json()
    assert "300/minute on the Starter plan" in problem["detail"]
    assert "/v1/billing/subscription/plan" in problem["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    # The trial agency next door has the installation's rate, untouched.
    assert (await client.get("/v1/billing/plans", headers=other.headers)).status_code == 200
