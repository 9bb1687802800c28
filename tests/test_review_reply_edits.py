"""Editing and deleting a review's reply through the API, carried to the platform sandbox by the
worker on the replies' own path (retries, checks before repeating); what each platform allows;
``needs_attention`` once a review is answered, and again once its reply is gone; sources named
as accounts name them (``google_business``), the old name still accepted as input."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
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
from tests.factories import Tenant, sign_up
from tests.support.access import invite_and_accept
from tests.support.review_collection import reviews_of, sandbox_id
from tests.support.reviews import Shop, open_shop, run_worker


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


@pytest.fixture
async def google(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> Shop:
    return await open_shop(client, app_db, redis, settings)


async def at_platform(sandbox: httpx.AsyncClient, shop: Shop, external_id: str) -> Any:
    platform = shop.account["platform"]
    listed = await sandbox.get(f"/_sandbox/reviews/{platform}/{sandbox_id(shop.account)}")
    return next(r for r in listed.json()["data"] if r["id"] == external_id)


async def angry_review(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, shop: Shop
) -> dict[str, Any]:
    """A new one-star review at the platform, collected: it needs attention."""
    platform = shop.account["platform"]
    added = await sandbox.post(
        f"/_sandbox/reviews/{platform}/{sandbox_id(shop.account)}",
        json={"rating": 1, "text": "Cold pizza and a rude cashier.", "author": "Rita Moreno"},
    )
    assert added.status_code == 201, added.text
    await shop.collect()
    (review,) = [
        r for r in await reviews_of(client, shop.owner.headers) if r["author"] == "Rita Moreno"
    ]
    assert review["needs_attention"] is True
    return review


async def shown(client: httpx.AsyncClient, headers: dict[str, str], review_id: str) -> Any:
    answer = await client.get(f"/v1/reviews/{review_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def attention_ids(client: httpx.AsyncClient, shop: Shop) -> tuple[set[str], set[str]]:
    """The location's needs-attention list, and the reviews list filtered the same way."""
    listed = await client.get(
        f"/v1/locations/{shop.location['id']}/reviews/needs-attention",
        params={"limit": 200},
        headers=shop.owner.headers,
    )
    filtered = await reviews_of(
        client, shop.owner.headers, needs_attention=True, location_id=shop.location["id"]
    )
    return {r["id"] for r in listed.json()["items"]}, {r["id"] for r in filtered}


async def staff_of(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, shop: Shop, role: str, email: str
) -> dict[str, str]:
    member = await invite_and_accept(
        client, admin_engine, shop.owner, email, role, location_id=shop.location["id"]
    )
    return {"Authorization": f"Bearer {member['access_token']}"}


async def test_a_reply_is_edited_at_google_once_and_answers_the_review_from_the_start(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    review = await angry_review(client, sandbox, google)
    assert {review["id"]} <= (await attention_ids(client, google))[0]
    staff = await staff_of(client, admin_engine, google, "location_staff", "ls-edit@ag.example")

    queued = await client.post(
        f"/v1/reviews/{review['id']}/reply", json={"text": "We are sorry, Rita."}, headers=staff
    )
    assert queued.status_code == 202, queued.text
    # Answered as soon as the reply is on its way: no longer in either needs-attention list.
    assert queued.json()["needs_attention"] is False
    listed, filtered = await attention_ids(client, google)
    assert review["id"] not in listed
    assert review["id"] not in filtered
    assert await run_worker(arq_redis, settings) >= 1
    sent = await shown(client, staff, review["id"])
    assert sent["reply_status"] == "sent"
    assert sent["needs_attention"] is False
    export = await client.get(
        "/v1/reviews/export", params={"needs_attention": "false"}, headers=google.owner.headers
    )
    (row,) = [r for r in csv.DictReader(io.StringIO(export.text)) if r["id"] == review["id"]]
    assert (row["needs_attention"], row["reply_status"]) == ("false", "sent")

    edited = await client.put(
        f"/v1/reviews/{review['id']}/reply",
        json={"text": "We are sorry, Rita. Please call us at 555-0100."},
        headers=staff,
    )
    assert edited.status_code == 202, edited.text
    assert edited.json()["reply_status"] == "queued"
    assert edited.json()["reply_action"] == "edit"
    assert edited.json()["needs_attention"] is False
    busy = await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Something else"}, headers=staff
    )
    assert busy.status_code == 409
    assert busy.json()["code"] == "reply_in_progress"

    assert await run_worker(arq_redis, settings) >= 1
    after = await shown(client, staff, review["id"])
    assert after["reply_status"] == "sent"
    assert after["reply_text"] == "We are sorry, Rita. Please call us at 555-0100."
    assert after["replied_at"] == sent["replied_at"]  # still answered when first answered
    remote = await at_platform(sandbox, google, review["external_id"])
    assert remote["reply_text"] == "We are sorry, Rita. Please call us at 555-0100."
    assert remote["reply_writes"] == 2  # posted once, edited once

    # The same text again changes nothing, at Chorus or at Google.
    again = await client.put(
        f"/v1/reviews/{review['id']}/reply",
        json={"text": " We are sorry, Rita. Please call us at 555-0100. "},
        headers=staff,
    )
    assert again.status_code == 202
    assert again.json()["reply_status"] == "sent"
    await run_worker(arq_redis, settings)
    assert (await at_platform(sandbox, google, review["external_id"]))["reply_writes"] == 2

    # Collected again: the platform shows what Chorus shows.
    collected = await google.collect()
    assert (collected.stored.new, collected.stored.updated) == (0, 0)

    # Who did what, and when: the audit log keeps each change.
    async with admin_engine.connect() as conn:
        actions = [
            row[0]
            for row in await conn.execute(
                text("SELECT action FROM audit_event WHERE object_id = :id ORDER BY occurred_at"),
                {"id": review["id"]},
            )
        ]
    assert actions == ["review.reply", "review.reply_edit"]


async def test_a_deleted_reply_leaves_google_and_the_review_needs_attention_again(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    review = await angry_review(client, sandbox, google)
    manager = await staff_of(client, admin_engine, google, "location_manager", "lm-del@ag.ex")
    nothing = await client.delete(f"/v1/reviews/{review['id']}/reply", headers=manager)
    assert nothing.status_code == 409
    assert nothing.json()["code"] == "no_reply"
    no_edit = await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Hello"}, headers=manager
    )
    assert no_edit.status_code == 409
    assert no_edit.json()["code"] == "no_reply"

    await client.post(f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry!"}, headers=manager)
    await run_worker(arq_redis, settings)
    assert (await shown(client, manager, review["id"]))["reply_status"] == "sent"

    deleting = await client.delete(f"/v1/reviews/{review['id']}/reply", headers=manager)
    assert deleting.status_code == 202, deleting.text
    assert deleting.json()["reply_action"] == "delete"
    assert deleting.json()["reply_status"] == "queued"
    assert deleting.json()["needs_attention"] is False  # still answered until it is gone
    await run_worker(arq_redis, settings)

    gone = await shown(client, manager, review["id"])
    assert gone["reply_status"] == "none"
    assert gone["reply_text"] is None
    assert gone["replied_at"] is None
    assert gone["needs_attention"] is True
    assert gone["attention_reason"] == "rated 1 of 5 (at or below 2)"
    listed, filtered = await attention_ids(client, google)
    assert review["id"] in listed
    assert review["id"] in filtered
    remote = await at_platform(sandbox, google, review["external_id"])
    assert remote["reply_text"] is None
    assert remote["reply_writes"] == 2
    # Collecting again does not bring it back, and the review can be answered afresh.
    await google.collect()
    assert (await shown(client, manager, review["id"]))["reply_status"] == "none"
    anew = await client.post(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Let us make it right."},
        headers=manager,
    )  # fmt: skip
    assert anew.status_code == 202, anew.text
    await run_worker(arq_redis, settings)
    remote = await at_platform(sandbox, google, review["external_id"])
    assert remote["reply_text"] == "Let us make it right."


async def test_facebook_edits_and_deletes_the_reply_comment(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    arq_redis: ArqRedis,
) -> None:
    shop = await open_shop(client, app_db, redis, settings, "facebook")
    review = await angry_review(client, sandbox, shop)
    headers = shop.owner.headers
    await client.post(f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry"}, headers=headers)
    await run_worker(arq_redis, settings)
    posted = await at_platform(sandbox, shop, review["external_id"])
    assert posted["reply_text"] == "Sorry"
    assert posted["reply_id"]

    edited = await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry, Rita."}, headers=headers
    )
    assert edited.status_code == 202, edited.text
    await run_worker(arq_redis, settings)
    remote = await at_platform(sandbox, shop, review["external_id"])
    assert remote["reply_text"] == "Sorry, Rita."
    assert remote["reply_id"] == posted["reply_id"]  # the same comment, edited
    assert (await shown(client, headers, review["id"]))["reply_status"] == "sent"

    deleted = await client.delete(f"/v1/reviews/{review['id']}/reply", headers=headers)
    assert deleted.status_code == 202, deleted.text
    await run_worker(arq_redis, settings)
    remote = await at_platform(sandbox, shop, review["external_id"])
    assert remote["reply_text"] is None
    assert remote["reply_writes"] == 3
    after = await shown(client, headers, review["id"])
    assert (after["reply_status"], after["needs_attention"]) == ("none", True)


async def test_an_edit_whose_answer_was_lost_is_checked_and_applied_once(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
) -> None:
    review = await angry_review(client, sandbox, google)
    headers = google.owner.headers
    await client.post(f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry"}, headers=headers)
    await run_worker(arq_redis, settings)
    await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry, truly."}, headers=headers
    )
    impatient = settings.model_copy(
        update={"outbound_read_timeout_seconds": 0.5, "outbound_total_timeout_seconds": 5.0}
    )
    sender = ReplySender(app_db, AccountLimiter(redis), impatient)
    await sandbox.put(
        "/_sandbox/faults/google_business",
        json={"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5},
    )
    lost = await sender.send(google.owner.agency_id, uuid.UUID(review["id"]))
    assert lost.outcome == "unconfirmed"
    assert lost.due_at is not None
    between = await shown(client, headers, review["id"])
    assert (between["reply_status"], between["needs_attention"]) == ("unconfirmed", False)
    await sandbox.put("/_sandbox/faults/google_business", json={})

    checked = await sender.send(google.owner.agency_id, uuid.UUID(review["id"]), now=lost.due_at)
    assert checked.outcome == "sent"
    remote = await at_platform(sandbox, google, review["external_id"])
    assert remote["reply_text"] == "Sorry, truly."
    assert remote["reply_writes"] == 2  # the edit reached Google once; the check saw it there


async def test_an_edit_google_refuses_leaves_the_reply_as_it_is_there(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    review = await angry_review(client, sandbox, google)
    headers = google.owner.headers
    await client.post(f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry"}, headers=headers)
    await run_worker(arq_redis, settings)
    too_long = "é" * 3000  # 3,000 characters, 6,000 bytes: over Google's 4,096 bytes
    queued = await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": too_long}, headers=headers
    )
    assert queued.status_code == 202
    await run_worker(arq_redis, settings)
    after = await shown(client, headers, review["id"])
    assert after["reply_status"] == "sent"
    assert after["reply_text"] == "Sorry"
    assert after["reply_error"].startswith("the reply was not edited: Google Business Profile")
    assert after["needs_attention"] is False
    remote = await at_platform(sandbox, google, review["external_id"])
    assert remote["reply_text"] == "Sorry"


async def _yelp_review(engine: AsyncEngine, shop: Shop) -> str:
    """A Yelp review at the shop's location (Yelp's API offers no replies at all)."""
    source_id, review_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, "
                "external_id) VALUES (:a, :s, :b, :l, 'yelp', 'biz-1')"
            ),
            {"a": shop.owner.agency_id, "s": source_id, "b": shop.brand["id"],
             "l": shop.location["id"]},
        )  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, source, "
                "external_id, rating, text, author, created_at, updated_at, sentiment_score, "
                "sentiment_label, needs_attention) VALUES (:a, :id, :b, :l, :s, 'yelp', 'y-1', "
                "1, 'Bad', 'Sam', now(), now(), -0.5, 'negative', true)"
            ),
            {"a": shop.owner.agency_id, "id": review_id, "b": shop.brand["id"],
             "l": shop.location["id"], "s": source_id},
        )  # fmt: skip
    return str(review_id)


async def test_a_platform_that_does_not_allow_it_is_named_and_nothing_is_queued(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, google: Shop
) -> None:
    review_id = await _yelp_review(admin_engine, google)
    headers = google.owner.headers
    for method, body, code in (
        ("POST", {"text": "Thanks"}, "replies_not_supported"),
        ("PUT", {"text": "Thanks"}, "reply_edit_not_supported"),
        ("DELETE", None, "reply_delete_not_supported"),
    ):
        answer = await client.request(
            method, f"/v1/reviews/{review_id}/reply", json=body, headers=headers
        )
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == code
        assert "Yelp does not allow" in answer.json()["detail"]
    after = await shown(client, headers, review_id)
    assert (after["reply_status"], after["needs_attention"]) == ("none", True)


async def test_who_may_edit_and_delete_and_other_agencies_see_nothing(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    review = await angry_review(client, sandbox, google)
    await client.post(
        f"/v1/reviews/{review['id']}/reply", json={"text": "Sorry"}, headers=google.owner.headers
    )
    await run_worker(arq_redis, settings)
    viewer = await invite_and_accept(
        client, admin_engine, google.owner, "bv-edit@ag.example", "brand_viewer",
        brand_id=google.brand["id"],
    )  # fmt: skip
    as_viewer = {"Authorization": f"Bearer {viewer['access_token']}"}
    other: Tenant = await sign_up(client)
    for method, body in (("PUT", {"text": "Changed"}), ("DELETE", None)):
        url = f"/v1/reviews/{review['id']}/reply"
        refused = await client.request(method, url, json=body, headers=as_viewer)
        assert refused.status_code == 403, refused.text
        assert refused.json()["missing_permission"] == "review.reply"
        hidden = await client.request(method, url, json=body, headers=other.headers)
        assert hidden.status_code == 404, hidden.text
        assert "Sorry" not in hidden.text
    empty = await client.put(
        f"/v1/reviews/{review['id']}/reply", json={"text": "   "}, headers=google.owner.headers
    )
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "body.text"
    remote = await at_platform(sandbox, google, review["external_id"])
    assert (remote["reply_text"], remote["reply_writes"]) == ("Sorry", 1)


async def test_sources_are_named_as_accounts_name_them_and_the_old_name_still_works(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    headers = google.owner.headers
    everything = await reviews_of(client, headers)
    assert {r["source"] for r in everything} == {google.account["platform"]} == {"google_business"}
    old_name = await reviews_of(client, headers, source="google")
    assert {r["id"] for r in old_name} == {r["id"] for r in everything}
    sources = await client.get(
        f"/v1/locations/{google.location['id']}/review-sources", headers=headers
    )
    assert [s["source"] for s in sources.json()] == ["google_business"]
    unknown = await client.get("/v1/reviews", params={"source": "myspace"}, headers=headers)
    assert unknown.status_code == 422

    # An auto-reply rule written with the old name is stored with the new one and still
    # answers new reviews on its own (replies the location edits are unaffected by it).
    rule = await client.post(
        f"/v1/brands/{google.brand['id']}/auto-reply-rules",
        json={"name": "Sorry", "max_rating": 2, "sources": ["google"],
              "template": "Sorry, {{ reviewer.first_name }}."},
        headers=headers,
    )  # fmt: skip
    assert rule.status_code == 201, rule.text
    assert rule.json()["sources"] == ["google_business"]
    await sandbox.post(
        f"/_sandbox/reviews/google_business/{sandbox_id(google.account)}",
        json={"rating": 1, "text": "Awful.", "author": "Tom Waits"},
    )
    collected = await google.collect()
    assert len(collected.stored.auto_queued) == 1
    (tom,) = [r for r in await reviews_of(client, headers) if r["author"] == "Tom Waits"]
    assert (tom["reply_status"], tom["reply_action"], tom["reply_origin"]) == (
        "queued",
        "post",
        "auto",
    )
    assert tom["needs_attention"] is False  # the auto-reply on its way answers it
    await enqueue(arq_redis, SWEEP_JOB)  # collected here, not by a job: the sweep finds it
    await run_worker(arq_redis, settings)
    remote = await at_platform(sandbox, google, tom["external_id"])
    assert (remote["reply_text"], remote["reply_writes"]) == ("Sorry, Tom.", 1)
