from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import reach
from shared.access.principal import Principal
from shared.brands.models import Brand
from shared.locations.models import Location
from shared.tenancy import scoped


def visible_brands(principal: Principal) -> Select[Brand]:
    stmt = scoped(Brand, principal)
    r = reach(principal, "brand.read")
    if not r.everything:
        stmt = stmt.where(Brand.id.in_(r.brand_ids | r.location_brand_ids))
    return stmt


async def get(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> Brand | None:
    stmt = scoped(Brand, principal).where(Brand.id == brand_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def location_count(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        Location.agency_id == principal.agency_id, Location.brand_id == brand_id
    )
    return int((await session.execute(stmt)).scalar_one())
