from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from services.api.routes.campaigns import Platform, PostStatus
from shared.fieldtypes import MaybeDateTime
from shared.idempotency import Idempotency
from shared.pagination import Page
from shared.posts import service as post_service
from shared.posts.models import Post
from shared.posts.schemas import (
    CalendarPage,
    CreatedPostOut,
    LocalPostCreate,
    PostCancelIn,
    PostDetailOut,
    PostEditIn,
    PostMetricsOut,
    PostOut,
    PostRescheduleIn,
    PostRetryIn,
    StatusChangeOut,
)
from shared.posts.sorting import POST_SORTING

router = APIRouter(prefix="/v1", tags=["posts"])


@router.post(
    "/locations/{location_id}/posts",
    summary="Post from a published template: fill its slots for this location",
    description="Renders the template for each platform with the location's data and the slot "
    "values, checks every platform's limits, the brand's rules and the slots, and saves one post "
    "per platform only if all pass (else 422 listing every problem). Posts wait in "
    "`needs_approval` when the brand requires approval of location edits, else `scheduled` "
    "(now, or at `scheduled_at`), and the worker publishes them. A platform without a "
    "connected, healthy account at the location is said at once: its post carries `warnings` "
    "(`no_connected_account`: it will be skipped at its time; `account_needs_reconnect`: it "
    "will fail), and the location's `GET /v1/locations/{location_id}/needs` lists it. With "
    '`"require_connected_accounts": true` such a request is refused instead (409 '
    "`account_not_connected` naming each platform, nothing saved). Send an `Idempotency-Key` "
    "to make a retry answer what the first request did.",
    status_code=status.HTTP_201_CREATED,
    response_model=list[CreatedPostOut],
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
    async def work() -> list[CreatedPostOut]:
        made = await post_service.create_local_posts(session, principal, location_id, data)
        return [
            CreatedPostOut.model_validate(
                {
                    **PostOut.model_validate(p).model_dump(),
                    "warnings": made.warnings.get(p.platform, []),
                }
            )
            for p in made.posts
        ]

    return await idempotency.run(session, principal, work, status_code=status.HTTP_201_CREATED)


@router.get(
    "/locations/{location_id}/posts",
    summary="A location's posts, oldest first unless `sort` says otherwise",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "post.read"},
)
async def list_location_posts(
    location_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(POST_SORTING))],
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[PostOut]:
    page = await post_service.list_location_posts(
        session,
        principal,
        location_id,
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[PostOut](
        items=[PostOut.model_validate(p) for p in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


Platforms = Annotated[
    list[Platform] | None,
    Query(alias="platform", description="Only these platforms (repeat the parameter)."),
]
Statuses = Annotated[
    list[PostStatus] | None,
    Query(alias="status", description="Only these statuses (repeat the parameter)."),
]
From = Annotated[
    MaybeDateTime,
    Query(
        alias="from",
        description="Posts timed at or after this instant (or date: midnight UTC).",
    ),
]
To = Annotated[
    MaybeDateTime,
    Query(alias="to", description="Posts timed before this instant (or date: midnight UTC)."),
]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.get(
    "/posts",
    summary="The calendar: posts by time, with totals by status",
    description="Posts with a time that you may read, ordered by that time (then id), "
    "filtered by brand, location, location group, campaign, platforms, statuses and a "
    "time range (`from` included, `to` excluded), one keyset page at a time, with `totals` "
    "by status (and `total`) for the same filters over all pages. Posts waiting for "
    "approval without a time of their own are not on the calendar (see the approval queue).",
    responses=problems(400, 401, 404, 422),
    openapi_extra={"x-permission": "post.read"},
)
async def calendar(
    session: Session,
    principal: CurrentPrincipal,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    platforms: Platforms = None,
    statuses: Statuses = None,
    start: From = None,
    end: To = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> CalendarPage:
    found = await post_service.calendar(
        session,
        principal,
        post_service.CalendarFilter(
            brand_id=brand_id,
            location_id=location_id,
            group_id=group_id,
            campaign_id=campaign_id,
            platforms=tuple(platforms or ()),
            statuses=tuple(statuses or ()),
            start=_utc(start),
            end=_utc(end),
        ),
        limit=limit,
        cursor=cursor,
    )
    return CalendarPage(
        items=[PostOut.model_validate(p) for p in found.page.items],
        next_cursor=found.page.next_cursor,
        totals=found.totals,
        total=sum(found.totals.values()),
    )


async def _detail(session: Session, post: Post) -> PostDetailOut:
    history = await post_service.post_history(session, post)
    return PostDetailOut.model_validate(
        {
            **PostOut.model_validate(post).model_dump(),
            "attempts": post.attempts,
            "history": [StatusChangeOut.model_validate(h) for h in history],
        }
    )


@router.get(
    "/posts/{post_id}",
    summary="Get a post with its status and its status history",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "post.read"},
)
async def get_post(
    post_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> PostDetailOut:
    return await _detail(session, await post_service.get_post(session, principal, post_id))


_NO_REASON = PostCancelIn()
_RETRY_NOW = PostRetryIn()
"""The bodies of a cancel and a retry may be left out."""

_CHANGEABLE = (
    "Allowed while the post has not gone out (draft, needs_approval, approved, scheduled, "
    "queued); a post being published (publishing, unconfirmed) answers 409 `post_in_flight`, "
    "an ended one 409 `post_not_changeable`. A job already holding the post lets it go."
)


@router.post(
    "/posts/{post_id}/cancel",
    summary="Cancel a post that has not gone out",
    description=_CHANGEABLE,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": post_service.ACT},
)
async def cancel_post(
    post_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    data: PostCancelIn = _NO_REASON,
) -> PostDetailOut:
    post = await post_service.cancel_post(session, principal, post_id, data)
    return await _detail(session, post)


@router.post(
    "/posts/{post_id}/reschedule",
    summary="Move a post that has not gone out to another time",
    description=_CHANGEABLE + " The post is due at its new time, with a new deadline.",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": post_service.ACT},
)
async def reschedule_post(
    post_id: uuid.UUID, data: PostRescheduleIn, session: Session, principal: CurrentPrincipal
) -> PostDetailOut:
    post = await post_service.reschedule_post(session, principal, post_id, data)
    return await _detail(session, post)


@router.patch(
    "/posts/{post_id}",
    summary="Edit a post that has not gone out: its slot values and/or its time",
    description=_CHANGEABLE + " New slot values render the post again from its template "
    "version and check it like a new post (422 listing every problem, nothing changed); "
    "when the brand requires approval of location edits, an edit by someone who may not "
    "approve sends the post back to `needs_approval`. A campaign's post takes its text "
    "from the campaign: only its time can be changed here (else 409 `campaign_owns_text`).",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": post_service.ACT},
)
async def edit_post(
    post_id: uuid.UUID, data: PostEditIn, session: Session, principal: CurrentPrincipal
) -> PostDetailOut:
    post = await post_service.edit_post(session, principal, post_id, data)
    return await _detail(session, post)


@router.post(
    "/posts/{post_id}/retry",
    summary="Schedule a failed post again",
    description="A `failed` post goes back to `scheduled`, due now (or at `scheduled_at`) "
    "with a fresh deadline; its attempts are kept. When it failed because Chorus could not "
    "find out whether it went out, it may already be at the platform: 409 "
    "`post_may_be_out` unless `confirm_not_published` is true.",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": post_service.ACT},
)
async def retry_post(
    post_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    data: PostRetryIn = _RETRY_NOW,
) -> PostDetailOut:
    post = await post_service.retry_post(session, principal, post_id, data)
    return await _detail(session, post)


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
