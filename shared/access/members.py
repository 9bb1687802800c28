"""Members of an agency: listing, role changes, removal, and ``GET /v1/me``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import scopes
from shared.access.models import Membership
from shared.access.policy import authorize_grant, reach
from shared.access.principal import Principal
from shared.access.roles import PERMISSIONS, ROLE_SCOPE, Role, ScopeType
from shared.access.schemas import AgencyRef, GrantOut, MembershipOut, MeOut
from shared.agencies.models import Agency
from shared.audit import service as audit
from shared.errors import Conflict, FieldProblem, NotFound, Unauthorized, ValidationFailed
from shared.identity.models import RefreshToken, User
from shared.locations.models import Location
from shared.pagination import Slice, Sorting, sorted_page


@dataclass(frozen=True, slots=True)
class MemberFilter:
    user_id: uuid.UUID | None = None
    role: Role | None = None
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


def _visible(principal: Principal) -> Select[Membership]:
    stmt = select(Membership).where(Membership.agency_id == principal.agency_id)
    r = reach(principal, "member.read")
    if r.everything:
        return stmt
    locations_of_brands = select(Location.id).where(
        Location.agency_id == principal.agency_id, Location.brand_id.in_(r.brand_ids)
    )
    return stmt.where(
        ((Membership.scope_type == ScopeType.BRAND.value) & Membership.scope_id.in_(r.brand_ids))
        | (
            (Membership.scope_type == ScopeType.LOCATION.value)
            & (
                Membership.scope_id.in_(r.location_ids)
                | Membership.scope_id.in_(locations_of_brands)
            )
        )
    )


SORTING = Sorting(
    default="created_at",
    fields={"created_at": Membership.created_at, "role": Membership.role},
    tiebreak=Membership.id,
)


async def list_members(
    session: AsyncSession,
    principal: Principal,
    filters: MemberFilter,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[MembershipOut]:
    stmt = _visible(principal)
    if filters.user_id:
        stmt = stmt.where(Membership.user_id == filters.user_id)
    if filters.role:
        stmt = stmt.where(Membership.role == filters.role.value)
    if filters.brand_id:
        stmt = stmt.where(Membership.scope_id == filters.brand_id)
    if filters.location_id:
        stmt = stmt.where(Membership.scope_id == filters.location_id)
    page = await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )
    users = await _users(session, {m.user_id for m in page.items})
    return Slice([_out(m, users[m.user_id]) for m in page.items], page.next_cursor, page.total)


async def _users(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    rows = (await session.execute(select(User).where(User.id.in_(ids)))).scalars()
    return {u.id: u for u in rows}


def _out(m: Membership, user: User) -> MembershipOut:
    return MembershipOut(
        id=m.id,
        user_id=m.user_id,
        email=user.email,
        full_name=user.full_name,
        role=Role(m.role),
        scope_type=ScopeType(m.scope_type),
        scope_id=m.scope_id,
        created_at=m.created_at,
    )


async def _load(
    session: AsyncSession, principal: Principal, membership_id: uuid.UUID, action: str
) -> tuple[Membership, scopes.Scope]:
    membership = (
        await session.execute(_visible(principal).where(Membership.id == membership_id))
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound("member not found")
    scope = await scopes.target_of(
        session, principal, ScopeType(membership.scope_type), membership.scope_id
    )
    authorize_grant(principal, Role(membership.role), scope.target, action)
    return membership, scope


async def _ensure_not_last_owner(session: AsyncSession, membership: Membership) -> None:
    if membership.role != Role.OWNER.value:
        return
    owners = (
        await session.execute(
            select(func.count()).where(
                Membership.agency_id == membership.agency_id, Membership.role == Role.OWNER.value
            )
        )
    ).scalar_one()
    if owners <= 1:
        raise Conflict(
            "this is the agency's last owner; make someone else owner first", code="last_owner"
        )


async def change_role(
    session: AsyncSession, principal: Principal, membership_id: uuid.UUID, role: Role
) -> MembershipOut:
    membership, scope = await _load(session, principal, membership_id, "member.update")
    if ROLE_SCOPE[role] is not ScopeType(membership.scope_type):
        message = (
            f"'{role.value}' is a {ROLE_SCOPE[role].value} role but this membership is at "
            f"{membership.scope_type} level; invite the person again at the right scope"
        )
        raise ValidationFailed(
            message, errors=[FieldProblem("body.role", message, "scope_mismatch")]
        )
    authorize_grant(principal, role, scope.target, "member.update")
    if role.value != membership.role:
        await _ensure_not_last_owner(session, membership)
        before = {"role": membership.role}
        membership.role = role.value
        audit.record_by(
            session,
            principal,
            action="member.role_change",
            object_type="membership",
            object_id=membership.id,
            before=before,
            after={"role": role.value},
            details={"user_id": membership.user_id},
        )
        await session.flush()
    users = await _users(session, {membership.user_id})
    return _out(membership, users[membership.user_id])


async def remove(session: AsyncSession, principal: Principal, membership_id: uuid.UUID) -> None:
    """Removes one membership. A user left with none in this agency is signed out of it at
    once: their refresh tokens for the agency are revoked (access tokens stop working on the
    next request, since grants are read per request)."""
    membership, _ = await _load(session, principal, membership_id, "member.remove")
    await _ensure_not_last_owner(session, membership)
    audit.record_by(
        session,
        principal,
        action="member.remove",
        object_type="membership",
        object_id=membership.id,
        before=audit.snapshot(membership, ["user_id", "role", "scope_type", "scope_id"]),
    )
    await session.delete(membership)
    await session.flush()
    remaining = (
        await session.execute(
            select(func.count()).where(
                Membership.agency_id == principal.agency_id,
                Membership.user_id == membership.user_id,
            )
        )
    ).scalar_one()
    if remaining == 0:
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.user_id == membership.user_id,
                RefreshToken.agency_id == principal.agency_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )


async def me(session: AsyncSession, principal: Principal) -> MeOut:
    if principal.user_id is None:
        raise Unauthorized("an API key has no user; /v1/me needs a user's token", code="not_a_user")
    user = (await session.execute(select(User).where(User.id == principal.user_id))).scalar_one()
    agencies = (
        await session.execute(
            select(Agency.id, Agency.name)
            .join(Membership, Membership.agency_id == Agency.id)
            .where(Membership.user_id == user.id)
            .group_by(Agency.id, Agency.name)
            .order_by(Agency.name)
        )
    ).all()
    current = next((a for a in agencies if a.id == principal.agency_id), None)
    if current is None:
        raise NotFound("agency not found")
    return MeOut(
        user_id=user.id,
        email=user.email,
        full_name=user.full_name,
        agency=AgencyRef(id=current.id, name=current.name),
        agencies=[AgencyRef(id=a.id, name=a.name) for a in agencies],
        grants=[
            GrantOut(
                role=g.role,
                scope_type=g.scope_type,
                scope_id=g.scope_id,
                permissions=sorted(PERMISSIONS[g.role]),
            )
            for g in principal.grants
        ],
    )
