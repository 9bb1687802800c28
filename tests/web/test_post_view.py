"""One post's page over HTTP: what it says, who may do what to it, and cancel, reschedule and
retry as forms (post/redirect/get) through the API's services (browser run in
test_post_view_browser.py)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from shared.metrics import service as metrics_service
from shared.publishing.publisher import Publisher
from tests.support.post_world import ZONE, PostWorld, build, force, make_posts
from tests.support.publishing import cycle
from tests.support.social_accounts import connect
from tests.support.web import StatementCounter, hidden_value, sign_in

ATHENS = ZoneInfo(ZONE)


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> PostWorld:
    return await build(client, admin_engine, "post")


@pytest.fixture
async def manager(world: PostWorld, browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    signed = await sign_in(browser_client, world.manager_email)
    assert signed.status_code == 303, signed.text
    return browser_client


def soon(hours: int = 24) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


async def stored(engine: AsyncEngine, post_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = await conn.execute(text("SELECT * FROM post WHERE id = :id"), {"id": post_id})
        return dict(row.mappings().one())


async def act(web: httpx.AsyncClient, post_id: str, action: str, **fields: str) -> httpx.Response:
    """Opens the post's page and sends one of its forms, as a browser does."""
    page = await web.get(f"/posts/{post_id}")
    token = hidden_value(page.text, "csrf_token")
    return await web.post(f"/posts/{post_id}/{action}", data={"csrf_token": token, **fields})


def problem_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="problem"[^>]*id="{field}-problem">([^<]*)</p>', html)
    assert found, f"no problem next to {field}"
    return found.group(1)


async def test_the_page_shows_text_time_status_history_and_the_other_platforms(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    at = datetime(2031, 3, 12, 9, 0, tzinfo=ATHENS)
    facebook, x = await make_posts(client, world, ["facebook", "x"], at=at, offer="Καλημέρα 🍕")
    page = await manager.get(f"/posts/{facebook['id']}")
    assert page.status_code == 200, page.text
    assert "<h1>Facebook post</h1>" in page.text
    assert "Fresh pizza in Athens! Καλημέρα 🍕" in page.text
    assert "Wednesday, March 12, 2031" in page.text
    assert "9:00" in page.text
    assert "Scheduled" in page.text
    assert "It goes out at its time." in page.text
    assert "The brand does not require approval of location edits." in page.text
    assert f'href="/posts/{x["id"]}"' in page.text  # the same post on X, its text too
    assert page.text.count("Fresh pizza in Athens! Καλημέρα 🍕") == 2
    history = page.text[page.text.index("<h2>History</h2>") :]
    assert "Owner" in history  # the owner made it, by name
    assert 'action="/posts/' + facebook["id"] + '/reschedule"' in page.text
    assert 'action="/posts/' + facebook["id"] + '/cancel"' in page.text
    assert "/retry" not in page.text  # only a failed post is retried


async def test_staff_see_the_post_but_not_the_actions_and_may_not_act(
    client: httpx.AsyncClient,
    world: PostWorld,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    await sign_in(browser_client, world.staff_email)
    page = await browser_client.get(f"/posts/{made['id']}")
    assert page.status_code == 200
    assert "What you can do" not in page.text
    assert "/cancel" not in page.text
    assert "/reschedule" not in page.text
    refused = await act(browser_client, made["id"], "cancel")
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert (await stored(admin_engine, made["id"]))["status"] == "scheduled"


async def test_another_locations_or_agencys_post_is_the_404_page(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (theirs,) = await make_posts(client, world, ["x"], at=soon(), location=world.elsewhere)
    other = await build(client, admin_engine, "other-agency")
    (foreign,) = await make_posts(client, other, ["x"], at=soon())
    for post_id in (theirs["id"], foreign["id"], str(uuid.uuid4())):
        page = await manager.get(f"/posts/{post_id}")
        assert page.status_code == 404, post_id
        assert "text/html" in page.headers["content-type"]
        assert "Fresh pizza" not in page.text
        token = hidden_value(page.text, "csrf_token")
        for action in ("cancel", "reschedule", "retry"):
            refused = await manager.post(
                f"/posts/{post_id}/{action}",
                data={"csrf_token": token, "date": "2031-01-01", "time": "10:00"},
            )
            assert refused.status_code == 404, (post_id, action)
    assert (await stored(admin_engine, theirs["id"]))["status"] == "scheduled"
    assert (await stored(admin_engine, foreign["id"]))["status"] == "scheduled"
    not_an_id = await manager.get("/posts/not-a-post")
    assert not_an_id.status_code in (400, 404, 422)
    assert "text/html" in not_an_id.headers["content-type"]


async def test_cancel_then_again_and_without_a_token(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    no_token = await manager.post(f"/posts/{made['id']}/cancel", data={"reason": "x"})
    assert no_token.status_code == 403
    assert (await stored(admin_engine, made["id"]))["status"] == "scheduled"

    page = await manager.get(f"/posts/{made['id']}")
    token = hidden_value(page.text, "csrf_token")
    reason = "Κλειστά για γάμο — מסיבה 🎉"
    done = await manager.post(
        f"/posts/{made['id']}/cancel", data={"csrf_token": token, "reason": reason}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/posts/{made['id']}?done=cancelled"
    shown = await manager.get(done.headers["location"])
    assert "The post was cancelled; it will not go out." in shown.text
    assert "Cancelled" in shown.text
    assert reason in shown.text  # in the history, as typed
    assert "What you can do" not in shown.text
    assert (await stored(admin_engine, made["id"]))["status"] == "cancelled"

    # The same form sent again (a double click, a second tab): the page says why not.
    again = await manager.post(
        f"/posts/{made['id']}/cancel", data={"csrf_token": token, "reason": reason}
    )
    assert again.status_code == 409
    assert "already gone out or ended" in again.text
    changes = await client.get(f"/v1/posts/{made['id']}", headers=world.owner.headers)
    assert [h["to_status"] for h in changes.json()["history"]] == ["scheduled", "cancelled"]


async def test_a_cancel_reason_too_long_is_said_next_to_it(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    refused = await act(manager, made["id"], "cancel", reason="ω" * 10_000)
    assert refused.status_code == 422
    assert "under 500 characters" in problem_of(refused.text, "reason")
    assert (await stored(admin_engine, made["id"]))["status"] == "scheduled"
    nul = await act(manager, made["id"], "cancel", reason="a\x00b")
    assert nul.status_code in (303, 400, 422)
    assert "text/html" in nul.headers["content-type"] or nul.status_code == 303


async def test_reschedule_in_the_locations_time_and_its_problems(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    moved = await act(manager, made["id"], "reschedule", date="2031-06-01", time="10:15")
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"].endswith("?done=rescheduled")
    row = await stored(admin_engine, made["id"])
    assert row["scheduled_at"] == datetime(2031, 6, 1, 7, 15, tzinfo=UTC)  # Athens summer time
    shown = await manager.get(moved.headers["location"])
    assert "The post was moved to its new time." in shown.text
    assert "Sunday, June 1, 2031" in shown.text
    assert 'value="2031-06-01"' in shown.text
    assert 'value="10:15"' in shown.text

    yesterday = (datetime.now(ATHENS) - timedelta(days=1)).date().isoformat()
    cases = [
        ({"date": yesterday, "time": "10:00"}, "time", "has passed"),
        ({"date": "2031-13-01", "time": "10:00"}, "date", "Give a date"),
        ({"date": "", "time": ""}, "date", "Give a date"),
        ({"date": "2031-06-01", "time": "25:99"}, "time", "Give a time"),
        ({"date": "2031-06-01", "time": "10:00\x00"}, "time", "Give a time"),
        ({"date": "9999-12-31", "time": "23:30"}, "date", "before the year"),
        ({"date": "2031-03-30", "time": "03:30"}, "time", "does not exist"),  # clocks go on
        ({"date": "2" * 10_000, "time": "1" * 10_000}, "date", "Give a date"),
    ]
    for fields, where, says in cases:
        refused = await act(manager, made["id"], "reschedule", **fields)
        assert refused.status_code in (422, 400), (fields, refused.status_code)
        if refused.status_code == 422 and "\x00" not in fields["time"]:
            assert says in problem_of(refused.text, where), fields
    missing = await act(manager, made["id"], "reschedule")
    assert missing.status_code == 422
    assert "Give a date" in problem_of(missing.text, "date")
    assert "Give a time" in problem_of(missing.text, "time")
    assert (await stored(admin_engine, made["id"]))["scheduled_at"] == row["scheduled_at"]


async def test_retry_a_failed_post_and_one_that_may_be_out(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    failed, unsure = await make_posts(client, world, ["x", "facebook"], at=soon())
    for post_id, before in ((failed["id"], "publishing"), (unsure["id"], "unconfirmed")):
        await force(
            admin_engine,
            "UPDATE post SET status = 'failed', due_at = NULL, status_reason = :why WHERE id = :id",
            id=post_id,
            why="X refused this: X does not allow posting the same text twice",
        )
        await force(
            admin_engine,
            "INSERT INTO post_status_change (agency_id, id, post_id, from_status, to_status, "
            "actor_type, reason) SELECT agency_id, gen_random_uuid(), id, :before, 'failed', "
            "'system', status_reason FROM post WHERE id = :id",
            id=post_id,
            before=before,
        )
    page = await manager.get(f"/posts/{failed['id']}")
    assert "It did not go out." in page.text
    assert "X does not allow posting the same text twice" in page.text
    assert "/cancel" not in page.text
    assert "I checked" not in page.text
    retried = await act(manager, failed["id"], "retry")
    assert retried.status_code == 303
    shown = await manager.get(retried.headers["location"])
    assert "The post will be tried again." in shown.text
    assert (await stored(admin_engine, failed["id"]))["status"] == "scheduled"
    again = await act(manager, failed["id"], "retry")
    assert again.status_code == 409
    assert "Only a post that failed" in again.text

    careful = await manager.get(f"/posts/{unsure['id']}")
    assert "I checked: it is not on Facebook" in careful.text
    refused = await act(manager, unsure["id"], "retry")
    assert refused.status_code == 422
    assert "may post it twice" in problem_of(refused.text, "confirm_not_published")
    assert (await stored(admin_engine, unsure["id"]))["status"] == "failed"
    confirmed = await act(manager, unsure["id"], "retry", confirm_not_published="yes")
    assert confirmed.status_code == 303
    assert (await stored(admin_engine, unsure["id"]))["status"] == "scheduled"


async def test_a_post_being_sent_offers_nothing_and_refuses_changes(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    page = await manager.get(f"/posts/{made['id']}")
    token = hidden_value(page.text, "csrf_token")
    await force(admin_engine, "UPDATE post SET status = 'publishing' WHERE id = :id", id=made["id"])
    shown = await manager.get(f"/posts/{made['id']}")
    assert "Going out" in shown.text
    assert "What you can do" not in shown.text
    # A form opened before it started going out (another tab) is refused, and says why.
    refused = await manager.post(f"/posts/{made['id']}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "sending this post to the platform right now" in refused.text
    moved = await manager.post(
        f"/posts/{made['id']}/reschedule",
        data={"csrf_token": token, "date": "2031-06-01", "time": "10:00"},
    )
    assert moved.status_code == 409
    assert (await stored(admin_engine, made["id"]))["status"] == "publishing"


async def test_a_published_post_shows_its_link_and_numbers(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    publisher: Publisher,
) -> None:
    account = await connect(client, world.owner.headers, world.here["id"], "x")
    (made,) = await make_posts(client, world, ["x"], offer="Numbers")
    assert await cycle(app_db, publisher) == 1
    page = await manager.get(f"/posts/{made['id']}")
    assert "Published" in page.text
    assert "It is on the platform." in page.text
    link = re.search(r'<a href="([^"]+)" rel="noopener noreferrer">See it on X</a>', page.text)
    assert link
    assert link.group(1).startswith("http")
    assert "Its numbers are read from X once a day; none yet." in page.text
    collected = await metrics_service.collect_account(
        app_db, settings, world.owner.agency_id, uuid.UUID(account["id"])
    )
    assert collected.posts == 1
    numbers = await client.get(f"/v1/posts/{made['id']}/metrics", headers=world.owner.headers)
    page = await manager.get(f"/posts/{made['id']}")
    table = page.text[page.text.index('<table class="numbers">') :]
    impressions = numbers.json()["impressions"]
    assert f'<th scope="row">Impressions</th><td>{impressions:,}</td>' in table
    assert "Reach" not in table  # X does not give it


async def test_a_link_that_is_not_http_is_not_made_a_link(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    await force(
        admin_engine,
        "UPDATE post SET status = 'published', permalink = 'javascript:alert(1)', "
        'media = \'[{"kind": "image", "url": "javascript:alert(2)"}]\' WHERE id = :id',
        id=made["id"],
    )
    page = await manager.get(f"/posts/{made['id']}")
    assert page.status_code == 200
    assert 'href="javascript:' not in page.text
    assert "javascript:alert(1)" in page.text  # shown as text


async def test_a_long_history_runs_as_many_queries_as_a_short_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (made,) = await make_posts(client, world, ["x"], at=soon())
    with StatementCounter(app.state.db.engine) as short:
        await manager.get(f"/posts/{made['id']}")
    await force(
        admin_engine,
        "INSERT INTO post_status_change (agency_id, id, post_id, from_status, to_status, "
        "actor_type, actor_id, reason) SELECT p.agency_id, gen_random_uuid(), p.id, "
        "'scheduled', 'scheduled', 'user', m.user_id, 'rescheduled ' || n "
        "FROM post p, generate_series(1, 40) AS n, membership m "
        "WHERE p.id = :id AND m.agency_id = p.agency_id",
        id=made["id"],
    )
    with StatementCounter(app.state.db.engine) as long:
        page = await manager.get(f"/posts/{made['id']}")
    assert page.text.count("rescheduled ") >= 40 * 3  # each of the three members, by name
    assert long.count == short.count, long.statements


async def test_the_post_page_speaks_greek_and_says_chorus_reasons_in_it(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    (made,) = await make_posts(client, world, ["facebook"], at=soon())
    moved = await act(manager, made["id"], "reschedule", date="2031-06-01", time="10:15")
    assert moved.status_code == 303
    page = await manager.get(f"/posts/{made['id']}", headers={"Accept-Language": "el"})
    assert '<html lang="el">' in page.text
    assert "Ανάρτηση στο Facebook" in page.text
    assert "Η μάρκα δεν απαιτεί έγκριση" in page.text
    assert "Μετακινήθηκε στις 1/6/31, 10:15\u202fπ.μ." in page.text  # in Athens time
    assert "Κυριακή 1 Ιουνίου 2031" in page.text
