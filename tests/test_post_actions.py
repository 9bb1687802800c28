"""One post: cancel, reschedule, edit and retry by API, only while it is safe; a job that
already holds a cancelled post lets it go; every change is in the post's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from shared.config import Settings
from shared.db import Database
from shared.publishing.dispatcher import lease_due
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import Publisher
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, launch_and_fan_out
from tests.support.social_accounts import connect

BODY = 'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }}'


class World:
    def __init__(self) -> None:
        self.owner: Tenant
        self.other: Tenant
        self.brand: dict[str, Any]
        self.nyc: dict[str, Any]
        self.boston: dict[str, Any]
        self.manager: dict[str, str]
        self.viewer: dict[str, str]
        self.template_id = ""


@pytest.fixture
async def w(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> World:
    world = World()
    world.owner = await sign_up(client)
    world.other = await sign_up(client)
    world.brand = await create_brand(client, world.owner)
    world.nyc = await create_location(client, world.owner, world.brand["id"], city="New York")
    world.boston = await create_location(client, world.owner, world.brand["id"], city="Boston")
    world.manager = await invite_and_accept(
        client,
        admin_engine,
        world.owner,
        "lm-actions@agency.example",
        "location_manager",
        location_id=world.nyc["id"],
    )
    world.viewer = await invite_and_accept(
        client,
        admin_engine,
        world.owner,
        "viewer-actions@agency.example",
        "brand_viewer",
        brand_id=world.brand["id"],
    )
    rules = await client.put(
        f"/v1/brands/{world.brand['id']}/rules",
        json={"banned_words": ["cheap"]},
        headers=world.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": world.brand["id"],
            "name": "Daily",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 40}},
        },
        headers=world.owner.headers,
    )
    assert created.status_code == 201, created.text
    world.template_id = created.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{world.template_id}/versions/1/publish", headers=world.owner.headers
    )
    assert published.status_code == 200
    return world


async def make_post(
    client: httpx.AsyncClient,
    w: World,
    *,
    location: dict[str, Any] | None = None,
    platform: str = "x",
    offer: str = "2 for 1",
    at: datetime | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template_id": w.template_id,
        "version": 1,
        "platforms": [platform],
        "slot_values": {"offer": offer},
    }
    if at is not None:
        body["scheduled_at"] = at.isoformat()
    made = await client.post(
        f"/v1/locations/{(location or w.nyc)['id']}/posts", json=body, headers=w.owner.headers
    )
    assert made.status_code == 201, made.text
    return dict(made.json()[0])


async def row(engine: AsyncEngine, post_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT * FROM post WHERE id = :id"), {"id": post_id})
        return dict(found.mappings().one())


async def force(engine: AsyncEngine, post_id: str, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), {"id": post_id, **params})


def later(minutes: int = 60) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


@pytest.fixture
def publisher(app_db: Database, redis: Redis, settings: Settings) -> Publisher:
    fast = settings.model_copy(
        update={
            "reconcile_delay_seconds": 0.0,
            "outbound_read_timeout_seconds": 0.5,
            "outbound_total_timeout_seconds": 5.0,
        }
    )
    return Publisher(app_db, AccountLimiter(redis), fast)


async def test_cancel_records_history_and_cannot_be_repeated(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w, at=later())
    cancelled = await client.post(
        f"/v1/posts/{post['id']}/cancel",
        json={"reason": "store closed for a wedding"},
        headers=bearer(w.manager["access_token"]),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    stored = await row(admin_engine, post["id"])
    assert stored["due_at"] is None
    assert stored["lease_token"] is None
    shown = (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()
    history = shown["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "scheduled"),
        ("scheduled", "cancelled"),
    ]
    assert history[1]["actor_type"] == "user"
    assert history[1]["actor_id"] == w.manager["user_id"]
    assert "wedding" in history[1]["reason"]
    assert history[1]["changed_at"]
    again = await client.post(f"/v1/posts/{post['id']}/cancel", headers=w.owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "post_not_changeable"
    audit = await client.get("/v1/audit-events?action=post.cancel", headers=w.owner.headers)
    assert [e["object_id"] for e in audit.json()["items"]] == [post["id"]]


async def test_a_post_cancelled_while_a_job_holds_it_is_never_published(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    w: World,
) -> None:
    await connect(client, w.owner.headers, w.nyc["id"], "x")
    post = await make_post(client, w)
    async with app_db.transaction() as session:
        leases = await lease_due(
            session,
            now=datetime.now(UTC),
            limit=1000,
            lease_for=timedelta(seconds=60),
            batch_size=50,
        )
    assert [str(i) for lease in leases for i in lease.post_ids] == [post["id"]]
    assert (await row(admin_engine, post["id"]))["status"] == "queued"
    cancelled = await client.post(f"/v1/posts/{post['id']}/cancel", headers=w.owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    for lease in leases:
        await publisher.run(lease)
    stored = await row(admin_engine, post["id"])
    assert stored["status"] == "cancelled"
    assert stored["attempts"] == 0
    counted = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    assert counted == {}
    shown = (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()
    assert [h["to_status"] for h in shown["history"]] == ["scheduled", "queued", "cancelled"]


@pytest.mark.parametrize("status", ["publishing", "unconfirmed"])
async def test_a_post_being_published_cannot_be_changed(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World, status: str
) -> None:
    post = await make_post(client, w)
    await force(admin_engine, post["id"], "UPDATE post SET status = :s WHERE id = :id", s=status)
    calls = [
        ("post", f"/v1/posts/{post['id']}/cancel", None),
        ("post", f"/v1/posts/{post['id']}/reschedule", {"scheduled_at": later().isoformat()}),
        ("patch", f"/v1/posts/{post['id']}", {"slot_values": {"offer": "Later"}}),
        ("post", f"/v1/posts/{post['id']}/retry", None),
    ]
    for method, url, body in calls:
        answer = await client.request(method, url, json=body, headers=w.owner.headers)
        assert answer.status_code == 409, (url, answer.text)
        assert answer.json()["code"] == "post_in_flight"
        assert "wait for the outcome" in answer.json()["detail"]
    stored = await row(admin_engine, post["id"])
    assert stored["status"] == status
    assert stored["text"] == post["text"]


async def test_reschedule_moves_the_time_and_lets_a_holding_job_go(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w)
    await force(
        admin_engine,
        post["id"],
        "UPDATE post SET status = 'queued', lease_token = gen_random_uuid() WHERE id = :id",
    )
    at = later(90)
    moved = await client.post(
        f"/v1/posts/{post['id']}/reschedule",
        json={"scheduled_at": at.isoformat()},
        headers=bearer(w.manager["access_token"]),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "scheduled"
    stored = await row(admin_engine, post["id"])
    assert stored["scheduled_at"] == at
    assert stored["due_at"] == at
    assert stored["publish_deadline"] == at + timedelta(hours=1)
    assert stored["lease_token"] is None
    assert moved.json()["history"][-1]["from_status"] == "queued"
    assert "rescheduled" in moved.json()["history"][-1]["reason"]
    past = await client.post(
        f"/v1/posts/{post['id']}/reschedule",
        json={"scheduled_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        headers=w.owner.headers,
    )
    assert past.status_code == 422
    assert past.json()["code"] == "scheduled_in_past"
    assert (await row(admin_engine, post["id"]))["scheduled_at"] == at


async def test_edit_renders_again_and_is_checked_like_a_new_post(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w, at=later())
    edited = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"slot_values": {"offer": "Free garlic bread"}},
        headers=bearer(w.manager["access_token"]),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "Fresh pizza in New York! Free garlic bread"
    assert edited.json()["slot_values"] == {"offer": "Free garlic bread"}
    assert edited.json()["status"] == "scheduled"
    refused = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"slot_values": {"offer": "Cheap slices"}, "scheduled_at": later(120).isoformat()},
        headers=w.owner.headers,
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "post_invalid"
    assert "cheap" in str(problem["errors"]).lower()
    too_long = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"slot_values": {"offer": "x" * 41}},
        headers=w.owner.headers,
    )
    assert too_long.status_code == 422
    stored = await row(admin_engine, post["id"])
    assert stored["text"] == "Fresh pizza in New York! Free garlic bread"
    assert stored["scheduled_at"] == datetime.fromisoformat(post["scheduled_at"])
    at = later(30)
    retimed = await client.patch(
        f"/v1/posts/{post['id']}", json={"scheduled_at": at.isoformat()}, headers=w.owner.headers
    )
    assert retimed.status_code == 200, retimed.text
    assert (await row(admin_engine, post["id"]))["due_at"] == at
    empty = await client.patch(f"/v1/posts/{post['id']}", json={}, headers=w.owner.headers)
    assert empty.status_code == 422


async def test_a_location_edit_goes_back_to_approval_when_the_brand_says_so(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w, at=later())
    await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=w.owner.headers,
    )
    edited = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"slot_values": {"offer": "Half price pasta"}},
        headers=bearer(w.manager["access_token"]),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "needs_approval"
    assert (await row(admin_engine, post["id"]))["due_at"] is None


async def test_retry_a_failed_post(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w)
    not_failed = await client.post(f"/v1/posts/{post['id']}/retry", headers=w.owner.headers)
    assert not_failed.status_code == 409
    assert not_failed.json()["code"] == "post_not_failed"
    await force(
        admin_engine,
        post["id"],
        "UPDATE post SET status = 'failed', attempts = 3, due_at = NULL, "
        "publish_deadline = now() - interval '1 hour' WHERE id = :id",
    )
    await force(
        admin_engine,
        post["id"],
        "INSERT INTO post_status_change (agency_id, id, post_id, from_status, to_status, "
        "actor_type, reason) SELECT agency_id, gen_random_uuid(), id, 'publishing', 'failed', "
        "'system', 'the platform refused it' FROM post WHERE id = :id",
    )
    before = datetime.now(UTC)
    retried = await client.post(
        f"/v1/posts/{post['id']}/retry", headers=bearer(w.manager["access_token"])
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "scheduled"
    assert retried.json()["attempts"] == 3
    stored = await row(admin_engine, post["id"])
    assert before - timedelta(seconds=1) <= stored["due_at"] <= datetime.now(UTC)
    assert stored["publish_deadline"] > datetime.now(UTC) + timedelta(minutes=50)
    assert retried.json()["history"][-1]["from_status"] == "failed"
    at = later(45)
    await force(admin_engine, post["id"], "UPDATE post SET status = 'failed' WHERE id = :id")
    timed = await client.post(
        f"/v1/posts/{post['id']}/retry",
        json={"scheduled_at": at.isoformat()},
        headers=w.owner.headers,
    )
    assert timed.status_code == 200, timed.text
    assert (await row(admin_engine, post["id"]))["due_at"] == at


async def test_a_post_that_may_be_out_is_retried_only_when_confirmed(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    post = await make_post(client, w)
    await force(admin_engine, post["id"], "UPDATE post SET status = 'failed' WHERE id = :id")
    await force(
        admin_engine,
        post["id"],
        "INSERT INTO post_status_change (agency_id, id, post_id, from_status, to_status, "
        "actor_type, reason) SELECT agency_id, gen_random_uuid(), id, 'unconfirmed', 'failed', "
        "'system', 'could not find out' FROM post WHERE id = :id",
    )
    refused = await client.post(f"/v1/posts/{post['id']}/retry", headers=w.owner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "post_may_be_out"
    assert "confirm_not_published" in refused.json()["detail"]
    assert (await row(admin_engine, post["id"]))["status"] == "failed"
    confirmed = await client.post(
        f"/v1/posts/{post['id']}/retry",
        json={"confirm_not_published": True},
        headers=w.owner.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "scheduled"
    assert "confirmed" in confirmed.json()["history"][-1]["reason"]


async def test_who_may_act_on_a_post(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, w: World
) -> None:
    boston_post = await make_post(client, w, location=w.boston, at=later())
    nyc_post = await make_post(client, w, at=later())
    manager = bearer(w.manager["access_token"])
    viewer = bearer(w.viewer["access_token"])
    body = {"scheduled_at": later(80).isoformat()}
    actions = [
        ("post", "/cancel", None),
        ("post", "/reschedule", body),
        ("patch", "", body),
        ("post", "/retry", None),
    ]
    for method, suffix, json in actions:
        # Another location's post is out of the location manager's reach.
        out_of_reach = await client.request(
            method, f"/v1/posts/{boston_post['id']}{suffix}", json=json, headers=manager
        )
        assert out_of_reach.status_code == 404, (suffix, out_of_reach.text)
        # A brand viewer sees the post but may not act on it.
        forbidden = await client.request(
            method, f"/v1/posts/{nyc_post['id']}{suffix}", json=json, headers=viewer
        )
        assert forbidden.status_code == 403, (suffix, forbidden.text)
        assert forbidden.json()["missing_permission"] == "post.create"
        # Another agency's post does not exist for it.
        foreign = await client.request(
            method, f"/v1/posts/{nyc_post['id']}{suffix}", json=json, headers=w.other.headers
        )
        assert foreign.status_code == 404, (suffix, foreign.text)
    assert (
        await client.get(f"/v1/posts/{nyc_post['id']}", headers=w.other.headers)
    ).status_code == 404
    assert (await client.get(f"/v1/posts/{nyc_post['id']}", headers=viewer)).status_code == 200
    for post in (boston_post, nyc_post):
        stored = await row(admin_engine, post["id"])
        assert stored["status"] == "scheduled"
        assert stored["scheduled_at"] == datetime.fromisoformat(post["scheduled_at"])


@pytest.fixture
async def worker_ctx(app: FastAPI, settings: Settings, app_db: Database) -> dict[str, Any]:
    ctx: dict[str, Any] = {"redis": app.state.redis}
    WorkerContext(settings=settings, db=app_db, redis=app.state.redis).install(ctx)
    return ctx


async def test_a_campaign_post_keeps_the_campaign_text_but_can_move(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    w: World,
) -> None:
    await connect(client, w.owner.headers, w.nyc["id"], "x")
    at = later(24 * 60)
    campaign = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(
            w.brand["id"],
            w.template_id,
            channels=["x"],
            audience={"kind": "locations", "location_ids": [w.nyc["id"]]},
            schedule={"kind": "absolute", "at": at.isoformat()},
            variables={},
        ),
    )
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    listed = await client.get(
        "/v1/posts", params={"campaign_id": campaign["id"]}, headers=w.owner.headers
    )
    (post,) = listed.json()["items"]
    assert post["status"] == "scheduled"
    assert listed.json()["totals"] == {"scheduled": 1}
    refused = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"slot_values": {"offer": "Mine"}},
        headers=bearer(w.manager["access_token"]),
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "campaign_owns_text"
    new_time = later(25 * 60)
    moved = await client.patch(
        f"/v1/posts/{post['id']}",
        json={"scheduled_at": new_time.isoformat()},
        headers=bearer(w.manager["access_token"]),
    )
    assert moved.status_code == 200, moved.text
    stored = await row(admin_engine, post["id"])
    assert stored["due_at"] == new_time
    assert stored["text"] == post["text"]
