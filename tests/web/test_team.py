"""The team page over HTTP (the browser's own run is in test_team_browser.py): a location
manager's people with role and status, inviting staff (the invitation service and its mail,
whose link opens /accept-invitation), withdrawing an invitation, removing a member after a
confirmation (their session ends at once); staff get no link and the 403 page; other
locations' and agencies' people are the 404 page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.mailbox import last_mail_to
from tests.support.web import StatementCounter, hidden_value, sign_in

MANAGER = "manager@franchise.example"
STAFF = "staff@franchise.example"


@dataclass
class Shop:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    other_location: dict[str, Any]


@pytest.fixture
async def shop(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> Shop:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Pizza Athens")
    other = await create_location(client, owner, brand["id"], name="Pizza Patras")
    await invite_and_accept(
        client, admin_engine, owner, MANAGER, "location_manager", location_id=location["id"]
    )
    return Shop(owner, brand, location, other)


async def _staff(client: httpx.AsyncClient, engine: AsyncEngine, shop: Shop, email: str) -> None:
    await invite_and_accept(
        client, engine, shop.owner, email, "location_staff", location_id=shop.location["id"]
    )


async def _memberships(client: httpx.AsyncClient, shop: Shop) -> dict[str, str]:
    """Email → id of the location's memberships, as the API lists them."""
    listed = await client.get(
        f"/v1/members?location_id={shop.location['id']}", headers=shop.owner.headers
    )
    assert listed.status_code == 200, listed.text
    return {m["email"]: m["id"] for m in listed.json()["items"]}


async def test_a_manager_sees_the_team_and_invites_staff_by_email(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await _staff(client, admin_engine, shop, STAFF)
    await sign_in(browser_client, MANAGER)
    home = await browser_client.get("/")
    assert 'href="/team"' in home.text
    page = await browser_client.get("/team")
    assert page.status_code == 200
    assert "Team at Pizza Athens" in page.text
    assert MANAGER in page.text
    assert STAFF in page.text
    assert "Manager" in page.text
    assert "Staff" in page.text
    assert "Active" in page.text
    token = hidden_value(page.text, "csrf_token")

    sent = await browser_client.post(
        "/team/invitations", data={"csrf_token": token, "email": " New.Hire@Franchise.example "}
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/team?done=invited"
    after = await browser_client.get(sent.headers["location"])
    assert "The invitation is on its way." in after.text
    assert "new.hire@franchise.example" in after.text
    assert "Invited" in after.text
    mail = await last_mail_to(admin_engine, "new.hire@franchise.example")
    link = re.search(r"(https?://\S+/accept-invitation\?token=\S+)", mail)
    assert link, mail
    mailed = urlsplit(link.group(1))
    invitation = await browser_client.get(f"{mailed.path}?{mailed.query}")
    assert invitation.status_code == 200
    assert "location staff" in invitation.text
    assert "Pizza Athens" in invitation.text
    listed = await client.get("/v1/invitations", headers=shop.owner.headers)
    mine = [i for i in listed.json()["items"] if i["email"] == "new.hire@franchise.example"]
    assert [(i["role"], i["scope_id"], i["status"]) for i in mine] == [
        ("location_staff", shop.location["id"], "pending")
    ]


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("", "Enter the email address of the person to invite."),
        ("not an address", "Enter an email address like name@example.com."),
        ("a" * 10_000 + "@example.com", "An email address is at most 320 characters."),
        ("Καλημέρα@παράδειγμα", "Enter an email address like name@example.com."),
        ("‮moc.elpmaxe@evil", "Enter an email address like name@example.com."),
        (MANAGER, "manager@franchise.example is already on this location"),
    ],
)
async def test_a_wrong_address_comes_back_next_to_its_field(
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
    email: str,
    problem: str,
) -> None:
    await sign_in(browser_client, MANAGER)
    token = hidden_value((await browser_client.get("/team")).text, "csrf_token")
    answer = await browser_client.post(
        "/team/invitations", data={"csrf_token": token, "email": email}
    )
    assert answer.status_code == 422
    assert 'id="email-problem"' in answer.text
    assert problem in answer.text.replace("&#39;", "'")
    assert 'aria-invalid="true"' in answer.text
    async with admin_engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM invitation WHERE role = 'location_staff'")
        )
    assert count == 0


async def test_inviting_twice_replaces_the_first_invitation(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, shop: Shop
) -> None:
    await sign_in(browser_client, MANAGER)
    token = hidden_value((await browser_client.get("/team")).text, "csrf_token")
    for _ in range(2):  # a double click
        sent = await browser_client.post(
            "/team/invitations", data={"csrf_token": token, "email": "twice@example.com"}
        )
        assert sent.status_code == 303
    page = (await browser_client.get("/team")).text
    assert page.count("twice@example.com</span>") == 1


async def test_withdrawing_an_invitation_kills_its_link(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await sign_in(browser_client, MANAGER)
    token = hidden_value((await browser_client.get("/team")).text, "csrf_token")
    await browser_client.post(
        "/team/invitations", data={"csrf_token": token, "email": "maybe@example.com"}
    )
    page = (await browser_client.get("/team")).text
    action = re.search(r'action="(/team/invitations/[^"]+/revoke)"', page)
    assert action
    refused = await browser_client.post(action.group(1))
    assert refused.status_code == 403  # no CSRF token
    withdrawn = await browser_client.post(action.group(1), data={"csrf_token": token})
    assert withdrawn.status_code == 303
    assert withdrawn.headers["location"] == "/team?done=revoked"
    assert "maybe@example.com" not in (await browser_client.get("/team")).text
    mail = await last_mail_to(admin_engine, "maybe@example.com")
    token_in_mail = re.search(r"token=(\S+)", mail)
    assert token_in_mail
    link = await browser_client.get(f"/accept-invitation?token={token_in_mail.group(1)}")
    assert link.status_code == 410
    again = await browser_client.post(action.group(1), data={"csrf_token": token})
    assert again.status_code == 303  # a second click changes nothing


async def test_removing_staff_asks_first_and_ends_their_session_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await _staff(client, admin_engine, shop, STAFF)
    membership = (await _memberships(client, shop))[STAFF]
    transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://chorus.test") as staff:
        await sign_in(staff, STAFF)
        assert (await staff.get("/accounts")).status_code == 200

        await sign_in(browser_client, MANAGER)
        page = (await browser_client.get("/team")).text
        assert f'href="/team/members/{membership}/remove"' in page
        confirm = await browser_client.get(f"/team/members/{membership}/remove")
        assert confirm.status_code == 200
        assert "Remove staff from the team?" in confirm.text
        token = hidden_value(confirm.text, "csrf_token")
        done = await browser_client.post(
            f"/team/members/{membership}/remove", data={"csrf_token": token}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/team?done=removed"
        assert STAFF not in (await browser_client.get("/team")).text
        assert STAFF not in await _memberships(client, shop)

        ended = await staff.get("/accounts")
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/login")
    twice = await browser_client.post(
        f"/team/members/{membership}/remove", data={"csrf_token": token}
    )
    assert twice.status_code == 404  # already gone; nothing else removed
    assert MANAGER in await _memberships(client, shop)


async def test_a_manager_cannot_remove_themself_here(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, shop: Shop
) -> None:
    mine = (await _memberships(client, shop))[MANAGER]
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/team")
    assert f"/team/members/{mine}/remove" not in page.text
    assert (await browser_client.get(f"/team/members/{mine}/remove")).status_code == 403
    posted = await browser_client.post(
        f"/team/members/{mine}/remove",
        data={"csrf_token": hidden_value(page.text, "csrf_token")},
    )
    assert posted.status_code == 403
    assert MANAGER in await _memberships(client, shop)


async def test_staff_get_no_team_link_and_the_403_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await _staff(client, admin_engine, shop, STAFF)
    manager = (await _memberships(client, shop))[MANAGER]
    await sign_in(browser_client, STAFF)
    home = await browser_client.get("/")
    assert 'href="/team"' not in home.text
    assert (await browser_client.get("/team")).status_code == 403
    token = hidden_value(home.text, "csrf_token")
    invited = await browser_client.post(
        "/team/invitations", data={"csrf_token": token, "email": "friend@example.com"}
    )
    assert invited.status_code == 403
    assert (await browser_client.get(f"/team/members/{manager}/remove")).status_code == 403
    removed = await browser_client.post(
        f"/team/members/{manager}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 403
    assert MANAGER in await _memberships(client, shop)


async def test_other_locations_and_agencies_people_are_the_404_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await invite_and_accept(
        client,
        admin_engine,
        shop.owner,
        "patras@example.com",
        "location_staff",
        location_id=shop.other_location["id"],
    )
    listed = await client.get(
        f"/v1/members?location_id={shop.other_location['id']}", headers=shop.owner.headers
    )
    theirs = listed.json()["items"][0]["id"]
    pending = await client.post(
        "/v1/invitations",
        json={
            "email": "later@example.com",
            "role": "location_staff",
            "location_id": shop.other_location["id"],
        },
        headers=shop.owner.headers,
    )
    their_invitation = pending.json()["id"]
    stranger = await sign_up(client)
    stranger_members = await client.get("/v1/members", headers=stranger.headers)
    foreign = stranger_members.json()["items"][0]["id"]

    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/team")
    assert "patras@example.com" not in page.text
    assert "later@example.com" not in page.text
    token = hidden_value(page.text, "csrf_token")
    for membership in (theirs, foreign, "00000000-0000-0000-0000-000000000000"):
        assert (await browser_client.get(f"/team/members/{membership}/remove")).status_code == 404
        posted = await browser_client.post(
            f"/team/members/{membership}/remove", data={"csrf_token": token}
        )
        assert posted.status_code == 404
    revoked = await browser_client.post(
        f"/team/invitations/{their_invitation}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 404
    status = await client.get("/v1/invitations", headers=shop.owner.headers)
    assert {i["status"] for i in status.json()["items"] if i["email"] == "later@example.com"} == {
        "pending"
    }
    assert "patras@example.com" in {
        m["email"]
        for m in (await client.get("/v1/members", headers=shop.owner.headers)).json()["items"]
    }


async def test_the_team_page_runs_as_many_queries_for_two_people_as_for_twelve(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    shop: Shop,
) -> None:
    await _staff(client, admin_engine, shop, STAFF)
    await sign_in(browser_client, MANAGER)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/team")).status_code == 200
    for n in range(5):
        await _staff(client, admin_engine, shop, f"staff{n}@example.com")
        await client.post(
            "/v1/invitations",
            json={
                "email": f"invited{n}@example.com",
                "role": "location_staff",
                "location_id": shop.location["id"],
            },
            headers=shop.owner.headers,
        )
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/team")
    assert page.status_code == 200
    assert page.text.count("invited") >= 5
    assert many.count == few.count
