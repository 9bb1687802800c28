"""Team: a location manager's people at their location (managers and staff, with role and
status), inviting staff by email, revoking a pending invitation, removing a member after a
confirmation page.

The same services as ``/v1/members`` and ``/v1/invitations`` under the same policy: the page
needs ``member.invite`` at the location (staff get the 403 page), each removal the service's
own ``member.remove`` check. A person left with no membership in the agency is signed out of
it at once by the service (their session families are revoked, which ends the browser's
cookie session on its next request)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Redis, Session, SettingsDep
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared.access import invitations, members
from shared.access.models import Invitation
from shared.access.policy import Target, authorize, can_grant
from shared.access.roles import Role, ScopeType
from shared.access.schemas import InvitationCreate, MembershipOut
from shared.errors import AppError, Forbidden, NotFound
from shared.identity import service as identity_service
from shared.tenancy import scoped

router = web_router()

PAGE = 200
MAX_EMAIL = 320

ROLE_LABELS = {
    Role.LOCATION_MANAGER.value: N_("Manager"),
    Role.LOCATION_STAFF.value: N_("Staff"),
}
STATUS_LABELS = {
    "active": N_("Active"),
    "pending": N_("Invited"),
    "expired": N_("Invitation expired"),
}
DONE = {
    "invited": N_("The invitation is on its way. The link in it works for %(days)s days."),
    "revoked": N_("The invitation was withdrawn: its link no longer works."),
    "removed": N_("They are no longer on this location's team."),
}


@dataclass(frozen=True, slots=True)
class Member:
    membership: MembershipOut
    can_remove: bool


def _target(viewer: Viewer) -> Target:
    """The current location, for managing its team (no location: 404; staff: 403)."""
    if viewer.location is None:
        raise NotFound("no location")
    target = Target(brand_id=viewer.location.brand_id, location_id=viewer.location.id)
    authorize(viewer.principal, "member.invite", target, object_type="location")
    return target


async def _members(session: Session, viewer: Viewer, target: Target) -> list[Member]:
    assert target.location_id is not None
    found: list[Member] = []
    cursor: str | None = None
    while True:
        page = await members.list_members(
            session,
            viewer.principal,
            members.MemberFilter(location_id=target.location_id),
            sort="created_at",
            limit=PAGE,
            cursor=cursor,
        )
        for m in page.items:
            if m.scope_type is not ScopeType.LOCATION:
                continue
            removable = m.user_id != viewer.principal.user_id and can_grant(
                viewer.principal, m.role, target, "member.remove"
            )
            found.append(Member(m, removable))
        cursor = page.next_cursor
        if cursor is None:
            return found


async def _invitations(session: Session, viewer: Viewer, target: Target) -> list[Invitation]:
    """This location's invitations still waiting (pending, or expired unanswered)."""
    found: list[Invitation] = []
    cursor: str | None = None
    while True:
        page = await invitations.list_invitations(
            session, viewer.principal, sort="created_at", limit=PAGE, cursor=cursor
        )
        found += [
            i
            for i in page.items
            if i.scope_type == ScopeType.LOCATION.value
            and i.scope_id == target.location_id
            and invitations.status_of(i) in ("pending", "expired")
        ]
        cursor = page.next_cursor
        if cursor is None:
            return found


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    target: Target,
    *,
    problems: dict[str, str] | None = None,
    email: str = "",
    flash: str | None = None,
) -> Response:
    return render(
        request,
        "team/index.html",
        {
            "members": await _members(session, viewer, target),
            "invitations": await _invitations(session, viewer, target),
            "status_of": invitations.status_of,
            "role_labels": ROLE_LABELS,
            "status_labels": STATUS_LABELS,
            "problems": problems or {},
            "email": email,
            "flash": flash,
            "now": datetime.now(UTC),
        },
        status_code=422 if problems else 200,
    )


@router.get("/team")
async def team(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    target = _target(viewer)
    flash = None
    if done in DONE:
        flash = translator(request).gettext(DONE[done], days=settings.invitation_ttl_days)
    return await _page(request, viewer, session, target, flash=flash)


@router.post("/team/invitations")
async def invite(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    email: Annotated[str, Form()] = "",
) -> Response:
    target = _target(viewer)
    t = translator(request)
    typed = email.strip()
    problem = None
    data = None
    if not typed:
        problem = t.gettext("Enter the email address of the person to invite.")
    elif len(typed) > MAX_EMAIL:
        problem = t.gettext("An email address is at most %(n)s characters.", n=MAX_EMAIL)
    else:
        try:
            data = InvitationCreate(
                email=typed, role=Role.LOCATION_STAFF, location_id=target.location_id
            )
        except ValidationError:
            problem = t.gettext("Enter an email address like name@example.com.")
    if data is None:
        shown = typed[:MAX_EMAIL]
        return await _page(
            request, viewer, session, target, problems={"email": problem or ""}, email=shown
        )
    on_team = {m.membership.email for m in await _members(session, viewer, target)}
    already = identity_service.normalize_email(str(data.email)) in on_team
    if not already:  # whatever their role here: one seat each
        try:
            await invitations.invite(session, settings, redis, viewer.principal, data)
        except AppError as exc:
            if exc.error_code != "already_member":
                raise
            await session.rollback()
            already = True
    if already:
        problem = t.gettext("%(email)s is already on this location's team.", email=typed)
        return await _page(
            request, viewer, session, target, problems={"email": problem}, email=typed
        )
    return redirect("/team?done=invited")


async def _own_invitation(session: Session, viewer: Viewer, invitation_id: uuid.UUID) -> Invitation:
    """The invitation, if it is to the current location (another's: 404)."""
    target = _target(viewer)
    found = (
        await session.execute(
            scoped(Invitation, viewer.principal).where(Invitation.id == invitation_id)
        )
    ).scalar_one_or_none()
    if found is None or found.scope_id != target.location_id:
        raise NotFound("invitation not found")
    return found


@router.post("/team/invitations/{invitation_id}/revoke")
async def revoke(invitation_id: uuid.UUID, viewer: SignedIn, session: Session) -> Response:
    await _own_invitation(session, viewer, invitation_id)
    try:
        await invitations.revoke(session, viewer.principal, invitation_id)
    except AppError as exc:
        if exc.error_code != "invitation_accepted":
            raise
        await session.rollback()
    return redirect("/team?done=revoked")


async def _own_member(
    session: Session, viewer: Viewer, target: Target, membership_id: uuid.UUID
) -> Member:
    for member in await _members(session, viewer, target):
        if member.membership.id == membership_id:
            return member
    raise NotFound("member not found")


def _refuse_unless_removable(member: Member) -> None:
    """Someone ranked above the viewer (the policy's ``can_grant``), or the viewer themself:
    the page offers no removal, so its URL answers the 403 page. (Leaving a team is not a
    location page's business; the API still lets an administrator do it.)"""
    if not member.can_remove:
        raise Forbidden("you may not remove this member here", code="permission_denied")


@router.get("/team/members/{membership_id}/remove")
async def remove_page(
    request: Request, membership_id: uuid.UUID, viewer: SignedIn, session: Session
) -> Response:
    target = _target(viewer)
    member = await _own_member(session, viewer, target, membership_id)
    _refuse_unless_removable(member)
    return render(
        request,
        "team/remove.html",
        {"member": member.membership, "role_labels": ROLE_LABELS},
    )


@router.post("/team/members/{membership_id}/remove")
async def remove(membership_id: uuid.UUID, viewer: SignedIn, session: Session) -> Response:
    target = _target(viewer)
    member = await _own_member(session, viewer, target, membership_id)
    _refuse_unless_removable(member)
    await members.remove(session, viewer.principal, membership_id)
    return redirect("/team?done=removed")
