"""A brand's campaigns: the list, the builder (a draft checked by the same service as
``POST /v1/campaigns``, every problem next to its field), and a campaign's progress page with
its actions (launch, pause, resume, cancel, reschedule) as plain forms.

The progress page counts posts by status in the database (the API's ``get_campaign``) and
reads one page of posts at a time: a 30,000-post campaign costs it the same statements as a
ten-post one. ``/brand/campaigns/{id}/progress`` answers the same live part alone, which
``static/campaign_progress.js`` fetches to refresh the page; without script a reload does."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import and_, func, literal, select, tuple_

from services.api.deps import Redis, Session, SettingsDep
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access.policy import Target, allowed, authorize
from shared.brands import service as brand_service
from shared.campaigns import audience as audience_sql
from shared.campaigns import service as campaign_service
from shared.campaigns.schedule import PUBLISH_WINDOW, instant_for
from shared.campaigns.schemas import (
    MAX_DEADLINE_HOURS,
    CampaignCreate,
    CampaignDetail,
    RescheduleIn,
)
from shared.content.platforms import PLATFORMS
from shared.errors import AppError, BadRequest, NotFound
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.pagination import Slice, cursor_key, page_of
from shared.posts.models import Post
from shared.templates import service as template_service

router = web_router()

PAGE_SIZE = 50
"""Campaigns per page of the list, posts per page of the progress table."""
FAILURES_SHOWN = 20
WAITING_SHOWN = 50
CHOICES_MAX = 200
"""Templates and groups offered by the builder."""

CAMPAIGN_STATUS_NAMES: dict[str, str] = {
    "draft": N_("Draft"),
    "launching": N_("Launching"),
    "running": N_("Running"),
    "paused": N_("Paused"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
POLICY_NAMES: dict[str, str] = {
    "none": N_("No approval: posts go out at their time"),
    "location_confirm": N_("Each location confirms its posts"),
    "brand_approval": N_("Head office approves what locations fill in"),
}
AUDIENCE_KINDS: dict[str, str] = {
    "all": N_("All active locations"),
    "groups": N_("Locations in these groups"),
    "filter": N_("Locations matching a filter"),
}
DONE = {
    "created": N_("The campaign is saved as a draft. Launch it when it is ready."),
    "launched": N_("The campaign is launching: its posts are being written."),
    "paused": N_("The campaign is paused: its scheduled posts are held."),
    "resumed": N_("The campaign is running again."),
    "cancelled": N_("The campaign is cancelled: its posts that had not gone out will not."),
    "rescheduled": N_("The campaign's posts that had not gone out have their new time."),
    "nobody": N_(
        "Nobody may decide the waiting posts: give their locations a manager, then remind them."
    ),
}
CONFLICTS = {
    "campaign_not_launchable": N_("Only a draft can be launched."),
    "campaign_not_running": N_("Only a running campaign can be paused."),
    "campaign_not_paused": N_("Only a paused campaign can be resumed."),
    "campaign_completed": N_("The campaign is completed: every post reached an ending."),
    "campaign_not_reschedulable": N_(
        "The campaign cannot be rescheduled now (it is launching, completed or cancelled)."
    ),
}
PROBLEMS = {
    "version_not_published": N_("This version is a draft; publish it before a campaign uses it."),
    "platform_not_allowed": N_("The brand's rules do not allow this platform."),
    "body_missing": N_("The template has no text for this platform."),
    "variable_missing": N_("The template uses this value; fill it in."),
    "slots_need_locations": N_(
        "The template has slots locations must fill: choose an approval by the locations or "
        "by head office."
    ),
    "in_past": N_("This time has passed; choose a later one."),
    "not_found": N_("Not found in this brand; choose again."),
    "deadline_without_approval": N_(
        "A deadline is for posts waiting for a decision: choose an approval, or set 0."
    ),
    "deadline_passed": N_(
        "That many hours before the posts' time has already passed; give fewer hours or a "
        "later date."
    ),
}


# Loading -----------------------------------------------------------------------------------


async def brand_of(session: Session, viewer: Viewer, action: str) -> Any:
    """The brand the viewer looks at, through the brand service and the policy."""
    if viewer.brand is None:
        raise NotFound("no brand")
    return await brand_service.get_brand(session, viewer.principal, viewer.brand.id, action)


async def _campaign(session: Session, viewer: Viewer, campaign_id: str) -> CampaignDetail:
    """The campaign with its counts (the API's service); another brand's is the 404 page."""
    try:
        ident = uuid.UUID(campaign_id)
    except ValueError:
        raise NotFound("campaign not found") from None
    detail = await campaign_service.get_campaign(session, viewer.principal, ident)
    if viewer.brand is None or detail.brand_id != viewer.brand.id:
        raise NotFound("campaign not found")
    return detail


def _target(viewer: Viewer) -> Target:
    assert viewer.brand is not None
    return Target(brand_id=viewer.brand.id)


# The list ----------------------------------------------------------------------------------


@router.get("/brand/campaigns")
async def campaigns_list(
    request: Request, viewer: SignedIn, session: Session, cursor: str = ""
) -> Response:
    brand = await brand_of(session, viewer, "campaign.read")
    try:
        page = await campaign_service.list_campaigns(
            session,
            viewer.principal,
            brand_id=brand.id,
            status=None,
            sort="-created_at",
            limit=PAGE_SIZE,
            cursor=cursor[:500] or None,
        )
    except BadRequest:
        await session.rollback()
        return redirect("/brand/campaigns")
    counts: dict[uuid.UUID, dict[str, int]] = {c.id: {} for c in page.items}
    if counts:
        rows = await session.execute(
            select(Post.campaign_id, Post.status, func.count())
            .where(Post.agency_id == viewer.principal.agency_id)
            .where(Post.campaign_id.in_(list(counts)))
            .group_by(Post.campaign_id, Post.status)
        )
        for campaign_id, status, n in rows.all():
            if campaign_id is not None:
                counts[campaign_id][status] = int(n)
    return render(
        request,
        "brand_campaigns/list.html",
        {
            "campaigns": page.items,
            "counts": counts,
            "next_cursor": page.next_cursor,
            "may_create": allowed(viewer.principal, "campaign.create", _target(viewer)),
            "campaign_status_names": CAMPAIGN_STATUS_NAMES,
            "schedule_text": lambda s: schedule_text(s, translator(request)),
        },
    )


def schedule_text(schedule: dict[str, Any], t: Translator) -> str:
    if schedule.get("kind") == "absolute":
        at = dt.datetime.fromisoformat(str(schedule["at"]))
        return t.gettext("%(when)s (UTC), everywhere at once", when=t.format_datetime(at, "UTC"))
    day = dt.date.fromisoformat(str(schedule["date"]))
    return t.gettext(
        "%(date)s at %(time)s, each location's own time",
        date=t.format_date(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)),
        time=str(schedule["time"])[:5],
    )


# The builder -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    value: str
    """``<template id>:<version>``"""
    label: str


@dataclass(frozen=True, slots=True)
class Reach:
    locations: int
    earliest: dt.datetime | None = None
    latest: dt.datetime | None = None
    zones: int = 0


async def reach_of(
    session: Session,
    agency_id: uuid.UUID,
    brand_id: uuid.UUID,
    audience: dict[str, Any],
    schedule: dict[str, Any] | None,
) -> Reach:
    """How many active locations the audience holds now, and when the schedule reaches
    them: one query counting the audience by time zone, one instant per zone."""
    sql = audience_sql.audience_sql(agency_id, brand_id, audience)
    conn = await audience_sql.driver(session)
    query = (
        "SELECT l.time_zone, count(*) AS n FROM location l "  # noqa: S608  (values bound)
        f"WHERE {sql.where} GROUP BY l.time_zone"
    )
    rows = await conn.fetch(query, *sql.params)
    total = sum(int(r["n"]) for r in rows)
    if schedule is None or not rows:
        return Reach(total, zones=len(rows))
    instants = [instant_for(schedule, str(r["time_zone"])) for r in rows]
    return Reach(total, min(instants), max(instants), len(rows))


def _split_template(value: str) -> tuple[uuid.UUID, int] | None:
    ident, _, version = value.partition(":")
    try:
        return uuid.UUID(ident), int(version)
    except ValueError:
        return None


async def _variables_needed(session: Session, viewer: Viewer, chosen: str) -> list[str]:
    split = _split_template(chosen)
    if split is None:
        return []
    try:
        version = await template_service.get_version(session, viewer.principal, *split)
    except AppError:
        return []
    return sorted(v.split(".", 1)[1] for v in version.variables if v.startswith("campaign."))


def _text(form: Any, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""


def _texts(form: Any, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def _default_form() -> dict[str, Any]:
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return {
        "name": "",
        "template": "",
        "variables": {},
        "audience_kind": "all",
        "group_ids": [],
        "filter_country": "",
        "filter_region": "",
        "filter_city": "",
        "filter_q": "",
        "filter_group_id": "",
        "channels": [],
        "schedule_kind": "local",
        "local_date": tomorrow,
        "local_time": "09:00",
        "at_date": tomorrow,
        "at_time": "09:00",
        "approval_policy": "none",
        "approval_deadline_hours": "0",
    }


def _read_form(form: Any, needed: list[str]) -> dict[str, Any]:
    return {
        "name": _text(form, "name", 300),
        "template": _text(form, "template", 100),
        "variables": {n: _text(form, f"var-{n}") for n in needed},
        "audience_kind": _text(form, "audience_kind", 20),
        "group_ids": _texts(form, "group_ids"),
        "filter_country": _text(form, "filter_country", 10),
        "filter_region": _text(form, "filter_region", 200),
        "filter_city": _text(form, "filter_city", 200),
        "filter_q": _text(form, "filter_q", 300),
        "filter_group_id": _text(form, "filter_group_id", 100),
        "channels": [c for c in _texts(form, "channels") if c in PLATFORMS],
        "schedule_kind": _text(form, "schedule_kind", 20),
        "local_date": _text(form, "local_date", 40),
        "local_time": _text(form, "local_time", 40),
        "at_date": _text(form, "at_date", 40),
        "at_time": _text(form, "at_time", 40),
        "approval_policy": _text(form, "approval_policy", 40),
        "approval_deadline_hours": _text(form, "approval_deadline_hours", 40),
    }


def _audience(values: dict[str, Any], problems: dict[str, str], t: Translator) -> dict[str, Any]:
    kind = values["audience_kind"]
    if kind == "groups":
        if not values["group_ids"]:
            problems["audience"] = t.gettext("Choose at least one group.")
        return {"kind": "groups", "group_ids": values["group_ids"]}
    if kind == "filter":
        f = {
            "country": values["filter_country"].upper() or None,
            "region": values["filter_region"] or None,
            "city": values["filter_city"] or None,
            "q": values["filter_q"] or None,
            "group_id": values["filter_group_id"] or None,
        }
        if not any(f.values()):
            problems["audience"] = t.gettext("Give at least one condition of the filter.")
        return {"kind": "filter", "filter": f}
    return {"kind": "all"}


def _schedule(values: dict[str, Any], problems: dict[str, str], t: Translator) -> dict[str, Any]:
    local = values["schedule_kind"] != "absolute"
    prefix = "local" if local else "at"
    try:
        day = dt.date.fromisoformat(values[f"{prefix}_date"])
    except ValueError:
        problems[f"{prefix}_date"] = t.gettext("Give a date, such as 2030-12-24.")
        day = None
    try:
        clock = dt.time.fromisoformat(values[f"{prefix}_time"]).replace(microsecond=0)
    except ValueError:
        problems[f"{prefix}_time"] = t.gettext("Give a time, such as 09:30.")
        clock = None
    if day is None or clock is None:
        return {}
    if local:
        return {"kind": "local", "date": day.isoformat(), "time": clock.strftime("%H:%M")}
    at = dt.datetime.combine(day, clock, tzinfo=dt.UTC)
    return {"kind": "absolute", "at": at.isoformat()}


_PYDANTIC_FIELDS = {
    "name": "name",
    "template_id": "template",
    "version": "template",
    "audience": "audience",
    "channels": "channels",
    "schedule": "schedule",
    "variables": "variables",
    "approval_policy": "approval_policy",
    "approval_deadline_hours": "approval_deadline_hours",
}


def _deadline_hours(value: str) -> int | None:
    """The form's hours (empty: 0), or None when not a whole number in range."""
    text = value.strip() or "0"
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    hours = int(text)
    return hours if hours <= MAX_DEADLINE_HOURS else None


def _payload(
    values: dict[str, Any], brand_id: uuid.UUID, t: Translator
) -> tuple[CampaignCreate | None, dict[str, Any], dict[str, Any], dict[str, str]]:
    """The API's payload from the form, or the problems of each field."""
    problems: dict[str, str] = {}
    if not values["name"]:
        problems["name"] = t.gettext("Give the campaign a name.")
    split = _split_template(values["template"])
    if split is None:
        problems["template"] = t.gettext("Choose a published template.")
    if not values["channels"]:
        problems["channels"] = t.gettext("Choose at least one platform.")
    if values["approval_policy"] not in POLICY_NAMES:
        problems["approval_policy"] = t.gettext("Choose how posts are approved.")
    hours = _deadline_hours(values["approval_deadline_hours"])
    if hours is None:
        problems["approval_deadline_hours"] = t.gettext(
            "Give a whole number of hours from 0 to %(most)s.", most=MAX_DEADLINE_HOURS
        )
    audience = _audience(values, problems, t)
    schedule = _schedule(values, problems, t)
    if problems or split is None or hours is None:
        return None, audience, schedule, problems
    try:
        data = CampaignCreate.model_validate(
            {
                "name": values["name"],
                "brand_id": brand_id,
                "template_id": split[0],
                "version": split[1],
                "audience": audience,
                "channels": values["channels"],
                "schedule": schedule,
                "variables": values["variables"],
                "approval_policy": values["approval_policy"],
                "approval_deadline_hours": hours,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = _PYDANTIC_FIELDS.get(str(error["loc"][0]) if error["loc"] else "", "")
            if field == "schedule":
                field = "local_date" if values["schedule_kind"] != "absolute" else "at_date"
            problems.setdefault(field, t.gettext("Check this value: %(why)s", why=error["msg"]))
        return None, audience, schedule, problems
    return data, audience, schedule, problems


def _field_of(path: str, values: dict[str, Any]) -> str:
    parts = path.split(".")[1:] if path.startswith("body.") else path.split(".")
    head = parts[0] if parts else ""
    if head in ("template_id", "version"):
        return "template"
    if head == "variables" and len(parts) > 1:
        return f"var-{parts[1]}"
    if head == "schedule":
        return "local_date" if values["schedule_kind"] != "absolute" else "at_date"
    return {"channels": "channels", "audience": "audience"}.get(head, head)


def service_problems(error: AppError, values: dict[str, Any], t: Translator) -> dict[str, str]:
    problems: dict[str, str] = {}
    for p in error.errors:
        message = PROBLEMS.get(p.code)
        problems.setdefault(
            _field_of(p.field, values), t.gettext(message) if message else p.message
        )
    if not problems:
        problems[""] = error.message
    return problems


async def _builder(
    request: Request,
    viewer: Viewer,
    session: Session,
    brand: Any,
    values: dict[str, Any],
    *,
    problems: dict[str, str] | None = None,
    reach: Reach | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    templates = await _templates_for(session, viewer, brand.id, t)
    groups = await location_service.list_groups(
        session, viewer.principal, brand_id=brand.id, limit=CHOICES_MAX, cursor=None
    )
    needed = await _variables_needed(session, viewer, values["template"])
    return render(
        request,
        "brand_campaigns/new.html",
        {
            "form": values,
            "problems": problems or {},
            "templates": templates,
            "groups": groups.items,
            "needed": needed,
            "reach": reach,
            "platform_names": PLATFORM_NAMES,
            "policy_names": POLICY_NAMES,
            "audience_kinds": AUDIENCE_KINDS,
            "window_minutes": int(PUBLISH_WINDOW.total_seconds() // 60),
            "max_deadline_hours": MAX_DEADLINE_HOURS,
        },
        status_code=status_code,
    )


async def _templates_for(
    session: Session, viewer: Viewer, brand_id: uuid.UUID, t: Translator
) -> list[TemplateChoice]:
    page = await template_service.list_templates(
        session, viewer.principal, brand_id=brand_id, limit=CHOICES_MAX, cursor=None
    )
    return [
        TemplateChoice(
            f"{tpl.id}:{tpl.published_version}",
            t.gettext(
                "%(name)s, version %(version)s", name=tpl.name, version=tpl.published_version
            ),
        )
        for tpl in page.items
        if tpl.published_version is not None
    ]


@router.get("/brand/campaigns/new")
async def builder_page(request: Request, viewer: SignedIn, session: Session) -> Response:
    brand = await brand_of(session, viewer, "campaign.create")
    values = _default_form()
    reach = await reach_of(session, viewer.principal.agency_id, brand.id, {"kind": "all"}, None)
    return await _builder(request, viewer, session, brand, values, reach=reach)


@router.post("/brand/campaigns/new")
async def builder_post(request: Request, viewer: SignedIn, session: Session) -> Response:
    """``action=check`` shows the reach and the spread (nothing written); else the draft is
    created through the API's service, or the form comes back with each problem."""
    brand = await brand_of(session, viewer, "campaign.create")
    t = translator(request)
    form = await request.form()
    chosen = _text(form, "template", 100)
    values = _read_form(form, await _variables_needed(session, viewer, chosen))
    data, audience, schedule, problems = _payload(values, brand.id, t)
    reach = None
    if "audience" not in problems:
        try:
            reach = await reach_of(
                session, viewer.principal.agency_id, brand.id, audience, schedule or None
            )
        except ValueError:
            problems["audience"] = t.gettext("Choose groups of this brand.")
    if _text(form, "action", 20) == "check":
        return await _builder(request, viewer, session, brand, values, reach=reach)
    if data is None:
        return await _builder(
            request, viewer, session, brand, values, problems=problems, reach=reach, status_code=422
        )
    try:
        async with all_or_nothing(session):
            created = await campaign_service.create_campaign(session, viewer.principal, data)
    except AppError as error:
        if error.status_code not in (409, 422):
            raise
        return await _builder(
            request,
            viewer,
            session,
            brand,
            values,
            problems=service_problems(error, values, t),
            reach=reach,
            status_code=422,
        )
    return redirect(f"/brand/campaigns/{created.id}?done=created")


# Progress ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    location_id: uuid.UUID
    name: str
    posts: int


@dataclass(frozen=True, slots=True)
class GridRow:
    """One location of the campaign and its post on each channel."""

    location_id: uuid.UUID
    name: str
    cells: dict[str, Post]


GRID_SORT = "location"


async def _grid(
    session: Session, viewer: Viewer, detail: CampaignDetail, status: str, cursor: str
) -> Slice[GridRow]:
    """A page of the campaign's locations by name (those with a post in ``status``, when
    given) and their posts on every channel: two queries, whatever the campaign's size."""
    agency_id = viewer.principal.agency_id
    has_post = select(Post.id).where(
        Post.agency_id == Location.agency_id,
        Post.campaign_id == detail.id,
        Post.location_id == Location.id,
    )
    if status:
        has_post = has_post.where(Post.status == status)
    stmt = select(Location.id, Location.name).where(
        Location.agency_id == agency_id, has_post.exists()
    )
    if cursor:
        name, after = cursor_key(cursor, GRID_SORT, 2, lambda v: [str(v[0]), uuid.UUID(str(v[1]))])
        stmt = stmt.where(
            tuple_(Location.name, Location.id) > tuple_(literal(name), literal(after))
        )
    found = await session.execute(stmt.order_by(Location.name, Location.id).limit(PAGE_SIZE + 1))
    rows: list[Any] = list(found.all())
    page: Slice[Any] = page_of(
        rows, sort=GRID_SORT, limit=PAGE_SIZE, key=lambda r: [r.name, str(r.id)]
    )
    cells: dict[uuid.UUID, dict[str, Post]] = {r.id: {} for r in page.items}
    if cells:
        posts = await session.execute(
            select(Post).where(
                Post.agency_id == agency_id,
                Post.campaign_id == detail.id,
                Post.location_id.in_(list(cells)),
            )
        )
        for post in posts.scalars():
            cells[post.location_id][post.platform] = post
    return Slice([GridRow(r.id, r.name, cells[r.id]) for r in page.items], page.next_cursor, None)


async def _progress(
    request: Request,
    viewer: Viewer,
    session: Session,
    detail: CampaignDetail,
    *,
    status: str = "",
    cursor: str = "",
) -> dict[str, Any]:
    """What the live part shows: counts from the database, a page of locations with their
    post on each channel, the failures with their reasons, the locations that have not
    decided yet."""
    t = translator(request)
    assert viewer.brand is not None
    authorize(viewer.principal, "post.read", Target(brand_id=viewer.brand.id))
    status = status if status in STATUS_NAMES else ""
    try:
        grid = await _grid(session, viewer, detail, status, cursor[:500])
    except BadRequest:  # a cursor of another listing, or cut short
        await session.rollback()
        raise NotFound("no such page") from None
    failures = await campaign_service.list_posts(
        session,
        viewer.principal,
        detail.id,
        status="failed",
        platform=None,
        location_id=None,
        limit=FAILURES_SHOWN,
        cursor=None,
    )
    waiting = await _waiting(session, viewer, detail.id)
    names = await location_names(
        session, viewer.principal.agency_id, {p.location_id for p in failures.items}
    )
    total = sum(detail.posts_by_status.values())
    base = f"/brand/campaigns/{detail.id}"
    return {
        "campaign": detail,
        "grid": grid.items,
        "next_page": base + "?" + urlencode({"status": status, "cursor": grid.next_cursor})
        if grid.next_cursor
        else None,
        "status": status,
        "status_url": lambda value: base + ("?" + urlencode({"status": value}) if value else ""),
        "failures": failures.items,
        "waiting": waiting,
        "names": names,
        "total": total,
        "campaign_status_names": CAMPAIGN_STATUS_NAMES,
        "status_names": STATUS_NAMES,
        "platform_names": PLATFORM_NAMES,
        "schedule_text": schedule_text(detail.schedule, t),
        "refreshes": detail.status in ("launching", "running", "paused"),
        "may_remind": bool(waiting)
        and allowed(viewer.principal, "campaign.update", Target(brand_id=viewer.brand.id)),
    }


async def _waiting(session: Session, viewer: Viewer, campaign_id: uuid.UUID) -> list[Waiting]:
    """The locations with posts still waiting for a decision, most posts first (one query)."""
    rows = await session.execute(
        select(Post.location_id, Location.name, func.count())
        .join(
            Location,
            and_(Location.agency_id == Post.agency_id, Location.id == Post.location_id),
        )
        .where(
            Post.agency_id == viewer.principal.agency_id,
            Post.campaign_id == campaign_id,
            Post.status == "needs_approval",
        )
        .group_by(Post.location_id, Location.name)
        .order_by(func.count().desc(), Location.name)
        .limit(WAITING_SHOWN)
    )
    return [Waiting(location_id, name, int(n)) for location_id, name, n in rows.all()]


async def location_names(
    session: Session, agency_id: uuid.UUID, ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Location.id, Location.name).where(
            Location.agency_id == agency_id, Location.id.in_(ids)
        )
    )
    return {row.id: row.name for row in rows.all()}


def _actions(viewer: Viewer, status: str) -> dict[str, bool]:
    may_launch = allowed(viewer.principal, "campaign.launch", _target(viewer))
    may_update = allowed(viewer.principal, "campaign.update", _target(viewer))
    return {
        "launch": may_launch and status == "draft",
        "pause": may_launch and status == "running",
        "resume": may_launch and status == "paused",
        "cancel": may_launch and status not in ("completed", "cancelled"),
        "reschedule": may_update and status in ("draft", "running", "paused"),
    }


async def _campaign_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    detail: CampaignDetail,
    *,
    cursor: str = "",
    status: str = "",
    done: str = "",
    people: int = 0,
    problems: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    context = await _progress(request, viewer, session, detail, status=status, cursor=cursor)
    flash = t.gettext(DONE[done]) if done in DONE else None
    if done == "reminded" and people > 0:
        flash = t.ngettext(
            "%(num)s person was reminded by mail.", "%(num)s people were reminded by mail.", people
        )
    values = _default_form()
    values["schedule_kind"] = detail.schedule.get("kind", "local")
    if detail.schedule.get("kind") == "local":
        values["local_date"] = detail.schedule["date"]
        values["local_time"] = str(detail.schedule["time"])[:5]
    context.update(
        {
            "actions": _actions(viewer, detail.status),
            "problems": problems or {},
            "form": {**values, **(form or {})},
            "flash": flash,
            "policy_names": POLICY_NAMES,
        }
    )
    return render(request, "brand_campaigns/campaign.html", context, status_code=status_code)


@router.get("/brand/campaigns/{campaign_id}")
async def campaign_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    campaign_id: str,
    cursor: str = "",
    status: str = "",
    done: str = "",
    people: int = 0,
) -> Response:
    await brand_of(session, viewer, "campaign.read")
    detail = await _campaign(session, viewer, campaign_id)
    return await _campaign_page(
        request, viewer, session, detail, cursor=cursor, status=status, done=done, people=people
    )


@router.get("/brand/campaigns/{campaign_id}/progress")
async def campaign_progress(
    request: Request,
    viewer: SignedIn,
    session: Session,
    campaign_id: str,
    cursor: str = "",
    status: str = "",
) -> Response:
    """The live part of the campaign's page alone (what the page's script swaps in)."""
    await brand_of(session, viewer, "campaign.read")
    detail = await _campaign(session, viewer, campaign_id)
    context = await _progress(request, viewer, session, detail, status=status, cursor=cursor)
    return render(request, "brand_campaigns/_progress.html", context)


async def _act(
    request: Request,
    viewer: Viewer,
    session: Session,
    campaign_id: str,
    done: str,
    call: Any,
) -> Response:
    await brand_of(session, viewer, "campaign.read")
    detail = await _campaign(session, viewer, campaign_id)
    t = translator(request)
    try:
        async with all_or_nothing(session):
            await call(detail.id)
    except AppError as error:
        if error.status_code not in (409, 422):
            raise
        message = CONFLICTS.get(error.error_code)
        detail = await _campaign(session, viewer, campaign_id)
        return await _campaign_page(
            request,
            viewer,
            session,
            detail,
            problems={"actions": t.gettext(message) if message else error.message},
            status_code=error.status_code,
        )
    return redirect(f"/brand/campaigns/{detail.id}?done={done}")


@router.post("/brand/campaigns/{campaign_id}/launch")
async def launch(
    request: Request, viewer: SignedIn, session: Session, redis: Redis, campaign_id: str
) -> Response:
    async def call(ident: uuid.UUID) -> None:
        await campaign_service.launch(session, viewer.principal, ident, redis)

    return await _act(request, viewer, session, campaign_id, "launched", call)


@router.post("/brand/campaigns/{campaign_id}/reschedule")
async def reschedule(
    request: Request, viewer: SignedIn, session: Session, campaign_id: str
) -> Response:
    await brand_of(session, viewer, "campaign.read")
    detail = await _campaign(session, viewer, campaign_id)
    t = translator(request)
    form = await request.form()
    values = {**_default_form(), **{k: _text(form, k, 40) for k in _SCHEDULE_FIELDS}}
    problems: dict[str, str] = {}
    schedule = _schedule(values, problems, t)
    if problems:
        return await _campaign_page(
            request, viewer, session, detail, problems=problems, form=values, status_code=422
        )
    data = RescheduleIn.model_validate({"schedule": schedule})
    try:
        async with all_or_nothing(session):
            await campaign_service.reschedule(session, viewer.principal, detail.id, data)
    except AppError as error:
        if error.status_code not in (409, 422):
            raise
        message = CONFLICTS.get(error.error_code)
        found = service_problems(error, values, t) if error.errors else {}
        if not found:
            found = {"actions": t.gettext(message) if message else error.message}
        detail = await _campaign(session, viewer, campaign_id)
        return await _campaign_page(
            request,
            viewer,
            session,
            detail,
            problems=found,
            form=values,
            status_code=error.status_code,
        )
    return redirect(f"/brand/campaigns/{detail.id}?done=rescheduled")


@router.post("/brand/campaigns/{campaign_id}/remind")
async def remind(
    request: Request,
    viewer: SignedIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    campaign_id: str,
) -> Response:
    """Mails the people who have not decided the waiting posts (the API's ``remind``); too
    soon or nothing waiting: the page again, saying so next to the button."""
    await brand_of(session, viewer, "campaign.read")
    detail = await _campaign(session, viewer, campaign_id)
    t = translator(request)
    try:
        async with all_or_nothing(session):
            sent = await campaign_service.remind(
                session, viewer.principal, detail.id, redis, settings
            )
    except campaign_service.ReminderTooSoon as error:
        when = dt.datetime.fromisoformat(str(error.extra["next_reminder_at"]))
        problem = t.gettext(
            "They were reminded less than an hour ago. The next reminder can be sent at %(when)s.",
            when=f"{t.format_datetime(when, viewer.time_zone)} ({viewer.time_zone})",
        )
        return await _remind_refused(request, viewer, session, campaign_id, "remind", problem, 429)
    except AppError as error:
        if error.status_code != 409:
            raise
        problem = t.gettext("No post waits for a decision any more: there is nobody to remind.")
        # No waiting list (and no button) to show it beside: above the actions.
        return await _remind_refused(request, viewer, session, campaign_id, "actions", problem, 409)
    if sent.mails == 0:
        return redirect(f"/brand/campaigns/{detail.id}?done=nobody")
    return redirect(f"/brand/campaigns/{detail.id}?done=reminded&people={sent.mails}")


async def _remind_refused(
    request: Request,
    viewer: Viewer,
    session: Session,
    campaign_id: str,
    where: str,
    problem: str,
    status_code: int,
) -> Response:
    detail = await _campaign(session, viewer, campaign_id)
    return await _campaign_page(
        request, viewer, session, detail, problems={where: problem}, status_code=status_code
    )


_SCHEDULE_FIELDS = ("schedule_kind", "local_date", "local_time", "at_date", "at_time")

_STEPS: dict[str, tuple[Any, str]] = {
    "pause": (campaign_service.pause, "paused"),
    "resume": (campaign_service.resume, "resumed"),
    "cancel": (campaign_service.cancel, "cancelled"),
}
"""The actions that take nothing but the campaign: the service's function, what is done."""


@router.post("/brand/campaigns/{campaign_id}/{step}")
async def campaign_step(
    request: Request, viewer: SignedIn, session: Session, campaign_id: str, step: str
) -> Response:
    """Pause, resume or cancel (registered after launch and reschedule, which it would
    otherwise shadow); any other word is the 404 page."""
    found = _STEPS.get(step)
    if found is None:
        raise NotFound("no such action")
    act, done = found

    async def call(ident: uuid.UUID) -> None:
        await act(session, viewer.principal, ident)

    return await _act(request, viewer, session, campaign_id, done, call)


__all__ = ["brand_of", "location_names", "reach_of", "router", "schedule_text"]
