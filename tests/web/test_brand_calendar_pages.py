"""The brand calendar (issue #16): every post of the brand the viewer looks at, by month,
week or list, filtered by group, location, campaign, platform and status, paged; its posts
open the post page for the brand's people; another brand's or agency's posts stay out."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.routes import brand_calendar
from tests.factories import create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.campaigns import (
    campaign_body,
    create_campaign,
    launch_and_fan_out,
    publish_template,
)
from tests.support.web import StatementCounter, sign_in
from tests.support.web_brand_campaigns import HeadOffice, draft, head_office, import_locations

JUNE = "/brand/calendar?view=month&date=2030-06-03"


async def launched(
    client: httpx.AsyncClient, w: HeadOffice, worker_ctx: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    campaign = await draft(client, w, **fields)
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    return campaign


async def posts_of(client: httpx.AsyncClient, w: HeadOffice, campaign_id: str) -> list[Any]:
    listed = await client.get(
        f"/v1/campaigns/{campaign_id}/posts", params={"limit": "200"}, headers=w.owner.headers
    )
    return list(listed.json()["items"])


def post_links(html: str) -> set[str]:
    return set(re.findall(r'<a href="/posts/([0-9a-f-]+)">', html))


async def test_every_post_of_the_brand_with_filters(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    week = await launched(client, w, worker_ctx, name="Pizza week", audience={"kind": "all"})
    north = await launched(
        client,
        w,
        worker_ctx,
        name="North only",
        schedule={"kind": "absolute", "at": "2030-06-20T10:00:00+00:00"},
    )
    week_posts = await posts_of(client, w, week["id"])
    north_posts = await posts_of(client, w, north["id"])
    assert len(week_posts) == 3  # Athens, Berlin, Chicago (skipped: nothing connected)
    assert len(north_posts) == 2
    await sign_in(browser_client, w.manager_email)

    page = await browser_client.get(JUNE)
    assert page.status_code == 200
    assert post_links(page.text) == {p["id"] for p in week_posts + north_posts}
    assert "Chicago Slice" in page.text  # each post names its location
    assert "5 posts" in page.text
    assert "Times in UTC" in page.text
    assert '<a href="/brand/calendar" aria-current="page">' in page.text

    by_group = await browser_client.get(JUNE + f"&group={w.group['id']}")
    assert post_links(by_group.text) == {
        p["id"] for p in week_posts + north_posts if p["location_id"] != w.chicago["id"]
    }
    by_campaign = await browser_client.get(JUNE + f"&campaign={north['id']}")
    assert post_links(by_campaign.text) == {p["id"] for p in north_posts}
    by_location = await browser_client.get(JUNE + f"&location={w.athens['id']}")
    assert post_links(by_location.text) == {
        p["id"] for p in week_posts + north_posts if p["location_id"] == w.athens["id"]
    }
    by_status = await browser_client.get(JUNE + "&status=skipped")
    assert post_links(by_status.text) == {
        p["id"] for p in week_posts if p["location_id"] == w.chicago["id"]
    }
    by_platform = await browser_client.get(JUNE + "&platform=x")
    assert post_links(by_platform.text) == set()
    week_view = await browser_client.get("/brand/calendar?view=week&date=2030-06-20")
    assert post_links(week_view.text) == {p["id"] for p in north_posts}
    listed = await browser_client.get("/brand/calendar?view=list&date=2030-06-03")
    assert "Pizza week in Athens: 2 for 1" in listed.text  # the list shows first words

    # The post page opens for the brand's people, as for the location's.
    post = await browser_client.get(f"/posts/{week_posts[0]['id']}")
    assert post.status_code == 200
    assert "Pizza week in" in post.text


async def test_paged_and_another_brands_posts_stay_out(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await head_office(client, admin_engine)
    mine = await launched(client, w, worker_ctx, audience={"kind": "all"})
    other_brand = await create_brand(client, w.owner, "Other brand")
    await create_location(client, w.owner, other_brand["id"], name="Elsewhere")
    other_template = await publish_template(client, w.owner, other_brand["id"])
    theirs = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(other_brand["id"], other_template, channels=["facebook"]),
    )
    await launch_and_fan_out(client, w.owner.headers, theirs, worker_ctx, w.owner.agency_id)
    [their_post] = await posts_of(client, w, theirs["id"])
    other_agency = await sign_up(client)
    await sign_in(browser_client, w.manager_email)

    monkeypatch.setattr(brand_calendar, "PAGE_SIZE", 2)
    first = await browser_client.get(JUNE)
    assert len(post_links(first.text)) == 2
    assert "3 posts" in first.text  # the totals count every page
    following = re.search(r'<a href="([^"]+)" rel="next">Next posts</a>', first.text)
    assert following is not None
    second = await browser_client.get(following.group(1).replace("&amp;", "&"))
    assert len(post_links(second.text)) == 1
    assert post_links(first.text) | post_links(second.text) == {
        p["id"] for p in await posts_of(client, w, mine["id"])
    }
    assert their_post["id"] not in first.text + second.text
    # The brand manager has no grant on the other brand: its post is the 404 page.
    assert (await browser_client.get(f"/posts/{their_post['id']}")).status_code == 404
    # A filter naming another brand's or agency's ids is ignored, never an error.
    foreign = await browser_client.get(JUNE + f"&campaign={theirs['id']}&group={other_agency}")
    assert foreign.status_code == 200
    assert their_post["id"] not in foreign.text
    stale = await browser_client.get(JUNE + "&cursor=not-a-cursor")
    assert stale.status_code == 303


async def test_a_brand_viewer_reads_the_calendar_and_posts_without_buttons(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    campaign = await launched(client, w, worker_ctx)
    [post, _] = await posts_of(client, w, campaign["id"])
    await sign_in(browser_client, w.viewer_email)
    page = await browser_client.get(JUNE)
    assert post["id"] in page.text
    shown = await browser_client.get(f"/posts/{post['id']}")
    assert shown.status_code == 200
    assert "/cancel" not in shown.text
    assert "/reschedule" not in shown.text


async def test_a_location_manager_has_no_brand_calendar(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    email = "lm-cal@athens.example"
    await invite_and_accept(
        client, admin_engine, w.owner, email, "location_manager", location_id=w.athens["id"]
    )
    await sign_in(browser_client, email)
    assert (await browser_client.get(JUNE)).status_code == 404


async def test_the_calendar_speaks_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get(JUNE, headers={"Accept-Language": "el"})
    assert "Ημερολόγιο μάρκας" in page.text
    assert "Όλες οι καμπάνιες" in page.text


async def test_the_same_statements_for_10_or_300_posts(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
) -> None:
    w = await head_office(client, admin_engine)
    await import_locations(client, w.owner, w.brand["id"], 7, "few")
    small = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(w.brand["id"], w.template_id, channels=["facebook"], name="Small"),
    )
    await launch_and_fan_out(client, w.owner.headers, small, worker_ctx, w.owner.agency_id)
    await sign_in(browser_client, w.manager_email)
    url = "/brand/calendar?view=list&date=2030-06-03"
    await browser_client.get(url)
    with StatementCounter(app.state.db.engine) as few:
        shown = await browser_client.get(url)
    assert "10 posts" in shown.text

    await import_locations(client, w.owner, w.brand["id"], 290, "many")
    large = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(w.brand["id"], w.template_id, channels=["facebook"], name="Large"),
    )
    await launch_and_fan_out(client, w.owner.headers, large, worker_ctx, w.owner.agency_id)
    with StatementCounter(app.state.db.engine) as many:
        shown = await browser_client.get(url)
    assert "310 posts" in shown.text
    assert many.count == few.count


async def test_a_big_brand_finds_a_location_by_search_instead_of_a_list(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``LOCATION_CHOICES`` locations the filter is a search field (a list of thousands
    of names would outweigh the page); a link naming a location by id still filters by it."""
    monkeypatch.setattr(brand_calendar, "LOCATION_CHOICES", 2)
    w = await head_office(client, admin_engine)
    week = await launched(client, w, worker_ctx, name="Pizza week", audience={"kind": "all"})
    posts = await posts_of(client, w, week["id"])
    await sign_in(browser_client, w.manager_email)

    page = await browser_client.get(JUNE)
    assert 'name="location_q"' in page.text
    assert 'id="filter-location" name="location"' not in page.text

    found = await browser_client.get(JUNE + "&location_q=chicago")
    assert post_links(found.text) == {p["id"] for p in posts if p["location_id"] == w.chicago["id"]}
    assert "Showing Chicago Slice." in found.text
    # the location last by name, beyond the first two listed, named by a link
    linked = await browser_client.get(JUNE + f"&location={w.chicago['id']}")
    assert post_links(linked.text) == post_links(found.text)
    nothing = await browser_client.get(JUNE + "&location_q=nowhere")
    assert post_links(nothing.text) == {p["id"] for p in posts}  # no match: no filter,
    assert "No location of the brand matches “nowhere”" in nothing.text  # and it says so

    other = await sign_up(client)
    theirs = await create_location(client, other, (await create_brand(client, other))["id"])
    foreign = await browser_client.get(JUNE + f"&location={theirs['id']}")
    assert post_links(foreign.text) == {p["id"] for p in posts}  # another agency's: ignored
