"""Reviews: listing with filters and CSV export, a location's needs-attention list, replies
(sent, edited and deleted by a job) and auto-reply approvals, a brand's review settings and
auto-reply rules, and the review sources of a location (attaching a Yelp business)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    CurrentPrincipal,
    Cursor,
    Limit,
    Redis,
    Session,
    SettingsDep,
    get_database,
)
from services.api.listing import Include, wants_total
from services.api.problems import problems
from shared.fieldtypes import MaybeDateTime
from shared.pagination import Page
from shared.reviews import service
from shared.reviews.schemas import (
    ApproveIn,
    AutoReplyRuleIn,
    AutoReplyRuleOut,
    AutoReplyRulePatch,
    ReplyIn,
    ReviewOut,
    ReviewSettingsIn,
    ReviewSettingsOut,
    ReviewSourceOut,
    Sentiment,
    SourceIn,
    YelpAttachIn,
)

router = APIRouter(prefix="/v1", tags=["reviews"])

Rating = Annotated[int | None, Query(ge=1, le=5)]
SourceQuery = Annotated[
    SourceIn | None,
    Query(description="`google_business`, `facebook` or `yelp` (`google` is still accepted)."),
]


def _filters(
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    source: SourceQuery = None,
    min_rating: Rating = None,
    max_rating: Rating = None,
    sentiment: Sentiment | None = None,
    replied: Annotated[
        bool | None, Query(description="true: answered at the platform; false: not yet.")
    ] = None,
    needs_attention: Annotated[
        bool | None,
        Query(description="true: negative and not answered yet (no reply sent or on its way)."),
    ] = None,
    since: Annotated[MaybeDateTime, Query(description="Written at or after (ISO 8601).")] = None,
    until: Annotated[MaybeDateTime, Query(description="Written before (ISO 8601).")] = None,
) -> service.ReviewFilter:
    return service.ReviewFilter(
        brand_id=brand_id,
        location_id=location_id,
        group_id=group_id,
        source=source,
        min_rating=min_rating,
        max_rating=max_rating,
        sentiment=sentiment,
        replied=replied,
        needs_attention=needs_attention,
        since=since,
        until=until,
    )


@router.get(
    "/reviews",
    summary="Reviews you can see, newest first, filtered",
    responses=problems(400, 401, 404, 422),
    openapi_extra={"x-permission": "review.read"},
)
async def list_reviews(
    session: Session,
    principal: CurrentPrincipal,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    source: SourceQuery = None,
    min_rating: Rating = None,
    max_rating: Rating = None,
    sentiment: Sentiment | None = None,
    replied: Annotated[
        bool | None, Query(description="true: answered at the platform; false: not yet.")
    ] = None,
    needs_attention: Annotated[
        bool | None,
        Query(description="true: negative and not answered yet (no reply sent or on its way)."),
    ] = None,
    since: Annotated[MaybeDateTime, Query(description="Written at or after (ISO 8601).")] = None,
    until: Annotated[MaybeDateTime, Query(description="Written before (ISO 8601).")] = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[ReviewOut]:
    filters = _filters(
        brand_id, location_id, group_id, source, min_rating, max_rating, sentiment,
        replied, needs_attention, since, until,
    )  # fmt: skip
    page = await service.list_reviews(
        session, principal, filters, limit=limit, cursor=cursor, total=wants_total(include)
    )
    return Page[ReviewOut](
        items=[ReviewOut.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/reviews/export",
    summary="Export reviews as CSV (the list's filters)",
    description="Every review the filters select, newest first, streamed.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(401, 404, 422),
    },
    openapi_extra={"x-permission": "review.read"},
)
async def export_reviews(
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    source: SourceQuery = None,
    min_rating: Rating = None,
    max_rating: Rating = None,
    sentiment: Sentiment | None = None,
    replied: bool | None = None,
    needs_attention: bool | None = None,
    since: MaybeDateTime = None,
    until: MaybeDateTime = None,
) -> StreamingResponse:
    filters = _filters(
        brand_id, location_id, group_id, source, min_rating, max_rating, sentiment,
        replied, needs_attention, since, until,
    )  # fmt: skip
    await service.check_export(session, principal, filters)
    filename = f"reviews-{datetime.now(UTC).date().isoformat()}.csv"
    return StreamingResponse(
        service.export_csv(get_database(request), principal, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/reviews/{review_id}",
    summary="One review, with its sentiment and reply status",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "review.read"},
)
async def get_review(
    review_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> ReviewOut:
    return ReviewOut.model_validate(await service.get_review(session, principal, review_id))


@router.post(
    "/reviews/{review_id}/reply",
    summary="Reply to a review (sent through the platform by a job)",
    description="Answers 202 with the review, its reply `queued`; follow `reply_status` "
    "(`sending`, `sent`, or `failed` with `reply_error`). Transient platform errors are "
    "retried with backoff, as publishing does.",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "review.reply"},
)
async def reply_to_review(
    review_id: uuid.UUID,
    data: ReplyIn,
    session: Session,
    redis: Redis,
    principal: CurrentPrincipal,
) -> ReviewOut:
    review = await service.reply(session, redis, principal, review_id, data.text)
    return ReviewOut.model_validate(review)


@router.put(
    "/reviews/{review_id}/reply",
    summary="Edit the reply to a review (changed at the platform by a job)",
    description="Answers 202 with the review, its reply `queued` with `reply_action` `edit`, "
    "then `sent` once the platform shows the new text. If the platform refuses, the reply "
    "stays as it was there (`sent`, the previous text) and `reply_error` says why. An "
    "auto-reply waiting for approval has its draft changed instead; the same text again "
    "changes nothing. 409 `reply_edit_not_supported` where the platform's API does not allow "
    "it (Yelp), `no_reply` when there is no reply to edit.",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "review.reply"},
)
async def edit_reply(
    review_id: uuid.UUID,
    data: ReplyIn,
    session: Session,
    redis: Redis,
    principal: CurrentPrincipal,
) -> ReviewOut:
    review = await service.edit_reply(session, redis, principal, review_id, data.text)
    return ReviewOut.model_validate(review)


@router.delete(
    "/reviews/{review_id}/reply",
    summary="Delete the reply to a review (removed at the platform by a job)",
    description="Answers 202 with the review, its reply `queued` with `reply_action` "
    "`delete`, then `none` once it is gone from the platform (and `needs_attention` is true "
    "again if the review is negative). A reply that never reached the platform (a draft "
    "waiting for approval, a failed one) is removed at once. 409 "
    "`reply_delete_not_supported` where the platform's API does not allow it (Yelp).",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "review.reply"},
)
async def delete_reply(
    review_id: uuid.UUID, session: Session, redis: Redis, principal: CurrentPrincipal
) -> ReviewOut:
    review = await service.delete_reply(session, redis, principal, review_id)
    return ReviewOut.model_validate(review)


@router.post(
    "/reviews/{review_id}/reply/approve",
    summary="Approve an auto-reply waiting for approval (optionally with new text)",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "review.reply"},
)
async def approve_reply(
    review_id: uuid.UUID,
    data: ApproveIn,
    session: Session,
    redis: Redis,
    principal: CurrentPrincipal,
) -> ReviewOut:
    review = await service.approve_reply(session, redis, principal, review_id, data.text)
    return ReviewOut.model_validate(review)


@router.get(
    "/locations/{location_id}/reviews/needs-attention",
    summary="The location's negative reviews not answered yet, newest first",
    responses=problems(400, 401, 404),
    openapi_extra={"x-permission": "review.read"},
)
async def needs_attention(
    location_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[ReviewOut]:
    page = await service.needs_attention(
        session, principal, location_id, limit=limit, cursor=cursor, total=wants_total(include)
    )
    return Page[ReviewOut](
        items=[ReviewOut.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/locations/{location_id}/review-sources",
    summary="Where the location's reviews come from, and how collecting them goes",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "review.read"},
)
async def list_sources(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> list[ReviewSourceOut]:
    sources = await service.list_sources(session, principal, location_id)
    return [ReviewSourceOut.model_validate(s) for s in sources]


@router.put(
    "/locations/{location_id}/yelp",
    summary="Attach the location's Yelp business (read with Chorus's own Yelp key)",
    description="Checks the business at Yelp, then collects its reviews like any other "
    "source. Attaching another business replaces the previous one.",
    responses=problems(401, 403, 404, 422, 502),
    openapi_extra={"x-permission": "social_account.connect"},
)
async def attach_yelp(
    location_id: uuid.UUID,
    data: YelpAttachIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> ReviewSourceOut:
    source = await service.attach_yelp(
        session, redis, settings, principal, location_id, data.business_id
    )
    return ReviewSourceOut.model_validate(source)


@router.delete(
    "/locations/{location_id}/yelp",
    summary="Stop collecting the location's Yelp reviews (collected ones stay)",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "social_account.connect"},
)
async def detach_yelp(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> ReviewSourceOut:
    return ReviewSourceOut.model_validate(
        await service.detach_yelp(session, principal, location_id)
    )


@router.get(
    "/brands/{brand_id}/review-settings",
    summary="What counts as a negative review for this brand",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "brand_rules.read"},
)
async def get_review_settings(
    brand_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> ReviewSettingsOut:
    return await service.get_settings(session, principal, brand_id)


@router.put(
    "/brands/{brand_id}/review-settings",
    summary="Set the rating at or below which a review needs attention",
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "brand_rules.update"},
)
async def put_review_settings(
    brand_id: uuid.UUID, data: ReviewSettingsIn, session: Session, principal: CurrentPrincipal
) -> ReviewSettingsOut:
    return await service.put_settings(session, principal, brand_id, data)


@router.get(
    "/brands/{brand_id}/auto-reply-rules",
    summary="The brand's auto-reply rules, in the order they are tried",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "brand_rules.read"},
)
async def list_rules(
    brand_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> list[AutoReplyRuleOut]:
    rules = await service.list_rules(session, principal, brand_id)
    return [AutoReplyRuleOut.model_validate(r) for r in rules]


@router.post(
    "/brands/{brand_id}/auto-reply-rules",
    summary="Add an auto-reply rule",
    description="Reviews written from now on that match (source, rating range, location "
    "group) get the rule's template as their reply, sent at once or after approval.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "brand_rules.update"},
)
async def create_rule(
    brand_id: uuid.UUID, data: AutoReplyRuleIn, session: Session, principal: CurrentPrincipal
) -> AutoReplyRuleOut:
    rule = await service.create_rule(session, principal, brand_id, data)
    return AutoReplyRuleOut.model_validate(rule)


@router.get(
    "/auto-reply-rules/{rule_id}",
    summary="One auto-reply rule",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "brand_rules.read"},
)
async def get_rule(
    rule_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> AutoReplyRuleOut:
    rule = await service.get_rule(session, principal, rule_id, "brand_rules.read")
    return AutoReplyRuleOut.model_validate(rule)


@router.patch(
    "/auto-reply-rules/{rule_id}",
    summary="Change an auto-reply rule",
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "brand_rules.update"},
)
async def update_rule(
    rule_id: uuid.UUID, data: AutoReplyRulePatch, session: Session, principal: CurrentPrincipal
) -> AutoReplyRuleOut:
    rule = await service.update_rule(session, principal, rule_id, data)
    return AutoReplyRuleOut.model_validate(rule)


@router.delete(
    "/auto-reply-rules/{rule_id}",
    summary="Delete an auto-reply rule",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "brand_rules.update"},
)
async def delete_rule(
    rule_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Response:
    await service.delete_rule(session, principal, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
