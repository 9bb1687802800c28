from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response, status

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, wants_total
from services.api.problems import problems
from shared.locations import needs as location_needs
from shared.locations import service as location_service
from shared.locations.repository import LocationFilter
from shared.locations.schemas import (
    LocationCreate,
    LocationNeedsOut,
    LocationOut,
    LocationUpdate,
    Status,
)
from shared.pagination import Page

router = APIRouter(prefix="/v1/locations", tags=["locations"])


@router.post(
    "",
    summary="Create a location",
    openapi_extra={"x-permission": "location.create"},
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
)
async def create_location(
    data: LocationCreate, session: Session, principal: CurrentPrincipal
) -> LocationOut:
    location = await location_service.create_location(session, principal, data)
    return LocationOut.model_validate(location)


_LIST_FIELDS = tuple(LocationOut.model_fields)


@router.get(
    "",
    summary="List locations",
    openapi_extra={"x-permission": "location.read"},
    description="Filter by brand, group, status, country, city and free text on the name. "
    "`sort=created` (default) lists in creation order, `sort=name` alphabetically, "
    "`sort=city` by city, `sort=updated_at` by last change; `-` before any of them reverses "
    "it. Every order is stable under concurrent inserts; a `cursor` only continues the `sort` "
    "it came from. `include=total` also answers `total`, how many locations match.",
    response_model=Page[LocationOut],
    responses=problems(400, 401, 422),
)
async def list_locations(
    session: Session,
    principal: CurrentPrincipal,
    brand_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    sort: Annotated[location_service.LocationSort, Query()] = "created",
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response:
    filters = LocationFilter(
        brand_id=brand_id, group_id=group_id, status=status_, country=country, city=city, q=q
    )
    page = await location_service.list_locations(
        session,
        principal,
        filters,
        fields=_LIST_FIELDS,
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    # The busiest read of the API: the rows, which carry the fields of LocationOut in its
    # order, go straight to JSON (the same text pydantic writes) instead of through
    # LocationOut objects and FastAPI's response validation, which cost more than the query.
    body = orjson.dumps(
        {
            "items": [dict(zip(_LIST_FIELDS, row, strict=True)) for row in page.items],
            "next_cursor": page.next_cursor,
            "total": page.total,
        },
        default=str,
        option=orjson.OPT_UTC_Z,
    )
    return Response(content=body, media_type="application/json")


@router.get(
    "/{location_id}",
    summary="Get a location",
    openapi_extra={"x-permission": "location.read"},
    responses=problems(401, 404, 422),
)
async def get_location(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> LocationOut:
    location = await location_service.get_location(session, principal, location_id)
    return LocationOut.model_validate(location)


@router.get(
    "/{location_id}/needs",
    summary="What needs the location's people: accounts, confirmations, reviews",
    openapi_extra={"x-permission": "location.read"},
    description="Each item says its `kind`, the `platform` where it has one, a `count`, a "
    "`detail` sentence and the `action` to take (a sentence and the API call that starts "
    "it): platforms with upcoming posts but no connected account (`connect_account`: those "
    "posts would be skipped), accounts that need reconnecting (`reconnect_account`), campaign "
    "posts waiting for the location's confirmation (`confirm_posts`) and negative reviews not "
    "answered yet (`answer_reviews`). An item goes away once done; nothing to do: no items.",
    responses=problems(401, 404, 422),
)
async def get_location_needs(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> LocationNeedsOut:
    return await location_needs.location_needs(session, principal, location_id)


@router.patch(
    "/{location_id}",
    summary="Update a location (only the fields sent)",
    openapi_extra={"x-permission": "location.update"},
    responses=problems(401, 403, 404, 409, 422),
)
async def update_location(
    location_id: uuid.UUID, data: LocationUpdate, session: Session, principal: CurrentPrincipal
) -> LocationOut:
    location = await location_service.update_location(session, principal, location_id, data)
    return LocationOut.model_validate(location)


@router.delete(
    "/{location_id}",
    summary="Delete a location",
    openapi_extra={"x-permission": "location.delete"},
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
)
async def delete_location(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Response:
    await location_service.delete_location(session, principal, location_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
