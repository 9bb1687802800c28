"""Reviews through the API: replies sent by the worker through the platform sandbox (with
publishing's retries), auto-reply rules with templates and approval, the brand's negative
threshold, filters, cursor pagination, CSV export, and who may see and do what."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from shared.jobs import enqueue
from shared.publishing.limiter import AccountLimiter
from shared.reviews import SWEEP_JOB
from shared.reviews.replies import ReplySender
from tests.factories import create_brand, create_group, sign_up
from tests.support.access import invite_and_accept
from tests.support.review_collection import reviews_of, sandbox_id
from tests.support.reviews import Shop, open_shop, run_worker


@pytest.fixture
async def shop(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> Shop:
    return await open_shop(client, app_db, redis, settings)


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


async def remote_review(sandbox: httpx.AsyncClient, shop: Shop, external_id: str) -> Any:
    listed = await sandbox.get(f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}")
    return next(r for r in listed.json()["data"] if r["id"] == external_id)


async def test_a_location_manager_replies_and_the_worker_sends_it(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    shop: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    manager = await invite_and_accept(
        client, admin_engine, shop.owner, "lm-reviews@agency.example", "location_manager",
        location_id=shop.location["id"],
    )  # fmt: skip
    viewer = await invite_and_accept(
        client, admin_engine, shop.owner, "bv-reviews@agency.example", "brand_viewer",
        brand_id=shop.brand["id"],
    )  # fmt: skip
    as_manager = {"Authorization": f"Bearer {manager['access_token']}"}
    as_viewer = {"Authorization": f"Bearer {viewer['access_token']}"}
    unanswered = await reviews_of(client, as_viewer, replied=False)
    target = unanswered[0]

    refused = await client.post(
        f"/v1/reviews/{target['id']}/reply", json={"text": "Thanks!"}, headers=as_viewer
    )
    assert refused.status_code == 403
    assert refused.json()["missing_permission"] == "review.reply"

    queued = await client.post(
        f"/v1/reviews/{target['id']}/reply",
        json={"text": "Thank you for coming by, see you soon!"},
        headers=as_manager,
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["reply_status"] == "queued"
    twice = await client.post(
        f"/v1/reviews/{target['id']}/reply", json={"text": "Again"}, headers=as_manager
    )
    assert twice.status_code == 409
    assert twice.json()["code"] == "reply_in_progress"

    assert await run_worker(arq_redis, settings) >= 1
    shown = (await client.get(f"/v1/reviews/{target['id']}", headers=as_viewer)).json()
    assert shown["reply_status"] == "sent"
    assert shown["reply_origin"] == "manual"
    assert shown["replied_at"] is not None
    at_google = await remote_review(sandbox, shop, target["external_id"])
    assert at_google["reply_text"] == "Thank you for coming by, see you soon!"
    answered = await reviews_of(client, as_viewer, replied=True)
    assert [r["id"] for r in answered] == [target["id"]]

    # Collected again, the reply found at the platform is the same one: nothing changes.
    again = await shop.collect()
    assert (again.stored.new, again.stored.updated) == (0, 0)
    already = await client.post(
        f"/v1/reviews/{target['id']}/reply", json={"text": "More"}, headers=as_manager
    )
    assert already.status_code == 409
    assert already.json()["code"] == "already_replied"


async def test_a_failing_platform_is_retried_with_backoff_then_the_reply_goes_out_once(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    target = (await reviews_of(client, shop.owner.headers))[0]
    await client.post(
        f"/v1/reviews/{target['id']}/reply", json={"text": "Sorry to hear that."},
        headers=shop.owner.headers,
    )  # fmt: skip
    sender = ReplySender(app_db, AccountLimiter(redis), settings)
    await sandbox.put(
        "/_sandbox/faults/google_business", json={"error_rates": {"server_error": 1.0}}
    )
    first = await sender.send(shop.owner.agency_id, uuid.UUID(target["id"]))
    assert first.outcome == "queued"
    assert first.due_at is not None
    assert first.due_at > datetime.now(UTC)
    shown = (await client.get(f"/v1/reviews/{target['id']}", headers=shop.owner.headers)).json()
    assert shown["reply_status"] == "queued"
    assert shown["reply_attempts"] == 1
    assert shown["reply_error"]
    # Not before its time.
    early = await sender.send(shop.owner.agency_id, uuid.UUID(target["id"]))
    assert early.outcome == "not_due"

    await sandbox.put("/_sandbox/faults/google_business", json={})
    done = await sender.send(
        shop.owner.agency_id, uuid.UUID(target["id"]), now=first.due_at + timedelta(seconds=1)
    )
    assert done.outcome == "sent"
    assert done.attempts == 2
    at_google = await remote_review(sandbox, shop, target["external_id"])
    assert at_google["reply_text"] == "Sorry to hear that."


async def test_an_expired_access_fails_the_reply_and_asks_for_reconnecting(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    target = (await reviews_of(client, shop.owner.headers))[0]
    await client.post(
        f"/v1/reviews/{target['id']}/reply", json={"text": "Thanks"}, headers=shop.owner.headers
    )
    await sandbox.put(
        "/_sandbox/faults/google_business", json={"error_rates": {"auth_revoked": 1.0}}
    )
    sent = await ReplySender(app_db, AccountLimiter(redis), settings).send(
        shop.owner.agency_id, uuid.UUID(target["id"])
    )
    assert sent.outcome == "failed"
    shown = (await client.get(f"/v1/reviews/{target['id']}", headers=shop.owner.headers)).json()
    assert shown["reply_status"] == "failed"
    assert "Reconnect" in shown["reply_error"]
    accounts = await client.get(
        f"/v1/locations/{shop.location['id']}/social-accounts", headers=shop.owner.headers
    )
    assert accounts.json()[0]["status"] == "needs_reconnect"


async def test_auto_reply_rules_answer_new_reviews_with_their_template(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    headers = shop.owner.headers
    base = f"/v1/brands/{shop.brand['id']}/auto-reply-rules"
    bad = await client.post(
        base, json={"name": "x", "template": "Hi {{ reviewer.last_name }}"}, headers=headers
    )
    assert bad.status_code == 422
    assert "reviewer.last_name" in bad.json()["errors"][0]["message"]
    happy = await client.post(
        base,
        json={
            "name": "Thank happy reviewers",
            "min_rating": 4,
            "max_rating": 5,
            "sources": ["google"],
            "template": "Thanks {{ reviewer.first_name }}! See you again at "
            "{{ location.name }}. - {{ brand.name }}",
        },
        headers=headers,
    )
    assert happy.status_code == 201, happy.text
    unhappy = await client.post(
        base,
        json={
            "name": "Apologise, with a human check",
            "max_rating": 2,
            "template": "We are sorry, {{ reviewer.first_name }}. Please call us.",
            "requires_approval": True,
            "position": 1,
        },
        headers=headers,
    )
    assert unhappy.status_code == 201
    listed = await client.get(base, headers=headers)
    assert [r["name"] for r in listed.json()] == [
        "Thank happy reviewers",
        "Apologise, with a human check",
    ]
    # Old reviews are not answered by a new rule.
    assert await reviews_of(client, headers, replied=False)
    assert all(r["reply_status"] == "none" for r in await reviews_of(client, headers))

    account = sandbox_id(shop.account)
    await sandbox.post(
        f"/_sandbox/reviews/google_business/{account}",
        json={"rating": 5, "text": "Wonderful!", "author": "Grace Hopper"},
    )
    await sandbox.post(
        f"/_sandbox/reviews/google_business/{account}",
        json={"rating": 1, "text": "Awful, cold food.", "author": "Alan Turing"},
    )
    await sandbox.post(
        f"/_sandbox/reviews/google_business/{account}",
        json={"rating": 3, "text": "Okay.", "author": "Ada Lovelace"},
    )
    collected = await shop.collect()
    assert collected.stored.new == 3
    assert len(collected.stored.auto_queued) == 1

    by_author = {r["author"]: r for r in await reviews_of(client, headers)}
    grace, alan, ada = (
        by_author["Grace Hopper"],
        by_author["Alan Turing"],
        by_author["Ada Lovelace"],
    )
    assert grace["reply_status"] == "queued"
    assert grace["reply_text"] == (
        f"Thanks Grace! See you again at Main Street. - {shop.brand['name']}"
    )
    assert grace["reply_origin"] == "auto"
    assert alan["reply_status"] == "pending_approval"
    assert alan["reply_text"] == "We are sorry, Alan. Please call us."
    assert ada["reply_status"] == "none"

    approved = await client.post(
        f"/v1/reviews/{alan['id']}/reply/approve",
        json={"text": "We are sorry, Alan. Please call us at 555-0100."},
        headers=headers,
    )
    assert approved.status_code == 202, approved.text
    assert approved.json()["reply_status"] == "queued"
    nothing = await client.post(f"/v1/reviews/{ada['id']}/reply/approve", json={},
                                headers=headers)  # fmt: skip
    assert nothing.status_code == 409

    # The sweep finds the auto-reply queued during collection; the approved one is already
    # queued by the API (the same job: not sent twice).
    await enqueue(arq_redis, SWEEP_JOB)
    await run_worker(arq_redis, settings)
    for who, text_ in (
        (grace, grace["reply_text"]),
        (alan, "We are sorry, Alan. Please call us at 555-0100."),
    ):
        shown = (await client.get(f"/v1/reviews/{who['id']}", headers=headers)).json()
        assert shown["reply_status"] == "sent"
        assert (await remote_review(sandbox, shop, who["external_id"]))["reply_text"] == text_


async def test_the_brand_decides_what_rating_needs_attention(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient, shop: Shop
) -> None:
    headers = shop.owner.headers
    settings_url = f"/v1/brands/{shop.brand['id']}/review-settings"
    assert (await client.get(settings_url, headers=headers)).json()["negative_rating"] == 2
    changed = await client.put(
        settings_url, json={"negative_rating": 3, "negative_sentiment": False}, headers=headers
    )
    assert changed.status_code == 200
    invalid = await client.put(settings_url, json={"negative_rating": 9}, headers=headers)
    assert invalid.status_code == 422

    await sandbox.post(
        f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}",
        json={"rating": 3, "text": "Fine, nothing special.", "author": "Jon Smith"},
    )
    await sandbox.post(
        f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}",
        json={"rating": 4, "text": "Terrible parking but great food", "author": "Kai Rossi"},
    )
    await shop.collect()
    attention = await client.get(
        f"/v1/locations/{shop.location['id']}/reviews/needs-attention", headers=headers
    )
    authors = [r["author"] for r in attention.json()["items"]]
    assert "Jon Smith" in authors  # 3 stars: at the brand's threshold
    assert "Kai Rossi" not in authors  # 4 stars; sentiment alone no longer counts here
    (jon,) = [r for r in attention.json()["items"] if r["author"] == "Jon Smith"]
    assert jon["attention_reason"] == "rated 3 of 5 (at or below 3)"
    async with admin_engine.connect() as conn:
        payloads = [
            r[0]
            for r in await conn.execute(
                text("SELECT payload FROM outbox_event WHERE type = 'review.negative' "
                     "AND subject_id = :id"), {"id": jon["id"]},
            )
        ]  # fmt: skip
    assert payloads == [
        {
            "source": "google_business",
            "external_id": jon["external_id"],
            "rating": 3,
            "sentiment": jon["sentiment_label"],
            "author": "Jon Smith",
            "reason": "rated 3 of 5 (at or below 3)",
        }
    ]


async def test_filters_pagination_and_csv_export(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    north = await create_group(client, owner, brand["id"], "North")
    google = await open_shop(client, app_db, redis, settings, owner=owner, brand=brand)
    facebook = await open_shop(
        client, app_db, redis, settings, "facebook", owner=owner, brand=brand
    )
    added = await client.post(
        f"/v1/location-groups/{north['id']}/members",
        json={"location_ids": [facebook.location["id"]]},
        headers=owner.headers,
    )
    assert added.status_code in (200, 201, 204), added.text
    everything = await reviews_of(client, owner.headers)
    assert len(everything) == 24

    pages, cursor = [], None
    while True:
        page = await client.get(
            "/v1/reviews", params={"limit": 5, **({"cursor": cursor} if cursor else {})},
            headers=owner.headers,
        )  # fmt: skip
        pages.append(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(pages) == 5
    assert [r["id"] for p in pages for r in p] == [r["id"] for r in everything]

    def ids(rows: list[dict[str, Any]]) -> set[str]:
        return {r["id"] for r in rows}

    by_source = await reviews_of(client, owner.headers, source="facebook")
    assert ids(by_source) == ids(r for r in everything if r["source"] == "facebook")
    by_group = await reviews_of(client, owner.headers, group_id=north["id"])
    assert ids(by_group) == ids(by_source)
    by_location = await reviews_of(client, owner.headers, location_id=google.location["id"])
    assert ids(by_location) == ids(r for r in everything if r["source"] == "google_business")
    low = await reviews_of(client, owner.headers, min_rating=1, max_rating=2)
    assert low
    assert ids(low) == ids(r for r in everything if r["rating"] is not None and r["rating"] <= 2)
    negative = await reviews_of(client, owner.headers, sentiment="negative")
    assert ids(negative) == ids(r for r in everything if r["sentiment_label"] == "negative")
    middle = sorted(r["created_at"] for r in everything)[12]
    recent = await reviews_of(client, owner.headers, since=middle)
    assert ids(recent) == ids(r for r in everything if r["created_at"] >= middle)
    older = await reviews_of(client, owner.headers, until=middle)
    assert ids(older) | ids(recent) == ids(everything)
    assert not ids(older) & ids(recent)
    bad = await client.get(
        "/v1/reviews", params={"min_rating": 4, "max_rating": 2}, headers=owner.headers
    )
    assert bad.status_code == 422

    export = await client.get(
        "/v1/reviews/export", params={"source": "facebook"}, headers=owner.headers
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["id"] for r in rows} == ids(by_source)
    first = next(r for r in by_source if r["id"] == rows[0]["id"])
    assert rows[0]["text"] == first["text"]
    assert rows[0]["rating"] == str(first["rating"])


async def test_another_agency_sees_none_of_it(
    client: httpx.AsyncClient, shop: Shop, sandbox: httpx.AsyncClient
) -> None:
    other = await sign_up(client)
    review = (await reviews_of(client, shop.owner.headers))[0]
    assert await reviews_of(client, other.headers) == []
    for method, url, body in (
        ("GET", f"/v1/reviews/{review['id']}", None),
        ("POST", f"/v1/reviews/{review['id']}/reply", {"text": "hi"}),
        ("GET", f"/v1/locations/{shop.location['id']}/reviews/needs-attention", None),
        ("GET", f"/v1/brands/{shop.brand['id']}/review-settings", None),
        ("GET", "/v1/reviews?location_id=" + shop.location["id"], None),
    ):
        answer = await client.request(method, url, json=body, headers=other.headers)
        assert answer.status_code == 404, (url, answer.text)
        assert review["text"] not in answer.text
    export = await client.get("/v1/reviews/export", headers=other.headers)
    assert export.status_code == 200
    assert len(export.text.strip().splitlines()) == 1  # the header only
