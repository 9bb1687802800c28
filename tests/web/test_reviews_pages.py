"""The reviews pages as a location's people use them, through the forms a browser posts
(``browser_client`` keeps cookies; every form carries its CSRF token): the list (newest first,
filters, keyset pages, dates in the location's zone), one review answered from a brand's
reply template, the reply carried to the platform sandbox by the worker, edited and deleted,
a failed reply's reason; another location's or agency's review is the 404 page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from tests.support.access import invite_and_accept
from tests.support.review_collection import sandbox_id
from tests.support.reviews import Shop, open_shop, run_worker
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_reviews import (
    BASE,
    angry_review,
    member_of,
    write_reviews,
    yelp_place,
)


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


def review_ids(page: str) -> list[str]:
    return re.findall(r'<a href="/reviews/([0-9a-f-]{36})">', page)


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return unescape(found.group(1)) if found else None


async def post_form(
    web: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Posts a form of the page as the browser would: the token the page carries."""
    token = hidden_value((await web.get(page_path)).text, "csrf_token")
    return await web.post(action, data={**data, "csrf_token": token})


def problem_next_to(page: str, field: str) -> str:
    found = re.search(rf'<p class="problem" id="{field}-problem">([^<]*)</p>', page)
    assert found, f"no problem next to {field}"
    return unescape(found.group(1))


# The list -----------------------------------------------------------------------------------


async def test_the_list_is_newest_first_in_pages_with_stars_in_words_and_local_dates(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    place = await yelp_place(client, admin_engine)
    written = await write_reviews(admin_engine, place, 25)
    await sign_in(
        browser_client, await member_of(client, admin_engine, place.owner, place.location["id"])
    )

    first = await browser_client.get("/reviews")
    assert first.status_code == 200
    newest_first = [str(r["id"]) for r in reversed(written)]
    assert review_ids(first.text) == newest_first[:20]
    assert "Reviewer 024" in first.text  # the newest, at 03:30 UTC on Mar 2 ...
    assert "Mar 1, 2026, 9:30\u202fPM" in first.text  # ... is Mar 1, 21:30 in Chicago
    assert "5 stars out of 5" in first.text
    assert "1 star out of 5" in first.text
    assert "on Yelp" in first.text
    assert "Not answered" in first.text

    older = next_link(first.text)
    assert older is not None
    assert "cursor=" in older
    second = await browser_client.get(older)
    assert review_ids(second.text) == newest_first[20:]
    assert next_link(second.text) is None
    assert 'href="/reviews"' in second.text  # back to the newest


async def test_filters_by_rating_source_and_needing_an_answer_keep_through_the_pages(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    place = await yelp_place(client, admin_engine)
    written = await write_reviews(admin_engine, place, 60)
    await sign_in(
        browser_client, await member_of(client, admin_engine, place.owner, place.location["id"])
    )

    ones = await browser_client.get("/reviews?rating=1")
    want = [str(r["id"]) for r in reversed(written) if r["rating"] == 1]
    assert review_ids(ones.text) == want  # 12 of them: one page
    assert '<option value="1" selected>' in ones.text

    unanswered = await browser_client.get("/reviews?needs_answer=1")
    want = [str(r["id"]) for r in reversed(written) if r["rating"] <= 2]
    assert review_ids(unanswered.text) == want[:20]
    assert "Needs an answer" in unanswered.text
    follow = next_link(unanswered.text)
    assert follow is not None
    assert "needs_answer=1" in follow
    assert review_ids((await browser_client.get(follow)).text) == want[20:]

    assert review_ids((await browser_client.get("/reviews?source=facebook")).text) == []
    none = await browser_client.get("/reviews?source=facebook")
    assert "No review matches these filters." in none.text
    assert len(review_ids((await browser_client.get("/reviews?source=yelp")).text)) == 20


async def test_odd_filters_are_shown_as_problems_next_to_them(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    place = await yelp_place(client, admin_engine)
    await write_reviews(admin_engine, place, 3)
    await sign_in(
        browser_client, await member_of(client, admin_engine, place.owner, place.location["id"])
    )
    for query, field in (
        ("rating=9", "rating"),
        ("rating=99999999999999999999", "rating"),
        ("source=myspace", "source"),
        ("source=%D7%A9%D7%9C%D7%95%D7%9D", "source"),
    ):
        answer = await browser_client.get(f"/reviews?{query}")
        assert answer.status_code == 422, query
        assert problem_next_to(answer.text, field)
        assert review_ids(answer.text) == []
    nul = await browser_client.get("/reviews?rating=%00")  # refused before any page
    assert nul.status_code == 400
    assert nul.headers["content-type"].startswith("text/html")
    broken = await browser_client.get("/reviews?cursor=not-a-cursor")
    assert broken.status_code == 400
    assert "Something in that request was wrong" in broken.text
    assert (
        await browser_client.get("/reviews?rating=2&source=yelp&needs_answer=on")
    ).status_code == 200


async def test_the_list_runs_as_many_statements_for_200_reviews_as_for_10(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    place = await yelp_place(client, admin_engine)
    await write_reviews(admin_engine, place, 10)
    await sign_in(
        browser_client, await member_of(client, admin_engine, place.owner, place.location["id"])
    )
    await browser_client.get("/reviews")  # warm
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/reviews")).status_code == 200
    await write_reviews(admin_engine, place, 190, start=BASE + timedelta(days=30))
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/reviews")
        assert len(review_ids(page.text)) == 20
    assert many.count == few.count, many.statements
    with StatementCounter(app.state.db.engine) as filtered:
        page = await browser_client.get("/reviews?needs_answer=1&rating=1&source=yelp")
        assert len(review_ids(page.text)) == 20
    assert filtered.count == few.count, filtered.statements


async def test_another_locations_or_agencys_review_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    mine = await yelp_place(client, admin_engine)
    (my_review,) = await write_reviews(admin_engine, mine, 1)
    neighbour = await yelp_place(client, admin_engine, mine.owner, mine.brand)
    (their_review,) = await write_reviews(admin_engine, neighbour, 1)
    stranger = await yelp_place(client, admin_engine)
    (foreign_review,) = await write_reviews(admin_engine, stranger, 1)
    await sign_in(
        browser_client, await member_of(client, admin_engine, mine.owner, mine.location["id"])
    )

    assert (await browser_client.get(f"/reviews/{my_review['id']}")).status_code == 200
    for review_id in (their_review["id"], foreign_review["id"], uuid.uuid4(), "not-an-id"):
        shown = await browser_client.get(f"/reviews/{review_id}")
        assert shown.status_code == 404, review_id
        assert "Page not found" in shown.text
        posted = await post_form(
            browser_client, f"/reviews/{my_review['id']}", f"/reviews/{review_id}/reply",
            {"text": "Not yours to answer"},
        )  # fmt: skip
        assert posted.status_code == 404
    for review in (their_review, foreign_review):
        async with admin_engine.connect() as conn:
            status = await conn.scalar(
                text("SELECT reply_status FROM review WHERE id = :id"), {"id": review["id"]}
            )
        assert status == "none"
    # nor does the list show them
    listed = await browser_client.get("/reviews")
    assert review_ids(listed.text) == [str(my_review["id"])]


async def test_yelp_reviews_are_answered_at_yelp_and_a_person_with_no_location_sees_none(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    place = await yelp_place(client, admin_engine)
    (review,) = await write_reviews(admin_engine, place, 1, rating=1)
    await sign_in(
        browser_client, await member_of(client, admin_engine, place.owner, place.location["id"])
    )
    shown = await browser_client.get(f"/reviews/{review['id']}")
    assert "Yelp does not allow replies through Chorus" in shown.text
    assert 'action="/reviews/' not in shown.text  # no reply form
    refused = await post_form(
        browser_client, f"/reviews/{review['id']}", f"/reviews/{review['id']}/reply",
        {"text": "Thanks"},
    )  # fmt: skip
    assert refused.status_code == 409
    assert "does not allow replies" in refused.text

    viewer_email = f"viewer-{uuid.uuid4().hex[:8]}@brand.example"
    await invite_and_accept(
        client, admin_engine, place.owner, viewer_email, "brand_viewer",
        brand_id=place.brand["id"],
    )  # fmt: skip
    await sign_in(browser_client, viewer_email)
    page = await browser_client.get("/reviews")
    assert page.status_code == 200
    assert "You have no location to look after yet." in page.text
    assert (await browser_client.get(f"/reviews/{review['id']}")).status_code == 404


# Answering --------------------------------------------------------------------------------


@pytest.fixture
async def google(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> Shop:
    return await open_shop(client, app_db, redis, settings)


async def at_platform(
    sandbox: httpx.AsyncClient, shop: Shop, review_id: str, client: httpx.AsyncClient
) -> Any:
    shown = await client.get(f"/v1/reviews/{review_id}", headers=shop.owner.headers)
    external = shown.json()["external_id"]
    listed = await sandbox.get(f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}")
    return next(r for r in listed.json()["data"] if r["id"] == external)


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="text"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert found, "no reply box"
    return unescape(found.group(1))


async def test_a_review_is_answered_from_a_template_sent_edited_and_deleted(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    rules = f"/v1/brands/{google.brand['id']}/auto-reply-rules"
    apology = await client.post(
        rules,
        json={
            "name": "Apology",
            "max_rating": 2,
            "requires_approval": True,
            "template": "Sorry, {{ reviewer.first_name }}. Call {{ location.name }}.",
        },
        headers=google.owner.headers,
    )
    assert apology.status_code == 201, apology.text
    thanks = await client.post(
        rules,
        json={"name": "Thanks", "min_rating": 4, "template": "Thanks {{ reviewer.name }}!"},
        headers=google.owner.headers,
    )
    assert thanks.status_code == 201, thanks.text
    review_id = await angry_review(client, sandbox, google, "Σοφία Παπαδοπούλου")
    # the rule answered it with a draft waiting for approval: delete the draft first
    staff = await member_of(
        client, admin_engine, google.owner, google.location["id"], "location_staff"
    )
    await sign_in(browser_client, staff)
    page = f"/reviews/{review_id}"
    shown = await browser_client.get(page)
    assert "Draft waiting for approval" in shown.text
    assert textarea(shown.text) == "Sorry, Σοφία. Call Main Street."
    deleted = await post_form(browser_client, page, f"{page}/reply/delete", {})
    assert deleted.status_code == 303

    shown = await browser_client.get(page)
    assert "Not answered" in shown.text
    assert ">Apology</option>" in shown.text
    assert ">Thanks</option>" not in shown.text  # for 4 and 5 stars only
    assert 'data-text="Sorry, Σοφία. Call Main Street."' in shown.text
    chosen = await browser_client.get(f"{page}?template={apology.json()['id']}")
    assert textarea(chosen.text) == "Sorry, Σοφία. Call Main Street."
    odd = await browser_client.get(f"{page}?template=nonsense")  # an odd choice: an empty box
    assert odd.status_code == 200
    assert textarea(odd.text) == ""

    # without the form's token: refused, nothing queued
    refused = await browser_client.post(f"{page}/reply", data={"text": "Hi"})
    assert refused.status_code == 403
    for typed, problem in (
        ("   ", "Write the reply's text."),
        ("x" * 10_000, "Keep the reply to 4,000 characters (this one has 10,000)."),
    ):
        answer = await post_form(browser_client, page, f"{page}/reply", {"text": typed})
        assert answer.status_code == 422
        assert problem in problem_next_to(answer.text, "text")
    nul = await post_form(browser_client, page, f"{page}/reply", {"text": "bad \x00 byte"})
    assert nul.status_code == 400  # refused before any route, as the API refuses it
    missing = await post_form(browser_client, page, f"{page}/reply", {})
    assert missing.status_code == 422
    assert "Not answered" in (await browser_client.get(page)).text

    reply = "Λυπούμαστε, Σοφία 🙏 — שלום. Call us."
    sent = await post_form(browser_client, page, f"{page}/reply", {"text": reply})
    assert sent.status_code == 303
    assert sent.headers["location"] == page
    twice = await post_form(browser_client, page, f"{page}/reply", {"text": reply})
    assert twice.status_code == 303  # a double submit is the same reply, not a second one
    other = await post_form(browser_client, page, f"{page}/reply", {"text": "Another"})
    assert other.status_code == 409
    assert "already on its way" in other.text
    on_its_way = await browser_client.get(page)
    assert "Reply on its way" in on_its_way.text
    assert "Posting the reply" in on_its_way.text
    assert 'action="/reviews/' not in on_its_way.text.split("Your reply", 1)[1]

    await run_worker(arq_redis, settings)
    done = await browser_client.get(page)
    assert "Reply sent" in done.text
    assert textarea(done.text) == reply  # to edit, at Google
    remote = await at_platform(sandbox, google, review_id, client)
    assert remote["reply_text"] == reply

    edited = await post_form(
        browser_client, page, f"{page}/reply/edit", {"text": reply + " Thanks"}
    )
    assert edited.status_code == 303
    assert "Changing the reply" in (await browser_client.get(page)).text
    await run_worker(arq_redis, settings)
    assert (await at_platform(sandbox, google, review_id, client))[
        "reply_text"
    ] == reply + " Thanks"

    removed = await post_form(browser_client, page, f"{page}/reply/delete", {})
    assert removed.status_code == 303
    again = await post_form(browser_client, page, f"{page}/reply/delete", {})
    assert again.status_code == 303  # the second click of a double click
    await run_worker(arq_redis, settings)
    final = await browser_client.get(page)
    assert "Not answered" in final.text
    assert "Needs an answer" in final.text
    assert not (await at_platform(sandbox, google, review_id, client)).get("reply_text")


async def test_a_failed_reply_shows_why_and_can_be_sent_again(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    google: Shop,
    arq_redis: ArqRedis,
    settings: Settings,
) -> None:
    review_id = await angry_review(client, sandbox, google, "Rita Moreno")
    await sign_in(
        browser_client, await member_of(client, admin_engine, google.owner, google.location["id"])
    )
    page = f"/reviews/{review_id}"
    posted = await post_form(browser_client, page, f"{page}/reply", {"text": "Sorry, Rita."})
    assert posted.status_code == 303
    await sandbox.put(
        "/_sandbox/faults/google_business", json={"error_rates": {"auth_revoked": 1.0}}
    )
    await run_worker(arq_redis, settings)
    await sandbox.put("/_sandbox/faults/google_business", json={})
    failed = await browser_client.get(page)
    assert "Reply failed" in failed.text
    assert "Why:" in failed.text
    assert "Reconnect" in failed.text
    assert textarea(failed.text) == "Sorry, Rita."  # ready to send again
    listed = await browser_client.get("/reviews?needs_answer=1")
    assert review_id in review_ids(listed.text)
