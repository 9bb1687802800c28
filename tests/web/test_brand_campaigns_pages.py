"""A brand's campaigns in the browser (issue #16): the list, the builder (reach and spread,
every problem next to its field, a draft through the API's service), the progress page
(counts from the database, posts paged, the actions the state allows) and the refusals."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.jobs import campaigns as campaign_jobs
from tests.factories import create_brand, sign_up
from tests.support.campaigns import (
    campaign_body,
    create_campaign,
    launch_and_fan_out,
    publish_template,
)
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_campaigns import draft, head_office, import_locations


def builder_form(csrf: str, w: Any, **fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "name": "Pizza week",
        "template": f"{w.template_id}:1",
        "var-offer": "2 for 1",
        "audience_kind": "groups",
        "group_ids": [w.group["id"]],
        "channels": ["facebook"],
        "schedule_kind": "local",
        "local_date": "2030-06-03",
        "local_time": "09:00",
        "approval_policy": "location_confirm",
        "action": "create",
    }
    form.update(fields)
    return form


async def campaigns_of(client: httpx.AsyncClient, w: Any) -> list[dict[str, Any]]:
    listed = await client.get(
        "/v1/campaigns", params={"brand_id": w.brand["id"]}, headers=w.owner.headers
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


async def test_the_builder_shows_reach_and_spread_then_saves_a_draft(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in(browser_client, w.manager_email)

    page = await browser_client.get("/brand/campaigns/new")
    assert page.status_code == 200
    assert f'value="{w.template_id}:1"' in page.text
    assert "North" in page.text
    assert "Reaches 3 active locations now." in page.text  # "all", before anything is chosen
    csrf = hidden_value(page.text, "csrf_token")

    checked = await browser_client.post(
        "/brand/campaigns/new", data=builder_form(csrf, w, action="check")
    )
    assert checked.status_code == 200
    assert "Reaches 2 active locations now." in checked.text
    # 09:00 in Athens (UTC+3 in June) and in Berlin (UTC+2): 06:00 to 07:00 UTC.
    spread = re.search(r"Goes out from (.*?) to (.*?) \(UTC\), across 2 time zones", checked.text)
    assert spread is not None, checked.text
    assert "6:00" in spread.group(1)
    assert "7:00" in spread.group(2)
    assert 'id="var-offer"' in checked.text  # the template's value to fill in
    assert await campaigns_of(client, w) == []  # checking writes nothing

    created = await browser_client.post("/brand/campaigns/new", data=builder_form(csrf, w))
    assert created.status_code == 303, created.text
    [campaign] = await campaigns_of(client, w)
    assert created.headers["location"] == f"/brand/campaigns/{campaign['id']}?done=created"
    assert campaign["status"] == "draft"
    assert campaign["audience"] == {"kind": "groups", "group_ids": [w.group["id"]]}
    assert campaign["schedule"] == {"kind": "local", "date": "2030-06-03", "time": "09:00"}
    assert campaign["approval_policy"] == "location_confirm"
    assert campaign["variables"] == {"offer": "2 for 1"}

    listed = await browser_client.get("/brand/campaigns")
    assert "Pizza week" in listed.text
    assert "Draft" in listed.text
    assert '<a href="/brand/campaigns"' in listed.text  # the brand navigation's link


async def test_problems_show_next_to_their_fields_and_nothing_is_written(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    csrf = hidden_value((await browser_client.get("/brand/campaigns/new")).text, "csrf_token")

    empty = await browser_client.post(
        "/brand/campaigns/new",
        data=builder_form(csrf, w, name="", channels=[], local_time="nine", group_ids=[]),
    )
    assert empty.status_code == 422
    assert 'id="name-problem">Give the campaign a name.' in empty.text
    assert 'id="channels-problem">Choose at least one platform.' in empty.text
    assert 'id="local_time-problem">Give a time, such as 09:30.' in empty.text
    assert 'id="audience-problem">Choose at least one group.' in empty.text

    # The service's own checks: the campaign value left empty, a date that has passed.
    checked = await browser_client.post(
        "/brand/campaigns/new",
        data=builder_form(csrf, w, **{"var-offer": "", "local_date": "2020-01-01"}),
    )
    assert checked.status_code == 422
    assert 'id="var-offer-problem">The template uses this value; fill it in.' in checked.text
    assert 'id="local_date-problem">This time has passed; choose a later one.' in checked.text
    assert 'value="Pizza week"' in checked.text  # what was typed is kept
    assert await campaigns_of(client, w) == []


async def test_progress_page_counts_and_pages_and_offers_what_the_state_allows(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    campaign = await draft(client, w, approval_policy="location_confirm", audience={"kind": "all"})
    await sign_in(browser_client, w.manager_email)

    drafted = await browser_client.get(f"/brand/campaigns/{campaign['id']}")
    assert drafted.status_code == 200
    assert "/launch" in drafted.text
    assert "/pause" not in drafted.text
    csrf = hidden_value(drafted.text, "csrf_token")

    launched = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/launch", data={"csrf_token": csrf}
    )
    assert launched.status_code == 303
    assert launched.headers["location"].endswith("?done=launched")
    await campaign_jobs.fan_out(worker_ctx, str(w.owner.agency_id), campaign["id"])

    page = await browser_client.get(f"/brand/campaigns/{campaign['id']}")
    text = page.text
    assert "Running" in text
    # Athens and Berlin wait to confirm; Chicago has no Facebook account: skipped.
    assert re.search(
        r'metric-value">2</span> <span class="metric-label">Waiting for approval', text
    )
    assert re.search(r'metric-value">1</span> <span class="metric-label">Skipped', text)
    assert "Athens Slice: 1 post waiting" in text
    assert "Berlin Slice: 1 post waiting" in text
    assert "Remind them" in text
    assert "/pause" in text
    assert "/launch" not in text
    assert "/resume" not in text
    assert 'data-refresh="/brand/campaigns/' in text

    paused = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/pause", data={"csrf_token": csrf}
    )
    assert paused.status_code == 303
    again = await browser_client.get(f"/brand/campaigns/{campaign['id']}")
    assert "Paused" in again.text
    assert "/resume" in again.text
    assert "/pause" not in again.text

    # Each location with its post on every channel; a count narrows it to its status.
    assert re.search(
        r'<th scope="row">Chicago Slice</th>\s*<td><a href="/posts/[^"]+" '
        r'class="cell-status status-skipped">Skipped</a>',
        text,
    )
    skipped = await browser_client.get(f"/brand/campaigns/{campaign['id']}?status=skipped")
    grid = skipped.text.split('id="posts-title"')[1]
    assert "Chicago Slice" in grid
    assert "Athens Slice" not in grid
    assert "Show every location" in grid

    fragment = await browser_client.get(f"/brand/campaigns/{campaign['id']}/progress")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Athens Slice" in fragment.text

    bad = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/reschedule",
        data={"csrf_token": csrf, "schedule_kind": "local", "local_date": "x", "local_time": "9"},
    )
    assert bad.status_code == 422
    assert 'id="local_date-problem"' in bad.text

    moved = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/reschedule",
        data={
            "csrf_token": csrf,
            "schedule_kind": "local",
            "local_date": "2030-07-01",
            "local_time": "10:00",
        },
    )
    assert moved.status_code == 303
    detail = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=w.owner.headers)).json()
    assert detail["schedule"] == {"kind": "local", "date": "2030-07-01", "time": "10:00"}

    cancelled = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/cancel", data={"csrf_token": csrf}
    )
    assert cancelled.status_code == 303
    ended = await browser_client.get(f"/brand/campaigns/{campaign['id']}")
    assert "Cancelled" in ended.text
    assert "/cancel" not in ended.text
    assert "data-refresh" not in ended.text
    resumed = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/resume", data={"csrf_token": csrf}
    )
    assert resumed.status_code == 409
    assert "Only a paused campaign can be resumed." in resumed.text


async def test_a_brand_viewer_reads_but_is_offered_nothing_that_writes(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    campaign = await draft(client, w)
    await sign_in(browser_client, w.viewer_email)

    listed = await browser_client.get("/brand/campaigns")
    assert listed.status_code == 200
    assert "Pizza week" in listed.text
    assert "/brand/campaigns/new" not in listed.text
    page = await browser_client.get(f"/brand/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert "/launch" not in page.text
    assert "/cancel" not in page.text
    assert "/reschedule" not in page.text
    assert (await browser_client.get("/brand/campaigns/new")).status_code == 403
    csrf = hidden_value(listed.text, "csrf_token")
    refused = await browser_client.post(
        f"/brand/campaigns/{campaign['id']}/launch", data={"csrf_token": csrf}
    )
    assert refused.status_code == 403
    detail = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=w.owner.headers)).json()
    assert detail["status"] == "draft"


async def test_csrf_and_another_agencys_campaign(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    mine = await draft(client, w)
    other = await sign_up(client)
    theirs_brand = await create_brand(client, other)
    theirs_template = await publish_template(client, other, theirs_brand["id"])
    theirs = await create_campaign(
        client, other.headers, campaign_body(theirs_brand["id"], theirs_template)
    )
    await sign_in(browser_client, w.manager_email)

    assert (await browser_client.get(f"/brand/campaigns/{theirs['id']}")).status_code == 404
    assert (await browser_client.get("/brand/campaigns/not-an-id")).status_code == 404
    page = await browser_client.get(f"/brand/campaigns/{mine['id']}")
    csrf = hidden_value(page.text, "csrf_token")
    foreign = await browser_client.post(
        f"/brand/campaigns/{theirs['id']}/launch", data={"csrf_token": csrf}
    )
    assert foreign.status_code == 404
    forged = await browser_client.post(f"/brand/campaigns/{mine['id']}/launch", data={})
    assert forged.status_code == 403
    no_token = await browser_client.post("/brand/campaigns/new", data=builder_form("wrong", w))
    assert no_token.status_code == 403
    assert len(await campaigns_of(client, w)) == 1
    detail = (await client.get(f"/v1/campaigns/{mine['id']}", headers=w.owner.headers)).json()
    assert detail["status"] == "draft"


async def test_the_pages_speak_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    campaign = await draft(client, w)
    await sign_in(browser_client, w.manager_email)
    greek = {"Accept-Language": "el"}
    listed = await browser_client.get("/brand/campaigns", headers=greek)
    assert '<html lang="el"' in listed.text
    assert "Καμπάνιες" in listed.text
    page = await browser_client.get(f"/brand/campaigns/{campaign['id']}", headers=greek)
    assert "Εκκίνηση" in page.text


async def test_progress_runs_the_same_statements_for_10_or_300_posts(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    few_brand = w.brand["id"]
    await import_locations(client, w.owner, few_brand, 7, "few")  # 3 + 7 = 10 posts
    small = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(few_brand, w.template_id, channels=["facebook"], name="Small"),
    )
    await launch_and_fan_out(client, w.owner.headers, small, worker_ctx, w.owner.agency_id)
    await sign_in(browser_client, w.manager_email)
    await browser_client.get(f"/brand/campaigns/{small['id']}")  # warm up
    with StatementCounter(app.state.db.engine) as few:
        shown = await browser_client.get(f"/brand/campaigns/{small['id']}")
    assert ">10 posts<" in shown.text or "10 posts" in shown.text

    await import_locations(client, w.owner, few_brand, 290, "many")  # 300 posts
    large = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(few_brand, w.template_id, channels=["facebook"], name="Large"),
    )
    await launch_and_fan_out(client, w.owner.headers, large, worker_ctx, w.owner.agency_id)
    with StatementCounter(app.state.db.engine) as many:
        shown = await browser_client.get(f"/brand/campaigns/{large['id']}")
    assert "300 posts" in shown.text
    assert "Next locations" in shown.text  # paged
    following = re.search(r'<a href="([^"]+)">Next locations</a>', shown.text)
    assert following is not None
    second = await browser_client.get(following.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    first_names = set(re.findall(r'<th scope="row">([^<]+)</th>', shown.text))
    second_names = set(re.findall(r'<th scope="row">([^<]+)</th>', second.text))
    assert len(first_names) == len(second_names) == 50
    assert not first_names & second_names
    assert many.count == few.count
