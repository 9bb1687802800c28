"""Reviews across a brand's locations (issue #16), as head office uses them through the forms
a browser posts: the list (needing an answer first, then newest first; filters by location,
rating, source and needing an answer; keyset pages), one review answered from the list (the
location's reply flow at /brand/reviews/{id}), a brand viewer who reads but cannot answer,
another brand's or agency's review as the 404 page, the auto-reply rules (added, refused with
the problem next to its field, changed, deleted; a plan without them: the 402 page), the same
statements for a few reviews as for many, and Greek."""

from __future__ import annotations

import re
from html import unescape

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_insights import from_google, head_office, on_plan, reviewed_place
from tests.support.web_reviews import BASE, write_reviews, yelp_place


def review_ids(page: str) -> list[str]:
    return re.findall(r'<a href="/brand/reviews/([0-9a-f-]{36})">', page)


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return unescape(found.group(1)) if found else None


def problem_next_to(page: str, field: str) -> str:
    found = re.search(rf'<p class="problem" id="{field}-problem">([^<]*)</p>', page)
    assert found, f"no problem next to {field}"
    return unescape(found.group(1))


async def post_form(
    web: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str | list[str]]
) -> httpx.Response:
    """Posts a form of the page as the browser would: the token the page carries."""
    token = hidden_value((await web.get(page_path)).text, "csrf_token")
    return await web.post(action, data={**data, "csrf_token": token})


async def two_places(client: httpx.AsyncClient, engine: AsyncEngine):  # type: ignore[no-untyped-def]
    office = await head_office(client, engine)
    nyc = await reviewed_place(engine, office, office.world.nyc)
    boston = await reviewed_place(engine, office, office.world.boston)
    return office, nyc, boston


async def test_needing_an_answer_comes_first_across_locations_then_newest_in_pages(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, boston = await two_places(client, admin_engine)
    at_nyc = await write_reviews(admin_engine, nyc, 15)  # ratings 1..5: 6 need an answer
    at_boston = await write_reviews(admin_engine, boston, 15, start=BASE.replace(day=5))
    await sign_in(browser_client, office.manager_email)

    first = await browser_client.get("/brand/reviews")

    assert first.status_code == 200
    every = at_nyc + at_boston
    attention = sorted((r for r in every if r["rating"] <= 2), key=lambda r: r["created"])
    rest = sorted((r for r in every if r["rating"] > 2), key=lambda r: r["created"])
    want = [str(r["id"]) for r in reversed(attention)] + [str(r["id"]) for r in reversed(rest)]
    assert review_ids(first.text) == want[:20]
    assert "12 reviews need an answer." in first.text
    assert "NYC Slice" in first.text
    assert "Boston Slice" in first.text
    second = await browser_client.get(next_link(first.text) or "")
    assert review_ids(second.text) == want[20:]
    assert next_link(second.text) is None
    assert 'href="/brand/reviews"' in second.text


async def test_filters_by_location_rating_source_and_needing_an_answer(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, boston = await two_places(client, admin_engine)
    at_nyc = await write_reviews(admin_engine, nyc, 10)
    await write_reviews(admin_engine, boston, 10)
    await sign_in(browser_client, office.manager_email)
    nyc_id = office.world.nyc["id"]

    only_nyc = await browser_client.get(f"/brand/reviews?location={nyc_id}")
    assert sorted(review_ids(only_nyc.text)) == sorted(str(r["id"]) for r in at_nyc)
    assert f'<option value="{nyc_id}" selected>' in only_nyc.text

    ones = await browser_client.get(f"/brand/reviews?location={nyc_id}&rating=1")
    assert review_ids(ones.text) == [str(r["id"]) for r in reversed(at_nyc) if r["rating"] == 1]

    unanswered = await browser_client.get("/brand/reviews?needs_answer=1")
    assert len(review_ids(unanswered.text)) == 8
    assert "Not answered" in unanswered.text

    google = await browser_client.get("/brand/reviews?source=google_business")
    assert review_ids(google.text) == []
    assert "No review matches these filters." in google.text

    bad = await browser_client.get("/brand/reviews?rating=9&location=nope")
    assert bad.status_code == 422
    assert problem_next_to(bad.text, "rating") == "Choose from 1 to 5 stars."
    assert problem_next_to(bad.text, "location") == "Choose a location of the brand."


async def test_a_location_of_another_brand_is_refused_as_a_filter(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, _ = await two_places(client, admin_engine)
    await write_reviews(admin_engine, nyc, 3)
    other = await create_brand(client, office.world.owner, "Other")
    theirs = await create_location(client, office.world.owner, other["id"], name="Theirs")
    await sign_in(browser_client, office.world.owner.email)

    refused = await browser_client.get(f"/brand/reviews?location={theirs['id']}")

    assert refused.status_code == 422
    assert problem_next_to(refused.text, "location") == "Choose a location of the brand."


async def test_head_office_answers_a_review_from_the_brand_list(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, _, boston = await two_places(client, admin_engine)
    (review,) = await write_reviews(admin_engine, boston, 1, rating=1, author="Rita Moreno")
    await from_google(admin_engine, boston)
    await sign_in(browser_client, office.manager_email)
    listed = await browser_client.get("/brand/reviews")
    assert review_ids(listed.text) == [str(review["id"])]
    page_path = f"/brand/reviews/{review['id']}"

    opened = await browser_client.get(page_path)
    assert opened.status_code == 200
    assert "At Boston Slice" in opened.text
    assert f'action="{page_path}/reply"' in opened.text
    assert 'href="/brand/reviews">All reviews' in opened.text

    empty = await post_form(browser_client, page_path, f"{page_path}/reply", {"text": "  "})
    assert empty.status_code == 422
    assert problem_next_to(empty.text, "text") == "Write the reply's text."

    sent = await post_form(
        browser_client, page_path, f"{page_path}/reply", {"text": "Sorry, Rita. Call us."}
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == page_path
    after = await browser_client.get(page_path)
    assert "Reply on its way" in after.text
    async with admin_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT reply_status, reply_text FROM review WHERE id = :id"),
                {"id": review["id"]},
            )
        ).one()
    assert tuple(stored) == ("queued", "Sorry, Rita. Call us.")


async def test_a_brand_viewer_reads_reviews_but_cannot_answer_them(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, _ = await two_places(client, admin_engine)
    (review,) = await write_reviews(admin_engine, nyc, 1, rating=1)
    await from_google(admin_engine, nyc)
    await sign_in(browser_client, office.viewer_email)
    page_path = f"/brand/reviews/{review['id']}"

    listed = await browser_client.get("/brand/reviews")
    assert review_ids(listed.text) == [str(review["id"])]
    assert 'href="/brand/reviews/rules"' in listed.text  # reading the rules is reading
    opened = await browser_client.get(page_path)
    assert "Your role cannot answer reviews here." in opened.text
    assert "<textarea" not in opened.text

    refused = await post_form(browser_client, page_path, f"{page_path}/reply", {"text": "Hi"})
    assert refused.status_code == 403
    rule = await client.post(
        f"/v1/brands/{office.brand_id}/auto-reply-rules",
        json={"name": "Apology", "max_rating": 2, "template": "Sorry."},
        headers=office.world.owner.headers,
    )
    rules = await browser_client.get("/brand/reviews/rules")
    assert rules.status_code == 200
    assert "Apology" in rules.text
    assert 'action="/brand/reviews/rules"' not in rules.text
    assert f'href="/brand/reviews/rules/{rule.json()["id"]}"' not in rules.text
    assert (
        await browser_client.get(f"/brand/reviews/rules/{rule.json()['id']}")
    ).status_code == 403
    async with admin_engine.connect() as conn:
        status = await conn.scalar(
            text("SELECT reply_status FROM review WHERE id = :id"), {"id": review["id"]}
        )
    assert status == "none"


async def test_another_brands_or_agencys_review_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, _, _ = await two_places(client, admin_engine)
    other_brand = await create_brand(client, office.world.owner, "Other")
    elsewhere = await yelp_place(client, admin_engine, office.world.owner, other_brand)
    (theirs,) = await write_reviews(admin_engine, elsewhere, 1, rating=1)
    outside = await yelp_place(client, admin_engine)
    (foreign,) = await write_reviews(admin_engine, outside, 1, rating=1)
    await sign_in(browser_client, office.manager_email)

    their_rule = await client.post(
        f"/v1/brands/{other_brand['id']}/auto-reply-rules",
        json={"name": "Theirs", "max_rating": 2, "template": "Sorry."},
        headers=office.world.owner.headers,
    )
    assert (
        await browser_client.get(f"/brand/reviews/rules/{their_rule.json()['id']}")
    ).status_code == 404
    for review in (theirs, foreign):
        page = await browser_client.get(f"/brand/reviews/{review['id']}")
        assert page.status_code == 404
        assert "Review number" not in page.text
    home = (await browser_client.get("/brand/reviews")).text
    refused = await browser_client.post(
        f"/brand/reviews/{foreign['id']}/reply",
        data={"text": "Hi", "csrf_token": hidden_value(home, "csrf_token")},
    )
    assert refused.status_code == 404


async def test_a_reply_without_the_forms_token_is_refused_and_nothing_is_sent(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, _ = await two_places(client, admin_engine)
    (review,) = await write_reviews(admin_engine, nyc, 1, rating=1)
    await sign_in(browser_client, office.manager_email)

    refused = await browser_client.post(
        f"/brand/reviews/{review['id']}/reply", data={"text": "Hello"}
    )

    assert refused.status_code == 403
    assert "This form has expired" in refused.text
    async with admin_engine.connect() as conn:
        status = await conn.scalar(
            text("SELECT reply_status FROM review WHERE id = :id"), {"id": review["id"]}
        )
    assert status == "none"


async def test_auto_reply_rules_added_refused_changed_and_deleted(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, _, _ = await two_places(client, admin_engine)
    await sign_in(browser_client, office.manager_email)
    rules = "/brand/reviews/rules"
    empty = await browser_client.get(rules)
    assert "No auto-reply rules yet" in empty.text

    wrong = await post_form(
        browser_client, rules, rules,
        {"name": "Apology", "template": "Sorry {{ post.text }}", "min_rating": "1",
         "max_rating": "2"},
    )  # fmt: skip
    assert wrong.status_code == 422
    assert "reviewer.*" in problem_next_to(wrong.text, "template")
    backwards = await post_form(
        browser_client, rules, rules,
        {"name": "Apology", "template": "Sorry", "min_rating": "4", "max_rating": "2"},
    )  # fmt: skip
    assert problem_next_to(backwards.text, "max_rating") == "Choose at least the lowest rating."
    api = office.world.owner.headers
    listed = await client.get(f"/v1/brands/{office.brand_id}/auto-reply-rules", headers=api)
    assert listed.json() == []  # nothing half written

    added = await post_form(
        browser_client, rules, rules,
        {"name": "Apology", "template": "Sorry, {{ reviewer.first_name }}.", "min_rating": "1",
         "max_rating": "2", "sources": ["yelp"], "requires_approval": "1", "enabled": "1",
         "position": "3"},
    )  # fmt: skip
    assert added.status_code == 303
    (rule,) = (
        await client.get(f"/v1/brands/{office.brand_id}/auto-reply-rules", headers=api)
    ).json()
    assert (rule["name"], rule["sources"], rule["max_rating"], rule["requires_approval"]) == (
        "Apology", ["yelp"], 2, True,
    )  # fmt: skip
    shown = await browser_client.get(rules)
    assert "Sorry, {{ reviewer.first_name }}." in unescape(shown.text)
    assert "waits for approval" in shown.text

    page_path = f"{rules}/{rule['id']}"
    changed = await post_form(
        browser_client, page_path, page_path,
        {"name": "Apology", "template": "We are sorry.", "min_rating": "1", "max_rating": "1",
         "position": "0"},
    )  # fmt: skip
    assert changed.status_code == 303
    again = (await client.get(f"/v1/auto-reply-rules/{rule['id']}", headers=api)).json()
    assert (again["template"], again["max_rating"], again["enabled"]) == ("We are sorry.", 1, False)

    deleted = await post_form(browser_client, page_path, f"{page_path}/delete", {})
    assert deleted.status_code == 303
    assert (
        await client.get(f"/v1/brands/{office.brand_id}/auto-reply-rules", headers=api)
    ).json() == []


async def test_a_plan_without_auto_replies_answers_the_402_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, _, _ = await two_places(client, admin_engine)
    await on_plan(admin_engine, office.world.owner.agency_id, "starter")
    await sign_in(browser_client, office.manager_email)
    rules = "/brand/reviews/rules"

    refused = await post_form(
        browser_client, rules, rules,
        {"name": "Apology", "template": "Sorry.", "min_rating": "1", "max_rating": "2"},
    )  # fmt: skip

    assert refused.status_code == 402
    assert "<h1" in refused.text


async def test_the_list_reads_the_same_statements_for_a_few_reviews_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    office, nyc, boston = await two_places(client, admin_engine)
    await write_reviews(admin_engine, nyc, 3)
    await sign_in(browser_client, office.manager_email)
    await browser_client.get("/brand/reviews")
    with StatementCounter(app.state.db.engine) as few:
        await browser_client.get("/brand/reviews")

    await write_reviews(admin_engine, nyc, 60, start=BASE.replace(day=10))
    await write_reviews(admin_engine, boston, 60, start=BASE.replace(day=20))
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/brand/reviews")

    assert len(review_ids(page.text)) == 20
    assert many.count == few.count


async def test_the_brand_reviews_read_in_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office, nyc, _ = await two_places(client, admin_engine)
    await write_reviews(admin_engine, nyc, 2)
    await sign_in(browser_client, office.manager_email)

    page = await browser_client.get("/brand/reviews", headers={"Accept-Language": "el"})

    assert '<html lang="el">' in page.text
    assert "Κριτικές όλων των καταστημάτων" in page.text
