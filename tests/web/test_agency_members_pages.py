"""/agency/members over HTTP: every member with role and place (agency, brand, location),
invitations waiting (send again, withdraw), inviting at any scope, changing a role and
removing a member; a brand manager works at their brand only, a brand viewer gets no link and
the 403 page; other agencies' ids are the 404 page; bad input comes back next to its field
with nothing written; the page runs as many statements for few members as for many."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import sign_up
from tests.support.access import invite_and_accept
from tests.support.mailbox import last_mail_to
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_agency import (
    MANAGER,
    VIEWER,
    AgencyWorld,
    agency_world,
    invitations,
    memberships,
)


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> AgencyWorld:
    return await agency_world(client, admin_engine)


async def _invitation_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM invitation")) or 0)


async def test_the_owner_sees_every_member_with_role_and_place(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    home = await browser_client.get("/")
    assert 'href="/agency/members"' in home.text
    page = await browser_client.get("/agency/members")
    assert page.status_code == 200
    assert "Members and invitations" in page.text
    for expected in (
        world.owner.email,
        "Owner",
        "The whole agency",
        MANAGER,
        "Brand manager",
        VIEWER,
        "Brand viewer",
        "Brand: Alpha Pizza",
    ):
        assert expected in page.text, expected
    assert 'aria-current="page">Members' in page.text


async def test_the_owner_invites_at_each_scope(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/members")
    token = hidden_value(page.text, "csrf_token")
    assert "Alpha Athens" in page.text  # the current brand's locations to choose from
    asks = [
        {"email": "Admin@Agency.example", "role": "admin"},
        {"email": "viewer2@agency.example", "role": "brand_viewer", "brand_id": world.brand["id"]},
        {
            "email": "shop@agency.example",
            "role": "location_manager",
            "location_id": world.location["id"],
            "brand_id": world.other_brand["id"],  # left on the form: ignored for this role
        },
    ]
    for ask in asks:
        sent = await browser_client.post("/agency/invitations", data={"csrf_token": token, **ask})
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == "/agency/members?done=invited"
    after = await browser_client.get("/agency/members?done=invited")
    assert "The invitation is on its way." in after.text
    for email in ("admin@agency.example", "viewer2@agency.example", "shop@agency.example"):
        assert email in after.text
        assert "/accept-invitation?token=" in await last_mail_to(admin_engine, email)
    assert "Location: Alpha Athens" in after.text
    found = {
        i["email"]: (i["role"], i["scope_id"], i["status"])
        for i in await invitations(client, world.owner)
    }
    assert found["admin@agency.example"] == ("admin", None, "pending")
    assert found["viewer2@agency.example"] == ("brand_viewer", world.brand["id"], "pending")
    assert found["shop@agency.example"] == (
        "location_manager",
        world.location["id"],
        "pending",
    )


@pytest.mark.parametrize(
    ("form", "field", "problem"),
    [
        ({"email": "", "role": "admin"}, "email", "Enter the email address"),
        ({"email": "nope", "role": "admin"}, "email", "Enter an email address like"),
        ({"email": "a" * 400 + "@x.example", "role": "admin"}, "email", "at most 320"),
        ({"email": "x@agency.example", "role": ""}, "role", "Choose the role they get."),
        ({"email": "x@agency.example", "role": "emperor"}, "role", "Choose the role they get."),
        ({"email": "x@agency.example", "role": "brand_viewer"}, "brand_id", "Choose the brand"),
        (
            {"email": "x@agency.example", "role": "brand_viewer", "brand_id": "not-an-id"},
            "brand_id",
            "Choose the brand",
        ),
        (
            {"email": "x@agency.example", "role": "location_staff"},
            "location_id",
            "Choose the location",
        ),
        (
            {
                "email": "x@agency.example",
                "role": "brand_viewer",
                "brand_id": "00000000-0000-0000-0000-000000000000",
            },
            "brand_id",
            "You may not invite people to that brand.",
        ),
        ({"email": MANAGER, "role": "brand_manager", "brand_id": "BRAND"}, "email", "already has"),
    ],
)
async def test_a_bad_invitation_comes_back_next_to_its_field_with_nothing_written(
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
    form: dict[str, str],
    field: str,
    problem: str,
) -> None:
    form = {k: (world.brand["id"] if v == "BRAND" else v) for k, v in form.items()}
    before = await _invitation_count(admin_engine)
    await sign_in(browser_client, world.owner.email)
    token = hidden_value((await browser_client.get("/agency/members")).text, "csrf_token")
    answer = await browser_client.post("/agency/invitations", data={"csrf_token": token, **form})
    assert answer.status_code == 422, answer.text
    shown = re.search(rf'id="{field}-problem">([^<]*)<', answer.text)
    assert shown, answer.text
    assert problem in shown.group(1).replace("&#39;", "'")
    assert f'id="{field}" name="{field}"' in answer.text
    assert await _invitation_count(admin_engine) == before


async def test_csrf_is_checked_before_anything_is_written(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, world: AgencyWorld
) -> None:
    before = await _invitation_count(admin_engine)
    await sign_in(browser_client, world.owner.email)
    answer = await browser_client.post(
        "/agency/invitations", data={"email": "x@agency.example", "role": "admin"}
    )
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert await _invitation_count(admin_engine) == before


async def test_an_invitation_is_sent_again_and_withdrawn(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    token = hidden_value((await browser_client.get("/agency/members")).text, "csrf_token")
    await browser_client.post(
        "/agency/invitations",
        data={"csrf_token": token, "email": "later@agency.example", "role": "admin"},
    )
    first_mail = await last_mail_to(admin_engine, "later@agency.example")
    page = (await browser_client.get("/agency/members")).text
    resend = re.search(r'action="(/agency/invitations/[^"]+/resend)"', page)
    assert resend
    again = await browser_client.post(resend.group(1), data={"csrf_token": token})
    assert again.status_code == 303
    assert again.headers["location"] == "/agency/members?done=resent"
    assert (
        "A new invitation is on its way"
        in (await browser_client.get(again.headers["location"])).text
    )
    second_mail = await last_mail_to(admin_engine, "later@agency.example")
    assert second_mail != first_mail
    states = sorted(
        i["status"]
        for i in await invitations(client, world.owner)
        if i["email"] == "later@agency.example"
    )
    assert states == ["pending", "revoked"]

    page = (await browser_client.get("/agency/members")).text
    assert page.count("later@agency.example</span>") == 1
    revoke = re.search(r'action="(/agency/invitations/[^"]+/revoke)"', page)
    assert revoke
    withdrawn = await browser_client.post(revoke.group(1), data={"csrf_token": token})
    assert withdrawn.status_code == 303
    assert withdrawn.headers["location"] == "/agency/members?done=revoked"
    after = (await browser_client.get("/agency/members")).text
    assert "later@agency.example" not in after
    assert "No invitation is waiting." in after
    states = [
        i["status"]
        for i in await invitations(client, world.owner)
        if i["email"] == "later@agency.example"
    ]
    assert states == ["revoked", "revoked"]


async def test_the_owner_changes_a_role_and_removes_a_member(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    world: AgencyWorld,
) -> None:
    manager = (await memberships(client, world.owner))[MANAGER]
    await sign_in(browser_client, world.owner.email)
    page = (await browser_client.get("/agency/members")).text
    assert f'action="/agency/members/{manager["id"]}/role"' in page
    token = hidden_value(page, "csrf_token")
    changed = await browser_client.post(
        f"/agency/members/{manager['id']}/role",
        data={"csrf_token": token, "role": "brand_viewer"},
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/agency/members?done=role"
    assert (await memberships(client, world.owner))[MANAGER]["role"] == "brand_viewer"
    wrong = await browser_client.post(
        f"/agency/members/{manager['id']}/role", data={"csrf_token": token, "role": "owner"}
    )
    assert wrong.status_code == 422
    assert "That role is for another kind of place." in wrong.text
    assert (await memberships(client, world.owner))[MANAGER]["role"] == "brand_viewer"

    confirm = await browser_client.get(f"/agency/members/{manager['id']}/remove")
    assert confirm.status_code == 200
    assert "Remove brand.manager?" in confirm.text
    assert "at Alpha Pizza" in confirm.text
    removed = await browser_client.post(
        f"/agency/members/{manager['id']}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == "/agency/members?done=removed"
    assert MANAGER not in await memberships(client, world.owner)
    assert MANAGER not in (await browser_client.get("/agency/members")).text
    twice = await browser_client.post(
        f"/agency/members/{manager['id']}/remove", data={"csrf_token": token}
    )
    assert twice.status_code == 404


async def test_the_last_owner_stays_an_owner_and_is_told_why(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    mine = (await memberships(client, world.owner))[world.owner.email]
    await sign_in(browser_client, world.owner.email)
    page = (await browser_client.get("/agency/members")).text
    assert f"/agency/members/{mine['id']}/remove" not in page  # not oneself
    token = hidden_value(page, "csrf_token")
    answer = await browser_client.post(
        f"/agency/members/{mine['id']}/role", data={"csrf_token": token, "role": "admin"}
    )
    assert answer.status_code == 409
    assert "This is the agency&#39;s last owner." in answer.text
    assert (await memberships(client, world.owner))[world.owner.email]["role"] == "owner"
    assert (await browser_client.get(f"/agency/members/{mine['id']}/remove")).status_code == 403


async def test_a_brand_manager_works_at_their_brand_only(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await invite_and_accept(
        client,
        admin_engine,
        world.owner,
        "beta@agency.example",
        "location_manager",
        location_id=world.other_location["id"],
    )
    people = await memberships(client, world.owner)
    await sign_in(browser_client, MANAGER)
    home = await browser_client.get("/")
    assert 'aria-label="Agency"' not in home.text  # no agency screens
    assert 'href="/agency/members"' in home.text  # their brand's members, from its navigation
    page = await browser_client.get("/agency/members")
    assert page.status_code == 200
    assert VIEWER in page.text
    assert "beta@agency.example" not in page.text
    assert world.owner.email not in page.text
    roles = re.search(r'<select id="role" name="role">(.*?)</select>', page.text, re.S)
    assert roles
    assert 'value="brand_manager"' in roles.group(1)
    assert 'value="admin"' not in roles.group(1)
    assert 'value="owner"' not in roles.group(1)
    assert "Beta Burgers" not in page.text
    token = hidden_value(page.text, "csrf_token")
    sent = await browser_client.post(
        "/agency/invitations",
        data={
            "csrf_token": token,
            "email": "helper@agency.example",
            "role": "brand_viewer",
            "brand_id": world.brand["id"],
        },
    )
    assert sent.status_code == 303
    refused = await browser_client.post(
        "/agency/invitations",
        data={
            "csrf_token": token,
            "email": "spy@agency.example",
            "role": "brand_viewer",
            "brand_id": world.other_brand["id"],
        },
    )
    assert refused.status_code == 422
    assert "You may not invite people to that brand." in refused.text
    above = await browser_client.post(
        "/agency/invitations",
        data={"csrf_token": token, "email": "boss@agency.example", "role": "admin"},
    )
    assert above.status_code == 422
    assert "above your own" in above.text or "agency-wide" in above.text
    emails = {i["email"] for i in await invitations(client, world.owner)}
    assert "helper@agency.example" in emails
    assert not {"spy@agency.example", "boss@agency.example"} & emails
    owner_id = people[world.owner.email]["id"]
    beta_id = people["beta@agency.example"]["id"]
    for hidden in (owner_id, beta_id):
        assert (await browser_client.get(f"/agency/members/{hidden}/remove")).status_code == 404
        posted = await browser_client.post(
            f"/agency/members/{hidden}/role", data={"csrf_token": token, "role": "admin"}
        )
        assert posted.status_code == 404
    assert (await memberships(client, world.owner))[world.owner.email]["role"] == "owner"


async def test_a_brand_viewer_gets_no_link_and_the_403_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    manager = (await memberships(client, world.owner))[MANAGER]
    await sign_in(browser_client, VIEWER)
    home = await browser_client.get("/")
    assert "/agency/members" not in home.text
    assert (await browser_client.get("/agency/members")).status_code == 403
    token = hidden_value(home.text, "csrf_token")
    for path, data in (
        ("/agency/invitations", {"email": "x@agency.example", "role": "brand_viewer"}),
        (f"/agency/members/{manager['id']}/role", {"role": "brand_viewer"}),
        (f"/agency/members/{manager['id']}/remove", {}),
    ):
        answer = await browser_client.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
    assert (await memberships(client, world.owner))[MANAGER]["role"] == "brand_manager"


async def test_another_agencys_members_and_invitations_are_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    stranger = await sign_up(client)
    theirs = (await memberships(client, stranger))[stranger.email]["id"]
    invited = await client.post(
        "/v1/invitations",
        json={"email": "theirs@agency.example", "role": "admin"},
        headers=stranger.headers,
    )
    their_invitation = invited.json()["id"]
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/members")
    assert stranger.email not in page.text
    token = hidden_value(page.text, "csrf_token")
    assert (await browser_client.get(f"/agency/members/{theirs}/remove")).status_code == 404
    for path in (
        f"/agency/members/{theirs}/remove",
        f"/agency/members/{theirs}/role",
        f"/agency/invitations/{their_invitation}/revoke",
        f"/agency/invitations/{their_invitation}/resend",
    ):
        answer = await browser_client.post(path, data={"csrf_token": token, "role": "admin"})
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text
    assert [i["status"] for i in await invitations(client, stranger)] == ["pending"]
    assert (await memberships(client, stranger))[stranger.email]["role"] == "owner"


async def test_the_members_page_in_greek(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/members", headers={"Accept-Language": "el"})
    assert page.status_code == 200
    assert '<html lang="el">' in page.text
    assert "<h1>Μέλη και προσκλήσεις</h1>" in page.text
    assert "Υπεύθυνος μάρκας" in page.text
    assert "Πρόσκληση ατόμου" in page.text


async def test_the_members_page_runs_as_many_statements_for_few_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/agency/members")).status_code == 200
    for n in range(4):
        await invite_and_accept(
            client,
            admin_engine,
            world.owner,
            f"staff{n}@agency.example",
            "location_staff",
            location_id=(world.location if n % 2 else world.other_location)["id"],
        )
        await client.post(
            "/v1/invitations",
            json={
                "email": f"invited{n}@agency.example",
                "role": "brand_viewer",
                "brand_id": world.other_brand["id"],
            },
            headers=world.owner.headers,
        )
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/agency/members")
    assert page.status_code == 200
    assert page.text.count("invited") >= 4
    assert "Location: Beta Patras" in page.text
    assert many.count == few.count, many.statements
