from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.models import Membership
from shared.access.principal import Grant
from shared.access.roles import ROLE_SCOPE, Role, ScopeType
from shared.db.engine import DriverQuery
from shared.identity.models import User
from shared.locations.models import Location

_GRANTS = (
    select(
        User.is_active,
        Membership.role,
        Membership.scope_type,
        Membership.scope_id,
        Location.brand_id,
    )
    .select_from(User)
    .outerjoin(
        Membership,
        and_(Membership.user_id == User.id, Membership.agency_id == bindparam("agency_id")),
    )
    .outerjoin(
        Location,
        and_(
            Location.agency_id == Membership.agency_id,
            Location.id == Membership.scope_id,
            Membership.scope_type == bindparam("location_scope"),
        ),
    )
    .where(User.id == bindparam("user_id"))
)
_GRANTS_QUERY = DriverQuery(cast("Select[Any]", _GRANTS))
"""Built once with bound parameters: it runs on every authenticated request, and building
the joins anew (and hashing them for the compiled-statement cache) each time was measurable."""


async def load_grants(
    session: AsyncSession, agency_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Grant, ...] | None:
    """The user's grants in the agency, or None when the user is unknown or deactivated.

    One round trip: memberships, the user's active flag, and the brand of location grants.
    """
    rows = await _GRANTS_QUERY.fetch(
        session,
        {"agency_id": agency_id, "user_id": user_id, "location_scope": ScopeType.LOCATION.value},
    )
    if not rows or not rows[0]["is_active"]:
        return None
    return tuple(
        Grant(
            role=Role(row["role"]),
            scope_type=ScopeType(row["scope_type"]),
            scope_id=row["scope_id"],
            brand_id=row["brand_id"],
        )
        for row in rows
        if row["role"] is not None
    )


async def add_membership(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
    scope_id: uuid.UUID | None = None,
) -> Membership:
    membership = Membership(
        agency_id=agency_id,
        user_id=user_id,
        role=role.value,
        scope_type=ROLE_SCOPE[role].value,
        scope_id=scope_id,
    )
    session.add(membership)
    await session.flush()
    return membership


async def agencies_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Agencies where the user holds any membership (visible through the own_memberships policy)."""
    stmt = (
        select(Membership.agency_id)
        .where(Membership.user_id == user_id)
        .group_by(Membership.agency_id)
        .order_by(Membership.agency_id)
    )
    return list((await session.execute(stmt)).scalars())
