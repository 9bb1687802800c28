"""Members of the agency at every scope: who holds which role where (agency, brand,
location), invitations still waiting (send again, withdraw), inviting at any scope, changing a
role and removing a member after a confirmation page.

The same services as ``/v1/members`` and ``/v1/invitations``, with the same principal: what
the API lets the viewer do, the page offers, nothing more. Owners and administrators see the
whole agency; a brand manager sees and invites at their brand (the services' reach). The
policy's ``can_grant`` decides which roles each form offers; the services check again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from services.api.deps import Redis, Session, SettingsDep
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access import invitations, members, scopes
from shared.access.models import Invitation, Membership
from shared.access.policy import AGENCY, Target, allowed, can_grant
from shared.access.roles import RANK, ROLE_SCOPE, Role, ScopeType
from shared.access.schemas import InvitationCreate, MembershipOut
from shared.brands.models import Brand
from shared.errors import AppError, Forbidden, NotFound, ValidationFailed
from shared.locations.models import Location
from shared.tenancy import scoped

router = web_router()

PAGE = 50
INVITATION_PAGE = 100
MAX_EMAIL = 320

ROLE_LABELS: dict[str, str] = {
    Role.OWNER.value: N_("Owner"),
    Role.ADMIN.value: N_("Administrator"),
    Role.BRAND_MANAGER.value: N_("Brand manager"),
    Role.BRAND_VIEWER.value: N_("Brand viewer"),
    Role.LOCATION_MANAGER.value: N_("Location manager"),
    Role.LOCATION_STAFF.value: N_("Location staff"),
}
ROLES = sorted(Role, key=lambda r: -RANK[r])
DONE = {
    "invited": N_("The invitation is on its way. The link in it works for %(days)s days."),
    "resent": N_("A new invitation is on its way; the link of the earlier one no longer works."),
    "revoked": N_("The invitation was withdrawn: its link no longer works."),
    "role": N_("The role was changed. It applies from their next page."),
    "removed": N_("The membership was removed."),
}


@dataclass(frozen=True, slots=True)
class Row:
    membership: MembershipOut
    scope_name: str
    role_choices: tuple[str, ...]
    """Roles of the same scope kind the viewer may change this one to (empty: no form)."""
    can_remove: bool


@dataclass(frozen=True, slots=True)
class Waiting:
    invitation: Invitation
    scope_name: str
    can_manage: bool


@dataclass(frozen=True, slots=True)
class Places:
    """Names of the brands and locations a page mentions, and each location's brand."""

    brands: dict[uuid.UUID, str]
    locations: dict[uuid.UUID, tuple[str, uuid.UUID]]

    def name(self, scope_type: str, scope_id: uuid.UUID | None) -> str:
        if scope_type == ScopeType.BRAND.value and scope_id is not None:
            return self.brands.get(scope_id, "")
        if scope_type == ScopeType.LOCATION.value and scope_id is not None:
            found = self.locations.get(scope_id)
            return found[0] if found else ""
        return ""

    def target(self, scope_type: str, scope_id: uuid.UUID | None) -> Target:
        if scope_type == ScopeType.BRAND.value:
            return Target(brand_id=scope_id)
        if scope_type == ScopeType.LOCATION.value and scope_id is not None:
            found = self.locations.get(scope_id)
            return Target(brand_id=found[1] if found else None, location_id=scope_id)
        return AGENCY


def require_page(viewer: Viewer) -> None:
    """Agency-wide member readers, and those who may invite at one of their brands; anyone
    else gets the 403 page (a location's manager has the team page)."""
    if viewer.may_in_agency("member.read"):
        return
    if any(
        allowed(viewer.principal, "member.invite", Target(brand_id=b.id)) for b in viewer.brands
    ):
        return
    raise Forbidden(
        "this needs the permission 'member.read' on the agency or a brand",
        code="permission_denied",
    )


async def places_of(
    session: Session, viewer: Viewer, brand_ids: set[uuid.UUID], location_ids: set[uuid.UUID]
) -> Places:
    """Always both statements (an empty list matches nothing): the same count per page."""
    agency_id = viewer.principal.agency_id
    rows = await session.execute(
        select(Location.id, Location.name, Location.brand_id).where(
            Location.agency_id == agency_id, Location.id.in_(location_ids)
        )
    )
    locations = {row.id: (row.name, row.brand_id) for row in rows}
    brand_rows = await session.execute(
        select(Brand.id, Brand.name).where(Brand.agency_id == agency_id, Brand.id.in_(brand_ids))
    )
    brands = {row.id: row.name for row in brand_rows}
    return Places(brands, locations)


def scope_ids(items: list[Any]) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    brand_ids = {
        i.scope_id for i in items if str(i.scope_type) == ScopeType.BRAND.value and i.scope_id
    }
    location_ids = {
        i.scope_id for i in items if str(i.scope_type) == ScopeType.LOCATION.value and i.scope_id
    }
    return brand_ids, location_ids


def _row(viewer: Viewer, places: Places, m: MembershipOut) -> Row:
    target = places.target(m.scope_type.value, m.scope_id)
    principal = viewer.principal
    choices: tuple[str, ...] = ()
    if can_grant(principal, m.role, target, "member.update"):
        choices = tuple(
            r.value
            for r in ROLES
            if ROLE_SCOPE[r] is m.scope_type and can_grant(principal, r, target, "member.update")
        )
        if len(choices) < 2:
            choices = ()
    removable = m.user_id != principal.user_id and can_grant(
        principal, m.role, target, "member.remove"
    )
    return Row(m, places.name(m.scope_type.value, m.scope_id), choices, removable)


async def _pending(session: Session, viewer: Viewer) -> list[Invitation]:
    """Invitations still open, newest expiry first: the listing stops at the first one that
    has expired (pending ones all expire later)."""
    found: list[Invitation] = []
    cursor: str | None = None
    now = datetime.now(UTC)
    while True:
        page = await invitations.list_invitations(
            session, viewer.principal, sort="-expires_at", limit=INVITATION_PAGE, cursor=cursor
        )
        for invitation in page.items:
            if invitation.expires_at <= now:
                return found
            if invitations.status_of(invitation, now) == "pending":
                found.append(invitation)
        cursor = page.next_cursor
        if cursor is None:
            return found


@dataclass(frozen=True, slots=True)
class InviteForm:
    email: str = ""
    role: str = ""
    brand_id: str = ""
    location_id: str = ""


async def scope_choices(
    session: Session, viewer: Viewer, action: str, *, leave_out: frozenset[Role] = frozenset()
) -> dict[str, Any]:
    """The roles the viewer may give somewhere with ``action`` (member.invite,
    api_key.manage), the brands where they may, and the locations of the brand they look at
    (the brand switcher changes it)."""
    principal = viewer.principal
    brands = [b for b in viewer.brands if allowed(principal, action, Target(brand_id=b.id))]
    roles = []
    for role in ROLES:
        if role in leave_out:
            continue
        if ROLE_SCOPE[role] is ScopeType.AGENCY:
            ok = can_grant(principal, role, AGENCY, action)
        else:
            ok = any(can_grant(principal, role, Target(brand_id=b.id), action) for b in brands)
        if ok:
            roles.append(role.value)
    locations: list[tuple[uuid.UUID, str]] = []
    brand = viewer.brand
    if brand is not None and any(b.id == brand.id for b in brands):
        rows = await session.execute(
            select(Location.id, Location.name)
            .where(Location.agency_id == principal.agency_id, Location.brand_id == brand.id)
            .order_by(Location.name, Location.id)
        )
        locations = [(row.id, row.name) for row in rows]
    return {"scope_roles": roles, "scope_brands": brands, "scope_locations": locations}


@dataclass(frozen=True, slots=True)
class ScopeChoice:
    role: Role | None
    brand_id: uuid.UUID | None
    location_id: uuid.UUID | None


def read_scope(
    t: Any, role: str, brand_id: str, location_id: str, problems: dict[str, str]
) -> ScopeChoice:
    """The role and its place from a form; what is missing goes into ``problems``."""
    chosen = Role(role) if role in ROLE_LABELS else None
    if chosen is None:
        problems["role"] = t.gettext("Choose the role they get.")
    scope = ROLE_SCOPE[chosen] if chosen else None
    brand = _parse_id(brand_id) if scope is ScopeType.BRAND else None
    location = _parse_id(location_id) if scope is ScopeType.LOCATION else None
    if scope is ScopeType.BRAND and brand is None:
        problems["brand_id"] = t.gettext("Choose the brand for a brand role.")
    if scope is ScopeType.LOCATION and location is None:
        problems["location_id"] = t.gettext("Choose the location for a location role.")
    return ScopeChoice(chosen, brand, location)


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    cursor: str | None = None,
    problems: dict[str, str] | None = None,
    form: InviteForm | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    listed = await members.list_members(
        session,
        viewer.principal,
        members.MemberFilter(),
        sort="created_at",
        limit=PAGE,
        cursor=cursor,
    )
    pending = await _pending(session, viewer)
    brand_ids, location_ids = scope_ids([*listed.items, *pending])
    places = await places_of(session, viewer, brand_ids, location_ids)
    rows = [_row(viewer, places, m) for m in listed.items]
    waiting = [
        Waiting(
            i,
            places.name(i.scope_type, i.scope_id),
            can_grant(
                viewer.principal,
                Role(i.role),
                places.target(i.scope_type, i.scope_id),
                "member.invite",
            ),
        )
        for i in pending
    ]
    return render(
        request,
        "agency/members.html",
        {
            "rows": rows,
            "waiting": waiting,
            "next_cursor": listed.next_cursor,
            "first_page": cursor is None,
            "role_labels": ROLE_LABELS,
            "problems": problems or {},
            "form": form or InviteForm(),
            "flash": flash,
            **await scope_choices(session, viewer, "member.invite"),
        },
        status_code=422 if problems and status_code == 200 else status_code,
    )


@router.get("/agency/members")
async def members_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    require_page(viewer)
    flash = None
    if done in DONE:
        flash = translator(request).gettext(DONE[done], days=settings.invitation_ttl_days)
    try:
        return await _page(request, viewer, session, cursor=cursor, flash=flash)
    except AppError as exc:
        if exc.error_code not in ("invalid_cursor", "bad_cursor"):
            raise
        return redirect("/agency/members")


def _parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.post("/agency/invitations")
async def invite(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    email: Annotated[str, Form(max_length=2000)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    brand_id: Annotated[str, Form(max_length=40)] = "",
    location_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    require_page(viewer)
    t = translator(request)
    typed = email.strip()
    form = InviteForm(typed[:MAX_EMAIL], role, brand_id, location_id)
    problems: dict[str, str] = {}
    if not typed:
        problems["email"] = t.gettext("Enter the email address of the person to invite.")
    elif len(typed) > MAX_EMAIL:
        problems["email"] = t.gettext("An email address is at most %(n)s characters.", n=MAX_EMAIL)
    scope = read_scope(t, role, brand_id, location_id, problems)
    data = None
    if not problems and scope.role is not None:
        try:
            data = InvitationCreate(
                email=typed,
                role=scope.role,
                brand_id=scope.brand_id,
                location_id=scope.location_id,
            )
        except ValidationError:
            problems["email"] = t.gettext("Enter an email address like name@example.com.")
    if data is None:
        return await _page(request, viewer, session, problems=problems, form=form)
    try:
        async with all_or_nothing(session):
            await invitations.invite(session, settings, redis, viewer.principal, data)
    except AppError as exc:
        problems = _invite_problem(t, exc, data)
        return await _page(request, viewer, session, problems=problems, form=form)
    return redirect("/agency/members?done=invited")


def _invite_problem(t: Any, exc: AppError, data: InvitationCreate) -> dict[str, str]:
    """A refusal of the invitation service, next to the field it is about."""
    if exc.error_code == "already_member":
        return {"email": t.gettext("%(email)s already has this role there.", email=str(data.email))}
    if exc.error_code == "role_above_own":
        return {"role": t.gettext("You cannot give a role above your own there.")}
    if isinstance(exc, NotFound) or exc.error_code == "permission_denied":
        if data.location_id is not None:
            return {"location_id": t.gettext("You may not invite people to that location.")}
        if data.brand_id is not None:
            return {"brand_id": t.gettext("You may not invite people to that brand.")}
        return {"role": t.gettext("You may not invite people agency-wide.")}
    raise exc


async def _visible_invitation(
    session: Session, viewer: Viewer, invitation_id: uuid.UUID
) -> Invitation:
    """The invitation, if the viewer may see it (as the service reads it); otherwise the
    404 page."""
    found = (
        await session.execute(
            scoped(Invitation, viewer.principal).where(Invitation.id == invitation_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("invitation not found")
    scope = await scopes.target_of(
        session, viewer.principal, ScopeType(found.scope_type), found.scope_id
    )
    if not allowed(viewer.principal, "member.read", scope.target):
        raise NotFound("invitation not found")
    return found


@router.post("/agency/invitations/{invitation_id}/revoke")
async def revoke(invitation_id: uuid.UUID, viewer: SignedIn, session: Session) -> Response:
    require_page(viewer)
    await _visible_invitation(session, viewer, invitation_id)
    try:
        async with all_or_nothing(session):
            await invitations.revoke(session, viewer.principal, invitation_id)
    except AppError as exc:
        if exc.error_code != "invitation_accepted":
            raise
    return redirect("/agency/members?done=revoked")


@router.post("/agency/invitations/{invitation_id}/resend")
async def resend(
    invitation_id: uuid.UUID,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    redis: Redis,
) -> Response:
    """A new invitation to the same seat; the service withdraws the earlier one."""
    require_page(viewer)
    found = await _visible_invitation(session, viewer, invitation_id)
    if invitations.status_of(found) != "pending":
        return redirect("/agency/members")
    scope_type = ScopeType(found.scope_type)
    data = InvitationCreate(
        email=found.email,
        role=Role(found.role),
        brand_id=found.scope_id if scope_type is ScopeType.BRAND else None,
        location_id=found.scope_id if scope_type is ScopeType.LOCATION else None,
    )
    await invitations.invite(session, settings, redis, viewer.principal, data)
    return redirect("/agency/members?done=resent")


async def _visible_member(
    session: Session, viewer: Viewer, membership_id: uuid.UUID
) -> tuple[MembershipOut, Target, str]:
    """The membership as the member listing shows it, its policy target and its place's
    name; one the viewer may not read is the 404 page."""
    found = (
        await session.execute(
            select(Membership).where(
                Membership.agency_id == viewer.principal.agency_id,
                Membership.id == membership_id,
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("member not found")
    scope = await scopes.target_of(
        session, viewer.principal, ScopeType(found.scope_type), found.scope_id
    )
    if not allowed(viewer.principal, "member.read", scope.target):
        raise NotFound("member not found")
    listed = await members.list_members(
        session,
        viewer.principal,
        members.MemberFilter(user_id=found.user_id),
        limit=PAGE,
        cursor=None,
    )
    for m in listed.items:
        if m.id == membership_id:
            places = await places_of(session, viewer, *scope_ids([m]))
            return m, scope.target, places.name(m.scope_type.value, m.scope_id)
    raise NotFound("member not found")


@router.post("/agency/members/{membership_id}/role")
async def change_role(
    request: Request,
    membership_id: uuid.UUID,
    viewer: SignedIn,
    session: Session,
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    require_page(viewer)
    await _visible_member(session, viewer, membership_id)
    t = translator(request)
    if role not in ROLE_LABELS:
        return await _page(
            request, viewer, session, problems={"": t.gettext("Choose the new role.")}
        )
    try:
        async with all_or_nothing(session):
            await members.change_role(session, viewer.principal, membership_id, Role(role))
    except AppError as exc:
        message = _change_problem(t, exc)
        return await _page(
            request, viewer, session, problems={"": message}, status_code=exc.status_code
        )
    return redirect("/agency/members?done=role")


def _change_problem(t: Any, exc: AppError) -> str:
    if exc.error_code == "last_owner":
        return str(t.gettext("This is the agency's last owner. Make someone else owner first."))
    if exc.error_code == "role_above_own":
        return str(t.gettext("You cannot give a role above your own there."))
    if isinstance(exc, ValidationFailed):
        return str(
            t.gettext("That role is for another kind of place. Invite the person again there.")
        )
    raise exc


@router.get("/agency/members/{membership_id}/remove")
async def remove_page(
    request: Request, membership_id: uuid.UUID, viewer: SignedIn, session: Session
) -> Response:
    require_page(viewer)
    member, target, place = await _visible_member(session, viewer, membership_id)
    _refuse_unless_removable(viewer, member, target)
    return render(
        request,
        "agency/member_remove.html",
        {"member": member, "place": place, "role_labels": ROLE_LABELS},
    )


def _refuse_unless_removable(viewer: Viewer, member: MembershipOut, target: Target) -> None:
    """The page offers no removal of someone ranked above the viewer there, nor of the
    viewer themself: those URLs answer the 403 page."""
    if member.user_id == viewer.principal.user_id or not can_grant(
        viewer.principal, member.role, target, "member.remove"
    ):
        raise Forbidden("you may not remove this member here", code="permission_denied")


@router.post("/agency/members/{membership_id}/remove")
async def remove(
    request: Request, membership_id: uuid.UUID, viewer: SignedIn, session: Session
) -> Response:
    require_page(viewer)
    member, target, _ = await _visible_member(session, viewer, membership_id)
    _refuse_unless_removable(viewer, member, target)
    try:
        async with all_or_nothing(session):
            await members.remove(session, viewer.principal, membership_id)
    except AppError as exc:
        message = _change_problem(translator(request), exc)
        return await _page(
            request, viewer, session, problems={"": message}, status_code=exc.status_code
        )
    return redirect("/agency/members?done=removed")
