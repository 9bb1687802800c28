"""The brand's locations (issue #16): the list (search, filters, totals, pages of 50, bulk
group changes from its checkboxes), one location (details, groups, accounts and their health,
next and last posts, reviews and rating, numbers), its edit form, the brand's groups, and the
import (upload, preview, import) and export of the brand's locations.

Every page is for ``viewer.brand``: the brand is loaded through ``brand_service.get_brand``
and each object through the service the API routes use (``location_service``), which
authorize; an object of another brand or agency is the 404 page. Forms post, then redirect
(post/redirect/get); a problem re-renders the form with it next to its field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from services.api.deps import Redis, Session, SettingsDep, get_database
from services.web import brand_locations_import as imports
from services.web import brand_locations_query as query
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, safe_next, translator
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access.policy import Target, allowed
from shared.analytics import service as analytics
from shared.brands import service as brand_service
from shared.brands.models import Brand
from shared.db import retry
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.locations import importer
from shared.locations import service as location_service
from shared.locations.fields import STATUSES
from shared.locations.models import Location, LocationGroup
from shared.locations.repository import LocationFilter
from shared.locations.schemas import (
    GroupMembersChange,
    LocationGroupCreate,
    LocationGroupUpdate,
    LocationUpdate,
)
from shared.reviews import service as review_service

router = web_router()

STATUS_NAMES = {
    "active": N_("Active"),
    "paused": N_("Paused"),
    "archived": N_("Archived"),
}
ACCOUNT_STATUS_NAMES = {
    "connected": N_("Connected"),
    "needs_reconnect": N_("Needs reconnecting"),
    "revoked": N_("Disconnected"),
}
POST_STATUS_NAMES = {
    "draft": N_("Draft"),
    "needs_approval": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "scheduled": N_("Scheduled"),
    "queued": N_("About to go out"),
    "publishing": N_("Going out"),
    "unconfirmed": N_("Checking with the platform"),
    "published": N_("Published"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
    "cancelled": N_("Cancelled"),
    "rejected": N_("Rejected"),
}
DONE = {
    "saved": N_("The location is saved."),
    "added": N_("The chosen locations are in the group."),
    "removed": N_("The chosen locations are out of the group."),
    "group_created": N_("The group is created."),
    "group_saved": N_("The group is renamed."),
    "group_deleted": N_("The group is deleted. Its locations stay."),
}
assert set(STATUS_NAMES) == set(STATUSES)

EDIT_FIELDS = (
    "name",
    "external_ref",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "time_zone",
    "phone",
    "website",
    "status",
)


def _flash(t: Translator, done: str) -> str | None:
    return t.gettext(DONE[done]) if done in DONE else None


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip()) if value.strip() else None
    except ValueError:
        return None


async def _brand(viewer: Viewer, session: Session, action: str = "location.read") -> Brand:
    """The brand the viewer looks at, read through the policy (no brand: the 404 page)."""
    if viewer.brand is None:
        raise NotFound("brand not found")
    return await brand_service.get_brand(session, viewer.principal, viewer.brand.id, action)


def _may(viewer: Viewer, brand: Brand, action: str) -> bool:
    return allowed(viewer.principal, action, Target(brand_id=brand.id))


# The list ---------------------------------------------------------------------------------------


def _read_filters(
    t: Translator, brand: Brand, values: dict[str, str]
) -> tuple[query.ListFilter, dict[str, str]]:
    problems: dict[str, str] = {}
    group_id = None
    if values.get("group", "").strip():
        group_id = _uuid(values["group"])
        if group_id is None:
            problems["group"] = t.gettext("Choose a group from the list.")
    status = values.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        problems["status"] = t.gettext("Choose active, paused or archived.")
        status = None
    country = values.get("country", "").strip().upper() or None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        problems["country"] = t.gettext("Choose a country from the list.")
        country = None
    health = values.get("health", "").strip() or None
    if health is not None and health not in query.HEALTHS:
        problems["health"] = t.gettext("Choose an account health from the list.")
        health = None
    city = values.get("city", "").strip() or None
    q = values.get("q", "").strip()
    return (
        query.ListFilter(brand.id, q, group_id, status, country, city, health),
        problems,
    )


def _query_string(f: query.ListFilter, page: int = 1) -> str:
    parts = {
        "q": f.q,
        "group": str(f.group_id) if f.group_id else "",
        "status": f.status or "",
        "country": f.country or "",
        "city": f.city or "",
        "health": f.health or "",
        "page": str(page) if page > 1 else "",
    }
    kept = {k: v for k, v in parts.items() if v}
    return "?" + urlencode(kept) if kept else ""


def _page_number(value: str) -> int:
    try:
        return max(1, min(int(value), 100_000))
    except ValueError:
        return 1


async def _brand_groups(viewer: Viewer, session: Session, brand: Brand) -> list[LocationGroup]:
    page = await location_service.list_groups(
        session, viewer.principal, brand_id=brand.id, sort="name", limit=200, cursor=None
    )
    return list(page.items)


async def _list_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    values: dict[str, str],
    *,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    t = translator(request)
    brand = await _brand(viewer, session)
    filters, filter_problems = _read_filters(t, brand, values)
    page = _page_number(values.get("page", "1"))
    groups = await _brand_groups(viewer, session, brand)
    context: dict[str, Any] = {
        "brand": brand,
        "filters": filters,
        "problems": {**filter_problems, **(problems or {})},
        "groups": groups,
        "countries": await query.countries(session, viewer.principal, brand.id),
        "statuses": [(s, STATUS_NAMES[s]) for s in STATUSES],
        "status_names": STATUS_NAMES,
        "rows": [],
        "matching": 0,
        "active": 0,
        "page": page,
        "pages": 1,
        "prev_url": None,
        "next_url": None,
        "here": "/brand/locations" + _query_string(filters, page),
        "export_url": "/brand/locations/export" + _query_string(filters),
        "may_group": _may(viewer, brand, "location_group.update"),
        "may_import": _may(viewer, brand, "location.import"),
        "may_groups": _may(viewer, brand, "location_group.read"),
        "flash": flash,
    }
    if filter_problems:
        return render(request, "brand_locations/list.html", context, status_code=422)
    found = await query.listing(session, viewer.principal, filters, page=page)
    page = found.page
    pages = max(1, -(-found.matching // query.PAGE_SIZE))
    context.update(
        page=page,
        here="/brand/locations" + _query_string(filters, page),
        rows=found.rows,
        matching=found.matching,
        active=found.active,
        pages=pages,
        first_shown=(page - 1) * query.PAGE_SIZE + 1,
        last_shown=(page - 1) * query.PAGE_SIZE + len(found.rows),
    )
    if page > 1:
        context["prev_url"] = "/brand/locations" + _query_string(filters, page - 1)
    if page < pages:
        context["next_url"] = "/brand/locations" + _query_string(filters, page + 1)
    return render(request, "brand_locations/list.html", context, status_code=status_code)


_Q = Annotated[str, Query(max_length=200)]


@router.get("/brand/locations")
async def locations(
    request: Request,
    viewer: SignedIn,
    session: Session,
    q: _Q = "",
    group: _Q = "",
    status: _Q = "",
    country: _Q = "",
    city: _Q = "",
    health: _Q = "",
    page: _Q = "1",
    done: _Q = "",
) -> Response:
    values = {
        "q": q,
        "group": group,
        "status": status,
        "country": country,
        "city": city,
        "health": health,
        "page": page,
    }
    return await _list_page(
        request, viewer, session, values, flash=_flash(translator(request), done)
    )


def _values_of(next_url: str) -> dict[str, str]:
    """The list's filters from the address it was shown at (the bulk form's ``next``)."""
    return dict(parse_qsl(urlsplit(next_url).query))


def _with_done(url: str, done: str) -> str:
    return url + ("&" if "?" in url else "?") + f"done={done}"


@router.post("/brand/locations/bulk")
async def bulk_group_change(request: Request, viewer: SignedIn, session: Session) -> Response:
    """Add the checked locations to a group, or take them out of it (the list's form)."""
    t = translator(request)
    form = await request.form()
    back = safe_next(str(form.get("next", "")), "/brand/locations")
    if not back.startswith("/brand/locations"):
        back = "/brand/locations"
    action = str(form.get("action", ""))
    ids = [_uuid(str(v)) for v in form.getlist("location_id")]
    chosen = [i for i in ids if i is not None]
    group_id = _uuid(str(form.get("group_id", "")))
    problems: dict[str, str] = {}
    if not chosen:
        problems["bulk"] = t.gettext("Tick the locations to change first.")
    if group_id is None:
        problems["group_id"] = t.gettext("Choose the group.")
    if action not in ("add", "remove"):
        problems["bulk"] = t.gettext("Choose to add or to remove.")
    if problems:
        return await _list_page(
            request, viewer, session, _values_of(back), problems=problems, status_code=422
        )
    assert group_id is not None
    await _brand(viewer, session)
    group = await location_service.get_group(session, viewer.principal, group_id)
    if viewer.brand is None or group.brand_id != viewer.brand.id:
        raise NotFound("location group not found")
    try:
        async with all_or_nothing(session):
            await retry.in_savepoint(
                session,
                lambda: location_service.change_members(
                    session,
                    viewer.principal,
                    group.id,
                    GroupMembersChange(location_ids=chosen),
                    add=action == "add",
                ),
                what="this membership change",
            )
    except ValidationFailed:
        return await _list_page(
            request,
            viewer,
            session,
            _values_of(back),
            problems={"bulk": t.gettext("Some of the chosen locations are not of this brand.")},
            status_code=422,
        )
    return redirect(_with_done(back, "added" if action == "add" else "removed"))


# Import and export (literal paths, before /brand/locations/{location_id}) -----------------------


@router.get("/brand/locations/import")
async def import_form(
    request: Request,
    viewer: SignedIn,
    session: Session,
    created: _Q = "",
    updated: _Q = "",
    unchanged: _Q = "",
    skipped: _Q = "",
) -> Response:
    """The upload form; after an import, what it did (the counts the redirect carries)."""
    brand = await _brand(viewer, session, "location.import")
    context = imports.form_context(brand)
    context["imported"] = imports.imported_counts(
        {"created": created, "updated": updated, "unchanged": unchanged, "skipped": skipped}
    )
    return render(request, "brand_locations/import.html", context)


@router.post("/brand/locations/import")
async def import_preview(
    request: Request, viewer: SignedIn, session: Session, redis: Redis, settings: SettingsDep
) -> Response:
    """Upload: the file is checked by a dry run of the import (nothing kept), and kept for an
    hour for the "Import" button."""
    brand = await _brand(viewer, session, "location.import")
    return await imports.preview(request, viewer, session, redis, settings, brand)


@router.post("/brand/locations/import/apply")
async def import_apply(
    request: Request, viewer: SignedIn, session: Session, redis: Redis, settings: SettingsDep
) -> Response:
    brand = await _brand(viewer, session, "location.import")
    return await imports.apply(request, viewer, session, redis, settings, brand)


@router.get("/brand/locations/export")
async def export(
    request: Request,
    viewer: SignedIn,
    session: Session,
    q: _Q = "",
    group: _Q = "",
    status: _Q = "",
    country: _Q = "",
    city: _Q = "",
) -> Response:
    """The brand's locations in the importer's CSV (the API's export and its filters)."""
    brand = await _brand(viewer, session)
    exported = await importer.export_brand(session, viewer.principal, brand.id)
    filters = LocationFilter(
        brand_id=exported.id,
        group_id=_uuid(group),
        status=status if status in STATUSES else None,
        country=country.strip().upper()[:2] or None,
        city=city.strip() or None,
        q=q.strip() or None,
    )
    filename = importer.export_filename(exported, datetime.now(UTC).date())
    return StreamingResponse(
        importer.export_csv(get_database(request), viewer.principal, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# One location -----------------------------------------------------------------------------------


async def _location(
    viewer: Viewer, session: Session, location_id: str, action: str = "location.read"
) -> Location:
    """The location through the service (it authorizes), if it is the current brand's."""
    found = _uuid(location_id)
    if found is None:
        raise NotFound("location not found")
    location = await location_service.get_location(session, viewer.principal, found, action)
    if viewer.brand is None or location.brand_id != viewer.brand.id:
        raise NotFound("location not found")
    return location


def _when(t: Translator, instant: datetime | None, zone: str) -> str:
    if instant is None:
        return ""
    return f"{t.format_date(instant, zone)}, {t.format_time(instant, zone)}"


@router.get("/brand/locations/{location_id}")
async def location_page(
    request: Request,
    location_id: str,
    viewer: SignedIn,
    session: Session,
    done: _Q = "",
) -> Response:
    t = translator(request)
    location = await _location(viewer, session, location_id)
    principal = viewer.principal
    target = Target(brand_id=location.brand_id, location_id=location.id)
    zone = location.time_zone
    context: dict[str, Any] = {
        "location": location,
        "status_names": STATUS_NAMES,
        "account_status_names": ACCOUNT_STATUS_NAMES,
        "post_status_names": POST_STATUS_NAMES,
        "groups": await query.location_groups(session, principal, location.id),
        "accounts": [],
        "next_posts": [],
        "last_posts": [],
        "reviews": [],
        "review_count": 0,
        "rating": None,
        "numbers": None,
        "may_edit": allowed(principal, "location.update", target),
        "flash": _flash(t, done),
        "when": lambda instant: _when(t, instant, zone),
    }
    if allowed(principal, "social_account.read", target):
        context["accounts"] = await query.accounts_of(session, principal, location.id)
    if allowed(principal, "post.read", target):
        context["next_posts"] = await query.next_posts(session, principal, location.id)
        context["last_posts"] = await query.last_posts(session, principal, location.id)
    if allowed(principal, "review.read", target):
        page = await review_service.list_reviews(
            session,
            principal,
            review_service.ReviewFilter(location_id=location.id),
            limit=5,
            cursor=None,
        )
        context["reviews"] = page.items
        context["review_count"], context["rating"] = await query.rating(
            session, principal, location.id
        )
    if allowed(principal, "metric.read", target):
        today = datetime.now(UTC).date()
        span = analytics.DateRange(today - timedelta(days=29), today)
        scope = analytics.Scope("location", location.id, location.name, location.brand_id)
        summary = await analytics.summary(session, principal, scope, span)
        context["numbers"] = summary.totals
        context["numbers_since"] = t.format_date(
            datetime.combine(span.start, datetime.min.time(), UTC), "UTC"
        )
    return render(request, "brand_locations/location.html", context)


def _edit_values(location: Location) -> dict[str, str]:
    return {
        name: ("" if getattr(location, name) is None else str(getattr(location, name)))
        for name in EDIT_FIELDS
    }


def _edit_page(
    request: Request,
    location: Location,
    values: dict[str, str],
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "location": location,
        "values": values,
        "problems": problems or {},
        "statuses": [(s, STATUS_NAMES[s]) for s in STATUSES],
    }
    return render(request, "brand_locations/edit.html", context, status_code=status_code)


@router.get("/brand/locations/{location_id}/edit")
async def edit_form(
    request: Request, location_id: str, viewer: SignedIn, session: Session
) -> Response:
    location = await _location(viewer, session, location_id, "location.update")
    return _edit_page(request, location, _edit_values(location))


FIELD_MESSAGES = imports.FIELD_MESSAGES
TOO_LONG = imports.TOO_LONG


def _edit_problems(t: Translator, exc: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else ""
        if name in problems:
            continue
        ctx = err.get("ctx") or {}
        if err["type"] == "string_too_long" and name != "name":
            problems[name] = t.gettext(TOO_LONG, max=t.format_number(int(ctx["max_length"])))
        elif name in FIELD_MESSAGES:
            problems[name] = t.gettext(FIELD_MESSAGES[name])
        else:
            problems[name or ""] = t.gettext("Check this value.")
    return problems


@router.post("/brand/locations/{location_id}/edit")
async def edit(request: Request, location_id: str, viewer: SignedIn, session: Session) -> Response:
    t = translator(request)
    location = await _location(viewer, session, location_id, "location.update")
    form = await request.form()
    values = {name: str(form.get(name, ""))[:2000] for name in EDIT_FIELDS}
    body: dict[str, Any] = {name: values[name].strip() for name in EDIT_FIELDS}
    body["external_ref"] = body["external_ref"] or None
    try:
        data = LocationUpdate.model_validate(body)
    except ValidationError as exc:
        return _edit_page(request, location, values, _edit_problems(t, exc), 422)
    try:
        async with all_or_nothing(session, [location]):
            await location_service.update_location(session, viewer.principal, location.id, data)
    except Conflict as exc:
        if exc.error_code != "external_ref_taken":
            raise
        problem = t.gettext("Another location of this brand already has this code.")
        return _edit_page(request, location, values, {"external_ref": problem}, 422)
    except ValidationFailed as exc:
        fields = {p.field.removeprefix("body.") for p in exc.errors}
        problems = {
            name: t.gettext(FIELD_MESSAGES.get(name, N_("Check this value.")))
            for name in fields
            if name in EDIT_FIELDS
        } or {"": t.gettext("Check the values.")}
        return _edit_page(request, location, values, problems, 422)
    return redirect(f"/brand/locations/{location.id}?done=saved")


# Groups -----------------------------------------------------------------------------------------


async def _groups_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    name: str = "",
    description: str = "",
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    brand = await _brand(viewer, session, "location_group.read")
    groups = await _brand_groups(viewer, session, brand)
    counts = await query.member_counts(session, viewer.principal, [g.id for g in groups])
    context = {
        "brand": brand,
        "groups": groups,
        "counts": counts,
        "may_create": _may(viewer, brand, "location_group.create"),
        "name": name,
        "description": description,
        "problems": problems or {},
        "flash": flash,
    }
    return render(request, "brand_locations/groups.html", context, status_code=status_code)


@router.get("/brand/groups")
async def groups(request: Request, viewer: SignedIn, session: Session, done: _Q = "") -> Response:
    return await _groups_page(request, viewer, session, flash=_flash(translator(request), done))


def _group_problems(t: Translator, exc: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else ""
        if name == "name":
            if ";" in str(err.get("msg", "")):
                problems["name"] = t.gettext("A group name cannot contain “;”.")
            else:
                problems["name"] = t.gettext("Give the group a name of 1 to 200 characters.")
        elif name == "description":
            problems["description"] = t.gettext(TOO_LONG, max=t.format_number(2000))
    return problems


@router.post("/brand/groups")
async def create_group(request: Request, viewer: SignedIn, session: Session) -> Response:
    t = translator(request)
    brand = await _brand(viewer, session, "location_group.create")
    form = await request.form()
    name = str(form.get("name", ""))[:1000]
    description = str(form.get("description", ""))[:5000]
    try:
        data = LocationGroupCreate(brand_id=brand.id, name=name, description=description)
    except ValidationError as exc:
        return await _groups_page(
            request, viewer, session, name=name, description=description,
            problems=_group_problems(t, exc), status_code=422,
        )  # fmt: skip
    try:
        async with all_or_nothing(session):
            await location_service.create_group(session, viewer.principal, data)
    except Conflict:
        return await _groups_page(
            request, viewer, session, name=name, description=description,
            problems={"name": t.gettext("This brand already has a group of this name.")},
            status_code=422,
        )  # fmt: skip
    return redirect("/brand/groups?done=group_created")


async def _group(
    viewer: Viewer, session: Session, group_id: str, action: str = "location_group.read"
) -> LocationGroup:
    found = _uuid(group_id)
    if found is None:
        raise NotFound("location group not found")
    group = await location_service.get_group(session, viewer.principal, found, action)
    if viewer.brand is None or group.brand_id != viewer.brand.id:
        raise NotFound("location group not found")
    return group


async def _group_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    group: LocationGroup,
    *,
    page: int = 1,
    name: str | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    filters = query.ListFilter(group.brand_id, group_id=group.id)
    found = await query.listing(session, viewer.principal, filters, page=page)
    page = found.page
    pages = max(1, -(-found.matching // query.PAGE_SIZE))
    target = Target(brand_id=group.brand_id)
    context = {
        "group": group,
        "rows": found.rows,
        "matching": found.matching,
        "status_names": STATUS_NAMES,
        "page": page,
        "prev_url": f"/brand/groups/{group.id}?page={page - 1}" if page > 1 else None,
        "next_url": f"/brand/groups/{group.id}?page={page + 1}" if page < pages else None,
        "may_update": allowed(viewer.principal, "location_group.update", target),
        "may_delete": allowed(viewer.principal, "location_group.delete", target),
        "name": group.name if name is None else name,
        "problems": problems or {},
        "flash": flash,
        "here": f"/brand/groups/{group.id}" + (f"?page={page}" if page > 1 else ""),
    }
    return render(request, "brand_locations/group.html", context, status_code=status_code)


@router.get("/brand/groups/{group_id}")
async def group_page(
    request: Request,
    group_id: str,
    viewer: SignedIn,
    session: Session,
    page: _Q = "1",
    done: _Q = "",
) -> Response:
    group = await _group(viewer, session, group_id)
    return await _group_page(
        request,
        viewer,
        session,
        group,
        page=_page_number(page),
        flash=_flash(translator(request), done),
    )


@router.post("/brand/groups/{group_id}/rename")
async def rename_group(
    request: Request, group_id: str, viewer: SignedIn, session: Session
) -> Response:
    t = translator(request)
    group = await _group(viewer, session, group_id, "location_group.update")
    form = await request.form()
    name = str(form.get("name", ""))[:1000]
    try:
        data = LocationGroupUpdate(name=name)
    except ValidationError as exc:
        return await _group_page(
            request, viewer, session, group, name=name,
            problems=_group_problems(t, exc), status_code=422,
        )  # fmt: skip
    try:
        async with all_or_nothing(session, [group]):
            await location_service.update_group(session, viewer.principal, group.id, data)
    except Conflict:
        return await _group_page(
            request, viewer, session, group, name=name,
            problems={"name": t.gettext("This brand already has a group of this name.")},
            status_code=422,
        )  # fmt: skip
    return redirect(f"/brand/groups/{group.id}?done=group_saved")


@router.post("/brand/groups/{group_id}/delete")
async def delete_group(
    request: Request, group_id: str, viewer: SignedIn, session: Session
) -> Response:
    group = await _group(viewer, session, group_id, "location_group.delete")
    await location_service.delete_group(session, viewer.principal, group.id)
    return redirect("/brand/groups?done=group_deleted")


@router.post("/brand/groups/{group_id}/remove")
async def remove_members(
    request: Request, group_id: str, viewer: SignedIn, session: Session
) -> Response:
    """Take the ticked members out of the group (the group page's form)."""
    t = translator(request)
    group = await _group(viewer, session, group_id, "location_group.update")
    form = await request.form()
    chosen = [i for i in (_uuid(str(v)) for v in form.getlist("location_id")) if i is not None]
    if not chosen:
        return await _group_page(
            request, viewer, session, group,
            problems={"bulk": t.gettext("Tick the locations to change first.")},
            status_code=422,
        )  # fmt: skip
    try:
        async with all_or_nothing(session):
            await location_service.change_members(
                session, viewer.principal, group.id, GroupMembersChange(location_ids=chosen),
                add=False,
            )  # fmt: skip
    except ValidationFailed:
        return await _group_page(
            request, viewer, session, group,
            problems={"bulk": t.gettext("Some of the chosen locations are not of this brand.")},
            status_code=422,
        )  # fmt: skip
    return redirect(f"/brand/groups/{group.id}?done=removed")
