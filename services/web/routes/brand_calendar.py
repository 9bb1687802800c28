"""The brand calendar: every post of the brand the viewer looks at, by month, week or as a
list, filtered by group, location, platform, campaign and status, a page of posts at a
time; through the API's calendar service (one query for the page, one for the totals by
status) and the calendar pieces the location's calendar uses (``calendar_period``). Times
are in UTC: the brand's locations live in many zones."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import Session
from services.web import calendar_period as cal
from services.web.deps import SignedIn, Viewer
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import redirect, render, translator
from services.web.routes.brand_campaigns import brand_of, location_names
from services.web.routing import web_router
from shared import clock
from shared.campaigns import service as campaign_service
from shared.errors import BadRequest, NotFound
from shared.locations import service as location_service
from shared.locations.repository import LocationFilter
from shared.posts import service as post_service

router = web_router()

PAGE_SIZE = 150
"""Posts per page of a period (a month of a big brand holds tens of thousands): about 50 KB of
grid, so the page stays under 100 KB (bench/RESULTS.md, web_pages of issue #16)."""
CHOICES_MAX = 500
"""Groups and campaigns offered by the filters."""
LOCATION_CHOICES = 100
"""Up to this many locations the filter is a list; a bigger brand's is a search field (a list
of 10,000 names would weigh more than the page)."""
ZONE = "UTC"


def _chosen(value: str, known: set[uuid.UUID]) -> uuid.UUID | None:
    """An id of the filter's choices, else nothing (a stale or foreign id is ignored)."""
    try:
        ident = uuid.UUID(value.strip())
    except ValueError:
        return None
    return ident if ident in known else None


async def _location_chosen(
    session: AsyncSession,
    viewer: Viewer,
    brand_id: uuid.UUID,
    location: str,
    listed: Sequence[asyncpg.Record],
    searched: str,
) -> tuple[uuid.UUID | None, str]:
    """The location of the filter: the first the search finds by name, code or city, else the
    one the address names — loaded through the policy when it is not among those listed (a
    link from a location's page of a big brand), and only if it is of this brand."""
    if searched:
        return (listed[0]["id"], listed[0]["name"]) if listed else (None, "")
    try:
        ident = uuid.UUID(location.strip())
    except ValueError:
        return None, ""
    for row in listed:
        if row["id"] == ident:
            return ident, str(row["name"])
    try:
        found = await location_service.get_location(session, viewer.principal, ident)
    except NotFound:
        return None, ""
    return (found.id, found.name) if found.brand_id == brand_id else (None, "")


@router.get("/brand/calendar")
async def brand_calendar(
    request: Request,
    viewer: SignedIn,
    session: Session,
    view: str = cal.DEFAULT_VIEW,
    day: Annotated[str, Query(alias="date")] = "",
    group: str = "",
    location: str = "",
    location_q: Annotated[str, Query(max_length=200)] = "",
    campaign: str = "",
    platform: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    brand = await brand_of(session, viewer, "post.read")
    t = translator(request)
    zone = ZoneInfo(ZONE)
    today = clock.now().astimezone(zone).date()
    view = view if view in cal.VIEWS else cal.DEFAULT_VIEW
    first_week_day = t.locale.first_week_day
    period = cal.period_of(view, cal.anchor_of(day, today), first_week_day)
    platforms = cal.choices(platform or [], PLATFORM_NAMES)
    statuses = cal.choices(status or [], STATUS_NAMES)

    groups = await location_service.list_groups(
        session, viewer.principal, brand_id=brand.id, limit=CHOICES_MAX, cursor=None
    )
    searched = location_q.strip()
    locations = await location_service.list_locations(
        session,
        viewer.principal,
        LocationFilter(brand_id=brand.id, q=searched or None),
        fields=("id", "name"),
        sort="name",
        limit=LOCATION_CHOICES + 1,
        cursor=None,
    )
    many_locations = bool(searched) or len(locations.items) > LOCATION_CHOICES
    campaigns = await campaign_service.list_campaigns(
        session,
        viewer.principal,
        brand_id=brand.id,
        status=None,
        sort="-created_at",
        limit=CHOICES_MAX,
        cursor=None,
    )
    group_id = _chosen(group, {g.id for g in groups.items})
    location_id, location_name = await _location_chosen(
        session, viewer, brand.id, location, locations.items, searched
    )
    campaign_id = _chosen(campaign, {c.id for c in campaigns.items})
    filters: dict[str, Any] = {
        "group": str(group_id or ""),
        "location": str(location_id or ""),
        "campaign": str(campaign_id or ""),
        "platform": platforms,
        "status": statuses,
    }

    def url(period_view: str, anchor: dt.date, page: str = "") -> str:
        query: list[tuple[str, str]] = [("view", period_view), ("date", anchor.isoformat())]
        for key in ("group", "location", "campaign"):
            if filters[key]:
                query.append((key, filters[key]))
        query += [("platform", p) for p in platforms] + [("status", s) for s in statuses]
        if page:
            query.append(("cursor", page))
        return "/brand/calendar?" + urlencode(query)

    try:
        found = await post_service.calendar(
            session,
            viewer.principal,
            post_service.CalendarFilter(
                brand_id=brand.id,
                location_id=location_id,
                group_id=group_id,
                campaign_id=campaign_id,
                platforms=tuple(platforms),
                statuses=tuple(statuses),
                start=cal.local_midnight(period.start, zone),
                end=cal.local_midnight(period.end, zone),
            ),
            limit=PAGE_SIZE,
            cursor=cursor or None,
        )
    except BadRequest:  # a cursor of another period or listing
        await session.rollback()
        return redirect(url(period.view, period.anchor))
    days = cal.grid(period, first_week_day, today)
    cal.place(days, found.page.items, zone)
    names = await location_names(
        session, viewer.principal.agency_id, {p.location_id for p in found.page.items}
    )
    return render(
        request,
        "brand_calendar/calendar.html",
        {
            "period": period,
            "title": cal.title(period, t),
            "days": days,
            "weekdays": cal.weekdays(t),
            "today": today,
            "zone": ZONE,
            "total": sum(found.totals.values()),
            "totals": found.totals,
            "shown": len(found.page.items),
            "next_page": url(period.view, period.anchor, found.page.next_cursor)
            if found.page.next_cursor
            else None,
            "first_page": url(period.view, period.anchor) if cursor else None,
            "filters": filters,
            "platforms": platforms,
            "statuses": statuses,
            "groups": groups.items,
            "locations": locations.items[:LOCATION_CHOICES],
            "many_locations": many_locations,
            "location_name": location_name,
            "location_q": searched,
            "campaigns": campaigns.items,
            "platform_names": PLATFORM_NAMES,
            "status_names": STATUS_NAMES,
            "url": url,
            "excerpt": cal.excerpt,
            "location_names": names,
            **cal.day_formats(t),
        },
    )
