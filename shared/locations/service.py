"""Locations and location groups: the business rules. Flushes only; the boundary commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import asyncpg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, authorize
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements as billing
from shared.brands import service as brand_service
from shared.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from shared.locations import repository
from shared.locations.fields import DATA_COLUMNS, normalize_phone
from shared.locations.models import Location, LocationGroup
from shared.locations.repository import LocationFilter
from shared.locations.schemas import (
    GroupMembersChange,
    GroupMembersResult,
    LocationCreate,
    LocationGroupCreate,
    LocationGroupUpdate,
    LocationUpdate,
)
from shared.pagination import Slice, Sorting, cursor_key, page_of, sorted_page

LocationSort = Literal[
    "created", "-created", "name", "-name", "city", "-city", "updated_at", "-updated_at"
]


_LOCATION_FIELDS = ("brand_id", "external_ref", *DATA_COLUMNS, "custom_fields", "status")


def _snap(location: Location) -> dict[str, Any]:
    return audit.snapshot(location, _LOCATION_FIELDS)


def _gsnap(group: LocationGroup) -> dict[str, Any]:
    return audit.snapshot(group, ("brand_id", "name", "description"))


def _target(location: Location) -> Target:
    return Target(brand_id=location.brand_id, location_id=location.id)


async def get_location(
    session: AsyncSession,
    principal: Principal,
    location_id: uuid.UUID,
    action: str = "location.read",
) -> Location:
    location = await repository.get(session, principal, location_id)
    if location is None:
        raise NotFound("location not found")
    authorize(principal, action, _target(location), object_type="location")
    return location


async def _ensure_external_ref_free(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    external_ref: str | None,
    exclude: uuid.UUID | None = None,
) -> None:
    if external_ref is None:
        return
    owner = await repository.external_ref_owner(session, principal, brand_id, external_ref)
    if owner is not None and owner != exclude:
        raise Conflict(
            f"another location of this brand already has external_ref '{external_ref}' ({owner})",
            code="external_ref_taken",
            errors=[FieldProblem("body.external_ref", "already used in this brand", "taken")],
        )


async def create_location(
    session: AsyncSession, principal: Principal, data: LocationCreate
) -> Location:
    await brand_service.get_brand(session, principal, data.brand_id, "location.create")
    await _ensure_external_ref_free(session, principal, data.brand_id, data.external_ref)
    groups = await _groups_of_brand(session, principal, data.brand_id, data.group_ids)
    location = Location(
        agency_id=principal.agency_id,
        **data.model_dump(exclude={"group_ids"}),
    )
    session.add(location)
    await session.flush()
    audit.record_by(
        session, principal, "location.create", "location", location.id, after=_snap(location)
    )
    # Billing (issue #8): an active location is a billed seat, within the plan's limit.
    if location.status == "active":
        await billing.locations_changed(session, None, principal.agency_id, activated=True)
    for group in groups:
        await repository.add_members(session, principal.agency_id, group.id, [location.id])
    await session.refresh(location)
    return location


async def _groups_of_brand(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[LocationGroup]:
    groups = []
    for index, group_id in enumerate(dict.fromkeys(ids)):
        group = await repository.get_group(session, principal, group_id)
        if group is None or group.brand_id != brand_id:
            raise ValidationFailed(
                f"location group {group_id} is not a group of this brand",
                errors=[FieldProblem(f"body.group_ids.{index}", "no such group in this brand")],
            )
        groups.append(group)
    return groups


async def update_location(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID, data: LocationUpdate
) -> Location:
    location = await get_location(session, principal, location_id, "location.update")
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "country", "time_zone"):
        if required in changes and changes[required] is None:
            raise ValidationFailed(
                f"{required} cannot be empty",
                errors=[FieldProblem(f"body.{required}", "cannot be null", "required")],
            )
    if "external_ref" in changes:
        await _ensure_external_ref_free(
            session, principal, location.brand_id, changes["external_ref"], exclude=location.id
        )
    for key in ("address_line1", "address_line2", "city", "region", "postal_code", "website"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    if "custom_fields" in changes and changes["custom_fields"] is None:
        changes["custom_fields"] = {}
    if "phone" in changes or "country" in changes:
        phone = changes.get("phone", location.phone) or ""
        country = changes.get("country", location.country)
        try:
            changes["phone"] = normalize_phone(phone, country)
        except ValueError as exc:
            raise ValidationFailed(
                str(exc), errors=[FieldProblem("body.phone", str(exc), "invalid_phone")]
            ) from None
    before = _snap(location)
    for key, value in changes.items():
        setattr(location, key, value)
    await session.flush()
    await session.refresh(location)
    if before["status"] != location.status:
        # Billing (issue #8): the seat count changed; activating needs room in the plan.
        await billing.locations_changed(
            session, None, principal.agency_id, activated=location.status == "active"
        )
    audit.record_by(
        session, principal, "location.update", "location", location.id, before, _snap(location)
    )
    return location


async def delete_location(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> None:
    location = await get_location(session, principal, location_id, "location.delete")
    audit.record_by(
        session, principal, "location.delete", "location", location.id, before=_snap(location)
    )
    was_active = location.status == "active"
    await session.delete(location)
    await session.flush()
    if was_active:
        await billing.locations_changed(session, None, principal.agency_id)  # Billing (#8)


_ORDER_KEYS: dict[str, tuple[Callable[[Any], list[Any]], Callable[[list[Any]], list[Any]]]] = {
    # sort: (the cursor key of a row, the cursor's values back to their types)
    "created": (lambda row: [str(row["id"])], lambda v: [uuid.UUID(str(v[0]))]),
    "name": (
        lambda row: [row["name"], str(row["id"])],
        lambda v: [str(v[0]), uuid.UUID(str(v[1]))],
    ),
    "city": (
        lambda row: [row["city"], str(row["id"])],
        lambda v: [str(v[0]), uuid.UUID(str(v[1]))],
    ),
    "updated_at": (
        lambda row: [row["updated_at"].isoformat(), str(row["id"])],
        lambda v: [datetime.fromisoformat(str(v[0])), uuid.UUID(str(v[1]))],
    ),
}
_KEYS = {sort: keys for name, keys in _ORDER_KEYS.items() for sort in (name, f"-{name}")}


async def list_locations(
    session: AsyncSession,
    principal: Principal,
    filters: LocationFilter,
    *,
    fields: tuple[str, ...],
    sort: LocationSort,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[asyncpg.Record]:
    """A page of locations as read-only rows carrying the columns ``fields`` (which must
    include ``id`` and the sort's column), in that order: ``dict(row)`` is a location's JSON object.

    Rows rather than ORM objects because this is the API's busiest read: identity-map
    bookkeeping for 51 objects per request was a large share of its cost, and SQLAlchemy's
    execution of the query another (see ``repository.location_page``).
    """
    key, decode = _KEYS[sort]
    after = None
    if cursor:
        after = cursor_key(cursor, sort, len(repository.LOCATION_SORTS[sort]), decode)
    rows = await repository.location_page(
        session, principal, filters, fields=fields, sort=sort, after=after, limit=limit + 1
    )
    page = page_of(rows, sort=sort, limit=limit, key=key)
    if not total:
        return page
    count = await repository.location_count(session, principal, filters)
    return Slice(page.items, page.next_cursor, count)


# Location groups ---------------------------------------------------------------------------


async def get_group(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    action: str = "location_group.read",
) -> LocationGroup:
    group = await repository.get_group(session, principal, group_id)
    if group is None:
        raise NotFound("location group not found")
    authorize(principal, action, Target(brand_id=group.brand_id), object_type="location_group")
    return group


async def create_group(
    session: AsyncSession, principal: Principal, data: LocationGroupCreate
) -> LocationGroup:
    await brand_service.get_brand(session, principal, data.brand_id, "location_group.create")
    if await repository.group_name_taken(session, principal, data.brand_id, data.name):
        raise Conflict(
            f"this brand already has a group named '{data.name}'", code="group_name_taken"
        )
    group = LocationGroup(agency_id=principal.agency_id, **data.model_dump())
    session.add(group)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            f"this brand already has a group named '{data.name}'", code="group_name_taken"
        ) from None
    audit.record_by(
        session, principal, "location_group.create", "location_group", group.id, after=_gsnap(group)
    )
    await session.refresh(group)
    return group


async def update_group(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, data: LocationGroupUpdate
) -> LocationGroup:
    group = await get_group(session, principal, group_id, "location_group.update")
    before = _gsnap(group)
    if data.name is not None:
        if await repository.group_name_taken(
            session, principal, group.brand_id, data.name, exclude=group.id
        ):
            raise Conflict(
                f"this brand already has a group named '{data.name}'", code="group_name_taken"
            )
        group.name = data.name
    if data.description is not None:
        group.description = data.description
    try:
        await session.flush()
    except IntegrityError:
        # The check above reads the folded name; the raw name is unique too, and a group
        # renamed or created at the same moment may hold it: the same 409 either way.
        raise Conflict(
            f"this brand already has a group named '{data.name}'", code="group_name_taken"
        ) from None
    audit.record_by(
        session,
        principal,
        "location_group.update",
        "location_group",
        group.id,
        before,
        _gsnap(group),
    )
    await session.refresh(group)
    return group


async def delete_group(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> None:
    group = await get_group(session, principal, group_id, "location_group.delete")
    audit.record_by(
        session,
        principal,
        "location_group.delete",
        "location_group",
        group.id,
        before=_gsnap(group),
    )
    await session.delete(group)
    await session.flush()


GROUP_SORTING = Sorting(
    default="name",
    fields={
        "name": LocationGroup.name,
        "created_at": LocationGroup.created_at,
        "updated_at": LocationGroup.updated_at,
    },
    tiebreak=LocationGroup.id,
)


async def list_groups(
    session: AsyncSession,
    principal: Principal,
    *,
    brand_id: uuid.UUID | None,
    sort: str = GROUP_SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[LocationGroup]:
    stmt = repository.visible_groups(principal)
    if brand_id is not None:
        stmt = stmt.where(LocationGroup.brand_id == brand_id)
    return await sorted_page(
        session, stmt, GROUP_SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )


async def change_members(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    data: GroupMembersChange,
    *,
    add: bool,
) -> GroupMembersResult:
    """Add or remove in one statement. Unknown ids (or another brand's) fail the whole call."""
    group = await get_group(session, principal, group_id, "location_group.update")
    wanted = list(dict.fromkeys(data.location_ids))
    found = await repository.brand_location_ids(session, principal, group.brand_id, wanted)
    missing = [i for i, loc in enumerate(data.location_ids) if loc not in found]
    if missing:
        raise ValidationFailed(
            f"{len(missing)} location id(s) are not locations of this group's brand",
            errors=[
                FieldProblem(f"body.location_ids.{i}", "no such location in this brand")
                for i in missing[:100]
            ],
        )
    if add:
        changed = await repository.add_members(session, principal.agency_id, group.id, wanted)
    else:
        changed = await repository.remove_members(session, principal.agency_id, group.id, wanted)
    count = await repository.member_count(session, principal.agency_id, group.id)
    if changed:
        audit.record_by(
            session,
            principal,
            "location_group.members_add" if add else "location_group.members_remove",
            "location_group",
            group.id,
            details={"changed": changed, "location_ids": [str(i) for i in wanted[:100]]},
        )
    return GroupMembersResult(group_id=group.id, changed=changed, member_count=count)
