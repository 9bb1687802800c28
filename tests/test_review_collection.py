"""Collecting reviews from the platform sandbox: Google Business Profile and Facebook through
the location's connected accounts, Yelp through a business attached by id. Re-running
changes nothing, edits and new reviews are picked up, a rate-limited account waits, and an
account whose access was removed is flagged for reconnecting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from services.sandbox import yelp as sandbox_yelp
from services.sandbox.app import create_app as create_sandbox
from shared.config import Settings
from shared.db import Database
from shared.publishing.limiter import AccountLimiter
from shared.reviews.collection import Collected, Collector, sweep
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.review_collection import reviews_of, sandbox_id
from tests.support.sandbox_server import SandboxServer
from tests.support.social_accounts import connect


async def run_sweep(db: Database) -> tuple[list[Any], list[Any]]:
    async with db.transaction() as session:
        return await sweep(session, now=datetime.now(UTC))


async def source_of(engine: AsyncEngine, location_id: str, source: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text("SELECT * FROM review_source WHERE location_id = :l AND source = :s"),
                    {"l": location_id, "s": source},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


async def events(engine: AsyncEngine, agency_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM outbox_event WHERE agency_id = :a AND type = :t ORDER BY id"),
            {"a": agency_id, "t": kind},
        )
        return [dict(r) for r in rows.mappings()]


@pytest.fixture
async def collector(app_db: Database, redis: Redis, settings: Settings) -> Collector:
    return Collector(app_db, AccountLimiter(redis), settings)


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> tuple[Tenant, dict[str, Any], dict[str, Any]]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Main Street")
    return owner, brand, location


async def connected_source(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    db: Database,
    owner: Tenant,
    location: dict[str, Any],
    platform: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    account = await connect(client, owner.headers, location["id"], platform)
    await run_sweep(db)
    source = await source_of(engine, location["id"], platform)  # named as the account is
    return account, source


async def test_google_and_facebook_reviews_are_collected_and_a_rerun_changes_nothing(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    collector: Collector,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    google, g_source = await connected_source(
        client, admin_engine, app_db, owner, location, "google_business"
    )
    facebook, f_source = await connected_source(
        client, admin_engine, app_db, owner, location, "facebook"
    )
    # A newly connected account is collected soon, at its own staggered second.
    assert g_source["status"] == "active"
    assert g_source["account_id"] == uuid.UUID(google["id"])
    assert g_source["next_collect_at"] <= datetime.now(UTC) + timedelta(minutes=5)

    first_g = await collector.collect(owner.agency_id, g_source["id"], force=True)
    first_f = await collector.collect(owner.agency_id, f_source["id"], force=True)
    assert (first_g.outcome, first_f.outcome) == ("collected", "collected")

    at_google = await sandbox.get(f"/_sandbox/reviews/google_business/{sandbox_id(google)}")
    at_facebook = await sandbox.get(f"/_sandbox/reviews/facebook/{sandbox_id(facebook)}")
    platform_reviews = at_google.json()["data"] + at_facebook.json()["data"]
    collected = await reviews_of(client, owner.headers, location_id=location["id"])
    assert len(collected) == len(platform_reviews) == first_g.stored.new + first_f.stored.new
    by_id = {r["external_id"]: r for r in collected}
    for remote in platform_reviews:
        mine = by_id[remote["id"]]
        assert (mine["rating"], mine["text"], mine["author"]) == (
            remote["rating"],
            remote["text"],
            remote["author"],
        )
        assert mine["sentiment_label"] in ("positive", "neutral", "negative")
    assert {r["source"] for r in collected} == {"google_business", "facebook"}
    # Newest first.
    assert [r["created_at"] for r in collected] == sorted(
        (r["created_at"] for r in collected), reverse=True
    )
    received = await events(admin_engine, owner.agency_id, "review.received")
    negative = await events(admin_engine, owner.agency_id, "review.negative")
    assert len(received) == len(platform_reviews)
    flagged = [r for r in collected if r["needs_attention"]]
    assert len(negative) == len(flagged) > 0
    assert all(r["rating"] is None or r["rating"] <= 2 or r["sentiment_label"] == "negative"
               for r in flagged)  # fmt: skip

    again_g = await collector.collect(owner.agency_id, g_source["id"], force=True)
    again_f = await collector.collect(owner.agency_id, f_source["id"], force=True)
    for again in (again_g, again_f):
        assert again.outcome == "collected"
        assert (again.stored.new, again.stored.updated, again.stored.negative) == (0, 0, 0)
    assert await reviews_of(client, owner.headers, location_id=location["id"]) == collected
    assert len(await events(admin_engine, owner.agency_id, "review.received")) == len(received)
    assert len(await events(admin_engine, owner.agency_id, "review.negative")) == len(negative)

    # The next collection is in the future, at the source's own offset in the hour.
    after = await source_of(admin_engine, location["id"], "google_business")
    assert after["last_error"] is None
    assert after["failures"] == 0
    assert datetime.now(UTC) < after["next_collect_at"] <= datetime.now(UTC) + timedelta(hours=1)
    assert int(after["next_collect_at"].timestamp()) % 3600 == after["stagger_s"]


async def test_sources_are_staggered_over_the_hour(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    for _ in range(6):
        location = await create_location(client, owner, brand["id"])
        await connect(client, owner.headers, location["id"], "google_business")
    await run_sweep(app_db)
    async with admin_engine.connect() as conn:
        due = [
            r[0]
            for r in await conn.execute(
                text("SELECT next_collect_at FROM review_source WHERE agency_id = :a"),
                {"a": owner.agency_id},
            )
        ]
    assert len(due) == 6
    assert len({int(d.timestamp()) for d in due}) > 1  # not every account at the same second


async def test_an_edited_and_a_new_review_are_picked_up_incrementally(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    collector: Collector,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    google, source = await connected_source(
        client, admin_engine, app_db, owner, location, "google_business"
    )
    await collector.collect(owner.agency_id, source["id"], force=True)
    listed = await sandbox.get(f"/_sandbox/reviews/google_business/{sandbox_id(google)}")
    happy = next(r for r in listed.json()["data"] if r["rating"] == 5)
    before = await client.get("/v1/reviews", params={"location_id": location["id"]},
                              headers=owner.headers)  # fmt: skip
    mine = next(r for r in before.json()["items"] if r["external_id"] == happy["id"])
    assert mine["needs_attention"] is False

    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 60})
    edited = await sandbox.patch(
        f"/_sandbox/reviews/google_business/{sandbox_id(google)}/{happy['id']}",
        json={"rating": 1, "text": "Changed my mind: rude staff and cold food, terrible."},
    )
    assert edited.status_code == 200
    added = await sandbox.post(
        f"/_sandbox/reviews/google_business/{sandbox_id(google)}",
        json={"rating": 4, "text": "Lovely staff, great coffee!", "author": "Mia Kowalski"},
    )
    assert added.status_code == 201

    result = await collector.collect(owner.agency_id, source["id"], force=True)
    # The run stops at the cursor: only the first page is read (newest updates first).
    assert result.pages == 1
    assert (result.stored.new, result.stored.updated, result.stored.negative) == (1, 1, 1)

    now_mine = (await client.get(f"/v1/reviews/{mine['id']}", headers=owner.headers)).json()
    assert now_mine["rating"] == 1
    assert now_mine["text"].startswith("Changed my mind")
    assert now_mine["sentiment_label"] == "negative"
    assert now_mine["needs_attention"] is True
    attention = await client.get(
        f"/v1/locations/{location['id']}/reviews/needs-attention", headers=owner.headers
    )
    assert mine["id"] in [r["id"] for r in attention.json()["items"]]
    negative = await events(admin_engine, owner.agency_id, "review.negative")
    assert [e["subject_id"] for e in negative].count(uuid.UUID(mine["id"])) == 1
    newcomer = await reviews_of(client, owner.headers, location_id=location["id"], min_rating=4)
    assert any(r["author"] == "Mia Kowalski" for r in newcomer)

    # Collected again: nothing new, the negative event is not raised twice.
    again = await collector.collect(owner.agency_id, source["id"], force=True)
    assert (again.stored.new, again.stored.updated, again.stored.negative) == (0, 0, 0)
    assert len(await events(admin_engine, owner.agency_id, "review.negative")) == len(negative)


async def test_a_rate_limited_account_waits_for_the_platform(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    collector: Collector,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    _, source = await connected_source(client, admin_engine, app_db, owner, location, "facebook")
    await sandbox.put(
        "/_sandbox/faults/facebook",
        json={"error_rates": {"rate_limited": 1.0}, "retry_after_s": 600},
    )
    result = await collector.collect(owner.agency_id, source["id"], force=True)
    assert result.outcome == "rate_limited"
    assert result.next_collect_at is not None
    assert result.next_collect_at >= datetime.now(UTC) + timedelta(seconds=60)
    shown = await client.get(
        f"/v1/locations/{location['id']}/review-sources", headers=owner.headers
    )
    (facebook,) = shown.json()
    assert facebook["status"] == "active"
    assert "slow down" in facebook["last_error"]
    assert (await reviews_of(client, owner.headers, location_id=location["id"])) == []

    # The platform is fine again, but the account stays paused: nothing is asked of it.
    await sandbox.put("/_sandbox/faults/facebook", json={})
    paused = await collector.collect(owner.agency_id, source["id"], force=True)
    assert paused.outcome == "deferred"
    assert paused.pages == 0
    # Not due before its time: the sweep does not pick it up.
    sources, _ = await run_sweep(app_db)
    assert source["id"] not in [s.source_id for s in sources]


async def test_an_account_whose_access_was_removed_needs_reconnecting(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    collector: Collector,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    account, source = await connected_source(
        client, admin_engine, app_db, owner, location, "google_business"
    )
    await sandbox.put(
        "/_sandbox/faults/google_business", json={"error_rates": {"auth_revoked": 1.0}}
    )
    result = await collector.collect(owner.agency_id, source["id"], force=True)
    assert result.outcome == "needs_reconnect"

    accounts = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    (shown,) = [a for a in accounts.json() if a["platform"] == "google_business"]
    assert shown["status"] == "needs_reconnect"
    seen = await client.get(f"/v1/locations/{location['id']}/events", headers=owner.headers)
    assert "account.needs_reconnect" in [e["type"] for e in seen.json()["items"]]
    sources = await client.get(
        f"/v1/locations/{location['id']}/review-sources", headers=owner.headers
    )
    assert sources.json()[0]["status"] == "needs_reconnect"
    # While it waits for a person, nothing collects from it.
    due, _ = await run_sweep(app_db)
    assert source["id"] not in [s.source_id for s in due]
    stopped = await collector.collect(owner.agency_id, source["id"], force=True)
    assert stopped.outcome == "gone"

    # Reconnected: collection resumes on the next sweep.
    await sandbox.put("/_sandbox/faults/google_business", json={})
    await connect(client, owner.headers, location["id"], "google_business")
    due, _ = await run_sweep(app_db)
    assert source["id"] in [s.source_id for s in due]
    resumed = await collector.collect(owner.agency_id, source["id"])
    assert resumed.outcome == "collected"
    assert resumed.stored.new > 0
    assert (
        account["id"]
        == (await source_of(admin_engine, location["id"], "google_business"))[
            "account_id"
        ].__str__()
    )


# -- Yelp ---------------------------------------------------------------------------------------


def _sandbox_with_yelp() -> FastAPI:
    app = create_sandbox()
    sandbox_yelp.install(app)
    return app


class YelpSandboxServer(SandboxServer):
    """The sandbox with Yelp mounted (until ``services/sandbox/app.py`` mounts it itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.server.config.app = _sandbox_with_yelp
        self.server.config.loaded = False


@pytest.fixture(scope="module")
def yelp_server() -> Iterator[YelpSandboxServer]:
    server = YelpSandboxServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def yelp_settings(settings: Settings, yelp_server: YelpSandboxServer) -> Settings:
    return settings.model_copy(update={"platform_sandbox_url": yelp_server.url})


@pytest.fixture(scope="module")
async def yelp_app(yelp_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(yelp_settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def yelp_client(yelp_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=yelp_app, client=("203.0.113.8", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
        yield c


@pytest.fixture
async def yelp_box(yelp_server: YelpSandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=yelp_server.url, timeout=30) as c:
        yield c
        await c.post("/_sandbox/reset")


async def test_a_yelp_business_is_attached_and_its_reviews_collected(
    yelp_client: httpx.AsyncClient,
    yelp_box: httpx.AsyncClient,
    yelp_settings: Settings,
    app_db: Database,
    redis: Redis,
    admin_engine: AsyncEngine,
) -> None:
    owner = await sign_up(yelp_client)
    brand = await create_brand(yelp_client, owner)
    location = await create_location(yelp_client, owner, brand["id"])
    missing = await yelp_client.put(
        f"/v1/locations/{location['id']}/yelp",
        json={"business_id": "unknown-place"},
        headers=owner.headers,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.business_id"

    attached = await yelp_client.put(
        f"/v1/locations/{location['id']}/yelp",
        json={"business_id": "slice-and-co-springfield"},
        headers=owner.headers,
    )
    assert attached.status_code == 200, attached.text
    source = attached.json()
    assert source["source"] == "yelp"
    assert source["status"] == "active"
    assert source["name"] == "Yelp business slice-and-co-springfield"

    collector = Collector(app_db, AccountLimiter(redis), yelp_settings)
    first: Collected = await collector.collect(owner.agency_id, uuid.UUID(source["id"]))
    assert first.outcome == "collected"
    at_yelp = (await yelp_box.get("/_sandbox/reviews/yelp/slice-and-co-springfield")).json()
    collected = await reviews_of(yelp_client, owner.headers, source="yelp")
    assert len(collected) == len(at_yelp["data"]) == first.stored.new
    assert {r["external_id"] for r in collected} == {r["id"] for r in at_yelp["data"]}

    again = await collector.collect(owner.agency_id, uuid.UUID(source["id"]), force=True)
    assert (again.stored.new, again.stored.updated) == (0, 0)

    target = at_yelp["data"][-1]
    await yelp_box.patch(
        f"/_sandbox/reviews/yelp/slice-and-co-springfield/{target['id']}",
        json={"text": "Updated: the manager fixed everything, wonderful!", "rating": 5},
    )
    edited = await collector.collect(owner.agency_id, uuid.UUID(source["id"]), force=True)
    assert edited.stored.updated == 1
    (mine,) = [
        r
        for r in await reviews_of(yelp_client, owner.headers, source="yelp")
        if r["external_id"] == target["id"]
    ]
    assert mine["text"].startswith("Updated:")
    assert mine["rating"] == 5

    # Yelp offers no replies: the API says so instead of queueing one that cannot be sent.
    refused = await yelp_client.post(
        f"/v1/reviews/{mine['id']}/reply", json={"text": "Thank you!"}, headers=owner.headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "replies_not_supported"

    # Chorus's own Yelp key refused: the source backs off; nobody at the location can fix it.
    await yelp_box.put("/_sandbox/faults/yelp", json={"error_rates": {"auth_revoked": 1.0}})
    refused_key = await collector.collect(owner.agency_id, uuid.UUID(source["id"]), force=True)
    assert refused_key.outcome == "retry_later"
    row = await source_of(admin_engine, location["id"], "yelp")
    assert row["status"] == "active"
    assert row["failures"] == 1
    assert row["next_collect_at"] > datetime.now(UTC) + timedelta(seconds=25)
