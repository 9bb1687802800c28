"""The brand's reply templates offered to whoever answers a review by hand.

A brand's auto-reply rules carry its reply templates. A location's people may not read the
rules themselves (their conditions are ``brand_rules.read``), but whoever may answer a review
(``review.reply`` at its location) is offered the text of the brand's enabled templates that
fit the review (its source, its rating, the location's groups), rendered for it, to start a
reply from. Nothing is sent: the person edits the text and replies as usual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.principal import Principal
from shared.brands.models import Brand
from shared.errors import ValidationFailed
from shared.locations.models import Location, LocationGroupMember
from shared.reviews.autoreply import location_values
from shared.reviews.models import AutoReplyRule, Review
from shared.reviews.service import get_review
from shared.reviews.templates import compile_reply, render_reply
from shared.templating import TemplateError


@dataclass(frozen=True, slots=True)
class ReplyTemplate:
    id: uuid.UUID
    name: str
    text: str


def fits(rule: AutoReplyRule, review: Review, groups: set[uuid.UUID]) -> bool:
    """The rule's source, rating range and group, as an auto-reply matches (but for reviews
    written before the rule too: a person chooses)."""
    if rule.sources and review.source not in rule.sources:
        return False
    if rule.group_id is not None and rule.group_id not in groups:
        return False
    if review.rating is None:
        return rule.min_rating == 1 and rule.max_rating == 5
    return rule.min_rating <= review.rating <= rule.max_rating


async def reply_templates(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID
) -> list[ReplyTemplate]:
    """The templates that fit the review, in the rules' order, rendered for it; 404/403 as
    answering the review would be. A template that renders empty is left out."""
    review = await get_review(session, principal, review_id, "review.reply")
    agency_id = principal.agency_id
    rules = list(
        (
            await session.execute(
                select(AutoReplyRule)
                .where(
                    AutoReplyRule.agency_id == agency_id,
                    AutoReplyRule.brand_id == review.brand_id,
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
                    LocationGroupMember.agency_id == agency_id,
                    LocationGroupMember.location_id == review.location_id,
                )
            )
        ).scalars()
    )
    location = await session.get(Location, (agency_id, review.location_id))
    brand = await session.get(Brand, (agency_id, review.brand_id))
    if location is None or brand is None:
        return []
    values = location_values(location)
    out = []
    for rule in rules:
        if not fits(rule, review, groups):
            continue
        try:
            text = render_reply(
                compile_reply(rule.template),
                location=values,
                brand_name=brand.name,
                author=review.author,
                rating=review.rating,
                source=review.source,
            )
        except (TemplateError, ValidationFailed):
            continue
        if text:
            out.append(ReplyTemplate(rule.id, rule.name, text))
    return out
