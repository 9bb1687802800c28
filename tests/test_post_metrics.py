"""Per-post metrics of Chorus's own posts: published through the real pipeline to the platform
sandbox, collected with the account's daily metrics, and shown by the API as the platform
serves them."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.metrics import service
from shared.metrics.service import Outcome
from shared.publishing.publisher import Publisher
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount
from tests.factories import sign_up
from tests.support.publishing import Shop, cycle, post
from tests.support.social_accounts import connect

NUMBERS = ("impressions", "reach", "engagements", "likes", "comments", "shares", "clicks", "views")


async def _token(
    app_db: Database, settings: Settings, agency_id: uuid.UUID, account_id: str
) -> str:
    async with app_db.transaction(agency_id) as session:
        account = (
            await session.execute(
                select(SocialAccount).where(SocialAccount.id == uuid.UUID(account_id))
            )
        ).scalar_one()
        auth = sealing.account_auth(account, keyring_from_settings(settings))
    return auth.access_token.reveal()


async def _served_by_x(sandbox: httpx.AsyncClient, token: str, external_id: str) -> dict[str, int]:
    """What X serves for the post, read straight from the sandbox."""
    answer = await sandbox.get(
        f"/x/2/tweets/{external_id}",
        params={"tweet.fields": "public_metrics"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"]["public_metrics"])


async def _served_by_facebook(
    sandbox: httpx.AsyncClient, token: str, external_id: str
) -> dict[str, Any]:
    answer = await sandbox.get(
        f"/facebook/v21.0/{external_id}/insights",
        params={
            "metric": "post_impressions,post_impressions_unique,post_clicks,"
            "post_reactions_by_type_total"
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return {s["name"]: s["values"][0]["value"] for s in answer.json()["data"]}


async def _published(
    client: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    shop: Shop,
    offer: str,
    platform: str = "x",
) -> dict[str, Any]:
    made = await post(client, shop, platform, offer)
    assert await cycle(app_db, publisher) == 1
    shown = await client.get(f"/v1/posts/{made['id']}", headers=shop.owner.headers)
    assert shown.json()["status"] == "published"
    return dict(shown.json())


async def _metrics(client: httpx.AsyncClient, shop: Shop, post_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/posts/{post_id}/metrics", headers=shop.owner.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_published_posts_numbers_show_as_the_platform_serves_them(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    first = await _published(client, app_db, publisher, shop, "2 for 1")
    second = await _published(client, app_db, publisher, shop, "Free drink")

    before = await _metrics(client, shop, first["id"])
    assert before == {
        "post_id": first["id"],
        "platform": "x",
        **dict.fromkeys(NUMBERS),
        "collected_at": None,
    }

    result = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    assert result.outcome is Outcome.COLLECTED
    assert result.days > 0
    assert result.posts == 2

    token = await _token(app_db, settings, shop.owner.agency_id, account["id"])
    shown_first: dict[str, Any] = {}
    for made in (first, second):
        served = await _served_by_x(sandbox, token, made["external_id"])
        shown = await _metrics(client, shop, made["id"])
        assert shown["platform"] == "x"
        assert shown["collected_at"] is not None
        assert shown["impressions"] == served["impression_count"]
        assert shown["likes"] == served["like_count"]
        assert shown["comments"] == served["reply_count"]
        assert shown["shares"] == served["retweet_count"] + served["quote_count"]
        assert shown["engagements"] == (
            served["like_count"]
            + served["retweet_count"]
            + served["reply_count"]
            + served["quote_count"]
        )
        assert (shown["reach"], shown["clicks"], shown["views"]) == (None, None, None)
        shown_first = shown_first or shown

    # Collected again: the same one row per post, read anew.
    again = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    assert again.posts == 2
    later = await _metrics(client, shop, first["id"])
    assert later["collected_at"] > shown_first["collected_at"]
    assert {k: later[k] for k in NUMBERS} == {k: shown_first[k] for k in NUMBERS}
    async with app_db.transaction(shop.owner.agency_id) as session:
        rows = await session.scalar(text("SELECT count(*) FROM post_metric"))
    assert rows == 2


async def test_another_agency_cannot_see_a_posts_numbers(
    client: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await _published(client, app_db, publisher, shop, "Secret deal")
    await service.collect_account(app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"]))
    other = await sign_up(client)
    answer = await client.get(f"/v1/posts/{made['id']}/metrics", headers=other.headers)
    assert answer.status_code == 404
    assert "impressions" not in answer.text


async def test_old_posts_are_no_longer_followed(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await _published(client, app_db, publisher, shop, "Last month")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET published_at = now() - interval '31 days' WHERE id = :id"),
            {"id": made["id"]},
        )
    result = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    assert result.outcome is Outcome.COLLECTED
    assert result.posts == 0
    assert (await _metrics(client, shop, made["id"]))["collected_at"] is None


async def test_a_failing_post_lookup_does_not_fail_the_accounts_daily_numbers(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await _published(client, app_db, publisher, shop, "Refused lookup")
    async with admin_engine.begin() as conn:  # X refuses a lookup of an id that is no number
        await conn.execute(
            text("UPDATE post SET external_id = 'not-a-tweet' WHERE id = :id"), {"id": made["id"]}
        )
    result = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    assert result.outcome is Outcome.COLLECTED
    assert result.days > 0
    assert result.posts == 0
    async with admin_engine.connect() as conn:
        days = await conn.scalar(
            text("SELECT count(*) FROM daily_metric WHERE account_id = :a"), {"a": account["id"]}
        )
    assert days == result.days
    listed = await client.get(
        f"/v1/locations/{shop.location['id']}/social-accounts", headers=shop.owner.headers
    )
    assert [a["status"] for a in listed.json()] == ["connected"]
    assert (await _metrics(client, shop, made["id"]))["collected_at"] is None


async def test_a_facebook_posts_insights_show_through_the_api(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "facebook")
    made = await _published(client, app_db, publisher, shop, "Page deal", "facebook")
    result = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    assert (result.outcome, result.posts) == (Outcome.COLLECTED, 1)
    token = await _token(app_db, settings, shop.owner.agency_id, account["id"])
    served = await _served_by_facebook(sandbox, token, made["external_id"])
    shown = await _metrics(client, shop, made["id"])
    reactions = served["post_reactions_by_type_total"]
    assert shown["platform"] == "facebook"
    assert shown["impressions"] == served["post_impressions"]
    assert shown["reach"] == served["post_impressions_unique"]
    assert shown["clicks"] == served["post_clicks"]
    assert shown["likes"] == reactions.get("like", 0)
    assert shown["engagements"] == sum(reactions.values()) + served["post_clicks"]


def _seed(rate: float, clean_calls: int) -> int:
    """A fault seed whose first ``clean_calls`` rolls pass and the next one faults."""
    for seed in range(10_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(clean_calls + 1)]
        if all(d >= rate for d in draws[:-1]) and draws[-1] < rate:
            return seed
    raise AssertionError("no seed found")


async def test_a_token_refused_on_the_post_lookup_flags_the_account_and_keeps_the_days(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await _published(client, app_db, publisher, shop, "Revoked later")
    # The account's days take one timeline call; the post lookup after it is refused.
    await sandbox.put(
        "/_sandbox/faults/x",
        json={"error_rates": {"auth_revoked": 0.5}, "seed": _seed(0.5, 1)},
    )
    result = await service.collect_account(
        app_db, settings, shop.owner.agency_id, uuid.UUID(account["id"])
    )
    await sandbox.put("/_sandbox/faults/x", json={})
    assert result.outcome is Outcome.COLLECTED
    assert result.days > 0
    assert result.posts == 0
    async with admin_engine.connect() as conn:
        days = await conn.scalar(
            text("SELECT count(*) FROM daily_metric WHERE account_id = :a"), {"a": account["id"]}
        )
    assert days == result.days
    listed = await client.get(
        f"/v1/locations/{shop.location['id']}/social-accounts", headers=shop.owner.headers
    )
    assert [a["status"] for a in listed.json()] == ["needs_reconnect"]
    assert (await _metrics(client, shop, made["id"]))["collected_at"] is None
