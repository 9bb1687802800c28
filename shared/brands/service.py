from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, authorize
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.brands import repository
from shared.brands.models import Brand
from shared.brands.names import violates
from shared.brands.schemas import BrandCreate, BrandUpdate
from shared.errors import Conflict, FieldProblem, NotFound
from shared.pagination import Slice, Sorting, sorted_page

_FIELDS = ("name", "description")
NAME_UNIQUE = "uq_brand_agency_id_name_key"
SORTING = Sorting(
    default="name",
    fields={"name": Brand.name, "created_at": Brand.created_at, "updated_at": Brand.updated_at},
    tiebreak=Brand.id,
)


def _name_taken(name: str) -> Conflict:
    message = f"a brand named '{name}' already exists (names differ by more than case)"
    return Conflict(
        message,
        code="brand_name_taken",
        errors=[FieldProblem("body.name", message, "brand_name_taken")],
    )


async def _flush_name(session: AsyncSession, name: str) -> None:
    """Flush; a name the agency already has (by ``names.name_key``) is a 409 naming it."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if violates(exc, NAME_UNIQUE):
            raise _name_taken(name) from None
        raise


async def get_brand(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, action: str = "brand.read"
) -> Brand:
    brand = await repository.get(session, principal, brand_id)
    if brand is None:
        raise NotFound("brand not found")
    authorize(principal, action, Target(brand_id=brand.id), object_type="brand")
    return brand


async def create_brand(session: AsyncSession, principal: Principal, data: BrandCreate) -> Brand:
    authorize(principal, "brand.create")
    name = data.name.strip()
    brand = Brand(agency_id=principal.agency_id, name=name, description=data.description)
    session.add(brand)
    await _flush_name(session, name)
    await session.refresh(brand)
    audit.record_by(
        session, principal, "brand.create", "brand", brand.id, after=audit.snapshot(brand, _FIELDS)
    )
    return brand


async def update_brand(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, data: BrandUpdate
) -> Brand:
    brand = await get_brand(session, principal, brand_id, "brand.update")
    before = audit.snapshot(brand, _FIELDS)
    if data.name is not None:
        brand.name = data.name.strip()
    if data.description is not None:
        brand.description = data.description
    await _flush_name(session, brand.name)
    await session.refresh(brand)
    audit.record_by(
        session,
        principal,
        "brand.update",
        "brand",
        brand.id,
        before,
        audit.snapshot(brand, _FIELDS),
    )
    return brand


async def delete_brand(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> None:
    brand = await get_brand(session, principal, brand_id, "brand.delete")
    count = await repository.location_count(session, principal, brand.id)
    if count:
        raise Conflict(
            f"brand still has {count} locations; delete or move them first",
            code="brand_not_empty",
        )
    audit.record_by(
        session, principal, "brand.delete", "brand", brand.id, before=audit.snapshot(brand, _FIELDS)
    )
    await session.delete(brand)
    await session.flush()


async def list_brands(
    session: AsyncSession,
    principal: Principal,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Brand]:
    stmt = repository.visible_brands(principal)
    return await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )
