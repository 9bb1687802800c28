"""What the plan and the billing standing allow (shared/billing/entitlements.py), from mutants of
it that the plan-limit tests let live (docs/MUTANTS.md).

A read-only agency (trial over, subscription canceled, grace after a failed payment over) still
reads, and every change is answered 402 saying why and what to do.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.billing.entitlements import SUBSCRIBE_HOW
from tests.factories import sign_up


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
