from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from shared.db import retry
from shared.locations import service as location_service
from shared.locations.schemas import (
    GroupMembersChange,
    GroupMembersResult,
    LocationGroupCreate,
    LocationGroupOut,
    LocationGroupUpdate,
)
from shared.pagination import Page

router = APIRouter(prefix="/v1/location-groups", tags=["location groups"])


@router.post(
    "",
    summary="Create a location group",
    openapi_extra={"x-permission": "location_group.create"},
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
)
async def create_group(
    data: LocationGroupCreate, session: Session, principal: CurrentPrincipal
) -> LocationGroupOut:
    group = await location_service.create_group(session, principal, data)
    return LocationGroupOut.model_validate(group)


@router.get(
    "",
    summary="List location groups (by name unless `sort` says otherwise)",
    openapi_extra={"x-permission": "location_group.read"},
    responses=problems(400, 401, 422),
)
async def list_groups(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(location_service.GROUP_SORTING))],
    brand_id: uuid.UUID | None = Query(default=None, description="Only this brand's groups."),
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[LocationGroupOut]:
    page = await location_service.list_groups(
        session,
        principal,
        brand_id=brand_id,
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[LocationGroupOut](
        items=[LocationGroupOut.model_validate(g) for g in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/{group_id}",
    summary="Get a location group",
    openapi_extra={"x-permission": "location_group.read"},
    responses=problems(401, 404, 422),
)
async def get_group(
    group_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> LocationGroupOut:
    group = await location_service.get_group(session, principal, group_id)
    return LocationGroupOut.model_validate(group)


@router.patch(
    "/{group_id}",
    summary="Rename or describe a location group",
    openapi_extra={"x-permission": "location_group.update"},
    responses=problems(401, 403, 404, 409, 422),
)
async def update_group(
    group_id: uuid.UUID, data: LocationGroupUpdate, session: Session, principal: CurrentPrincipal
) -> LocationGroupOut:
    group = await location_service.update_group(session, principal, group_id, data)
    return LocationGroupOut.model_validate(group)


@router.delete(
    "/{group_id}",
    summary="Delete a location group (its locations stay)",
    openapi_extra={"x-permission": "location_group.delete"},
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
)
async def delete_group(
    group_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Response:
    await location_service.delete_group(session, principal, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{group_id}/members",
    summary="Add locations to a group",
    openapi_extra={"x-permission": "location_group.update"},
    description="Idempotent: locations already in the group are left as they are.",
    responses=problems(401, 403, 404, 409, 422),
)
async def add_members(
    group_id: uuid.UUID, data: GroupMembersChange, session: Session, principal: CurrentPrincipal
) -> GroupMembersResult:
    return await retry.in_savepoint(
        session,
        lambda: location_service.change_members(session, principal, group_id, data, add=True),
        what="this membership change",
    )


@router.post(
    "/{group_id}/members/remove",
    summary="Remove locations from a group",
    openapi_extra={"x-permission": "location_group.update"},
    responses=problems(401, 403, 404, 409, 422),
)
async def remove_members(
    group_id: uuid.UUID, data: GroupMembersChange, session: Session, principal: CurrentPrincipal
) -> GroupMembersResult:
    return await retry.in_savepoint(
        session,
        lambda: location_service.change_members(session, principal, group_id, data, add=False),
        what="this membership change",
    )
