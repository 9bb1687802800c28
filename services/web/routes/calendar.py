"""The calendar: my location's posts by month, by week, or as a list, in the location's time
zone, filtered by platform and status; through the API's calendar service (one query for the
posts of the period, one for the totals by status, whatever the number of posts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from fastapi import Query, Request
from fastapi.responses import Response

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.i18n import Translator
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import render, translator
from services.web.routing import web_router
from shared import clock
from shared.access.policy import Target, authorize
from shared.posts import service as post_service
from shared.posts.models import Post

router = web_router()

VIEWS = ("month", "week", "list")
"""``month`` is the default: a grid of the month on a wide screen, and on a phone the same
markup read as a list of the days that have posts (chorus.css). ``list`` is the agenda of
the month, with each post's first words."""
DEFAULT_VIEW = "month"

PERIOD_LIMIT = 2000
"""Posts shown for one period, fetched in one query; beyond it the page says so."""

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(9000, 12, 31)
"""Dates the calendar opens at; anything else (or no date) opens at today."""

EXCERPT = 120


@dataclass
class Day:
    date: dt.date
    in_period: bool
    is_today: bool
    posts: list[Post] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Period:
    view: str
    anchor: dt.date
    start: dt.date
    end: dt.date
    """Exclusive."""
    previous: dt.date
    following: dt.date


def _anchor(value: str, today: dt.date) -> dt.date:
    try:
        chosen = dt.date.fromisoformat(value.strip())
    except ValueError:
        return today
    return chosen if EARLIEST <= chosen <= LATEST else today


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _week_start(day: dt.date, first_week_day: int) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() - first_week_day) % 7)


def period_of(view: str, anchor: dt.date, first_week_day: int) -> Period:
    if view == "week":
        start = _week_start(anchor, first_week_day)
        week = dt.timedelta(days=7)
        return Period(view, anchor, start, start + week, start - week, start + week)
    start = _month_start(anchor)
    return Period(
        view, anchor, start, _add_months(start, 1), _add_months(start, -1), _add_months(start, 1)
    )


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant the day begins in the zone (as UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _grid(period: Period, first_week_day: int, today: dt.date) -> list[Day]:
    """The period's days; a month starts on its first week's first day (blank days before
    the 1st, never shown as the other month's)."""
    first = period.start if period.view == "week" else _week_start(period.start, first_week_day)
    days = []
    day = first
    while day < period.end:
        days.append(Day(day, day >= period.start, day == today))
        day += dt.timedelta(days=1)
    return days


def _choices(values: list[str], known: dict[str, str]) -> list[str]:
    """The known values asked for, once each (unknown ones are ignored, as a typo in the
    address bar should not break the page)."""
    return list(dict.fromkeys(v for v in values if v in known))


def calendar_url(period_view: str, day: dt.date, platforms: list[str], statuses: list[str]) -> str:
    query = [("view", period_view), ("date", day.isoformat())]
    query += [("platform", p) for p in platforms] + [("status", s) for s in statuses]
    return "/calendar?" + urlencode(query)


def _title(period: Period, t: Translator) -> str:
    if period.view == "week":
        last = period.end - dt.timedelta(days=1)
        return babel_dates.format_interval(period.start, last, skeleton="yMMMd", locale=t.locale)
    return babel_dates.format_skeleton("yMMMM", period.start, locale=t.locale)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


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
    period = period_of(view, _anchor(day, today), first_week_day)
    platforms = _choices(platform or [], PLATFORM_NAMES)
    statuses = _choices(status or [], STATUS_NAMES)
    found = await _period_posts(session, viewer, period, zone, platforms, statuses)
    days = _grid(period, first_week_day, today)
    by_date = {d.date: d for d in days}
    for post in found.page.items:
        assert post.scheduled_at is not None  # the calendar lists timed posts only
        by_date[post.scheduled_at.astimezone(zone).date()].posts.append(post)
    weekdays = [
        babel_dates.get_day_names("abbreviated", locale=t.locale)[(first_week_day + i) % 7]
        for i in range(7)
    ]
    return render(
        request,
        "calendar/calendar.html",
        {
            "location": location,
            "period": period,
            "title": _title(period, t),
            "days": days,
            "weekdays": weekdays,
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
            "excerpt": _excerpt,
            "day_label": lambda d: babel_dates.format_skeleton("MMMEd", d, locale=t.locale),
            "day_long": lambda d: babel_dates.format_date(d, "full", locale=t.locale),
        },
    )


async def _period_posts(
    session: Session,
    viewer: Viewer,
    period: Period,
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
