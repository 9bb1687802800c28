"""Auto-reply rules: the first enabled rule of the brand (by ``position``) that matches a new
review answers it, with the rule's template, either straight away (``queued``) or after a
person approves it (``pending_approval``).

A rule matches a review of one of its ``sources`` (all when empty), rated within
``min_rating``..``max_rating``, at a location of its group (any of the brand's when none),
written after the rule was created: adding a rule never answers a backlog of old reviews.
A review without stars (a Facebook recommendation) matches a rule spanning every rating.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.brands.models import Brand
from shared.locations.models import Location, LocationGroupMember
from shared.reviews.models import AutoReplyRule, Review
from shared.reviews.templates import compile_reply, render_reply
from shared.templating import LOCATION_FIELDS

if TYPE_CHECKING:
    from shared.reviews.collection import Place


def location_values(location: Location) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(location, f) for f in LOCATION_FIELDS}
    values["custom"] = {
        k: v for k, v in (location.custom_fields or {}).items() if isinstance(v, str | int | float)
    }
    return values


def matches(rule: AutoReplyRule, review: Review, groups: set[uuid.UUID]) -> bool:
    if rule.sources and review.source not in rule.sources:
        return False
    if rule.group_id is not None and rule.group_id not in groups:
        return False
    if review.created_at < rule.created_at:
        return False
    if review.rating is None:
        return rule.min_rating == 1 and rule.max_rating == 5
    return rule.min_rating <= review.rating <= rule.max_rating


async def apply_rules(
    session: AsyncSession, place: Place, review_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Answer the new reviews the brand's rules cover; the ids now ``queued`` to be sent."""
    if place.source == "yelp":
        return []  # Yelp offers no replies through its API
    rules = list(
        (
            await session.execute(
                select(AutoReplyRule)
                .where(
                    AutoReplyRule.agency_id == place.agency_id,
                    AutoReplyRule.brand_id == place.brand_id,
                    AutoReplyRule.enabled.is_(True),
                )
                .order_by(AutoReplyRule.position, AutoReplyRule.id)
            )
        ).scalars()
    )
    if not rules:
        return []
    groups = set(
        (
            await session.execute(
                select(LocationGroupMember.group_id).where(
                    LocationGroupMember.agency_id == place.agency_id,
                    LocationGroupMember.location_id == place.location_id,
                )
            )
        ).scalars()
    )
    reviews = (
        await session.execute(
            select(Review).where(
                Review.agency_id == place.agency_id,
                Review.id.in_(review_ids),
                Review.reply_status == "none",
            )
        )
    ).scalars()
    location = await session.get(Location, (place.agency_id, place.location_id))
    brand = await session.get(Brand, (place.agency_id, place.brand_id))
    if location is None or brand is None:
        return []
    values = location_values(location)
    compiled = {rule.id: compile_reply(rule.template) for rule in rules}
    now = datetime.now(UTC)
    queued: list[uuid.UUID] = []
    for review in reviews:
        rule = next((r for r in rules if matches(r, review, groups)), None)
        if rule is None:
            continue
        text = render_reply(
            compiled[rule.id],
            location=values,
            brand_name=brand.name,
            author=review.author,
            rating=review.rating,
            source=review.source,
        )
        if not text:
            continue
        review.reply_text = text
        review.reply_origin = "auto"
        review.reply_rule_id = rule.id
        review.reply_requested_at = now
        review.reply_error = None
        if rule.requires_approval:
            review.reply_status = "pending_approval"
            review.reply_due_at = None
        else:
            review.reply_status = "queued"
            review.reply_due_at = now
            queued.append(review.id)
    return queued
