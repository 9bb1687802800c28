"""Signing in and out of the web app over HTTP (the browser's own run is in
test_browser_sign_in.py): the API's login underneath, a cookie session on the API's session
model, the CSRF token on the form."""

from __future__ import annotations

import httpx

from tests.factories import Tenant, sign_up
from tests.support.access import bearer
from tests.support.web import hidden_value, sign_in


async def test_sign_in_opens_a_session_the_api_lists_and_sign_out_ends_it(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant: Tenant = await sign_up(client)
    home = await browser_client.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/login"

    signed_in = await sign_in(browser_client, tenant.email)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"]
    assert "chorus_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" in cookie

    home = await browser_client.get("/")
    assert home.status_code == 200
    assert "What needs you now" in home.text
    listed = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    assert len(listed.json()["items"]) == 2  # the sign-up's and the browser's

    token = hidden_value(home.text, "csrf_token")
    out = await browser_client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    listed = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    assert len(listed.json()["items"]) == 1


async def test_a_wrong_password_shows_the_form_again_and_is_audited(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    refused = await sign_in(browser_client, tenant.email, "not the password")
    assert refused.status_code == 401
    assert "The email address or the password is wrong." in refused.text
    assert "chorus_session" not in refused.headers.get("set-cookie", "")
    audit = await client.get(
        "/v1/audit-events?action=auth.login_failed", headers=bearer(tenant.access_token)
    )
    assert len(audit.json()["items"]) == 1


async def test_the_login_page_speaks_greek_to_a_greek_browser(
    browser_client: httpx.AsyncClient,
) -> None:
    page = await browser_client.get(
        "/login", headers={"Accept-Language": "el-GR,el;q=0.9,en;q=0.5"}
    )
    assert '<html lang="el">' in page.text
    assert "Σύνδεση στο Chorus" in page.text
