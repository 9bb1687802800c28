"""Head office's approval queue (issue #16): the brand's posts waiting for its approval,
approve or reject one, approve or reject the selected ones in one plain form; a rejection
says why; brand viewers and location people are refused; nothing half decided."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.access import invite_and_accept
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_campaigns import HeadOffice, head_office, waiting_for_head_office


async def status_of(client: httpx.AsyncClient, w: HeadOffice, post_id: str) -> str:
    got = await client.get(f"/v1/posts/{post_id}", headers=w.owner.headers)
    return str(got.json()["status"])


async def test_approve_one_then_the_selected(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    athens, berlin = sorted(
        await waiting_for_head_office(client, w, worker_ctx),
        key=lambda p: p["location_id"] != w.athens["id"],
    )
    await sign_in(browser_client, w.manager_email)

    page = await browser_client.get("/brand/approvals")
    assert page.status_code == 200
    assert "2 posts waiting." in page.text
    assert "Athens Slice" in page.text
    assert "Local offers" in page.text  # the campaign's name
    assert '<a href="/brand/approvals" aria-current="page">' in page.text
    csrf = hidden_value(page.text, "csrf_token")

    one = await browser_client.post(
        "/brand/approvals/decide", data={"csrf_token": csrf, "approve": athens["id"]}
    )
    assert one.status_code == 303
    assert one.headers["location"] == "/brand/approvals?approved=1&left=0"
    assert await status_of(client, w, athens["id"]) == "scheduled"
    assert await status_of(client, w, berlin["id"]) == "needs_approval"
    after = await browser_client.get(one.headers["location"])
    assert "1 post approved." in after.text
    assert "1 post waiting." in after.text

    # Ticking a post already decided too: it is left alone and the page says so.
    both = await browser_client.post(
        "/brand/approvals/decide",
        data={
            "csrf_token": csrf,
            "post_ids": [athens["id"], berlin["id"]],
            "approve": "selected",
        },
    )
    assert both.headers["location"] == "/brand/approvals?approved=1&left=1"
    assert await status_of(client, w, berlin["id"]) == "scheduled"
    done = await browser_client.get(both.headers["location"])
    assert "1 was no longer waiting" in done.text
    assert "Nothing waits for head office." in done.text


async def test_reject_says_why_and_problems_come_back_next_to_their_field(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    posts = await waiting_for_head_office(client, w, worker_ctx)
    ids = [p["id"] for p in posts]
    await sign_in(browser_client, w.manager_email)
    csrf = hidden_value((await browser_client.get("/brand/approvals")).text, "csrf_token")

    nothing = await browser_client.post(
        "/brand/approvals/decide", data={"csrf_token": csrf, "approve": "selected"}
    )
    assert nothing.status_code == 422
    assert 'id="post_ids-problem">Tick the posts to decide first.' in nothing.text

    silent = await browser_client.post(
        "/brand/approvals/decide",
        data={"csrf_token": csrf, "post_ids": ids, "reject": "selected"},
    )
    assert silent.status_code == 422
    assert 'id="comment-problem">Say why you reject: the locations read it.' in silent.text
    assert silent.text.count(" checked") == 2  # the selection is kept
    assert {await status_of(client, w, i) for i in ids} == {"needs_approval"}

    too_long = await browser_client.post(
        "/brand/approvals/decide",
        data={"csrf_token": csrf, "post_ids": ids, "reject": "selected", "comment": "x" * 3000},
    )
    assert too_long.status_code == 422
    assert 'id="comment-problem">Use at most' in too_long.text

    rejected = await browser_client.post(
        "/brand/approvals/decide",
        data={
            "csrf_token": csrf,
            "post_ids": ids,
            "reject": "selected",
            "comment": "Offers must be in euros",
        },
    )
    assert rejected.headers["location"] == "/brand/approvals?rejected=2&left=0"
    for post_id in ids:
        got = (await client.get(f"/v1/posts/{post_id}", headers=w.owner.headers)).json()
        assert got["status"] == "cancelled"
        assert got["decision_comment"] == "Offers must be in euros"


async def test_refusals_viewer_location_people_csrf_and_other_agency(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    posts = await waiting_for_head_office(client, w, worker_ctx)
    other = await head_office(client, admin_engine)
    [theirs, *_] = await waiting_for_head_office(client, other, worker_ctx)

    await sign_in(browser_client, w.viewer_email)
    home = await browser_client.get("/brand/campaigns")
    assert 'href="/brand/approvals"' not in home.text  # not offered to a brand viewer
    assert (await browser_client.get("/brand/approvals")).status_code == 403
    csrf = hidden_value(home.text, "csrf_token")
    refused = await browser_client.post(
        "/brand/approvals/decide", data={"csrf_token": csrf, "approve": posts[0]["id"]}
    )
    assert refused.status_code == 403

    email = "lm-approvals@athens.example"
    await invite_and_accept(
        client, admin_engine, w.owner, email, "location_manager", location_id=w.athens["id"]
    )
    await sign_in(browser_client, email)
    assert (await browser_client.get("/brand/approvals")).status_code == 404

    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get("/brand/approvals")
    csrf = hidden_value(page.text, "csrf_token")
    forged = await browser_client.post("/brand/approvals/decide", data={"approve": posts[0]["id"]})
    assert forged.status_code == 403
    foreign = await browser_client.post(
        "/brand/approvals/decide", data={"csrf_token": csrf, "approve": theirs["id"]}
    )
    assert foreign.headers["location"] == "/brand/approvals?approved=0&left=1"
    assert await status_of(client, other, theirs["id"]) == "needs_approval"
    assert {await status_of(client, w, p["id"]) for p in posts} == {"needs_approval"}


async def test_the_queue_speaks_greek(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    await waiting_for_head_office(client, w, worker_ctx)
    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get("/brand/approvals", headers={"Accept-Language": "el"})
    assert "Αναρτήσεις που περιμένουν την κεντρική διοίκηση" in page.text
    assert "Έγκριση των επιλεγμένων" in page.text


async def test_the_queue_runs_the_same_statements_for_2_or_12_posts(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    await waiting_for_head_office(client, w, worker_ctx, name="First")
    await sign_in(browser_client, w.manager_email)
    await browser_client.get("/brand/approvals")
    with StatementCounter(app.state.db.engine) as few:
        await browser_client.get("/brand/approvals")
    for n in range(5):
        await waiting_for_head_office(client, w, worker_ctx, name=f"More {n}")
    with StatementCounter(app.state.db.engine) as many:
        shown = await browser_client.get("/brand/approvals")
    assert "12 posts waiting." in shown.text
    assert many.count == few.count
