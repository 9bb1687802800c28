"""Reviews as people use them: listing and export, the needs-attention list, replying (and
editing or deleting the reply where the platform allows) and approving auto-replies, the
brand's settings and auto-reply rules, attaching a Yelp business.

Authorization: a review is read with ``review.read`` and answered with ``review.reply`` at its
location (location staff and managers, and brand managers above them); editing and deleting
the reply are answering too; a brand's review settings and
auto-reply rules are brand rules (``brand_rules.read`` / ``brand_rules.update``); attaching a
Yelp business to a location is connecting a source (``social_account.connect``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared import csvwriter
from shared.access.policy import Target, allowed, authorize, reach
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements
from shared.billing.plans import Feature
from shared.brands import service as brand_service
from shared.config import Settings
from shared.db import Database, hooks
from shared.errors import Conflict, FieldProblem, NotFound, UpstreamFailed, ValidationFailed
from shared.ids import new_id
from shared.jobs import enqueue
from shared.locations import service as location_service
from shared.locations.models import LocationGroup, LocationGroupMember
from shared.pagination import Slice, count_of, cursor_key, page_of
from shared.platforms import registry, yelp
from shared.platforms.base import Connector, same_text
from shared.platforms.errors import ErrorKind, PlatformError
from shared.reviews import COLLECT_JOB, SEND_REPLY_JOB
from shared.reviews.collection import DEFAULT_NEGATIVE_RATING, reply_job_id, stagger_of
from shared.reviews.models import (
    SOURCE_PLATFORM,
    UNANSWERED,
    AutoReplyRule,
    Review,
    ReviewSettings,
    ReviewSource,
)
from shared.reviews.schemas import (
    AutoReplyRuleIn,
    AutoReplyRulePatch,
    ReviewSettingsIn,
    ReviewSettingsOut,
)
from shared.reviews.templates import compile_reply
from shared.tenancy import scoped

SORT = "-created_at"
EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "id",
    "brand_id",
    "location_id",
    "source",
    "external_id",
    "rating",
    "author",
    "text",
    "created_at",
    "updated_at",
    "sentiment_score",
    "sentiment_label",
    "needs_attention",
    "attention_reason",
    "reply_status",
    "reply_text",
    "replied_at",
)
REPLY_LOCKED = ("queued", "sending", "unconfirmed")
CSV_ATTRIBUTES = {"needs_attention": "open_attention"}
"""Export columns read from another attribute than their name."""


def _target(review: Review) -> Target:
    return Target(brand_id=review.brand_id, location_id=review.location_id)


# -- Reading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    source: str | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    sentiment: str | None = None
    replied: bool | None = None
    needs_attention: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(principal: Principal, filters: ReviewFilter) -> Select[Review]:
    stmt = scoped(Review, principal)
    r = reach(principal, "review.read")
    if not r.everything:
        stmt = stmt.where(Review.brand_id.in_(r.brand_ids) | Review.location_id.in_(r.location_ids))
    if filters.brand_id is not None:
        stmt = stmt.where(Review.brand_id == filters.brand_id)
    if filters.location_id is not None:
        stmt = stmt.where(Review.location_id == filters.location_id)
    if filters.group_id is not None:
        members = select(LocationGroupMember.location_id).where(
            LocationGroupMember.agency_id == principal.agency_id,
            LocationGroupMember.group_id == filters.group_id,
        )
        stmt = stmt.where(Review.location_id.in_(members))
    if filters.source is not None:
        stmt = stmt.where(Review.source == filters.source)
    if filters.min_rating is not None:
        stmt = stmt.where(Review.rating >= filters.min_rating)
    if filters.max_rating is not None:
        stmt = stmt.where(Review.rating <= filters.max_rating)
    if filters.sentiment is not None:
        stmt = stmt.where(Review.sentiment_label == filters.sentiment)
    if filters.replied is True:
        stmt = stmt.where(Review.reply_status == "sent")
    elif filters.replied is False:
        stmt = stmt.where(Review.reply_status != "sent")
    if filters.needs_attention is True:
        stmt = stmt.where(Review.needs_attention.is_(True), Review.reply_status.in_(UNANSWERED))
    elif filters.needs_attention is False:
        stmt = stmt.where(
            or_(Review.needs_attention.is_(False), Review.reply_status.not_in(UNANSWERED))
        )
    if filters.since is not None:
        stmt = stmt.where(Review.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Review.created_at < filters.until)
    return stmt


def _decode(values: list[Any]) -> list[Any]:
    return [datetime.fromisoformat(values[0]), uuid.UUID(values[1])]


def _key(review: Review) -> list[Any]:
    return [review.created_at.isoformat(), str(review.id)]


def _newest_first(stmt: Select[Review], cursor: str | None) -> Select[Review]:
    if cursor:
        created, review_id = cursor_key(cursor, SORT, 2, _decode)
        stmt = stmt.where(tuple_(Review.created_at, Review.id) < tuple_(created, review_id))
    return stmt.order_by(Review.created_at.desc(), Review.id.desc())


async def _check_filters(session: AsyncSession, principal: Principal, f: ReviewFilter) -> None:
    """Filters naming a brand, location or group the principal cannot see answer 404."""
    if f.location_id is not None:
        location = await location_service.get_location(session, principal, f.location_id)
        authorize(
            principal,
            "review.read",
            Target(location.brand_id, location.id),
            object_type="location",
        )
    if f.brand_id is not None:
        await brand_service.get_brand(session, principal, f.brand_id)
    if f.group_id is not None:
        group = (
            await session.execute(
                scoped(LocationGroup, principal).where(LocationGroup.id == f.group_id)
            )
        ).scalar_one_or_none()
        if group is None or not allowed(
            principal, "location_group.read", Target(brand_id=group.brand_id)
        ):
            raise NotFound("location group not found")
    if f.min_rating is not None and f.max_rating is not None and f.min_rating > f.max_rating:
        raise ValidationFailed(
            f"min_rating ({f.min_rating}) is above max_rating ({f.max_rating})",
            errors=[FieldProblem("query.min_rating", "must not be above max_rating")],
        )


async def list_reviews(
    session: AsyncSession,
    principal: Principal,
    filters: ReviewFilter,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Review]:
    """Reviews the principal may read, newest first (with ``total``, how many match)."""
    await _check_filters(session, principal, filters)
    matching = _filtered(principal, filters)
    stmt = _newest_first(matching, cursor).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    page = page_of(rows, sort=SORT, limit=limit, key=_key)
    if not total:
        return page
    return Slice(page.items, page.next_cursor, await count_of(session, matching))


async def needs_attention(
    session: AsyncSession,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Review]:
    """The location's reviews that are negative and not answered yet, newest first."""
    return await list_reviews(
        session,
        principal,
        ReviewFilter(location_id=location_id, needs_attention=True),
        limit=limit,
        cursor=cursor,
        total=total,
    )


async def check_export(session: AsyncSession, principal: Principal, filters: ReviewFilter) -> None:
    """What the export will read is checked before the answer starts streaming."""
    await _check_filters(session, principal, filters)


async def export_csv(
    database: Database, principal: Principal, filters: ReviewFilter, *, batch: int = EXPORT_BATCH
) -> AsyncIterator[bytes]:
    """The filtered reviews as CSV, newest first, read in keyset batches (one short
    transaction each) so a large export never holds a transaction open."""
    yield csvwriter.write_rows([EXPORT_COLUMNS]).encode()
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with database.transaction(principal.agency_id) as session:
            stmt = _filtered(principal, filters)
            if after is not None:
                stmt = stmt.where(tuple_(Review.created_at, Review.id) < tuple_(*after))
            rows = list(
                (
                    await session.execute(
                        stmt.order_by(Review.created_at.desc(), Review.id.desc()).limit(batch)
                    )
                ).scalars()
            )
        if rows:
            yield csvwriter.write_rows(
                [_csv_value(getattr(review, CSV_ATTRIBUTES.get(c, c))) for c in EXPORT_COLUMNS]
                for review in rows
            ).encode()
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)


def _csv_value(value: Any) -> csvwriter.Cell:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


async def get_review(
    session: AsyncSession,
    principal: Principal,
    review_id: uuid.UUID,
    action: str = "review.read",
    *,
    lock: bool = False,
) -> Review:
    stmt = scoped(Review, principal).where(Review.id == review_id)
    if lock:
        stmt = stmt.with_for_update()
    review = (await session.execute(stmt)).scalar_one_or_none()
    if review is None:
        raise NotFound("review not found")
    authorize(principal, action, _target(review), object_type="review")
    return review


# -- Replying ------------------------------------------------------------------------------------


def _reply_text(text: str) -> str:
    """The reply as it will be posted: trimmed, and never empty."""
    text = text.strip()
    if not text:
        raise ValidationFailed(
            "the reply is empty", errors=[FieldProblem("body.text", "write the reply's text")]
        )
    return text


def _enqueue_send(session: AsyncSession, redis: ArqRedis, review: Review) -> None:
    agency_id, review_id = review.agency_id, review.id
    job_id = reply_job_id(review.id, review.reply_attempts, review.reply_due_at)

    async def send() -> None:
        await enqueue(
            redis,
            SEND_REPLY_JOB,
            str(agency_id),
            str(review_id),
            job_id=job_id,
        )

    hooks.after_commit(session, send)


async def reply(
    session: AsyncSession,
    redis: ArqRedis,
    principal: Principal,
    review_id: uuid.UUID,
    text: str,
) -> Review:
    """Queue the location's reply; a job sends it through the platform."""
    review = await get_review(session, principal, review_id, "review.reply", lock=True)
    text = _reply_text(text)
    _check_platform_allows(review, "reply")
    _check_not_in_flight(review)
    if review.reply_status == "sent":
        raise Conflict(
            "this review already has a reply at the platform; Chorus does not post a second "
            "one: edit it (PUT /v1/reviews/{id}/reply) or delete it first",
            code="already_replied",
        )
    before = {"reply_status": review.reply_status, "reply_text": review.reply_text}
    _queue(review, text, principal, origin="manual")
    audit.record_by(
        session,
        principal,
        "review.reply",
        "review",
        review.id,
        before=before,
        after={"reply_status": review.reply_status, "reply_text": review.reply_text},
    )
    await session.flush()
    _enqueue_send(session, redis, review)
    return review


def _connector_class(source: str) -> type[Connector]:
    if source == yelp.PLATFORM:
        return yelp.YelpConnector
    return registry.connector_class(SOURCE_PLATFORM[source])


_CAN = {
    "reply": ("can_reply", "replies", "replies_not_supported"),
    "edit": ("can_edit_reply", "editing a reply", "reply_edit_not_supported"),
    "delete": ("can_delete_reply", "deleting a reply", "reply_delete_not_supported"),
}


def _check_platform_allows(review: Review, what: str) -> None:
    """The platform's API must offer ``what`` (``reply``, ``edit``, ``delete``): the
    connector says so, before anything is queued."""
    connector = _connector_class(review.source)
    attribute, doing, code = _CAN[what]
    if not getattr(connector, attribute):
        raise Conflict(
            f"{connector.display_name} does not allow {doing} through its API; answer this "
            f"review on {connector.display_name} itself",
            code=code,
        )


def _check_not_in_flight(review: Review) -> None:
    if review.reply_status in REPLY_LOCKED:
        raise Conflict(
            f"a change to this review's reply is already on its way ({review.reply_action}, "
            f"{review.reply_status}); wait until it is done or has failed",
            code="reply_in_progress",
        )


def _reply_state(review: Review) -> dict[str, Any]:
    return {
        "reply_status": review.reply_status,
        "reply_action": review.reply_action,
        "reply_text": review.reply_text,
    }


async def edit_reply(
    session: AsyncSession,
    redis: ArqRedis,
    principal: Principal,
    review_id: uuid.UUID,
    text: str,
) -> Review:
    """Change the reply's text: at the platform (a job edits it there, as replies are sent),
    or in the draft while an auto-reply waits for approval. The same text again changes
    nothing."""
    review = await get_review(session, principal, review_id, "review.reply", lock=True)
    text = _reply_text(text)
    _check_platform_allows(review, "edit")
    _check_not_in_flight(review)
    if review.reply_status in ("none", "failed") or review.reply_text is None:
        raise Conflict(
            "this review has no reply at the platform to edit; reply to it instead "
            "(POST /v1/reviews/{id}/reply)",
            code="no_reply",
        )
    if same_text(review.reply_text, text):
        return review
    before = _reply_state(review)
    if review.reply_status == "pending_approval":
        review.reply_text = text
    else:
        review.reply_previous_text = review.reply_text
        _queue(review, text, principal, origin="manual", action="edit")
    audit.record_by(
        session, principal, "review.reply_edit", "review", review.id,
        before=before, after=_reply_state(review),
    )  # fmt: skip
    await session.flush()
    if review.reply_status == "queued":
        _enqueue_send(session, redis, review)
    return review


async def delete_reply(
    session: AsyncSession,
    redis: ArqRedis,
    principal: Principal,
    review_id: uuid.UUID,
) -> Review:
    """Remove the reply: from the platform (a job deletes it there), or at once when it never
    reached it (an auto-reply draft waiting for approval, a reply that failed)."""
    review = await get_review(session, principal, review_id, "review.reply", lock=True)
    _check_platform_allows(review, "delete")
    _check_not_in_flight(review)
    if review.reply_status == "none":
        raise Conflict("this review has no reply to delete", code="no_reply")
    before = _reply_state(review)
    if review.reply_status == "sent":
        review.reply_previous_text = review.reply_text
        _queue(review, review.reply_text or "", principal, origin=None, action="delete")
    else:
        review.reply_status = "none"
        review.reply_text = None
        review.reply_origin = None
        review.reply_rule_id = None
        review.reply_error = None
        review.reply_due_at = None
    audit.record_by(
        session, principal, "review.reply_delete", "review", review.id,
        before=before, after=_reply_state(review),
    )  # fmt: skip
    await session.flush()
    if review.reply_status == "queued":
        _enqueue_send(session, redis, review)
    return review


def _queue(
    review: Review, text: str, principal: Principal, *, origin: str | None, action: str = "post"
) -> None:
    now = datetime.now(UTC)
    review.reply_text = text
    review.reply_status = "queued"
    review.reply_action = action
    if origin is not None:
        review.reply_origin = origin
    review.reply_by = principal.user_id
    review.reply_requested_at = now
    review.reply_due_at = now
    review.reply_error = None


async def approve_reply(
    session: AsyncSession,
    redis: ArqRedis,
    principal: Principal,
    review_id: uuid.UUID,
    text: str | None,
) -> Review:
    """Send an auto-reply waiting for approval (as drafted, or with ``text`` instead)."""
    review = await get_review(session, principal, review_id, "review.reply", lock=True)
    if review.reply_status != "pending_approval" or review.reply_text is None:
        raise Conflict(
            f"this review has no reply waiting for approval (its reply is {review.reply_status})",
            code="no_pending_reply",
        )
    draft = review.reply_text
    _queue(review, (text or draft).strip(), principal, origin=None)
    audit.record_by(
        session,
        principal,
        "review.reply_approve",
        "review",
        review.id,
        before={"reply_status": "pending_approval", "reply_text": draft},
        after={"reply_status": "queued", "reply_text": review.reply_text},
    )
    await session.flush()
    _enqueue_send(session, redis, review)
    return review


# -- Brand settings and rules --------------------------------------------------------------------


async def get_settings(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID
) -> ReviewSettingsOut:
    brand = await brand_service.get_brand(session, principal, brand_id, "brand_rules.read")
    row = (
        await session.execute(
            scoped(ReviewSettings, principal).where(ReviewSettings.brand_id == brand.id)
        )
    ).scalar_one_or_none()
    if row is None:
        return ReviewSettingsOut(
            brand_id=brand.id, negative_rating=DEFAULT_NEGATIVE_RATING, negative_sentiment=True
        )
    return ReviewSettingsOut(
        brand_id=brand.id,
        negative_rating=row.negative_rating,
        negative_sentiment=row.negative_sentiment,
    )


async def put_settings(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, data: ReviewSettingsIn
) -> ReviewSettingsOut:
    """Applies to reviews collected or edited from now on."""
    brand = await brand_service.get_brand(session, principal, brand_id, "brand_rules.update")
    row = (
        await session.execute(
            scoped(ReviewSettings, principal)
            .where(ReviewSettings.brand_id == brand.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    before = (
        {"negative_rating": row.negative_rating, "negative_sentiment": row.negative_sentiment}
        if row
        else None
    )
    if row is None:
        row = ReviewSettings(agency_id=principal.agency_id, brand_id=brand.id)
        session.add(row)
    row.negative_rating = data.negative_rating
    row.negative_sentiment = data.negative_sentiment
    await session.flush()
    audit.record_by(
        session,
        principal,
        "review_settings.update",
        "brand",
        brand.id,
        before=before,
        after=data.model_dump(),
    )
    return ReviewSettingsOut(
        brand_id=brand.id,
        negative_rating=row.negative_rating,
        negative_sentiment=row.negative_sentiment,
    )


async def _check_group(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, group_id: uuid.UUID | None
) -> None:
    if group_id is None:
        return
    found = await session.scalar(
        select(LocationGroup.id).where(
            LocationGroup.agency_id == principal.agency_id,
            LocationGroup.id == group_id,
            LocationGroup.brand_id == brand_id,
        )
    )
    if found is None:
        raise ValidationFailed(
            "the location group is not one of this brand's groups",
            errors=[FieldProblem("body.group_id", "use a group of the same brand")],
        )


def _check_range(min_rating: int, max_rating: int) -> None:
    if min_rating > max_rating:
        raise ValidationFailed(
            f"min_rating ({min_rating}) is above max_rating ({max_rating})",
            errors=[FieldProblem("body.min_rating", "must not be above max_rating")],
        )


async def list_rules(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID
) -> list[AutoReplyRule]:
    brand = await brand_service.get_brand(session, principal, brand_id, "brand_rules.read")
    return list(
        (
            await session.execute(
                scoped(AutoReplyRule, principal)
                .where(AutoReplyRule.brand_id == brand.id)
                .order_by(AutoReplyRule.position, AutoReplyRule.id)
            )
        ).scalars()
    )


async def create_rule(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, data: AutoReplyRuleIn
) -> AutoReplyRule:
    brand = await brand_service.get_brand(session, principal, brand_id, "brand_rules.update")
    await entitlements.require_feature(session, None, principal.agency_id, Feature.AUTO_REPLIES)
    compile_reply(data.template)
    _check_range(data.min_rating, data.max_rating)
    await _check_group(session, principal, brand.id, data.group_id)
    rule = AutoReplyRule(
        agency_id=principal.agency_id,
        id=new_id(),
        brand_id=brand.id,
        name=data.name.strip(),
        sources=sorted(set(data.sources)),
        min_rating=data.min_rating,
        max_rating=data.max_rating,
        group_id=data.group_id,
        template=data.template,
        requires_approval=data.requires_approval,
        enabled=data.enabled,
        position=data.position,
        created_by=principal.user_id,
    )
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    audit.record_by(
        session, principal, "auto_reply_rule.create", "auto_reply_rule", rule.id,
        after=data.model_dump(mode="json"),
    )  # fmt: skip
    return rule


async def get_rule(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, action: str
) -> AutoReplyRule:
    rule = (
        await session.execute(scoped(AutoReplyRule, principal).where(AutoReplyRule.id == rule_id))
    ).scalar_one_or_none()
    target = Target(brand_id=rule.brand_id) if rule is not None else None
    if rule is None or target is None or not allowed(principal, "brand_rules.read", target):
        raise NotFound("auto-reply rule not found")
    authorize(principal, action, target, object_type="brand_rules")
    return rule


async def update_rule(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, data: AutoReplyRulePatch
) -> AutoReplyRule:
    rule = await get_rule(session, principal, rule_id, "brand_rules.update")
    changes = data.model_dump(exclude_unset=True)
    if "template" in changes and changes["template"] is not None:
        compile_reply(changes["template"])
    for name in ("name", "min_rating", "max_rating", "template", "requires_approval"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(
                f"{name} cannot be null", errors=[FieldProblem(f"body.{name}", "give a value")]
            )
    _check_range(
        changes.get("min_rating", rule.min_rating), changes.get("max_rating", rule.max_rating)
    )
    if changes.get("group_id") is not None:
        await _check_group(session, principal, rule.brand_id, changes["group_id"])
    before = {k: getattr(rule, k) for k in changes}
    for name, value in changes.items():
        if name == "sources":
            value = sorted(set(value or []))
        elif name in ("enabled", "position") and value is None:
            continue
        setattr(rule, name, value)
    await session.flush()
    await session.refresh(rule)
    audit.record_by(
        session,
        principal,
        "auto_reply_rule.update",
        "auto_reply_rule",
        rule.id,
        before=before,
        after={k: getattr(rule, k) for k in changes},
    )
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> None:
    rule = await get_rule(session, principal, rule_id, "brand_rules.update")
    await session.delete(rule)
    audit.record_by(
        session, principal, "auto_reply_rule.delete", "auto_reply_rule", rule.id,
        before={"name": rule.name},
    )  # fmt: skip


# -- Sources -------------------------------------------------------------------------------------


async def list_sources(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> list[ReviewSource]:
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal, "review.read", Target(location.brand_id, location.id), object_type="location"
    )
    return list(
        (
            await session.execute(
                scoped(ReviewSource, principal)
                .where(ReviewSource.location_id == location.id)
                .order_by(ReviewSource.source)
            )
        ).scalars()
    )


async def attach_yelp(
    session: AsyncSession,
    redis: ArqRedis,
    settings: Settings,
    principal: Principal,
    location_id: uuid.UUID,
    business_id: str,
) -> ReviewSource:
    """Collect the location's Yelp reviews with Chorus's own Yelp key: the business is
    checked at Yelp first; attaching another business replaces the previous one."""
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal,
        "social_account.connect",
        Target(location.brand_id, location.id),
        object_type="location",
    )
    try:
        business = await yelp.connector(settings).fetch_business(business_id)
    except PlatformError as exc:
        if exc.kind is ErrorKind.REJECTED:
            raise ValidationFailed(
                f"Yelp has no business '{business_id}'",
                code="yelp_business_not_found",
                errors=[
                    FieldProblem(
                        "body.business_id",
                        "use the id or alias after /biz/ in the business's Yelp URL",
                    )
                ],
            ) from None
        raise UpstreamFailed(
            exc.message, extra={"platform": "yelp", "kind": exc.kind.value}
        ) from None
    source = (
        await session.execute(
            scoped(ReviewSource, principal)
            .where(ReviewSource.location_id == location.id, ReviewSource.source == "yelp")
            .with_for_update()
        )
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    before = {"external_id": source.external_id, "status": source.status} if source else None
    if source is None:
        source = ReviewSource(
            agency_id=principal.agency_id,
            id=new_id(),
            brand_id=location.brand_id,
            location_id=location.id,
            source="yelp",
        )
        source.stagger_s = stagger_of(source.id)
        session.add(source)
    if source.external_id != business.id:
        source.cursor = None
        source.full_sync_at = None
    source.external_id = business.id
    source.name = business.name
    source.status = "active"
    source.failures = 0
    source.last_error = None
    source.next_collect_at = now
    source.attached_by = principal.user_id
    await session.flush()
    await session.refresh(source)
    audit.record_by(
        session,
        principal,
        "review_source.attach",
        "review_source",
        source.id,
        before=before,
        after={"source": "yelp", "external_id": business.id, "name": business.name},
    )
    agency_id, source_id = source.agency_id, source.id

    async def collect_now() -> None:
        await enqueue(
            redis,
            COLLECT_JOB,
            str(agency_id),
            str(source_id),
            job_id=f"{COLLECT_JOB}:{source_id}:attach:{int(now.timestamp())}",
        )

    hooks.after_commit(session, collect_now)
    return source


async def detach_yelp(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> ReviewSource:
    """Stop collecting the location's Yelp reviews (those collected stay)."""
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal,
        "social_account.connect",
        Target(location.brand_id, location.id),
        object_type="location",
    )
    source = (
        await session.execute(
            scoped(ReviewSource, principal)
            .where(ReviewSource.location_id == location.id, ReviewSource.source == "yelp")
            .with_for_update()
        )
    ).scalar_one_or_none()
    if source is None:
        raise NotFound("this location has no Yelp business attached")
    source.status = "disabled"
    source.last_error = None
    audit.record_by(
        session, principal, "review_source.detach", "review_source", source.id,
        before={"status": "active"}, after={"status": "disabled"},
    )  # fmt: skip
    await session.flush()
    return source
