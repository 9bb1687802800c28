"""The web app's protections: CSRF on every unsafe route, the headers on every page, a
session cookie that ends when its session does, and another agency's cookie reaching only
its own agency."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.errors import is_web_path
from services.web.security import UNSAFE_METHODS, check_csrf
from tests.factories import sign_up
from tests.support.access import bearer
from tests.support.approvals import approval_world
from tests.support.web import hidden_value, sign_in


def test_every_unsafe_web_route_checks_the_csrf_token(app: FastAPI) -> None:
    unsafe = [
        context
        for context in iter_route_contexts(app.routes)
        if context.path
        and is_web_path(context.path)
        and set(context.methods or ()) & UNSAFE_METHODS
    ]
    assert {"/login", "/logout"} <= {str(c.path) for c in unsafe}
    unchecked = [
        c.path
        for c in unsafe
        if c.dependant is None or check_csrf not in [d.call for d in c.dependant.dependencies]
    ]
    assert not unchecked, f"web routes without the CSRF check: {unchecked}"


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    before = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = await browser_client.post("/logout", data=data)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    after = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    assert after.json() == before.json()
    assert (await browser_client.get("/")).status_code == 200  # still signed in


async def test_a_login_form_posted_from_elsewhere_is_refused(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    refused = await browser_client.post(
        "/login", data={"email": tenant.email, "password": "x", "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    assert "chorus_session" not in refused.headers.get("set-cookie", "")


async def test_every_page_carries_the_security_headers(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    pages = ["/login", "/no-such-page"]
    await sign_in(browser_client, tenant.email)
    pages += ["/", "/also-missing"]
    for path in pages:
        response = await browser_client.get(path)
        csp = response.headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert "frame-ancestors 'none'" in csp
        assert response.headers["referrer-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text  # no inline script


async def test_unknown_web_paths_answer_the_html_404_page_and_api_paths_problem_json(
    browser_client: httpx.AsyncClient,
) -> None:
    page = await browser_client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await browser_client.get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_a_signed_out_cookie_reused_gets_the_sign_in_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    cookie = browser_client.cookies["chorus_session"]
    home = await browser_client.get("/")
    await browser_client.post("/logout", data={"csrf_token": hidden_value(home.text, "csrf_token")})
    browser_client.cookies.set("chorus_session", cookie, domain="chorus.test")
    again = await browser_client.get("/")
    assert again.status_code == 303
    assert again.headers["location"] == "/login"


async def test_ending_the_session_from_the_api_signs_the_browser_out_at_once(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    listed = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    web = next(s for s in listed.json()["items"] if not s["current"])
    ended = await client.post(
        "/v1/auth/sessions/end", json={"session_id": web["id"]}, headers=bearer(tenant.access_token)
    )
    assert ended.status_code == 204
    assert (await browser_client.get("/")).status_code == 303


async def test_another_agencys_user_cannot_reach_this_agencys_location(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await sign_in(browser_client, w.outsider.email)
    home = await browser_client.get("/")
    assert "NYC Slice" not in home.text
    token = hidden_value(home.text, "csrf_token")
    refused = await browser_client.post(
        "/switch-location", data={"location_id": w.nyc["id"], "csrf_token": token}
    )
    assert refused.status_code == 404
    assert "Page not found" in refused.text
    assert "NYC Slice" not in (await browser_client.get("/")).text


async def test_a_location_manager_cannot_switch_to_another_location(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")
    home = await browser_client.get("/")
    assert "NYC Slice" in home.text
    refused = await browser_client.post(
        "/switch-location",
        data={"location_id": w.boston["id"], "csrf_token": hidden_value(home.text, "csrf_token")},
    )
    assert refused.status_code == 404
    home = await browser_client.get("/")
    assert "NYC Slice" in home.text
    assert "Boston Slice" not in home.text


async def test_removal_from_the_agency_ends_the_browser_session_at_once(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")
    assert (await browser_client.get("/")).status_code == 200
    members = await client.get("/v1/members", headers=w.owner.headers)
    member = next(m for m in members.json()["items"] if m["email"] == "lm@agency.example")
    removed = await client.delete(f"/v1/members/{member['id']}", headers=w.owner.headers)
    assert removed.status_code in (200, 204), removed.text
    again = await browser_client.get("/")
    assert again.status_code == 303
    assert again.headers["location"] == "/login"
