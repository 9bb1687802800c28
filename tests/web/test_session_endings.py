"""Every way the API ends a session ends a browser's at once: a password change elsewhere,
a password reset, and a sign-in again in the same browser (rotation)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, sign_up
from tests.support.access import bearer
from tests.support.mailbox import last_mail_to
from tests.support.web import hidden_value, sign_in

NEW = "a freshly chosen passphrase"


@pytest.fixture
async def second_browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://chorus.test") as c:
        yield c


async def test_changing_the_password_in_one_browser_signs_the_other_out(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    await sign_in(second_browser, tenant.email)
    form = await browser_client.get("/account/password")
    changed = await browser_client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW,
            "new_password_again": NEW,
            "csrf_token": hidden_value(form.text, "csrf_token"),
        },
    )
    assert changed.status_code == 200
    assert "Your password is changed" in changed.text
    assert (await browser_client.get("/")).status_code == 200  # this one stays
    assert (await second_browser.get("/")).status_code == 303  # the other is out
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 401


async def test_a_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    form = await browser_client.get("/account/password")
    refused = await browser_client.post(
        "/account/password",
        data={
            "current_password": "not it at all",
            "new_password": NEW,
            "new_password_again": NEW,
            "csrf_token": hidden_value(form.text, "csrf_token"),
        },
    )
    assert refused.status_code == 422
    assert "The current password is wrong" in refused.text
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    login = await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    assert login.status_code == 200


async def test_a_password_reset_signs_every_browser_out(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    form = await second_browser.get("/forgot-password")
    await second_browser.post(
        "/forgot-password",
        data={"email": tenant.email, "csrf_token": hidden_value(form.text, "csrf_token")},
    )
    mail = await last_mail_to(admin_engine, tenant.email)
    link = mail[mail.index("/reset-password?token=") :].split()[0]
    page = await second_browser.get(link)
    done = await second_browser.post(
        "/reset-password",
        data={
            "token": hidden_value(page.text, "token"),
            "new_password": NEW,
            "new_password_again": NEW,
            "csrf_token": hidden_value(page.text, "csrf_token"),
        },
    )
    assert "signed out everywhere" in done.text
    assert (await browser_client.get("/")).status_code == 303


async def test_signing_in_again_replaces_the_browsers_session(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    first = browser_client.cookies["chorus_session"]
    await sign_in(browser_client, tenant.email)
    second = browser_client.cookies["chorus_session"]
    assert first != second
    listed = await client.get("/v1/auth/sessions", headers=bearer(tenant.access_token))
    assert len(listed.json()["items"]) == 2  # the sign-up's and one browser session, not two
    browser_client.cookies.set("chorus_session", first, domain="chorus.test")
    assert (await browser_client.get("/")).status_code == 303
