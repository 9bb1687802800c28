"""Home, "what needs me now": a location manager sees the posts waiting for their approval,
the failed ones and why, the accounts to connect, the reviews to answer and what goes out
next, each linking where it is fixed; only their location's; in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from playwright.async_api import Page
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.approvals import World, approval_world, pending_posts
from tests.support.web import StatementCounter, check_page, sign_in, sign_in_browser

ERROR = "The platform refused the photo: it is too small"


async def _shape(engine: AsyncEngine, posts: list[dict[str, Any]]) -> None:
    """One post waiting for the location, one failed, the rest scheduled."""
    confirm, failed, *scheduled = (p["id"] for p in posts)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET approval_kind = 'location' WHERE id = :id"), {"id": confirm}
        )
        await conn.execute(
            text("UPDATE post SET status = 'failed', last_error = :e WHERE id = :id"),
            {"id": failed, "e": ERROR},
        )
        for post_id in scheduled:
            await conn.execute(
                text("UPDATE post SET status = 'scheduled' WHERE id = :id"), {"id": post_id}
            )


async def _world_with_posts(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> tuple[World, list[dict[str, Any]]]:
    w = await approval_world(client, engine)
    posts = await pending_posts(client, w, platforms=("facebook", "x", "linkedin"))
    await _shape(engine, posts)
    return w, posts


async def test_home_shows_what_needs_the_location_and_links_where_to_fix_it(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w, posts = await _world_with_posts(client, admin_engine)
    elsewhere = await pending_posts(client, w, location=w.boston)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET approval_kind = 'location' WHERE id = :id"),
            {"id": elsewhere[0]["id"]},
        )
    await sign_in(browser_client, "lm@agency.example")
    page = await browser_client.get("/")
    assert page.status_code == 200
    html = page.text
    confirm, failed, scheduled = (p["id"] for p in posts)
    assert "1 post waits for your approval" in html
    assert f'href="/approvals/{confirm}"' in html
    assert "1 post failed" in html
    assert f'href="/posts/{failed}"' in html
    assert "Why: " + ERROR in html
    assert f'href="/posts/{scheduled}"' in html  # what goes out next
    assert "Facebook is not connected." in html  # no account, posts waiting for it
    assert 'href="/accounts"' in html
    assert elsewhere[0]["id"] not in html  # Boston's post is not NYC's business
    assert "NYC Slice" in html


async def test_staff_see_what_waits_but_are_offered_only_what_they_may_do(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    """Staff may not confirm or post: no Approvals or New post links, a waiting post opens its
    own page, and the heading says whose approval it waits for."""
    _, posts = await _world_with_posts(client, admin_engine)
    confirm = posts[0]["id"]
    await sign_in(browser_client, "staff@agency.example")
    html = (await browser_client.get("/")).text
    assert "1 post waits for your location manager's approval" in html
    assert f'href="/posts/{confirm}"' in html
    assert 'href="/approvals' not in html
    assert 'href="/posts/new"' not in html
    assert (await browser_client.get(f"/approvals/{confirm}")).status_code == 403

    await sign_in(browser_client, "lm@agency.example")
    html = (await browser_client.get("/")).text
    assert 'href="/approvals"' in html  # in the header and under the list
    assert 'href="/posts/new"' in html


async def test_home_in_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    await _world_with_posts(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")
    page = await browser_client.get("/", headers={"Accept-Language": "el"})
    assert "Τι σας χρειάζεται τώρα" in page.text
    assert "1 ανάρτηση περιμένει την έγκρισή σας" in page.text


async def test_home_runs_as_many_queries_for_many_posts_as_for_few(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    w, _ = await _world_with_posts(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/")).status_code == 200
    for _ in range(6):
        more = await pending_posts(client, w, platforms=("facebook", "x", "linkedin"))
        await _shape(admin_engine, more)
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/")
    assert "7 posts wait for your approval" in page.text
    assert many.count == few.count, many.statements
    assert few.count <= 12, few.statements


async def test_home_in_the_browser(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    await _world_with_posts(client, admin_engine)
    await sign_in_browser(page, "lm@agency.example")
    await check_page(page, "home-needs")
