"""The pages the mailed links open (reset password, accept an invitation), now the web app's,
driven the way a person does: the link from the mail in the outbox, the form as a browser
posts it (with its CSRF token, cookies kept: ``browser_client``). Moved here from
tests/test_account_pages.py with the pages (issue #15)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.security import CSP
from shared.config import Settings
from tests.factories import PASSWORD, Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer
from tests.support.mailbox import last_mail_to
from tests.support.two_factor import enrol
from tests.support.web import hidden_value

NEW = "a freshly chosen passphrase"
PAGES = ("/reset-password", "/forgot-password", "/accept-invitation")
HIDDEN_TOKEN = re.compile(r'<input type="hidden" name="token" value="([^"]+)">')


async def _mailed_link(engine: AsyncEngine, address: str, page: str) -> str:
    """The mailed link to the page, as a path and query to open."""
    match = re.search(rf"https?://[^/\s]+({page}\?token=\S+)", await last_mail_to(engine, address))
    assert match, f"no link to {page} in the mail"
    return match.group(1)


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


def _assert_page(response: httpx.Response, status: int, referrer: str = "no-referrer") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["referrer-policy"] == referrer
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # only our own file, no inline script


async def _post(web: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    """Posts a form as the browser does: with the CSRF token its pages carry."""
    token = hidden_value((await web.get("/forgot-password")).text, "csrf_token")
    return await web.post(path, data={**data, "csrf_token": token})


def _problem_of(page: str, field: str) -> str:
    match = re.search(rf'<p class="problem" id="{field}-problem">([^<]*)</p>', page)
    assert match, f"no problem shown next to {field}"
    return match.group(1)


async def _session_count(client: httpx.AsyncClient, email: str, password: str) -> int:
    login = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    listed = await client.get("/v1/auth/sessions", headers=bearer(login.json()["access_token"]))
    return len(listed.json()["items"])


async def _login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    return response.status_code


# Reset password ---------------------------------------------------------------------------


async def test_a_password_reset_through_the_pages_end_to_end(
    browser_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
) -> None:
    tenant = await sign_up(client)
    asked = await _post(browser_client, "/forgot-password", {"email": tenant.email.upper()})
    _assert_page(asked, 200, referrer="same-origin")
    assert "Check your mail" in asked.text
    link = await _mailed_link(admin_engine, tenant.email, "/reset-password")
    token = _token(link)
    assert settings.public_base_url + link in await last_mail_to(admin_engine, tenant.email)

    # the page a mail scanner or the person opens shows the form and spends nothing
    for _ in range(2):
        shown = await browser_client.get(link + "&utm_source=newsletter&utm_medium=email")
        _assert_page(shown, 200)
        assert HIDDEN_TOKEN.findall(shown.text) == [token]  # the token once, in the form only
        assert tenant.email not in shown.text
        assert "Owner" not in shown.text  # nor whose account it is
        assert 'name="new_password" type="password" autocomplete="new-password"' in shown.text

    weak = await _post(
        browser_client,
        "/reset-password",
        {"token": token, "new_password": "short", "new_password_again": "short"},
    )
    _assert_page(weak, 422)
    assert "at least 12 characters" in _problem_of(weak.text, "new_password")
    assert "short'" not in weak.text  # what was typed is not written back
    assert HIDDEN_TOKEN.findall(weak.text) == [token]  # the form again, to try again

    mismatch = await _post(
        browser_client,
        "/reset-password",
        {"token": token, "new_password": NEW, "new_password_again": NEW + "!"},
    )
    _assert_page(mismatch, 422)
    assert "differ" in _problem_of(mismatch.text, "new_password_again")
    assert await _login_status(client, tenant.email, PASSWORD) == 200  # nothing changed yet

    done = await _post(
        browser_client,
        "/reset-password",
        {"token": token, "new_password": NEW, "new_password_again": NEW},
    )
    _assert_page(done, 200, referrer="same-origin")
    assert "signed out everywhere" in done.text
    assert "new password" in done.text
    assert token not in done.text
    refused = await client.get("/v1/brands", headers=tenant.headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "session_revoked"
    assert await _login_status(client, tenant.email, PASSWORD) == 401
    assert await _login_status(client, tenant.email, NEW) == 200

    # the link clicked again, or its form posted again
    again = await browser_client.get(link)
    _assert_page(again, 400)
    assert "already used" in again.text
    assert '<form method="post" action="/forgot-password"' in again.text  # ask again from here
    assert HIDDEN_TOKEN.findall(again.text) == []
    reposted = await _post(
        browser_client,
        "/reset-password",
        {"token": token, "new_password": "yet another phrase", "new_password_again": "x"},
    )
    _assert_page(reposted, 400)
    assert "already used" in reposted.text
    assert await _login_status(client, tenant.email, NEW) == 200


async def test_the_forgot_password_page_answers_alike_for_any_address(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    form = await browser_client.get("/forgot-password")
    _assert_page(form, 200, referrer="same-origin")
    assert 'name="email" type="email"' in form.text
    known = await _post(browser_client, "/forgot-password", {"email": tenant.email})
    unknown = await _post(
        browser_client, "/forgot-password", {"email": "nobody-here@agency.example"}
    )
    _assert_page(known, 200, referrer="same-origin")
    assert known.text == unknown.text
    async with admin_engine.connect() as conn:
        mailed = (
            (
                await conn.execute(
                    text("SELECT to_address FROM outbound_email WHERE kind = 'password_reset'")
                )
            )
            .scalars()
            .all()
        )
    assert mailed == [tenant.email]

    bad = await _post(browser_client, "/forgot-password", {"email": "not an address <b>"})
    _assert_page(bad, 422, referrer="same-origin")
    assert _problem_of(bad.text, "email")
    assert 'value="not an address &lt;b&gt;"' in bad.text  # kept to mend, escaped


async def test_the_pages_count_against_the_apis_rate_limits(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """One count for the API route and the page: the page is no way around the limit."""
    address = "someone@agency.example"
    for _ in range(10):  # the per-account limit of the test settings
        answer = await client.post("/v1/auth/password/forgot", json={"email": address})
        assert answer.status_code == 202
    limited = await _post(browser_client, "/forgot-password", {"email": address})
    _assert_page(limited, 429, referrer="same-origin")
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many attempts" in limited.text


async def test_an_expired_or_made_up_reset_link_says_so(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    await _post(browser_client, "/forgot-password", {"email": tenant.email})
    link = await _mailed_link(admin_engine, tenant.email, "/reset-password")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE password_reset SET expires_at = now() - interval '1 second'")
        )
    expired = await browser_client.get(link)
    _assert_page(expired, 410)
    assert "expired" in expired.text
    assert 'action="/forgot-password"' in expired.text
    posted = await _post(
        browser_client,
        "/reset-password",
        {"token": _token(link), "new_password": NEW, "new_password_again": NEW},
    )
    _assert_page(posted, 410)
    assert await _login_status(client, tenant.email, PASSWORD) == 200

    for made_up in ("/reset-password?token=cpr_nothing", "/reset-password"):
        _assert_page(await browser_client.get(made_up), 400)


# Accept an invitation ---------------------------------------------------------------------


async def _invite(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    inviter: Tenant,
    email: str,
    role: str,
    **scope: str,
) -> tuple[str, dict[str, Any]]:
    invited = await client.post(
        "/v1/invitations", json={"email": email, "role": role, **scope}, headers=inviter.headers
    )
    assert invited.status_code == 201, invited.text
    return await _mailed_link(engine, email, "/accept-invitation"), invited.json()


async def _invitation_status(client: httpx.AsyncClient, owner: Tenant, invitation_id: str) -> str:
    listed = await client.get("/v1/invitations", headers=owner.headers)
    return next(i["status"] for i in listed.json()["items"] if i["id"] == invitation_id)


async def test_a_new_person_accepts_through_the_page(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client, agency_name="Sunny Side Agency")
    brand = await create_brand(client, owner, "Pizza Palace")
    location = await create_location(client, owner, brand["id"], name="Harbour Street")
    link, invitation = await _invite(
        client,
        admin_engine,
        owner,
        "new@agency.example",
        "location_manager",
        location_id=location["id"],
    )

    shown = await browser_client.get(link + "&utm_campaign=invite")
    _assert_page(shown, 200)
    assert "Sunny Side Agency" in shown.text
    assert "location manager" in shown.text
    assert "Harbour Street" in shown.text
    assert "new@agency.example" in shown.text
    assert 'name="full_name"' in shown.text
    assert 'name="password_again"' in shown.text
    assert await _invitation_status(client, owner, invitation["id"]) == "pending"

    mismatch = await _post(
        browser_client,
        "/accept-invitation",
        {
            "token": _token(link),
            "full_name": "Ada <Lovelace>",
            "password": NEW,
            "password_again": "something else",
        },
    )
    _assert_page(mismatch, 422)
    assert "differ" in _problem_of(mismatch.text, "password_again")
    assert 'value="Ada &lt;Lovelace&gt;"' in mismatch.text  # the name kept, escaped
    weak = await _post(
        browser_client,
        "/accept-invitation",
        {
            "token": _token(link),
            "full_name": "Ada",
            "password": "short",
            "password_again": "short",
        },
    )
    _assert_page(weak, 422)
    assert "at least 12 characters" in _problem_of(weak.text, "password")
    nameless = await _post(
        browser_client,
        "/accept-invitation",
        {"token": _token(link), "full_name": "   ", "password": NEW, "password_again": NEW},
    )
    _assert_page(nameless, 422)
    assert _problem_of(nameless.text, "full_name")
    assert await _invitation_status(client, owner, invitation["id"]) == "pending"

    joined = await _post(
        browser_client,
        "/accept-invitation",
        {"token": _token(link), "full_name": "Ada", "password": NEW, "password_again": NEW},
    )
    # accepted: signed in, on the home page of the location
    assert joined.status_code == 303, joined.text
    assert joined.headers["location"] == "/"
    assert "chorus_session=" in joined.headers["set-cookie"]
    home = await browser_client.get("/")
    _assert_page(home, 200, referrer="same-origin")
    assert "Harbour Street" in home.text
    for secret in (_token(link), "cinv_", "access_token", "refresh_token", "eyJ"):
        assert secret not in home.text
    assert await _invitation_status(client, owner, invitation["id"]) == "accepted"
    # the browser's session and the login made here
    assert await _session_count(client, "new@agency.example", NEW) == 2

    again = await browser_client.get(link)
    _assert_page(again, 410)
    assert "already accepted" in again.text
    assert "invited you" in again.text


async def test_someone_with_an_account_accepts_with_its_password(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client, agency_name="Sunny Side Agency")
    elsewhere = await sign_up(client)
    brand = await create_brand(client, owner, "Pizza Palace")
    link, invitation = await _invite(
        client, admin_engine, owner, elsewhere.email, "brand_manager", brand_id=brand["id"]
    )
    shown = await browser_client.get(link)
    _assert_page(shown, 200)
    assert "Pizza Palace" in shown.text
    assert "brand manager" in shown.text
    assert 'name="full_name"' not in shown.text
    assert 'autocomplete="current-password"' in shown.text
    assert 'href="/forgot-password"' in shown.text

    wrong = await _post(
        browser_client,
        "/accept-invitation",
        {"token": _token(link), "password": "not the password!"},
    )
    _assert_page(wrong, 422)
    assert "not the password" in _problem_of(wrong.text, "password")
    assert await _invitation_status(client, owner, invitation["id"]) == "pending"

    joined = await _post(
        browser_client, "/accept-invitation", {"token": _token(link), "password": PASSWORD}
    )
    assert joined.status_code == 303, joined.text
    assert joined.headers["location"] == "/"
    login = await client.post(
        "/v1/auth/login",
        json={"email": elsewhere.email, "password": PASSWORD, "agency_id": str(owner.agency_id)},
    )
    assert login.status_code == 200, login.text
    brands = await client.get("/v1/brands", headers=bearer(login.json()["access_token"]))
    assert [b["name"] for b in brands.json()["items"]] == ["Pizza Palace"]


async def test_an_expired_revoked_or_made_up_invitation_says_which(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    expired_link, _ = await _invite(client, admin_engine, owner, "late@agency.example", "admin")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE invitation SET expires_at = now() - interval '1 second' "
                "WHERE email = 'late@agency.example'"
            )
        )
    expired = await browser_client.get(expired_link)
    _assert_page(expired, 410)
    assert "expired" in expired.text
    assert "Ask whoever invited you" in expired.text
    posted = await _post(
        browser_client,
        "/accept-invitation",
        {
            "token": _token(expired_link),
            "full_name": "Late",
            "password": NEW,
            "password_again": NEW,
        },
    )
    _assert_page(posted, 410)
    assert await _login_status(client, "late@agency.example", NEW) == 401  # no account made

    revoked_link, invitation = await _invite(
        client, admin_engine, owner, "gone@agency.example", "admin"
    )
    revoke = await client.delete(f"/v1/invitations/{invitation['id']}", headers=owner.headers)
    assert revoke.status_code == 200
    revoked = await browser_client.get(revoked_link)
    _assert_page(revoked, 410)
    assert "withdrawn" in revoked.text

    forged = _token(revoked_link)[:-4] + "AAAA"
    for url in (f"/accept-invitation?token={forged}", "/accept-invitation?token=x"):
        made_up = await browser_client.get(url)
        _assert_page(made_up, 400)
        assert "not valid" in made_up.text


async def test_joining_an_agency_that_requires_two_factor_says_how_to_finish(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    await enrol(client, owner)
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert required.status_code == 200
    link, invitation = await _invite(client, admin_engine, owner, "new@agency.example", "admin")
    shown = await browser_client.get(link)
    _assert_page(shown, 200)
    assert "requires two-factor" in shown.text

    joined = await _post(
        browser_client,
        "/accept-invitation",
        {"token": _token(link), "full_name": "Ada", "password": NEW, "password_again": NEW},
    )
    _assert_page(joined, 200, referrer="same-origin")  # the second step of signing in
    assert 'action="/login/two-factor/setup"' in joined.text  # set it up, then signed in
    assert "chorus_session" not in joined.headers.get("set-cookie", "")
    assert await _invitation_status(client, owner, invitation["id"]) == "accepted"
    login = await client.post(
        "/v1/auth/login", json={"email": "new@agency.example", "password": NEW}
    )
    assert login.status_code == 200
    assert login.json()["enrolment_required"] is True
    assert "access_token" not in login.json()


async def test_names_from_the_agency_are_escaped(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client, agency_name="<script>alert(1)</script>")
    brand = await create_brand(client, owner, "<img src=x onerror=alert(2)>")
    link, _ = await _invite(
        client, admin_engine, owner, "bm@agency.example", "brand_manager", brand_id=brand["id"]
    )
    for page in (
        await browser_client.get(link),
        await _post(
            browser_client,
            "/accept-invitation",
            {"token": _token(link), "full_name": "", "password": NEW, "password_again": NEW},
        ),
    ):
        _assert_page(page, page.status_code)
        assert page.status_code in (200, 422)
        assert "<script>" not in page.text
        assert "<img" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;img src=x onerror=alert(2)&gt;" in page.text


@pytest.mark.parametrize("path", PAGES)
async def test_the_pages_are_not_part_of_the_api_document(app: FastAPI, path: str) -> None:
    document = app.openapi()
    assert path not in document["paths"]
    assert path in {str(context.path) for context in iter_route_contexts(app.routes)}


async def test_a_page_is_phone_sized(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    page = (await browser_client.get("/forgot-password")).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<link rel="stylesheet" href="/static/chorus.css">' in page
    assert '<label for="email">' in page
    css = await browser_client.get("/static/chorus.css")
    assert "box-sizing: border-box" in css.text  # so inputs 100% wide never overflow


async def test_a_form_posted_without_its_token_is_a_page_not_json(
    browser_client: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    for path in ("/reset-password", "/accept-invitation"):
        response = await _post(browser_client, path, {"password": NEW, "new_password": NEW})
        _assert_page(response, 400)


@pytest.mark.parametrize(
    "token", ["é", "cinv_ключ.ключ", "cpr_caf\u00e9.\u2603", "😀" * 40, "x" * 3000]
)
async def test_odd_tokens_get_the_invalid_link_page(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, token: str
) -> None:
    """Whatever a mail program does to a link, the page says it is not valid: never a 500."""
    for page in ("/reset-password", "/accept-invitation"):
        _assert_page(await browser_client.get(page, params={"token": token}), 400)
        posted = await _post(
            browser_client,
            page,
            {
                "token": token,
                "new_password": NEW,
                "new_password_again": NEW,
                "password": NEW,
                "password_again": NEW,
                "full_name": "Odd",
            },
        )
        _assert_page(posted, 400)
        assert "not valid" in posted.text


async def test_guessing_an_accounts_password_through_an_invitation_is_limited(
    browser_client: httpx.AsyncClient, client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    """Accepting for an existing account checks its password: counted like a login, one count
    for the API and the page, so a token's holder cannot try passwords without end."""
    owner = await sign_up(client)
    elsewhere = await sign_up(client)
    link, _ = await _invite(client, admin_engine, owner, elsewhere.email, "admin")
    token = _token(link)
    for attempt in range(10):  # the per-account limit of the test settings
        guess = {"token": token, "password": f"not the password {attempt}"}
        wrong = await client.post("/v1/invitations/accept", json=guess)
        assert wrong.status_code == 401, wrong.text
    api = await client.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert api.status_code == 429
    assert int(api.headers["retry-after"]) > 0
    page = await _post(browser_client, "/accept-invitation", {"token": token, "password": PASSWORD})
    _assert_page(page, 429, referrer="same-origin")
    assert "Too many attempts" in page.text
