from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from shared.brands import service as brand_service
from shared.brands.schemas import BrandCreate, BrandOut, BrandUpdate
from shared.pagination import Page

router = APIRouter(prefix="/v1/brands", tags=["brands"])


@router.post(
    "",
    summary="Create a brand",
    openapi_extra={"x-permission": "brand.create"},
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 409, 422),
)
async def create_brand(
    data: BrandCreate, session: Session, principal: CurrentPrincipal
) -> BrandOut:
    brand = await brand_service.create_brand(session, principal, data)
    return BrandOut.model_validate(brand)


@router.get(
    "",
    summary="List brands (by name unless `sort` says otherwise)",
    openapi_extra={"x-permission": "brand.read"},
    responses=problems(400, 401, 422),
)
async def list_brands(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(brand_service.SORTING))],
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[BrandOut]:
    page = await brand_service.list_brands(
        session, principal, sort=sort, limit=limit, cursor=cursor, total=wants_total(include)
    )
    return Page[BrandOut](
        items=[BrandOut.model_validate(b) for b in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/{brand_id}",
    summary="Get a brand",
    openapi_extra={"x-permission": "brand.read"},
    responses=problems(401, 404, 422),
)
async def get_brand(brand_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> BrandOut:
    return BrandOut.model_validate(await brand_service.get_brand(session, principal, brand_id))


@router.patch(
    "/{brand_id}",
    summary="Update a brand",
    openapi_extra={"x-permission": "brand.update"},
    responses=problems(401, 403, 404, 409, 422),
)
async def update_brand(
    brand_id: uuid.UUID, data: BrandUpdate, session: Session, principal: CurrentPrincipal
) -> BrandOut:
    brand = await brand_service.update_brand(session, principal, brand_id, data)
    return BrandOut.model_validate(brand)


@router.delete(
    "/{brand_id}",
    summary="Delete an empty brand",
    openapi_extra={"x-permission": "brand.delete"},
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
)
async def delete_brand(
    brand_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Response:
    await brand_service.delete_brand(session, principal, brand_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
