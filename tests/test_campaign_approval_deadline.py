"""A campaign's approval deadline (issue #16): "decide at least N hours before each post's
time". Each waiting post carries its own deadline (its time in its location's zone, less the
hours); at the deadline a post nobody decided is skipped, a decision after it skips the post,
the queues and the mails name the deadline, a reschedule moves it, and what cannot work is a
422 naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.approvals import service as approval_service
from shared.db import Database
from tests.support.access import invite_and_accept
from tests.support.campaign_remind import bearer, reminder_mails
from tests.support.campaigns import campaign_body, launch_and_fan_out
from tests.support.clock import TestClock
from tests.support.web_brand_campaigns import HeadOffice, head_office

HOURS = 48


def _at(clock: TestClock, days: int) -> str:
    """An instant ``days`` from now, to the minute (UTC)."""
    return (clock.now() + timedelta(days=days)).replace(second=0, microsecond=0).isoformat()


async def _managers(
    client: httpx.AsyncClient, engine: AsyncEngine, w: HeadOffice
) -> dict[str, dict[str, str]]:
    """A location manager at Athens and one at Berlin: location id → their bearer header."""
    out = {}
    for location in (w.athens, w.berlin):
        email = f"m-{uuid.uuid4().hex[:8]}@slice.example"
        who = await invite_and_accept(
            client, engine, w.owner, email, "location_manager", location_id=location["id"]
        )
        out[location["id"]] = bearer(who)
    return out


async def _waiting_campaign(
    client: httpx.AsyncClient,
    w: HeadOffice,
    worker_ctx: dict[str, Any],
    at: str,
    hours: int = HOURS,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Launched to the group (Athens, Berlin: Facebook connected), each post waiting for its
    location, decisions due ``hours`` before the posts' time."""
    body = campaign_body(
        w.brand["id"],
        w.template_id,
        audience={"kind": "groups", "group_ids": [w.group["id"]]},
        channels=["facebook"],
        schedule={"kind": "absolute", "at": at},
        approval_policy="location_confirm",
        approval_deadline_hours=hours,
    )
    created = await client.post("/v1/campaigns", json=body, headers=w.owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["approval_deadline_hours"] == hours
    await launch_and_fan_out(client, w.owner.headers, created.json(), worker_ctx, w.owner.agency_id)
    listed = await client.get(
        f"/v1/campaigns/{created.json()['id']}/posts", headers=w.owner.headers
    )
    assert listed.status_code == 200, listed.text
    posts = listed.json()["items"]
    assert [p["status"] for p in posts] == ["needs_approval", "needs_approval"], posts
    return created.json(), posts


async def _skip_overdue(app_db: Database, now: datetime) -> int:
    async with app_db.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('app.scan', 'post_dispatch', true)"))
        return await approval_service.skip_overdue(session, now)


async def test_a_post_nobody_decided_is_skipped_at_its_campaigns_deadline_not_at_its_time(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    app_db: Database,
    clock: TestClock,
) -> None:
    w = await head_office(client, admin_engine)
    managers = await _managers(client, admin_engine, w)
    at = _at(clock, 5)
    campaign, posts = await _waiting_campaign(client, w, worker_ctx, at)
    due = datetime.fromisoformat(at) - timedelta(hours=HOURS)
    for post in posts:
        seen = await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)
        assert datetime.fromisoformat(seen.json()["decide_by"]) == due
    for location in (w.athens, w.berlin):
        queue = await client.get(
            f"/v1/locations/{location['id']}/approvals", headers=managers[location["id"]]
        )
        assert queue.status_code == 200, queue.text
        assert [datetime.fromisoformat(i["deadline"]) for i in queue.json()["items"]] == [due]
    # The mail asking each manager says when to decide by, in the location's own time.
    reminded = await client.post(f"/v1/campaigns/{campaign['id']}/remind", headers=w.owner.headers)
    assert reminded.status_code == 200, reminded.text
    mails = await reminder_mails(admin_engine)
    assert len(mails) == 2, mails
    athens_due = due.astimezone(ZoneInfo("Europe/Athens")).strftime("%a %d %b %Y, %H:%M")
    athens_mail = next(body for _, _, body in mails if "Athens Slice" in body)
    assert f"Decide by {athens_due} (Europe/Athens)" in athens_mail
    assert "not decided by its deadline is skipped" in athens_mail

    # A minute before the deadline nothing is skipped; a minute after, both are, saying why.
    assert await _skip_overdue(app_db, due - timedelta(minutes=1)) == 0
    assert await _skip_overdue(app_db, due + timedelta(minutes=1)) == 2
    for post in posts:
        seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()
        assert seen["status"] == "skipped"
        assert seen["status_reason"] == "not approved by its campaign's deadline"


async def test_a_decision_after_the_deadline_skips_the_post_and_one_before_schedules_it(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    clock: TestClock,
) -> None:
    w = await head_office(client, admin_engine)
    managers = await _managers(client, admin_engine, w)
    # Due in five minutes (an access token lives fifteen: the clock moves within it).
    at = (clock.now() + timedelta(hours=2, minutes=5)).replace(second=0, microsecond=0)
    _, posts = await _waiting_campaign(client, w, worker_ctx, at.isoformat(), hours=2)
    first, second = posts
    on_time = await client.post(
        f"/v1/posts/{first['id']}/approve", headers=managers[first["location_id"]]
    )
    assert on_time.status_code == 200, on_time.text
    assert on_time.json()["status"] == "scheduled"

    clock.set(at - timedelta(hours=2) + timedelta(seconds=1))
    late = await client.post(
        f"/v1/posts/{second['id']}/approve", headers=managers[second["location_id"]]
    )
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "skipped"
    assert late.json()["status_reason"] == "approved after its campaign's deadline"


async def test_a_reschedule_moves_each_waiting_posts_deadline_with_its_time(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    clock: TestClock,
) -> None:
    w = await head_office(client, admin_engine)
    campaign, posts = await _waiting_campaign(client, w, worker_ctx, _at(clock, 5))
    later = _at(clock, 9)
    moved = await client.post(
        f"/v1/campaigns/{campaign['id']}/reschedule",
        json={"schedule": {"kind": "absolute", "at": later}},
        headers=w.owner.headers,
    )
    assert moved.status_code == 200, moved.text
    for post in posts:
        seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()
        assert datetime.fromisoformat(seen["decide_by"]) == datetime.fromisoformat(
            later
        ) - timedelta(hours=HOURS)

    # A new time whose deadline has already passed is refused, and nothing moves.
    too_soon = await client.post(
        f"/v1/campaigns/{campaign['id']}/reschedule",
        json={"schedule": {"kind": "absolute", "at": _at(clock, 1)}},
        headers=w.owner.headers,
    )
    assert too_soon.status_code == 422, too_soon.text
    assert too_soon.json()["errors"][0]["field"] == "body.schedule"
    assert too_soon.json()["errors"][0]["code"] == "deadline_passed"
    seen = (await client.get(f"/v1/posts/{posts[0]['id']}", headers=w.owner.headers)).json()
    assert seen["scheduled_at"] is not None
    assert datetime.fromisoformat(seen["scheduled_at"]) == datetime.fromisoformat(later)


async def test_a_deadline_that_cannot_work_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, clock: TestClock
) -> None:
    w = await head_office(client, admin_engine)

    async def create(**fields: Any) -> httpx.Response:
        body = campaign_body(
            w.brand["id"],
            w.template_id,
            channels=["facebook"],
            schedule={"kind": "absolute", "at": _at(clock, 3)},
            **fields,
        )
        return await client.post("/v1/campaigns", json=body, headers=w.owner.headers)

    for fields, code in (
        ({"approval_policy": "none", "approval_deadline_hours": 24}, "deadline_without_approval"),
        ({"approval_policy": "location_confirm", "approval_deadline_hours": 96}, "deadline_passed"),
    ):
        answer = await create(**fields)
        assert answer.status_code == 422, answer.text
        problem = answer.json()["errors"][0]
        assert (problem["field"], problem["code"]) == ("body.approval_deadline_hours", code)
    for hours in (-1, 337, 2**31, "24h", None, 1.5):
        answer = await create(approval_policy="location_confirm", approval_deadline_hours=hours)
        assert answer.status_code == 422, (hours, answer.text)
        assert answer.json()["errors"][0]["field"] == "body.approval_deadline_hours"
    listed = await client.get(
        "/v1/campaigns", params={"brand_id": w.brand["id"]}, headers=w.owner.headers
    )
    assert listed.json()["items"] == []
    # Without a deadline the default is at each post's own time.
    plain = await create(approval_policy="location_confirm")
    assert plain.status_code == 201, plain.text
    assert plain.json()["approval_deadline_hours"] == 0
