"""Turning a role plus brand/location ids into a checked scope, and a stored scope back into
a policy target."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import AGENCY, Target
from shared.access.principal import Principal
from shared.access.roles import ROLE_SCOPE, Role, ScopeType
from shared.brands import repository as brand_repository
from shared.errors import FieldProblem, NotFound, ValidationFailed
from shared.locations import repository as location_repository


@dataclass(frozen=True, slots=True)
class Scope:
    type: ScopeType
    id: uuid.UUID | None
    target: Target


async def resolve(
    session: AsyncSession,
    principal: Principal,
    role: Role,
    brand_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
) -> Scope:
    """The scope a role is given at. Agency roles take neither id, brand roles a brand_id,
    location roles a location_id; an id outside the agency is 404."""
    wanted = ROLE_SCOPE[role]
    if wanted is ScopeType.AGENCY:
        if brand_id or location_id:
            raise _wrong_scope(role, "is agency-wide: leave brand_id and location_id out")
        return Scope(ScopeType.AGENCY, None, AGENCY)
    if wanted is ScopeType.BRAND:
        if brand_id is None or location_id is not None:
            raise _wrong_scope(role, "is given on a brand: send brand_id (and no location_id)")
        return await target_of(session, principal, ScopeType.BRAND, brand_id)
    if location_id is None or brand_id is not None:
        raise _wrong_scope(role, "is given at a location: send location_id (and no brand_id)")
    return await target_of(session, principal, ScopeType.LOCATION, location_id)


async def target_of(
    session: AsyncSession, principal: Principal, scope_type: ScopeType, scope_id: uuid.UUID | None
) -> Scope:
    if scope_type is ScopeType.AGENCY or scope_id is None:
        return Scope(ScopeType.AGENCY, None, AGENCY)
    if scope_type is ScopeType.BRAND:
        brand = await brand_repository.get(session, principal, scope_id)
        if brand is None:
            raise NotFound("brand not found")
        return Scope(ScopeType.BRAND, brand.id, Target(brand_id=brand.id))
    location = await location_repository.get(session, principal, scope_id)
    if location is None:
        raise NotFound("location not found")
    return Scope(
        ScopeType.LOCATION,
        location.id,
        Target(brand_id=location.brand_id, location_id=location.id),
    )


def _wrong_scope(role: Role, how: str) -> ValidationFailed:
    message = f"the role '{role.value}' {how}"
    return ValidationFailed(message, errors=[FieldProblem("body.role", message, "scope_mismatch")])
