from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    CurrentPrincipal,
    Cursor,
    Limit,
    Redis,
    Session,
    SettingsDep,
)
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from shared.campaigns import service as campaign_service
from shared.campaigns.schemas import (
    ActionOut,
    CampaignCreate,
    CampaignDetail,
    CampaignOut,
    CampaignStatus,
    CampaignUpdate,
    LaunchIn,
    LaunchOut,
    RemindOut,
    RescheduleIn,
)
from shared.content.platforms import PLATFORMS
from shared.idempotency import Idempotency
from shared.pagination import Page
from shared.posts.models import POST_STATUSES
from shared.posts.schemas import PostOut
from shared.posts.sorting import POST_SORTING

router = APIRouter(prefix="/v1", tags=["campaigns"])

PostStatus = Literal[
    "draft",
    "needs_approval",
    "approved",
    "scheduled",
    "queued",
    "publishing",
    "unconfirmed",
    "published",
    "failed",
    "cancelled",
    "skipped",
]
Platform = Literal[
    "facebook", "instagram", "x", "linkedin", "google_business", "pinterest", "tiktok", "youtube"
]
assert set(PostStatus.__args__) == set(POST_STATUSES)  # type: ignore[attr-defined]
assert set(Platform.__args__) == set(PLATFORMS)  # type: ignore[attr-defined]

_IDEMPOTENT = " Send an `Idempotency-Key` header to make retries safe."
_LAUNCH_DEFAULTS = LaunchIn()
"""The launch's body may be left out."""


@router.post(
    "/campaigns",
    summary="Create a draft campaign",
    description="A published template version of a brand, sent to an audience of the brand's "
    "active locations (all, groups, explicit ids or a filter) on channels, at one instant or "
    "at a local wall-clock time in each location's time zone. Every field is checked; any "
    "problem → 422 naming each field." + _IDEMPOTENT,
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignOut,
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "campaign.create"},
)
async def create_campaign(
    data: CampaignCreate, session: Session, principal: CurrentPrincipal, idempotency: Idempotency
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.create_campaign(session, principal, data),
        status_code=status.HTTP_201_CREATED,
    )


@router.get(
    "/campaigns",
    summary="List campaigns (oldest first unless `sort` says otherwise)",
    responses=problems(400, 401, 422),
    openapi_extra={"x-permission": "campaign.read"},
)
async def list_campaigns(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(campaign_service.SORTING))],
    brand_id: uuid.UUID | None = None,
    status: CampaignStatus | None = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[CampaignOut]:
    page = await campaign_service.list_campaigns(
        session,
        principal,
        brand_id=brand_id,
        status=status,
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[CampaignOut](items=page.items, next_cursor=page.next_cursor, total=page.total)


@router.get(
    "/campaigns/{campaign_id}",
    summary="A campaign with its fan-out progress and its posts counted by status",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "campaign.read"},
)
async def get_campaign(
    campaign_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> CampaignDetail:
    return await campaign_service.get_campaign(session, principal, campaign_id)


@router.patch(
    "/campaigns/{campaign_id}",
    summary="Edit a draft campaign",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "campaign.update"},
)
async def update_campaign(
    campaign_id: uuid.UUID, data: CampaignUpdate, session: Session, principal: CurrentPrincipal
) -> CampaignOut:
    return await campaign_service.update_campaign(session, principal, campaign_id, data)


@router.get(
    "/campaigns/{campaign_id}/posts",
    summary="The campaign's posts (a location's people see their own), oldest first unless "
    "`sort` says otherwise",
    responses=problems(400, 401, 404, 422),
    openapi_extra={"x-permission": "campaign.read"},
)
async def list_campaign_posts(
    campaign_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(POST_SORTING))],
    status: PostStatus | None = None,
    platform: Platform | None = None,
    location_id: uuid.UUID | None = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[PostOut]:
    page = await campaign_service.list_posts(
        session,
        principal,
        campaign_id,
        status=status,
        platform=platform,
        location_id=location_id,
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


@router.post(
    "/campaigns/{campaign_id}/launch",
    summary="Launch: fan out one post per location and channel (202, in the background)",
    description="Draft → launching; a job writes the posts in batches and the campaign becomes "
    "running. Poll `GET /v1/campaigns/{campaign_id}` for `progress`. Launching again answers "
    "the progress and creates nothing twice. The answer counts the audience's locations × "
    "channels without a connected, healthy account (`warning_count`; their posts will be "
    "skipped) and names the first of them (`warnings`). With the body "
    '`{"require_connected_accounts": true}` a draft with any is not launched: 409 '
    "`account_not_connected` with `missing_count` and `missing`. The body may be left out."
    + _IDEMPOTENT,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LaunchOut,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "campaign.launch"},
)
async def launch_campaign(
    campaign_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    redis: Redis,
    idempotency: Idempotency,
    data: LaunchIn = _LAUNCH_DEFAULTS,
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.launch(session, principal, campaign_id, redis, data),
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.post(
    "/campaigns/{campaign_id}/pause",
    summary="Pause: hold every scheduled post until resumed",
    description="Running → paused. Posts already queued or publishing finish." + _IDEMPOTENT,
    response_model=ActionOut,
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "campaign.launch"},
)
async def pause_campaign(
    campaign_id: uuid.UUID, session: Session, principal: CurrentPrincipal, idempotency: Idempotency
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.pause(session, principal, campaign_id),
        status_code=status.HTTP_200_OK,
    )


@router.post(
    "/campaigns/{campaign_id}/resume",
    summary="Resume: release the held posts",
    description="Paused → running. Posts whose time passed while paused go out at once, "
    "unless past their publish deadline (then skipped, saying why)." + _IDEMPOTENT,
    response_model=ActionOut,
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "campaign.launch"},
)
async def resume_campaign(
    campaign_id: uuid.UUID, session: Session, principal: CurrentPrincipal, idempotency: Idempotency
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.resume(session, principal, campaign_id),
        status_code=status.HTTP_200_OK,
    )


@router.post(
    "/campaigns/{campaign_id}/cancel",
    summary="Cancel: every post not yet handed to a platform is cancelled",
    description="Queued or publishing posts are left to finish; the answer says how many."
    + _IDEMPOTENT,
    response_model=ActionOut,
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "campaign.launch"},
)
async def cancel_campaign(
    campaign_id: uuid.UUID, session: Session, principal: CurrentPrincipal, idempotency: Idempotency
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.cancel(session, principal, campaign_id),
        status_code=status.HTTP_200_OK,
    )


@router.post(
    "/campaigns/{campaign_id}/reschedule",
    summary="Reschedule: a new time for every post not yet published",
    description="Recomputes each post's time from the new schedule in its location's time zone "
    "(and its publish deadline)." + _IDEMPOTENT,
    response_model=ActionOut,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "campaign.update"},
)
async def reschedule_campaign(
    campaign_id: uuid.UUID,
    data: RescheduleIn,
    session: Session,
    principal: CurrentPrincipal,
    idempotency: Idempotency,
) -> JSONResponse:
    return await idempotency.run(
        session,
        principal,
        lambda: campaign_service.reschedule(session, principal, campaign_id, data),
        status_code=status.HTTP_200_OK,
    )


@router.post(
    "/campaigns/{campaign_id}/remind",
    summary="Remind the people who have not decided the campaign's waiting posts",
    description="Mails everyone who can decide the campaign's posts still waiting for approval "
    "(their time not passed): one digest per person, with approve and reject links, sent to "
    "the nearest deciders (a location's managers for its confirmations). At most one reminder "
    "per campaign per hour: a second within the hour → 429 `reminder_too_soon` with "
    "`next_reminder_at` and `Retry-After`. Nothing waiting → 409 `nothing_waiting`.",
    response_model=RemindOut,
    responses=problems(401, 403, 404, 409, 429),
    openapi_extra={"x-permission": "campaign.update"},
)
async def remind_campaign(
    campaign_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    redis: Redis,
    settings: SettingsDep,
) -> RemindOut:
    return await campaign_service.remind(session, principal, campaign_id, redis, settings)
