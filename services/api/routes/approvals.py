from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    CurrentPrincipal,
    Cursor,
    Limit,
    Redis,
    Session,
    SettingsDep,
)
from services.api.listing import Include, wants_total
from services.api.problems import problems
from shared.approvals import service as approval_service
from shared.approvals.schemas import (
    ApprovalItemOut,
    ApproveIn,
    BulkDecisionIn,
    BulkDecisionOut,
    DecisionOut,
    LinkLocationOut,
    LinkPreviewOut,
    LinkUseIn,
    RejectIn,
    known_platform,
)
from shared.content.platforms import PLATFORM_NAME_SCHEMA
from shared.errors import FieldProblem, ValidationFailed
from shared.pagination import Page, Slice

router = APIRouter(prefix="/v1", tags=["approvals"])

_NO_COMMENT = ApproveIn()

CampaignFilter = Annotated[uuid.UUID | None, Query(description="Only this campaign's posts.")]
PlatformFilter = Annotated[
    str | None,
    Query(max_length=40, description="Only this platform.", json_schema_extra=PLATFORM_NAME_SCHEMA),
]


def _platform(value: str | None) -> str | None:
    try:
        return known_platform(value)
    except ValueError as exc:
        raise ValidationFailed(
            str(exc), errors=[FieldProblem("query.platform", str(exc), "unknown_platform")]
        ) from None


def _page(page: Slice[approval_service.Pending]) -> Page[ApprovalItemOut]:
    return Page[ApprovalItemOut](
        items=[
            ApprovalItemOut(
                post_id=p.post.id,
                brand_id=p.post.brand_id,
                location_id=p.post.location_id,
                location_name=p.location_name,
                campaign_id=p.post.campaign_id,
                platform=p.post.platform,
                text=p.post.text,
                title=p.post.title,
                media=p.post.media,
                approval_kind=p.post.approval_kind,
                scheduled_at=p.post.scheduled_at,
                deadline=approval_service.deadline_of(p.post),
                status_reason=p.post.status_reason,
                created_by=p.post.created_by,
                created_at=p.post.created_at,
            )
            for p in page.items
        ],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/brands/{brand_id}/approvals",
    summary="The brand's approval queue: location edits waiting for the brand",
    description="Posts in `needs_approval` that the brand must approve, the soonest due first, "
    "with their rendered text, platform, time and deadline (a post not approved before its "
    "time is skipped).",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "post.approve"},
)
async def brand_approvals(
    brand_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    campaign_id: CampaignFilter = None,
    location_id: Annotated[uuid.UUID | None, Query(description="Only this location.")] = None,
    platform: PlatformFilter = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[ApprovalItemOut]:
    filters = approval_service.QueueFilter(campaign_id, location_id, _platform(platform))
    page = await approval_service.brand_queue(
        session,
        principal,
        brand_id,
        filters,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return _page(page)


@router.get(
    "/locations/{location_id}/approvals",
    summary="The location's confirmation queue: campaign posts waiting for the location",
    description="Posts in `needs_approval` that this location must confirm, the soonest due "
    "first, with their rendered text, platform, time and deadline.",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "post.confirm"},
)
async def location_approvals(
    location_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    campaign_id: CampaignFilter = None,
    platform: PlatformFilter = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[ApprovalItemOut]:
    filters = approval_service.QueueFilter(campaign_id, None, _platform(platform))
    page = await approval_service.location_queue(
        session,
        principal,
        location_id,
        filters,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return _page(page)


@router.post(
    "/posts/{post_id}/approve",
    summary="Approve (or confirm) a post waiting for a decision",
    description="The post is scheduled at its time; if that time has already passed it is "
    "skipped instead ('approved after its scheduled time'). A brand approval needs "
    "`post.approve` on the post's brand; a location confirmation needs `post.confirm` on its "
    "location. 409 when the post no longer waits. With `slot_values` the template's open "
    "slots are filled first: the post is rendered again and checked like a new post (422 "
    "listing every problem, nothing decided).",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "post.approve"},
)
async def approve_post(
    post_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    data: Annotated[ApproveIn, Body()] = _NO_COMMENT,
) -> DecisionOut:
    post = await approval_service.decide(
        session, principal, post_id, "approve", data.comment, slot_values=data.slot_values
    )
    return DecisionOut.model_validate(post)


@router.post(
    "/posts/{post_id}/reject",
    summary="Reject a post waiting for a decision (with a comment for the location)",
    description="The post is cancelled; the comment is shown to the location on the post "
    "(`decision_comment`, `status_reason`). Same permissions as approving.",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "post.approve"},
)
async def reject_post(
    post_id: uuid.UUID, data: RejectIn, session: Session, principal: CurrentPrincipal
) -> DecisionOut:
    post = await approval_service.decide(session, principal, post_id, "reject", data.comment)
    return DecisionOut.model_validate(post)


@router.post(
    "/approvals/decide",
    summary="Approve or reject up to 500 posts at once",
    description="Answers per post: `decided`, `not_found`, `not_pending` or `not_allowed` "
    "(each post needs `post.approve` or, for a location confirmation, `post.confirm`). The "
    "posts that can be decided are decided together in one transaction.",
    responses=problems(401, 422),
    openapi_extra={"x-permission": "post.approve"},
)
async def decide_many(
    data: BulkDecisionIn, session: Session, principal: CurrentPrincipal
) -> BulkDecisionOut:
    result = await approval_service.decide_many(session, principal, data)
    return BulkDecisionOut(decided=result.decided, results=result.results)


@router.get(
    "/approval-links",
    summary="What an emailed approval link would do (changes nothing)",
    description="No login: the token is the credential. Shows the post, the location, the "
    "decision and the link's expiry, and whether it can still be used. Safe for mail "
    "scanners that open every link.",
    responses=problems(400, 404, 422),
)
async def preview_link(
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    token: Annotated[str, Query(min_length=1, max_length=512, description="The link's token.")],
) -> LinkPreviewOut:
    view = await approval_service.preview_link(session, settings, redis, token)
    return LinkPreviewOut(
        post_id=view.post.id,
        decision=view.claims.decision,
        platform=view.post.platform,
        text=view.post.text,
        title=view.post.title,
        location=LinkLocationOut(
            id=view.location.id, name=view.location.name, city=view.location.city
        ),
        scheduled_at=view.post.scheduled_at,
        expires_at=view.claims.expires_at,
        post_status=view.post.status,
        usable=view.usable,
        reason=view.reason,
    )


@router.post(
    "/approval-links/use",
    summary="Make an emailed approval link's decision (once, without logging in)",
    description="Acts as the person the link was sent to, whose permission is checked again "
    "now. A rejection link needs a `comment`. 400 forged or expired, 403 when that person can "
    "no longer decide the post, 409 when the link was already used or the post no longer "
    "waits.",
    responses=problems(400, 403, 404, 409, 422),
)
async def use_link(
    data: LinkUseIn, session: Session, settings: SettingsDep, redis: Redis
) -> DecisionOut:
    post = await approval_service.use_link(session, settings, redis, data.token, data.comment)
    return DecisionOut.model_validate(post)
