"""The calendar: my location's posts by month, by week, or as a list, in the location's time
zone, filtered by platform and status; through the API's calendar service (one query for the
posts of the period, one for the totals by status, whatever the number of posts)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import Response

from services.api.deps import Session
from services.web import calendar_period as cal
from services.web.deps import SignedIn, Viewer
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import render, translator
from services.web.routing import web_router
from shared import clock
from shared.access.policy import Target, authorize
from shared.posts import service as post_service

router = web_router()

PERIOD_LIMIT = 2000
"""Posts shown for one period, fetched in one query; beyond it the page says so."""

VIEWS = cal.VIEWS
DEFAULT_VIEW = cal.DEFAULT_VIEW
period_of = cal.period_of
local_midnight = cal.local_midnight


def calendar_url(period_view: str, day: dt.date, platforms: list[str], statuses: list[str]) -> str:
    query = [("view", period_view), ("date", day.isoformat())]
    query += [("platform", p) for p in platforms] + [("status", s) for s in statuses]
    return "/calendar?" + urlencode(query)


@router.get("/calendar")
async def calendar_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    view: str = DEFAULT_VIEW,
    day: Annotated[str, Query(alias="date")] = "",
    platform: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
) -> Response:
    location = viewer.location
    if location is None:
        return render(request, "calendar/calendar.html", {"location": None})
    t = translator(request)
    zone = ZoneInfo(location.time_zone)
    today = clock.now().astimezone(zone).date()
    view = view if view in VIEWS else DEFAULT_VIEW
    first_week_day = t.locale.first_week_day
    period = period_of(view, cal.anchor_of(day, today), first_week_day)
    platforms = cal.choices(platform or [], PLATFORM_NAMES)
    statuses = cal.choices(status or [], STATUS_NAMES)
    found = await _period_posts(session, viewer, period, zone, platforms, statuses)
    days = cal.grid(period, first_week_day, today)
    cal.place(days, found.page.items, zone)
    return render(
        request,
        "calendar/calendar.html",
        {
            "location": location,
            "period": period,
            "title": cal.title(period, t),
            "days": days,
            "weekdays": cal.weekdays(t),
            "today": today,
            "total": sum(found.totals.values()),
            "totals": found.totals,
            "shown": len(found.page.items),
            "more": found.page.next_cursor is not None,
            "platforms": platforms,
            "statuses": statuses,
            "platform_names": PLATFORM_NAMES,
            "status_names": STATUS_NAMES,
            "url": lambda v, d: calendar_url(v, d, platforms, statuses),
            "excerpt": cal.excerpt,
            "location_names": {},
            **cal.day_formats(t),
        },
    )


async def _period_posts(
    session: Session,
    viewer: Viewer,
    period: cal.Period,
    zone: ZoneInfo,
    platforms: list[str],
    statuses: list[str],
) -> post_service.Calendar:
    """The API's calendar for the viewer's location and the period (local midnights)."""
    location = viewer.location
    assert location is not None
    target = Target(brand_id=location.brand_id, location_id=location.id)
    authorize(viewer.principal, "post.read", target, object_type="location")
    return await post_service.calendar(
        session,
        viewer.principal,
        post_service.CalendarFilter(
            location_id=location.id,
            platforms=tuple(platforms),
            statuses=tuple(statuses),
            start=local_midnight(period.start, zone),
            end=local_midnight(period.end, zone),
        ),
        limit=PERIOD_LIMIT,
        cursor=None,
    )
