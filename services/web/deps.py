"""The signed-in person of a web request: the same ``Principal`` the API builds, from the
session cookie instead of a bearer token, and the location they are looking at.

``Viewer`` is what a page needs about who looks: the principal (give it to the policy and the
services), their name, the locations they can switch between and the current one. Routes take
``SignedIn``; without a live session the browser is sent to the sign-in page and back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy import select

from services.api.deps import Session, SettingsDep
from services.web import sessions as web_sessions
from services.web.security import SESSION_COOKIE, UNSAFE_METHODS
from shared.access import repository as access_repository
from shared.access.models import Membership
from shared.access.policy import Target, allowed
from shared.access.principal import Principal
from shared.access.roles import ScopeType
from shared.agencies.models import Agency
from shared.billing import entitlements
from shared.brands.models import Brand
from shared.errors import AppError
from shared.locations.models import Location


class SignInRequired(AppError):
    """Not signed in (or the session ended): the web app redirects to /login."""

    status_code = 401
    code = "sign_in_required"


@dataclass(frozen=True, slots=True)
class LocationChoice:
    id: uuid.UUID
    name: str
    brand_id: uuid.UUID
    time_zone: str


@dataclass(frozen=True, slots=True)
class BrandChoice:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class AgencyChoice:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    session: web_sessions.LiveSession
    locations: tuple[LocationChoice, ...] = ()
    location: LocationChoice | None = None
    agencies: tuple[AgencyChoice, ...] = ()
    """Every agency the person belongs to (the header's agency switcher)."""
    read_only: bool = False
    brands: tuple[BrandChoice, ...] = ()
    """The brands of the brand screens (part 2): those a brand or agency grant reads."""
    brand: BrandChoice | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.session.full_name or self.session.email

    @property
    def time_zone(self) -> str:
        return self.location.time_zone if self.location else "UTC"

    def may(self, action: str) -> bool:
        """May the viewer do ``action`` at the current location? For links and buttons only
        (the policy's ``allowed``); routes still ``authorize``."""
        if self.location is None:
            return False
        target = Target(brand_id=self.location.brand_id, location_id=self.location.id)
        return allowed(self.principal, action, target)

    def may_in_brand(self, action: str) -> bool:
        """May the viewer do ``action`` on the current brand (its brand screens)? For links
        and buttons only; routes load the brand and ``authorize``."""
        if self.brand is None:
            return False
        return allowed(self.principal, action, Target(brand_id=self.brand.id))

    def may_in_agency(self, action: str) -> bool:
        """May the viewer do ``action`` agency-wide (members, API keys, audit, billing)?"""
        return allowed(self.principal, action, Target())


async def _brand_choices(session: Session, principal: Principal) -> tuple[BrandChoice, ...]:
    """Brands a brand- or agency-scoped grant reads, by name. A location's people reach
    their brand only through their location: they have no brand screens."""
    agency_wide = any(g.scope_type is ScopeType.AGENCY for g in principal.grants)
    brand_ids = {g.scope_id for g in principal.grants if g.scope_type is ScopeType.BRAND}
    if not agency_wide and not brand_ids:
        return ()
    query = select(Brand.id, Brand.name).where(Brand.agency_id == principal.agency_id)
    if not agency_wide:
        query = query.where(Brand.id.in_(brand_ids))
    rows = (await session.execute(query.order_by(Brand.name, Brand.id))).all()
    return tuple(
        BrandChoice(row.id, row.name)
        for row in rows
        if allowed(principal, "brand.read", Target(brand_id=row.id))
    )


def _current_brand(
    choices: tuple[BrandChoice, ...], chosen: uuid.UUID | None
) -> BrandChoice | None:
    for choice in choices:
        if choice.id == chosen:
            return choice
    return choices[0] if choices else None


async def _location_choices(session: Session, principal: Principal) -> tuple[LocationChoice, ...]:
    """The locations the person holds a location grant on (the switcher's list), by name.
    Brand- and agency-wide people choose a brand first: their screens are part 2."""
    ids = {g.scope_id for g in principal.grants if g.scope_type is ScopeType.LOCATION}
    if not ids:
        return ()
    rows = await session.execute(
        select(Location.id, Location.name, Location.brand_id, Location.time_zone)
        .where(Location.agency_id == principal.agency_id, Location.id.in_(ids))
        .order_by(Location.name, Location.id)
    )
    return tuple(LocationChoice(*row) for row in rows.all())


async def _agency_choices(session: Session, user_id: uuid.UUID) -> tuple[AgencyChoice, ...]:
    """Read through the ``own_memberships`` and ``member_agencies`` policies: the person's own
    agencies, whatever the transaction's tenant."""
    rows = await session.execute(
        select(Agency.id, Agency.name)
        .join(Membership, Membership.agency_id == Agency.id)
        .where(Membership.user_id == user_id)
        .group_by(Agency.id, Agency.name)
        .order_by(Agency.name, Agency.id)
    )
    return tuple(AgencyChoice(*row) for row in rows.all())


def _current(
    principal: Principal, choices: tuple[LocationChoice, ...], chosen: uuid.UUID | None
) -> LocationChoice | None:
    """The session's location while the policy still lets the person read it, else the
    first they can."""
    readable = [
        c
        for c in choices
        if allowed(principal, "location.read", Target(brand_id=c.brand_id, location_id=c.id))
    ]
    for choice in readable:
        if choice.id == chosen:
            return choice
    return readable[0] if readable else None


async def signed_in(request: Request, session: Session, settings: SettingsDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    live = await web_sessions.load(session, token) if token else None
    if live is None:
        raise SignInRequired("sign in to continue")
    grants = await access_repository.load_grants(session, live.agency_id, live.user_id)
    if not grants:
        raise SignInRequired("you no longer have access to this agency")
    principal = Principal(
        agency_id=live.agency_id, user_id=live.user_id, session_id=live.family_id, grants=grants
    )
    structlog.contextvars.bind_contextvars(
        agency_id=str(principal.agency_id), actor=principal.actor
    )
    request.state.principal = principal
    request.state.language = live.language  # the person's setting, before Accept-Language
    standing = await entitlements.standing(session, settings, principal.agency_id)
    if standing.read_only and request.method in UNSAFE_METHODS and not _always_allowed(request):
        entitlements.require_writable(standing)
    choices = await _location_choices(session, principal)
    brands = await _brand_choices(session, principal)
    viewer = Viewer(
        principal=principal,
        session=live,
        locations=choices,
        location=_current(principal, choices, live.location_id),
        read_only=standing.read_only,
        agencies=await _agency_choices(session, live.user_id),
        brands=brands,
        brand=_current_brand(brands, live.brand_id),
    )
    request.state.viewer = viewer
    return viewer


def _always_allowed(request: Request) -> bool:
    """A read-only agency's people may still sign out and look after their own account."""
    return request.url.path == "/logout" or request.url.path.startswith("/account/")


SignedIn = Annotated[Viewer, Depends(signed_in, scope="function")]
