"""The calendar page over HTTP: my location's posts by month, week and list, in the
location's time zone, filtered, navigated; nobody else's posts; no N+1 (browser run in
test_calendar_browser.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.routes import calendar as calendar_route
from tests.support.post_world import ZONE, PostWorld, build, copy_post, make_posts
from tests.support.web import StatementCounter, sign_in

ATHENS = ZoneInfo(ZONE)


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> PostWorld:
    return await build(client, admin_engine, "cal")


@pytest.fixture
async def manager(world: PostWorld, browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    signed = await sign_in(browser_client, world.manager_email)
    assert signed.status_code == 303, signed.text
    return browser_client


def athens(*args: int) -> datetime:
    return datetime(*args, tzinfo=ATHENS)  # type: ignore[misc]


def day_section(html: str, iso_day: str) -> str:
    """The markup of one day of the grid or the list."""
    match = re.search(
        rf'<time datetime="{iso_day}">.*?</li>\s*(?=<li class="cal-(?:day|listday)|</ol>)',
        html,
        re.S,
    )
    assert match, f"no day {iso_day} on the page"
    return match.group(0)


async def test_the_month_is_in_the_locations_time_zone(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    # 23:30 UTC on the last of February is 01:30 on the first of March in Athens; 23:30 UTC
    # on the 31st of March (summer time by then) is 02:30 on the first of April.
    (first,) = await make_posts(
        client, world, ["facebook"], at=datetime(2031, 2, 28, 23, 30, tzinfo=UTC)
    )
    (last,) = await make_posts(
        client, world, ["linkedin"], at=datetime(2031, 3, 31, 23, 30, tzinfo=UTC)
    )
    march = await manager.get("/calendar?view=month&date=2031-03-15")
    assert march.status_code == 200, march.text
    assert "March 2031" in march.text
    assert "Times in Europe/Athens" in march.text
    first_day = day_section(march.text, "2031-03-01")
    assert f"/posts/{first['id']}" in first_day
    assert "1:30" in first_day
    assert "Facebook" in first_day
    assert "Scheduled" in first_day
    assert f"/posts/{last['id']}" not in march.text
    assert "1 post" in march.text
    april = await manager.get("/calendar?view=month&date=2031-04-01")
    assert f"/posts/{last['id']}" in day_section(april.text, "2031-04-01")
    assert "2:30" in day_section(april.text, "2031-04-01")
    # Previous and next keep the view; the weekdays start on Monday (English, Greek).
    assert 'href="/calendar?view=month&amp;date=2031-02-01" rel="prev"' in march.text
    assert 'href="/calendar?view=month&amp;date=2031-04-01" rel="next"' in march.text
    weekdays = re.search(r'<ol class="cal-weekdays"[^>]*>(.*?)</ol>', march.text, re.S)
    assert weekdays
    assert weekdays.group(1).index("Mon") < weekdays.group(1).index("Sun")


async def test_week_and_list_views(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    made = await make_posts(
        client, world, ["facebook", "x"], at=athens(2031, 3, 12, 9, 0), offer="Garlic bread"
    )
    (other_week,) = await make_posts(client, world, ["x"], at=athens(2031, 3, 20, 18, 0))
    week = await manager.get("/calendar?view=week&date=2031-03-12")
    assert week.status_code == 200
    assert "Mar 10\u2009–\u200916, 2031" in week.text
    wednesday = day_section(week.text, "2031-03-12")
    assert all(f"/posts/{p['id']}" in wednesday for p in made)
    assert "9:00" in wednesday
    assert f"/posts/{other_week['id']}" not in week.text
    assert 'date=2031-03-03" rel="prev"' in week.text
    assert 'date=2031-03-17" rel="next"' in week.text
    assert 'aria-current="page">Week</a>' in week.text

    listed = await manager.get("/calendar?view=list&date=2031-03-12")
    assert listed.status_code == 200
    assert "Fresh pizza in Athens! Garlic bread" in listed.text
    assert "Wednesday, March 12, 2031" in listed.text
    assert "Thursday, March 20, 2031" in listed.text
    assert "Tuesday, March 11, 2031" not in listed.text  # days without posts are left out
    assert 'aria-current="page">List</a>' in listed.text


async def test_filters_by_platform_and_status(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    facebook, x = await make_posts(client, world, ["facebook", "x"], at=athens(2031, 5, 5, 10, 0))
    cancelled = await client.post(f"/v1/posts/{x['id']}/cancel", headers=world.owner.headers)
    assert cancelled.status_code == 200
    only_x = await manager.get("/calendar?date=2031-05-01&platform=x")
    assert f"/posts/{x['id']}" in only_x.text
    assert f"/posts/{facebook['id']}" not in only_x.text
    assert '<option value="x" selected>' in only_x.text
    only_cancelled = await manager.get("/calendar?date=2031-05-01&status=cancelled")
    assert f"/posts/{x['id']}" in only_cancelled.text
    assert f"/posts/{facebook['id']}" not in only_cancelled.text
    # The period's links keep the filters.
    assert "date=2031-06-01&amp;status=cancelled" in only_cancelled.text
    both = await manager.get("/calendar?date=2031-05-01&platform=facebook&status=cancelled")
    assert "No posts in this period." in both.text
    # An unknown value is ignored rather than breaking the page; "All" is the empty value.
    typo = await manager.get("/calendar?date=2031-05-01&platform=myspace&status=")
    assert typo.status_code == 200
    assert f"/posts/{x['id']}" in typo.text
    assert f"/posts/{facebook['id']}" in typo.text


async def test_today_is_marked_and_is_where_the_calendar_opens(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    today = datetime.now(ATHENS).date()
    page = await manager.get("/calendar")
    assert page.status_code == 200
    marked = day_section(page.text, today.isoformat())
    assert "Today" in marked
    assert page.text.count('class="cal-tag"') == 1
    week = await manager.get("/calendar?view=week")
    assert "Today" in day_section(week.text, today.isoformat())


async def test_only_my_locations_posts_and_only_signed_in(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    (mine,) = await make_posts(client, world, ["x"], at=athens(2031, 7, 1, 12, 0))
    (theirs,) = await make_posts(
        client, world, ["x"], at=athens(2031, 7, 1, 12, 0), location=world.elsewhere
    )
    page = await manager.get("/calendar?date=2031-07-01")
    assert f"/posts/{mine['id']}" in page.text
    assert f"/posts/{theirs['id']}" not in page.text
    await browser_client.post("/logout", data={"csrf_token": _csrf(page.text)})
    out = await browser_client.get("/calendar?date=2031-07-01")
    assert out.status_code == 303
    assert out.headers["location"].startswith("/login")


async def test_odd_addresses_open_a_calendar_not_an_error(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    this_month = datetime.now(ATHENS).strftime("%B %Y")
    for query in (
        "date=not-a-date",
        "date=2031-02-30",
        "date=99999-01-01",
        "date=0001-01-01",
        "date=" + "9" * 10_000,
        "view=%3Cscript%3Ealert(1)%3C/script%3E",
        "view=day",
        "platform=" + "x" * 10_000,
        "status=%CE%B4%CE%B7%CE%BC%CE%BF%CF%83%CE%B9%CE%B5%CF%85%CE%BC%CE%AD%CE%BD%CE%BF",
    ):
        page = await manager.get(f"/calendar?{query}")
        assert page.status_code == 200, (query, page.text[:500])
        assert this_month in page.text, query
        assert "<script>alert" not in page.text
    nul = await manager.get("/calendar?date=%00")
    assert nul.status_code in (400, 422)
    assert "text/html" in nul.headers["content-type"]


async def test_the_calendar_speaks_greek(
    client: httpx.AsyncClient, world: PostWorld, manager: httpx.AsyncClient
) -> None:
    await make_posts(client, world, ["facebook"], at=athens(2031, 3, 12, 9, 0))
    page = await manager.get(
        "/calendar?date=2031-03-12", headers={"Accept-Language": "el-GR,el;q=0.9"}
    )
    assert '<html lang="el">' in page.text
    assert "Ημερολόγιο" in page.text
    assert "Μάρτιος 2031" in page.text
    assert "Προγραμματισμένη" in day_section(page.text, "2031-03-12")


async def test_a_period_with_more_posts_than_shown_says_so(
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (first,) = await make_posts(client, world, ["x"], at=athens(2031, 8, 1, 8, 0))
    await copy_post(admin_engine, first["id"], 5, 60)
    monkeypatch.setattr(calendar_route, "PERIOD_LIMIT", 4)
    page = await manager.get("/calendar?date=2031-08-01")
    assert page.status_code == 200
    assert "Only the first 4 posts of this period are shown" in page.text
    assert "6 posts" in page.text
    assert page.text.count('class="cal-post ') == 4


async def test_a_month_of_300_posts_runs_as_many_queries_as_a_month_of_10(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: PostWorld,
    manager: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    (first,) = await make_posts(client, world, ["facebook"], at=athens(2031, 9, 1, 8, 0))
    await copy_post(admin_engine, first["id"], 9, 120)
    with StatementCounter(app.state.db.engine) as few:
        small = await manager.get("/calendar?view=month&date=2031-09-01")
    assert small.text.count('class="cal-post ') == 10
    await copy_post(admin_engine, first["id"], 290, 135)  # up to the 29th of September
    with StatementCounter(app.state.db.engine) as many:
        big = await manager.get("/calendar?view=month&date=2031-09-01")
    assert big.status_code == 200
    assert big.text.count('class="cal-post ') == 300
    assert "300 posts" in big.text
    assert many.count == few.count, many.statements
    with StatementCounter(app.state.db.engine) as listed:
        as_list = await manager.get("/calendar?view=list&date=2031-09-01")
    assert as_list.text.count('class="cal-post ') == 300
    assert listed.count == few.count


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_periods_cross_years_and_start_weeks_on_the_locales_day() -> None:
    period = calendar_route.period_of("month", datetime(2031, 12, 31).date(), 0)
    assert (period.start.isoformat(), period.end.isoformat()) == ("2031-12-01", "2032-01-01")
    assert period.previous.isoformat() == "2031-11-01"
    sunday_first = calendar_route.period_of("week", datetime(2031, 1, 1).date(), 6)
    assert sunday_first.start.isoformat() == "2030-12-29"
    assert sunday_first.end - sunday_first.start == timedelta(days=7)


async def test_someone_with_no_location_is_told_so(
    world: PostWorld, browser_client: httpx.AsyncClient
) -> None:
    await sign_in(browser_client, world.owner.email)  # agency-wide: their screens are part 2
    page = await browser_client.get("/calendar")
    assert page.status_code == 200
    assert "You have no location to look after yet." in page.text
    assert "cal-days" not in page.text
