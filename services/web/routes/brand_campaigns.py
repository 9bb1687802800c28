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
from sqlalchemy import and_, func, literal, select, tuple_

from services.api.deps import Redis, Session, SettingsDep
from services.web.campaign_builder_form import (
    POLICY_NAMES,
    default_form,
    field_text,
    payload_of,
    read_form,
    schedule_of,
    service_problems,
    split_template,
)
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
    CampaignDetail,
    RescheduleIn,
)
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


async def _variables_needed(session: Session, viewer: Viewer, chosen: str) -> list[str]:
    split = split_template(chosen)
    if split is None:
        return []
    try:
        version = await template_service.get_version(session, viewer.principal, *split)
    except AppError:
        return []
    return sorted(v.split(".", 1)[1] for v in version.variables if v.startswith("campaign."))


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
    values = default_form()
    reach = await reach_of(session, viewer.principal.agency_id, brand.id, {"kind": "all"}, None)
    return await _builder(request, viewer, session, brand, values, reach=reach)


@router.post("/brand/campaigns/new")
async def builder_post(request: Request, viewer: SignedIn, session: Session) -> Response:
    """``action=check`` shows the reach and the spread (nothing written); else the draft is
    created through the API's service, or the form comes back with each problem."""
    brand = await brand_of(session, viewer, "campaign.create")
    t = translator(request)
    form = await request.form()
    chosen = field_text(form, "template", 100)
    values = read_form(form, await _variables_needed(session, viewer, chosen))
    data, audience, schedule, problems = payload_of(values, brand.id, t)
    reach = None
    if "audience" not in problems:
        try:
            reach = await reach_of(
                session, viewer.principal.agency_id, brand.id, audience, schedule or None
            )
        except ValueError:
            problems["audience"] = t.gettext("Choose groups of this brand.")
    if field_text(form, "action", 20) == "check":
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
    values = default_form()
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
    values = {**default_form(), **{k: field_text(form, k, 40) for k in _SCHEDULE_FIELDS}}
    problems: dict[str, str] = {}
    schedule = schedule_of(values, problems, t)
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
