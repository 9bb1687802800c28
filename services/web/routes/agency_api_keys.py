"""API keys of the agency: the list (name, place, role, created, last used, expiry, status),
creating one (its secret shown once, on the answer to the form, and never again) and
revoking one.

The same services as ``/v1/api-keys`` under the same policy: the page needs ``api_key.read``
(owners and administrators); creating and revoking ``api_key.manage``; a plan without API
keys answers the app's 402 page, which says how to upgrade."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response

from services.api.deps import Session, SettingsDep
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.rendering import redirect, render, translator
from services.web.routes.agency_members import (
    ROLE_LABELS,
    places_of,
    read_scope,
    scope_choices,
    scope_ids,
)
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access import api_keys
from shared.access.models import ApiKey
from shared.access.policy import authorize
from shared.access.roles import Role
from shared.access.schemas import ApiKeyCreate
from shared.billing import entitlements
from shared.billing.plans import Feature
from shared.errors import AppError, NotFound

router = web_router()

PAGE = 50
MAX_NAME = 200
DONE = {"revoked": N_("The key was revoked: requests with it are refused from now on.")}


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    place: str
    status: str


@dataclass(frozen=True, slots=True)
class KeyForm:
    name: str = ""
    role: str = ""
    brand_id: str = ""
    location_id: str = ""
    expires_on: str = ""


def _status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    *,
    cursor: str | None = None,
    problems: dict[str, str] | None = None,
    form: KeyForm | None = None,
    flash: str | None = None,
) -> Response:
    listed = await api_keys.list_keys(session, viewer.principal, limit=PAGE, cursor=cursor)
    places = await places_of(session, viewer, *scope_ids(listed.items))
    now = datetime.now(UTC)
    rows = [KeyRow(k, places.name(k.scope_type, k.scope_id), _status(k, now)) for k in listed.items]
    may_manage = viewer.may_in_agency("api_key.manage")
    standing = await entitlements.standing(session, settings, viewer.principal.agency_id)
    in_plan = Feature.API_KEYS in standing.plan.features
    return render(
        request,
        "agency/api_keys.html",
        {
            "rows": rows,
            "next_cursor": listed.next_cursor,
            "first_page": cursor is None,
            "role_labels": ROLE_LABELS,
            "may_manage": may_manage,
            "in_plan": in_plan,
            "plan_name": standing.plan.name,
            "may_billing": viewer.may_in_agency("billing.read"),
            "problems": problems or {},
            "form": form or KeyForm(),
            "flash": flash,
            **(
                await scope_choices(
                    session, viewer, "api_key.manage", leave_out=frozenset({Role.OWNER})
                )
                if may_manage
                else {"scope_roles": [], "scope_brands": [], "scope_locations": []}
            ),
        },
        status_code=422 if problems else 200,
    )


@router.get("/agency/api-keys")
async def keys_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    authorize(viewer.principal, "api_key.read")
    flash = translator(request).gettext(DONE[done]) if done in DONE else None
    try:
        return await _page(request, viewer, session, settings, cursor=cursor, flash=flash)
    except AppError as exc:
        if exc.error_code != "invalid_cursor":
            raise
        return redirect("/agency/api-keys")


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


@router.post("/agency/api-keys")
async def create(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=2000)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    brand_id: Annotated[str, Form(max_length=40)] = "",
    location_id: Annotated[str, Form(max_length=40)] = "",
    expires_on: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    authorize(viewer.principal, "api_key.manage")
    t = translator(request)
    typed = name.strip()
    form = KeyForm(typed[:MAX_NAME], role, brand_id, location_id, expires_on.strip())
    problems: dict[str, str] = {}
    if not typed:
        problems["name"] = t.gettext("Give the key a name that says what uses it.")
    elif len(typed) > MAX_NAME:
        problems["name"] = t.gettext("A name is at most %(n)s characters.", n=MAX_NAME)
    scope = read_scope(t, role, brand_id, location_id, problems)
    if scope.role is Role.OWNER:
        problems["role"] = t.gettext("A key cannot be an owner; choose administrator or less.")
    expires_at = None
    if form.expires_on:
        try:
            expires_at = _end_of(date.fromisoformat(form.expires_on))
        except ValueError:
            problems["expires_on"] = t.gettext("Enter the date like 2031-12-31.")
        else:
            if expires_at <= datetime.now(UTC):
                problems["expires_on"] = t.gettext("Choose a day after today, or leave it empty.")
    if problems or scope.role is None:
        return await _page(request, viewer, session, settings, problems=problems, form=form)
    data = ApiKeyCreate(
        name=typed,
        role=scope.role,
        brand_id=scope.brand_id,
        location_id=scope.location_id,
        expires_at=expires_at,
    )
    try:
        async with all_or_nothing(session):
            key, secret = await api_keys.create(session, viewer.principal, data)
    except AppError as exc:
        problem = _problem(t, exc, data)
        return await _page(request, viewer, session, settings, problems=problem, form=form)
    places = await places_of(session, viewer, *scope_ids([key]))
    return render(
        request,
        "agency/api_key_created.html",
        {
            "key": key,
            "secret": secret,
            "place": places.name(key.scope_type, key.scope_id),
            "role_labels": ROLE_LABELS,
        },
    )


def _problem(t: Any, exc: AppError, data: ApiKeyCreate) -> dict[str, str]:
    """A refusal of the key service next to its field; a plan without keys stays the 402."""
    if exc.error_code == "role_above_own":
        return {"role": t.gettext("You cannot give a role above your own there.")}
    if isinstance(exc, NotFound) or exc.error_code == "permission_denied":
        if data.location_id is not None:
            return {"location_id": t.gettext("You may not give keys at that location.")}
        if data.brand_id is not None:
            return {"brand_id": t.gettext("You may not give keys at that brand.")}
    raise exc


@router.post("/agency/api-keys/{api_key_id}/revoke")
async def revoke(api_key_id: uuid.UUID, viewer: SignedIn, session: Session) -> Response:
    await api_keys.revoke(session, viewer.principal, api_key_id)
    return redirect("/agency/api-keys?done=revoked")
