"""/agency/audit over HTTP: the agency's log newest first with who (a person or a key), what,
which object, the changes and the address; filters by who, action, days, object type and id;
paged; bad filters next to their field (422); brand people get no link and the 403 page;
another agency's events never show; as many statements for a few events as for many."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, sign_up
from tests.support.web import StatementCounter, sign_in
from tests.support.web_agency import MANAGER, VIEWER, AgencyWorld, agency_world, memberships


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> AgencyWorld:
    return await agency_world(client, admin_engine)


async def _add_events(engine: AsyncEngine, agency_id: uuid.UUID, n: int, actor: str) -> None:
    """``n`` made-up location updates by ``actor`` (a user id), straight into the log."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_event (agency_id, id, actor_type, actor_id, action, "
                "object_type, object_id, changes, client_ip) "
                "SELECT :a, gen_random_uuid(), 'user', CAST(:actor AS uuid), 'location.update', "
                "'location', gen_random_uuid(), "
                "jsonb_build_object('name', jsonb_build_object('before', 'Old ' || g, "
                "'after', 'New ' || g)), '198.51.100.7' FROM generate_series(1, :n) g"
            ),
            {"a": agency_id, "actor": actor, "n": n},
        )


async def test_the_owner_reads_the_log_with_names_and_changes(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await _add_events(admin_engine, world.owner.agency_id, 1, str(world.owner.user_id))
    made = await client.post(
        "/v1/api-keys", json={"name": "CRM sync", "role": "admin"}, headers=world.owner.headers
    )
    secret = made.json()["key"]
    await client.post(
        "/v1/brands", json={"name": "Gamma Gyros"}, headers={"Authorization": f"Bearer {secret}"}
    )
    await sign_in(browser_client, world.owner.email)
    home = await browser_client.get("/")
    assert 'href="/agency/audit"' in home.text
    page = await browser_client.get("/agency/audit")
    assert page.status_code == 200
    for expected in (
        "Audit log",
        "invitation.create",
        "invitation.accept",
        "api_key.create",
        "brand.create",
        "Key CRM sync",
        "brand.manager",  # the manager accepted their invitation
        "name: Old 1 → New 1",
        "198.51.100.7",
    ):
        assert expected in page.text, expected
    owner_name = (await memberships(client, world.owner))[world.owner.email]["full_name"]
    assert owner_name in page.text
    assert page.text.index("brand.create") < page.text.index("invitation.accept")  # newest first


async def test_the_filters_narrow_the_log(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    manager = (await memberships(client, world.owner))[MANAGER]
    await sign_in(browser_client, world.owner.email)
    by_action = await browser_client.get("/agency/audit?action=invitation.accept")
    assert by_action.text.count("<code>invitation.accept</code>") == 2
    assert "<code>invitation.create</code>" not in by_action.text
    assert 'value="invitation.accept"' in by_action.text  # the filter stays filled in

    by_who = await browser_client.get(f"/agency/audit?who=user:{manager['user_id']}")
    assert by_who.status_code == 200
    assert by_who.text.count("<code>invitation.accept</code>") == 1
    assert "<code>brand.create</code>" not in by_who.text
    assert f'value="user:{manager["user_id"]}" selected' in by_who.text

    by_object = await browser_client.get(
        f"/agency/audit?object_type=brand&object_id={world.brand['id']}"
    )
    assert by_object.text.count("<code>brand.create</code>") == 1
    assert "<code>invitation.create</code>" not in by_object.text

    later = await browser_client.get("/agency/audit?since=2099-01-01")
    assert "No event matches." in later.text
    today = await browser_client.get("/agency/audit?since=2000-01-01&until=2099-12-31")
    assert "<code>brand.create</code>" in today.text
    assert "Clear the filters" in today.text


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        ("who=someone", "who", "Choose someone from the list."),
        ("who=user:not-an-id", "who", "Choose someone from the list."),
        ("since=yesterday", "since", "Enter the date like 2031-12-31."),
        ("until=31/12/2031", "until", "Enter the date like 2031-12-31."),
        ("since=2031-05-02&until=2031-05-01", "until", "The last day comes on or after"),
        ("object_id=42", "object_id", "An object id looks like"),
    ],
)
async def test_a_bad_filter_comes_back_next_to_its_field(
    browser_client: httpx.AsyncClient, world: AgencyWorld, query: str, field: str, problem: str
) -> None:
    await sign_in(browser_client, world.owner.email)
    answer = await browser_client.get(f"/agency/audit?{query}")
    assert answer.status_code == 422
    shown = re.search(rf'id="{field}-problem">([^<]*)<', answer.text)
    assert shown, answer.text
    assert problem in shown.group(1)
    assert "Correct the filters above" in answer.text


async def test_the_log_is_paged_newest_first(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, world: AgencyWorld
) -> None:
    await _add_events(admin_engine, world.owner.agency_id, 60, str(world.owner.user_id))
    await sign_in(browser_client, world.owner.email)
    first = await browser_client.get("/agency/audit?action=location.update")
    assert first.text.count("<code>location.update</code>") == 50
    older = re.search(r'href="(/agency/audit\?[^"]*cursor=[^"]+)">Older events', first.text)
    assert older
    second = await browser_client.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count("<code>location.update</code>") == 10
    assert "Older events" not in second.text
    assert "Newest events" in second.text
    bad = await browser_client.get("/agency/audit?cursor=nonsense")
    assert bad.status_code == 303
    assert bad.headers["location"].startswith("/agency/audit")


@pytest.mark.parametrize("email", [MANAGER, VIEWER])
async def test_brand_people_get_no_link_and_the_403_page(
    browser_client: httpx.AsyncClient, world: AgencyWorld, email: str
) -> None:
    await sign_in(browser_client, email)
    assert "/agency/audit" not in (await browser_client.get("/")).text
    answer = await browser_client.get("/agency/audit")
    assert answer.status_code == 403
    assert "invitation.create" not in answer.text


async def test_another_agencys_events_never_show(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    stranger = await sign_up(client)
    theirs = await create_brand(client, stranger, "Secret Sauce")
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get(f"/agency/audit?object_id={theirs['id']}")
    assert page.status_code == 200
    assert "No event matches." in page.text
    everything = await browser_client.get("/agency/audit")
    assert theirs["id"] not in everything.text
    assert str(stranger.user_id) not in everything.text


async def test_the_audit_page_in_greek(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/audit", headers={"Accept-Language": "el"})
    assert page.status_code == 200
    assert "<h1>Αρχείο ενεργειών</h1>" in page.text


async def test_the_audit_page_runs_as_many_statements_for_few_events_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/agency/audit")).status_code == 200
    people = await memberships(client, world.owner)
    for email in (MANAGER, VIEWER, world.owner.email):
        await _add_events(admin_engine, world.owner.agency_id, 20, people[email]["user_id"])
    for n in range(3):
        made = await client.post(
            "/v1/api-keys", json={"name": f"Key {n}", "role": "admin"}, headers=world.owner.headers
        )
        await client.get("/v1/brands", headers={"Authorization": f"Bearer {made.json()['key']}"})
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/agency/audit")
    assert page.status_code == 200
    assert page.text.count("<tr>") == 51
    assert many.count == few.count, many.statements
