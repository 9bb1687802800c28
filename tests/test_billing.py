"""Billing against a real localstripe: subscribing, the quantity following the active
locations, plan changes, plan limits at every edge, and dunning (payment failure → grace →
read-only with publishing paused → payment → everything restored, no post lost)."""

from __future__ import annotations

import asyncio
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
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from services.worker.jobs import billing as billing_jobs
from services.worker.registry import job
from shared.billing import service
from shared.billing.gateway import StripeGateway
from shared.billing.models import StripeEvent
from shared.config import Settings
from shared.db import Database
from shared.jobs import QUEUE_NAME, enqueue
from shared.publishing.publisher import Publisher
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.clock import bring_forward
from tests.support.localstripe import API_KEY
from tests.support.publishing import Shop, cycle, post, state
from tests.support.social_accounts import connect

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
    publisher: Publisher,
    shop: Shop,
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
            job(
                billing_jobs.PROCESS_EVENT_JOB,
                billing_jobs.process_stripe_event,
                max_tries=billing_jobs.MAX_TRIES,
            ),
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


# Webhooks that cannot be stored, events that cannot be processed (issue #12) ----------------


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "evt_1QbadShape",
        "object": "event",
        "type": "customer.updated",
        "data": {"object": {"object": "customer", "id": "cus_shape", "metadata": {}}},
    }
    event.update(fields)
    return event


async def test_the_webhook_answers_400_never_500_to_a_body_it_cannot_store(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    column = StripeEvent.__table__.c.id  # type: ignore[attr-defined]
    assert column.type.length == service.EVENT_ID_MAX
    subscription = {"object": "subscription", "customer": "cus_shape", "metadata": {}}
    cases: list[tuple[bytes, str, str | None]] = [
        (b'{"id": "evt_\xff\xfe", "type": "customer.updated"}', "bad_encoding", None),
        (json.dumps(_event(id="evt_" + "x" * 252)).encode(), "bad_event", "body.id"),
        (json.dumps(_event(id=42)).encode(), "bad_event", "body.id"),
        (json.dumps(_event(id="evt 1; DROP")).encode(), "bad_event", "body.id"),
        (json.dumps(_event(type="t" * 101)).encode(), "bad_event", "body.type"),
        (json.dumps(_event(data={})).encode(), "bad_event", "body.data.object"),
        (
            json.dumps(_event(data={"object": "cus_shape"})).encode(),
            "bad_event",
            "body.data.object",
        ),
        (
            json.dumps(_event(data={"object": {**subscription, "customer": 7}})).encode(),
            "bad_event",
            "body.data.object.customer",
        ),
        (
            json.dumps(
                _event(data={"object": {**subscription, "metadata": {"agency_id": "acme"}}})
            ).encode(),
            "bad_event",
            "body.data.object.metadata.agency_id",
        ),
        (
            json.dumps(
                _event(data={"object": {**subscription, "description": "a\u0000b"}})
            ).encode(),
            "bad_event",
            "body",
        ),
        (json.dumps([_event()]).encode(), "bad_event", None),
        (b'{"id": "evt_cut', "bad_event", None),
    ]
    for body, code, field in cases:
        answer = await client.post(
            "/v1/billing/stripe/webhook", content=body, headers=signed(settings, body)
        )
        assert answer.status_code == 400, (body[:80], answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["code"] == code, (body[:80], problem)
        if field is not None:
            assert field in [e["field"] for e in problem["errors"]], problem
    too_long = await client.post(
        "/v1/billing/stripe/webhook",
        content=cases[1][0],
        headers=signed(settings, cases[1][0]),
    )
    assert "longer than 255 characters (256)" in too_long.json()["detail"]
    # Not UTF-8 is refused before anything else, signed or not.
    unsigned = await client.post("/v1/billing/stripe/webhook", content=cases[0][0])
    assert unsigned.json()["code"] == "bad_encoding"
    async with admin_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM stripe_event"))).scalar_one() == 0

    longest = _event(id="evt_" + "x" * 251)
    assert (await deliver(client, settings, longest)).json() == {
        "received": True,
        "duplicate": False,
    }


async def _inbox_row(engine: AsyncEngine, event_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT processed_at, attempts, last_error, failed_at, next_attempt_at "
                    "FROM stripe_event WHERE id = :id"
                ),
                {"id": event_id},
            )
        ).one()


async def test_a_webhook_job_hitting_a_lock_timeout_is_retried_and_applies_the_event(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's case: a transient database error no longer parks the event for an hour.
    Here the agency's billing row is locked by another transaction past the job's lock
    timeout (a real SQLSTATE 55P03); the job records why, retries seconds later, applies it."""
    owner = await sign_up(client)
    await subscribe(client, stripe_http, owner, "pro")
    customer = await customer_of(admin_engine, owner)
    event = (await stripe_events(stripe_http, customer))[-1]
    async with admin_engine.begin() as conn:  # as if Stripe's news were not applied yet
        await conn.execute(
            text(
                "UPDATE billing_account SET plan = 'starter', status = 'none' WHERE agency_id = :a"
            ),
            {"a": owner.agency_id},
        )
    monkeypatch.setattr(service, "EVENT_LOCK_TIMEOUT_MS", 200)

    async with admin_engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM billing_account WHERE agency_id = :a FOR UPDATE"),
            {"a": owner.agency_id},
        )
        assert (await deliver(client, settings, event)).status_code == 200  # queues the job
        running = asyncio.create_task(run_billing_worker(settings))
        for _ in range(150):
            failed = await _inbox_row(admin_engine, event["id"])
            if failed.failed_at is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the first attempt never failed")
        await holder.rollback()  # the other transaction ends
    assert failed.processed_at is None
    assert failed.attempts == 1
    assert failed.last_error.startswith("transient (lock timeout)")
    assert 3 <= (failed.next_attempt_at - failed.failed_at).total_seconds() <= 7
    # arq holds the job back until then (its own schedule, on the system's time): instead of
    # waiting those seconds out, the test checks how long it still had to wait and makes it
    # due at once.
    queued = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        job_id = f"{billing_jobs.PROCESS_EVENT_JOB}:{event['id']}"
        left = await bring_forward(queued, QUEUE_NAME, job_id)
    finally:
        await queued.aclose()
    assert timedelta(seconds=1) < left <= failed.next_attempt_at - failed.failed_at

    worker = await asyncio.wait_for(running, timeout=30)
    assert (worker.jobs_retried, worker.jobs_complete, worker.jobs_failed) == (1, 1, 0)
    done = await _inbox_row(admin_engine, event["id"])
    assert done.processed_at is not None
    assert done.attempts == 2
    assert done.next_attempt_at is None
    shown = await billing(client, owner)
    assert (shown["plan"]["code"], shown["status"]) == ("pro", "active")


async def _sweep(settings: Settings) -> Worker:
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await enqueue(redis, billing_jobs.SWEEP_JOB)
    finally:
        await redis.aclose()
    return await run_billing_worker(settings)


async def test_an_event_that_cannot_be_processed_is_marked_failed_shown_and_retried(
    client: httpx.AsyncClient,
    stripe_http: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
) -> None:
    owner = await sign_up(client)
    await subscribe(client, stripe_http, owner, "pro")
    customer = await customer_of(admin_engine, owner)
    event = (await stripe_events(stripe_http, customer))[-1]
    assert (await deliver(client, settings, event)).status_code == 200

    # Stripe refuses the worker's key (a rotated key not deployed yet): not transient.
    first = await run_billing_worker(settings, stripe_secret_key=SecretStr("rk_revoked_key"))
    assert (first.jobs_complete, first.jobs_retried, first.jobs_failed) == (1, 0, 0)
    failed = await _inbox_row(admin_engine, event["id"])
    assert failed.processed_at is None
    assert failed.attempts == 1
    assert failed.last_error == (
        "billing is not configured on this installation (Stripe refused the key)"
    )
    assert failed.next_attempt_at > failed.failed_at

    # Operators see it: the sweep counts the inbox for /metrics; it is not due again yet.
    assert (await _sweep(settings)).jobs_complete == 1  # the sweep alone
    metrics = (await client.get("/metrics")).text
    assert 'chorus_stripe_events_unprocessed{state="failed"} 1.0' in metrics

    # Its retry comes due (the key has been fixed meanwhile): the sweep hands it on under the
    # webhook's own job id, which the failed job left free, and it is applied.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE stripe_event SET next_attempt_at = now() - interval '1 second', "
                "received_at = now() - interval '5 minutes' WHERE id = :id"
            ),
            {"id": event["id"]},
        )
    retried = await _sweep(settings)
    assert (retried.jobs_complete, retried.jobs_failed) == (2, 0)  # the sweep, then the event
    done = await _inbox_row(admin_engine, event["id"])
    assert done.processed_at is not None
    assert done.attempts == 2
    await _sweep(settings)
    metrics = (await client.get("/metrics")).text
    assert 'chorus_stripe_events_unprocessed{state="failed"} 0.0' in metrics
