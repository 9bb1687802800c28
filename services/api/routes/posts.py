from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.problems import problems
from shared.idempotency import Idempotency
from shared.pagination import Page
from shared.posts import service as post_service
from shared.posts.schemas import LocalPostCreate, PostMetricsOut, PostOut

router = APIRouter(prefix="/v1", tags=["posts"])


@router.post(
    "/locations/{location_id}/posts",
    summary="Post from a published template: fill its slots for this location",
    description="Renders the template for each platform with the location's data and the slot "
    "values, checks every platform's limits, the brand's rules and the slots, and saves one post "
    "per platform only if all pass (else 422 listing every problem). Posts wait in "
    "`needs_approval` when the brand requires approval of location edits, else `scheduled` "
    "(now, or at `scheduled_at`), and the worker publishes them. Send an `Idempotency-Key` "
    "to make a retry answer what the first request did.",
    status_code=status.HTTP_201_CREATED,
    response_model=list[PostOut],
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "post.create"},
)
async def create_local_posts(
    location_id: uuid.UUID,
    data: LocalPostCreate,
    session: Session,
    principal: CurrentPrincipal,
    idempotency: Idempotency,
) -> JSONResponse:
    async def work() -> list[PostOut]:
        posts = await post_service.create_local_posts(session, principal, location_id, data)
        return [PostOut.model_validate(p) for p in posts]

    return await idempotency.run(session, principal, work, status_code=status.HTTP_201_CREATED)


@router.get(
    "/locations/{location_id}/posts",
    summary="A location's posts, oldest first",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "post.read"},
)
async def list_location_posts(
    location_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[PostOut]:
    page = await post_service.list_location_posts(
        session, principal, location_id, limit=limit, cursor=cursor
    )
    return Page[PostOut](
        items=[PostOut.model_validate(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/posts/{post_id}",
    summary="Get a post with its status",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "post.read"},
)
async def get_post(post_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> PostOut:
    return PostOut.model_validate(await post_service.get_post(session, principal, post_id))


@router.get(
    "/posts/{post_id}/metrics",
    summary="A published post's numbers at its platform",
    description="Lifetime impressions, reach, engagements, likes, comments, shares, clicks and "
    "views of the post as its platform counts them, read by the daily metrics collection for "
    "posts published in the last 30 days. A number the platform does not give is `null`; all "
    "are `null` (and `collected_at` too) until the first collection after publishing.",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "post.read"},
)
async def get_post_metrics(
    post_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> PostMetricsOut:
    return await post_service.get_post_metrics(session, principal, post_id)
