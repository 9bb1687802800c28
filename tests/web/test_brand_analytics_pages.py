"""The brand's analytics (issue #16): the same numbers as the API for the same days (summary,
location leaderboards, each group's own summary), periods of 7, 30 and 90 days, the CSV export
byte for byte the API's (and the 402 page on a plan without it), who may look, the same
statements for an empty brand as for a busy one, and Greek."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_insights import brand_numbers, head_office, on_plan

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def period(days: int) -> dict[str, str]:
    return {
        "from": (YESTERDAY - timedelta(days=days - 1)).isoformat(),
        "to": YESTERDAY.isoformat(),
    }


def board(html: str, key: str) -> list[tuple[str, str]]:
    """(location, value) per line of a leaderboard, in order."""
    found = re.search(
        rf'<section class="card board" aria-labelledby="board-{key}">(.*?)</section>', html, re.S
    )
    assert found, f"no board {key}"
    rows = re.findall(r'<th scope="row">([^<]*)</th><td>([^<]*)</td>', found.group(1))
    return [(unescape(a), unescape(b)) for a, b in rows]


def group_rows(html: str) -> dict[str, str]:
    table = html.split('<table class="board">', 1)[1].split("</table>", 1)[0]
    return {
        unescape(name): unescape(rate)
        for name, rate in re.findall(r'<th scope="row">([^<]*)</th><td>([^<]*)</td>', table)
    }


async def test_the_page_shows_the_apis_numbers_for_the_same_days(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    numbers = await brand_numbers(client, admin_engine, app_db)
    office = numbers.office
    api = office.world.owner.headers
    await sign_in(browser_client, office.manager_email)

    page = (await browser_client.get("/brand/analytics")).text

    base = f"/v1/brands/{office.brand_id}/analytics"
    summary = (await client.get(f"{base}/summary", params=period(30), headers=api)).json()
    totals, previous = summary["totals"], summary["previous"]
    for key in ("followers", "reach", "engagements"):
        assert f'<span class="value">{totals[key]:,}</span>' in page
        assert f"The period before: {previous[key]:,}" in page
    assert f"Engagement rate: {totals['engagement_rate'] * 100:g}%" in page

    for key in ("engagement_rate", "rating", "response_rate", "response_time"):
        answer = await client.get(
            f"{base}/leaderboard", params={**period(30), "metric": key}, headers=api
        )
        names = [e["location_name"] for e in answer.json()["entries"]]
        assert [name for name, _ in board(page, key)] == names, key
    assert board(page, "engagement_rate") == [("NYC Slice", "4%"), ("Boston Slice", "1%")]
    assert board(page, "rating") == [("NYC Slice", "5"), ("Boston Slice", "2")]

    shown = group_rows(page)
    for name, group_id in numbers.groups.items():
        theirs = await client.get(
            f"/v1/location-groups/{group_id}/analytics/summary", params=period(30), headers=api
        )
        rate = theirs.json()["totals"]["engagement_rate"]
        assert shown[name] == (f"{rate * 100:g}%" if rate is not None else "—"), name
    assert list(shown) == ["East", "Everywhere", "Empty"]  # the best first, none last


async def test_periods_of_seven_and_ninety_days_and_a_wrong_one(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    numbers = await brand_numbers(client, admin_engine, app_db)
    api = numbers.office.world.owner.headers
    await sign_in(browser_client, numbers.office.viewer_email)  # a brand viewer reads them
    base = f"/v1/brands/{numbers.office.brand_id}/analytics/summary"

    for days in (7, 90):
        page = await browser_client.get(f"/brand/analytics?days={days}")
        assert page.status_code == 200
        assert f'href="/brand/analytics?days={days}" aria-current="page"' in page.text
        reach = (await client.get(base, params=period(days), headers=api)).json()["totals"]["reach"]
        assert f'<span class="value">{reach:,}</span>' in page.text
    wrong = await browser_client.get("/brand/analytics?days=12")
    assert wrong.status_code == 422
    assert "Choose 7, 30 or 90 days." in wrong.text


async def test_the_csv_export_is_the_apis_for_the_same_days(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    numbers = await brand_numbers(client, admin_engine, app_db)
    office = numbers.office
    await sign_in(browser_client, office.manager_email)
    page = (await browser_client.get("/brand/analytics?days=7")).text
    assert 'href="/brand/analytics/export?days=7"' in page

    mine = await browser_client.get("/brand/analytics/export?days=7")
    theirs = await client.get(
        f"/v1/brands/{office.brand_id}/analytics/export",
        params=period(7),
        headers=office.world.owner.headers,
    )

    assert mine.status_code == 200
    assert mine.headers["content-type"].startswith("text/csv")
    assert mine.content == theirs.content
    assert len(mine.text.splitlines()) == 1 + 2 * 7  # two locations, a line a day each

    await on_plan(admin_engine, office.world.owner.agency_id, "starter")
    refused = await browser_client.get("/brand/analytics/export?days=7")
    assert refused.status_code == 402
    assert "<h1" in refused.text


async def test_a_location_manager_has_no_brand_analytics(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    await head_office(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")

    refused = await browser_client.get("/brand/analytics")

    assert refused.status_code == 404
    assert 'href="/brand/analytics"' not in (await browser_client.get("/")).text


async def test_the_page_reads_the_same_statements_for_an_empty_brand_as_a_busy_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    numbers = await brand_numbers(client, admin_engine, app_db)
    owner = numbers.office.world.owner
    quiet = await client.post("/v1/brands", json={"name": "Aaa quiet"}, headers=owner.headers)
    assert quiet.status_code == 201, quiet.text
    await sign_in(browser_client, owner.email)  # the first brand by name: the quiet one
    await browser_client.get("/brand/analytics")
    with StatementCounter(app.state.db.engine) as few:
        page = await browser_client.get("/brand/analytics?days=90")
    assert "No numbers collected yet" in page.text

    switched = await browser_client.post(
        "/switch-brand",
        data={
            "brand_id": numbers.office.brand_id,
            "csrf_token": hidden_value(page.text, "csrf_token"),
        },
    )
    assert switched.status_code == 303
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/brand/analytics?days=90")
    assert "NYC Slice" in page.text

    assert many.count == few.count


async def test_the_brand_analytics_read_in_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    await sign_in(browser_client, office.manager_email)

    page = await browser_client.get("/brand/analytics", headers={"Accept-Language": "el"})

    assert '<html lang="el">' in page.text
    assert "Οι καλύτερες τοποθεσίες" not in page.text
    assert "Τα καλύτερα καταστήματα" in page.text
