"""Publishing fixtures and helpers: a shop with a published template, a fast publisher,
and the steps of one publishing cycle. Registered as a pytest plugin in tests/conftest.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock
from shared.config import Settings
from shared.db import Database
from shared.publishing.dispatcher import Lease, lease_due
from shared.publishing.keeper import LeaseKeeper
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import BatchResult, Publisher, Work
from tests.factories import Tenant, create_brand, create_location, sign_up

BODY = 'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }}'


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Reconcile at once and stop waiting for answers after half a second."""
    return settings.model_copy(
        update={
            "reconcile_delay_seconds": 0.0,
            "outbound_read_timeout_seconds": 0.5,
            "outbound_total_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def publisher(app_db: Database, redis: Redis, fast: Settings) -> Publisher:
    return Publisher(app_db, AccountLimiter(redis), fast)


class Shop:
    def __init__(self, owner: Tenant, brand: dict[str, Any], location: dict[str, Any]) -> None:
        self.owner, self.brand, self.location = owner, brand, location
        self.template_id = ""


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> Shop:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], city="Leeds")
    shop = Shop(owner, brand, location)
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand["id"],
            "name": "Daily",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 40}},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    shop.template_id = created.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{shop.template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200
    return shop


async def post(
    client: httpx.AsyncClient, shop: Shop, platform: str, offer: str, **extra: Any
) -> dict[str, Any]:
    made = await client.post(
        f"/v1/locations/{shop.location['id']}/posts",
        json={
            "template_id": shop.template_id,
            "version": 1,
            "platforms": [platform],
            "slot_values": {"offer": offer},
            **extra,
        },
        headers=shop.owner.headers,
    )
    assert made.status_code == 201, made.text
    return dict(made.json()[0])


async def lease(app_db: Database, *, now: datetime | None = None) -> list[Lease]:
    """One dispatcher pass: what it leases (60 s leases, batches of 50)."""
    async with app_db.transaction() as session:
        return await lease_due(
            session,
            now=now or clock.now(),
            limit=1000,
            lease_for=timedelta(seconds=60),
            batch_size=50,
        )


async def cycle(app_db: Database, publisher: Publisher, *, now: datetime | None = None) -> int:
    """One dispatcher pass and every job it would enqueue, run here; how many were leased."""
    leases = await lease(app_db, now=now)
    for leased in leases:
        await publisher.run(leased)
    return sum(len(leased.post_ids) for leased in leases)


async def state(engine: AsyncEngine, post_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(text("SELECT * FROM post WHERE id = :id"), {"id": post_id}))
            .mappings()
            .one()
        )
        history = (
            await conn.execute(
                text(
                    "SELECT from_status, to_status FROM post_status_change WHERE post_id = :id "
                    "ORDER BY changed_at, id"
                ),
                {"id": post_id},
            )
        ).all()
    return {**dict(row), "history": [(h[0], h[1]) for h in history]}


async def counts(sandbox: httpx.AsyncClient, platform: str) -> dict[str, int]:
    return dict((await sandbox.get(f"/_sandbox/publish-counts/{platform}")).json()["counts"])


async def make_due(engine: AsyncEngine, post_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET due_at = now() - interval '1 second' WHERE id = :id"),
            {"id": post_id},
        )


async def started(app_db: Database, publisher: Publisher) -> tuple[Lease, list[Work]]:
    """One dispatcher pass, claimed and started by hand: its posts are ``publishing`` (an
    attempt spent, the lease of a request in flight) and nothing has been sent. The caller
    decides what the platform answered (``Publisher._settle``), or that the worker died."""
    (leased,) = await lease(app_db)
    works = await publisher._claim(leased, BatchResult())
    keeper = LeaseKeeper(
        app_db, leased, [w.post_id for w in works], every=60, extend_by=timedelta(seconds=60)
    )
    going = await publisher._start(leased, works, keeper, BatchResult())
    assert len(going) == len(works)
    return leased, going
