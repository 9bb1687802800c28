"""``POST /v1/campaigns/{id}/remind``: a brand manager reminds the people who have not
decided a campaign's waiting posts (issue #16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, sign_up
from tests.support.campaign_remind import (
    bearer,
    forget_last_reminder,
    reminder_mails,
    waiting_campaign,
)


def _url(campaign: dict[str, Any]) -> str:
    return f"/v1/campaigns/{campaign['id']}/remind"


async def test_only_the_managers_of_locations_still_waiting_are_mailed(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    approved = await client.post(
        f"/v1/posts/{s.posts[s.w.athens['id']]}/approve", headers=bearer(s.athens_manager)
    )
    assert approved.status_code == 200, approved.text
    before = await reminder_mails(admin_engine)

    started = datetime.now(UTC)
    answer = await client.post(_url(s.campaign), headers=s.w.owner.headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["mails"], body["posts"]) == (1, 1)
    next_at = datetime.fromisoformat(body["next_reminder_at"])
    assert started + timedelta(minutes=59) < next_at <= datetime.now(UTC) + timedelta(hours=1)
    mails = (await reminder_mails(admin_engine))[len(before) :]
    # Berlin's manager, not Athens' (it confirmed), not the owner or the brand manager.
    assert [m[0] for m in mails] == [s.berlin_email]
    assert mails[0][1] == "1 post waits for your approval"
    assert "Berlin Slice · facebook" in mails[0][2]
    assert "Athens Slice" not in mails[0][2]
    async with admin_engine.connect() as conn:
        audited = (
            await conn.execute(
                text(
                    "SELECT actor_id, object_type FROM audit_event "
                    "WHERE action = 'campaign.remind' AND object_id = :id"
                ),
                {"id": s.campaign["id"]},
            )
        ).all()
    assert [(str(a), t) for a, t in audited] == [(str(s.w.owner.user_id), "campaign")]


async def test_a_second_reminder_within_the_hour_is_refused_saying_when(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    first = await client.post(_url(s.campaign), headers=s.w.owner.headers)
    assert first.status_code == 200, first.text
    assert first.json()["mails"] == 2
    sent = len(await reminder_mails(admin_engine))

    again = await client.post(_url(s.campaign), headers=s.w.owner.headers)

    assert again.status_code == 429, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    problem = again.json()
    assert problem["code"] == "reminder_too_soon"
    assert problem["next_reminder_at"] == first.json()["next_reminder_at"][:19] + "+00:00"
    assert problem["next_reminder_at"][:16] in problem["detail"]
    assert 3500 <= int(again.headers["Retry-After"]) <= 3601
    assert len(await reminder_mails(admin_engine)) == sent  # nothing sent twice

    # An hour later it may be sent again.
    await forget_last_reminder(redis, s.w.owner.agency_id, s.campaign["id"])
    later = await client.post(_url(s.campaign), headers=s.w.owner.headers)
    assert later.status_code == 200, later.text
    assert len(await reminder_mails(admin_engine)) == sent + 2


async def test_nothing_waiting_is_a_conflict_and_sends_nothing(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    for loc, manager in ((s.w.athens, s.athens_manager), (s.w.berlin, s.berlin_manager)):
        done = await client.post(f"/v1/posts/{s.posts[loc['id']]}/approve", headers=bearer(manager))
        assert done.status_code == 200, done.text
    before = await reminder_mails(admin_engine)

    answer = await client.post(_url(s.campaign), headers=s.w.owner.headers)

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "nothing_waiting"
    assert await reminder_mails(admin_engine) == before
    # A post whose time passed no longer waits for anyone either.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE post SET status = 'needs_approval', "
                "scheduled_at = now() - interval '1 minute' WHERE id = :id"
            ),
            {"id": s.posts[s.w.berlin["id"]]},
        )
    late = await client.post(_url(s.campaign), headers=s.w.owner.headers)
    assert late.status_code == 409, late.text
    assert await reminder_mails(admin_engine) == before


async def test_another_agency_gets_404_and_a_brand_viewer_403(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    stranger = await sign_up(client)

    foreign = await client.post(_url(s.campaign), headers=stranger.headers)
    assert foreign.status_code == 404, foreign.text
    assert s.campaign["name"] not in foreign.text

    login = await client.post(
        "/v1/auth/login", json={"email": s.w.viewer_email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    viewer = await client.post(_url(s.campaign), headers=bearer(login.json()))
    assert viewer.status_code == 403, viewer.text
    # A location manager decides posts but does not change campaigns.
    manager = await client.post(_url(s.campaign), headers=bearer(s.berlin_manager))
    assert manager.status_code in (403, 404), manager.text
    assert await reminder_mails(admin_engine) == []

    # The brand manager may; and neither refusal used up the hour.
    login = await client.post(
        "/v1/auth/login", json={"email": s.w.manager_email, "password": PASSWORD}
    )
    allowed = await client.post(_url(s.campaign), headers=bearer(login.json()))
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["mails"] == 2


async def test_openapi_documents_the_problems() -> None:
    from services.api.app import create_app
    from shared.config import Settings

    spec = create_app(Settings(env="test", log_level="WARNING", log_json=True)).openapi()
    operation = spec["paths"]["/v1/campaigns/{campaign_id}/remind"]["post"]
    assert {"403", "404", "409", "429"} <= set(operation["responses"])
    assert operation["x-permission"] == "campaign.update"
