"""What the plan and the billing standing allow (shared/billing/entitlements.py), from mutants of
it that the plan-limit tests let live (docs/MUTANTS.md).

A read-only agency (trial over, subscription canceled, grace after a failed payment over) still
reads, and every change is answered 402 saying why and what to do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.billing.entitlements import SUBSCRIBE_HOW
from shared.billing.plans import PLANS
from tests.factories import create_brand, sign_up


async def set_billing(engine: AsyncEngine, agency_id: uuid.UUID, **values: Any) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO billing_account (agency_id, id, plan, status) "
                "VALUES (:a, gen_random_uuid(), 'pro', 'active') ON CONFLICT DO NOTHING"
            ),
            {"a": agency_id},
        )
        await conn.execute(
            text(f"UPDATE billing_account SET {assignments} WHERE agency_id = :a"),
            {"a": agency_id, **values},
        )


CANCELED = "the subscription is canceled (data is kept, read-only, for the retention period)"
READ_ONLY = [
    ("trial_ended", "the trial has ended"),
    ("canceled", CANCELED),
    ("incomplete_expired", CANCELED),
    ("past_due", "a payment failed and the grace period is over"),
]


@pytest.mark.parametrize(("status", "why"), READ_ONLY, ids=[s for s, _ in READ_ONLY])
async def test_a_read_only_agency_reads_and_is_told_why_it_cannot_change_anything(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, status: str, why: str
) -> None:
    tenant = await sign_up(client)
    await set_billing(admin_engine, tenant.agency_id, status=status, access="read_only")
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    refused = await client.post("/v1/brands", json={"name": "New"}, headers=tenant.headers)
    assert refused.status_code == 402, refused.text
    body = refused.json()
    assert body["code"] == "agency_read_only"
    assert body["detail"] == (
        f"this agency is read-only because {why}: reads work, changes and publishing are "
        f"paused until paid; {SUBSCRIBE_HOW}"
    )
    assert (body["plan"], body["billing_status"]) == ("pro", status)


async def test_an_agency_in_its_grace_period_still_changes_things(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    await set_billing(admin_engine, tenant.agency_id, status="past_due", access="full")
    made = await client.post("/v1/brands", json={"name": "New"}, headers=tenant.headers)
    assert made.status_code == 201, made.text


async def test_a_payment_failure_shows_until_when_the_agency_may_still_pay(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    grace_ends = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    await set_billing(
        admin_engine,
        tenant.agency_id,
        status="past_due",
        access="warning",
        grace_ends_at=grace_ends,
    )
    banner = (await client.get("/v1/me", headers=tenant.headers)).json()["billing"]
    assert (banner["show"], banner["level"], banner["access"]) == (True, "warning", "warning")
    assert datetime.fromisoformat(banner["grace_ends_at"]) == grace_ends
    assert grace_ends.isoformat() in banner["message"]


async def test_a_refusal_names_the_plan_and_whether_it_is_a_trial(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    subscribed = await sign_up(client)
    await set_billing(
        admin_engine, subscribed.agency_id, plan="starter", stripe_subscription_id="sub_guard"
    )
    trying = await sign_up(client)
    await set_billing(admin_engine, trying.agency_id, plan="starter", status="trialing")
    for tenant, label in ((subscribed, "Starter"), (trying, "Starter trial")):
        refused = await client.post(
            "/v1/api-keys", json={"name": "CRM sync", "role": "admin"}, headers=tenant.headers
        )
        assert refused.status_code == 402, refused.text
        assert refused.json()["detail"].startswith(f"the {label} plan does not include api keys")


async def test_a_plan_this_version_does_not_know_counts_as_the_trial_plan(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    await set_billing(admin_engine, tenant.agency_id, plan="legacy_gold")
    made = await client.post(
        "/v1/api-keys", json={"name": "CRM sync", "role": "admin"}, headers=tenant.headers
    )
    assert made.status_code == 201, made.text


async def test_an_agency_over_its_limit_still_reimports_and_removes_locations(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    """Over the limit after a downgrade: nothing that does not add an active location is
    refused, so the agency can get back under it."""
    owner = await sign_up(client)
    brand_id = (await create_brand(client, owner))["id"]
    starter_limit = PLANS["starter"].location_limit
    assert starter_limit is not None

    def sheet(name: str) -> bytes:
        rows = "".join(
            f"guard{i},{name} {i},GB,Europe/London,active\n" for i in range(starter_limit + 2)
        )
        return f"external_ref,name,country,time_zone,status\n{rows}".encode()

    async def import_sheet(content: bytes) -> httpx.Response:
        return await client.post(
            f"/v1/brands/{brand_id}/locations/import?mode=all_or_nothing",
            content=content,
            headers={**owner.headers, "Content-Type": "text/csv"},
        )

    assert (await import_sheet(sheet("Store"))).status_code == 200
    await set_billing(
        admin_engine, owner.agency_id, plan="starter", stripe_subscription_id="sub_guard"
    )
    # The same stores renamed: as many active as before, so not refused.
    again = await import_sheet(sheet("Shop"))
    assert again.status_code == 200, again.text
    assert again.json()["updated"] == starter_limit + 2
    listed = await client.get(f"/v1/locations?brand_id={brand_id}", headers=owner.headers)
    first = listed.json()["items"][0]["id"]
    removed = await client.delete(f"/v1/locations/{first}", headers=owner.headers)
    assert removed.status_code == 204, removed.text


async def test_a_channel_outside_the_plan_names_the_plan_that_has_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand_id = (await create_brand(client, owner))["id"]
    template = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": "Hello",
            "bodies": {"default": "Hello {{ location.city }}"},
            "titles": {"default": "Hello"},
            "slots": {},
        },
        headers=owner.headers,
    )
    assert template.status_code == 201, template.text
    template_id = template.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    await set_billing(admin_engine, owner.agency_id, plan="starter")
    outside = sorted(PLANS["pro"].channels - PLANS["starter"].channels)[0]
    refused = await client.post(
        "/v1/campaigns",
        json={
            "name": "Everywhere",
            "brand_id": brand_id,
            "template_id": template_id,
            "version": 1,
            "audience": {"kind": "all"},
            "channels": [outside],
            "schedule": {"kind": "absolute", "at": "2030-06-03T16:00:00+00:00"},
            "variables": {},
        },
        headers=owner.headers,
    )
    assert refused.status_code == 402, refused.text
    body = refused.json()
    assert (body["code"], body["channels"], body["upgrade_to"]) == (
        "plan_channel_missing",
        [outside],
        "pro",
    )
