"""Home: what needs me now, for the location I am looking at; and the location switcher."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from services.api.deps import Client, Session, SettingsDep
from services.web import home_view, security
from services.web import sessions as web_sessions
from services.web.deps import SignedIn
from services.web.errors import error_page
from services.web.i18n import N_
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import redirect, render, safe_next
from services.web.routes import brand_home
from services.web.routing import web_router
from shared.access import repository as access_repository
from shared.audit import service as audit
from shared.brands import service as brand_service
from shared.db.tenancy import set_tenant
from shared.errors import NotFound
from shared.identity import service as identity_service
from shared.identity import two_factor
from shared.ids import new_id
from shared.locations import service as location_service

router = web_router()


@router.get("/")
async def home(request: Request, viewer: SignedIn, session: Session) -> Response:
    location = viewer.location
    if location is None and viewer.brand is not None:
        return await brand_home.page(request, viewer, session)
    data = await home_view.load(session, viewer, location) if location else None
    return render(
        request,
        "home/index.html",
        {
            "location": location,
            "home": data,
            "platform_names": PLATFORM_NAMES,
            "status_names": STATUS_NAMES,
        },
    )


@router.post("/switch-location")
async def switch_location(
    viewer: SignedIn,
    session: Session,
    location_id: Annotated[uuid.UUID, Form()],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Kept in the session. The location is loaded as the API loads it (in the tenant, then
    the policy): another agency's or another location's answers the 404 page."""
    await location_service.get_location(session, viewer.principal, location_id)
    await web_sessions.choose_location(session, viewer.session, location_id)
    return redirect(safe_next(next_path))


@router.post("/switch-brand")
async def switch_brand(
    viewer: SignedIn,
    session: Session,
    brand_id: Annotated[uuid.UUID, Form()],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """The brand of the brand screens, kept in the session. Loaded as the API loads it (in
    the tenant, then the policy): another agency's brand, or one the person's grants do not
    read, answers the 404 page."""
    await brand_service.get_brand(session, viewer.principal, brand_id)
    await web_sessions.choose_brand(session, viewer.session, brand_id)
    return redirect(safe_next(next_path))


_TWO_FACTOR_NEEDED = (
    N_("That agency requires two-factor sign-in"),
    N_(
        "Your account does not have two-factor sign-in yet. Sign out, then sign in to that "
        "agency: Chorus asks you to set it up first."
    ),
)


@router.post("/switch-agency")
async def switch_agency(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    client: Client,
    agency_id: Annotated[uuid.UUID, Form()],
) -> Response:
    """A new session in the other agency (its own family, listed and audited like a
    login), the browser's current one ended: a session belongs to one agency. The person
    proved who they are when signing in to this browser; the other agency's own rule on
    two-factor sign-in still holds."""
    user_id = viewer.principal.user_id
    assert user_id is not None
    if agency_id == viewer.principal.agency_id:
        return redirect("/")
    if agency_id not in {a.id for a in viewer.agencies}:
        raise NotFound("agency not found")
    await set_tenant(session, agency_id, user_id)
    if not await access_repository.load_grants(session, agency_id, user_id):
        raise NotFound("agency not found")
    if await two_factor.agency_requires(session, agency_id) and not await two_factor.is_enabled(
        session, user_id
    ):
        return error_page(request, 403, _TWO_FACTOR_NEEDED)
    pair = await identity_service.issue_pair(
        session, settings, user_id=user_id, agency_id=agency_id, family_id=new_id(), client=client
    )
    audit.record(
        session,
        agency_id=agency_id,
        actor=audit.Actor("user", user_id),
        action="auth.login",
        object_type="user",
        object_id=user_id,
        details={"switched_from_agency": str(viewer.principal.agency_id)},
    )
    await web_sessions.end(session, viewer.session)
    cookie = await web_sessions.open_for_refresh_token(session, pair.refresh_token)
    response = redirect("/")
    security.set_cookie(response, settings, security.SESSION_COOKIE, cookie)
    return response
