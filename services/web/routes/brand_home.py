"""The brand home: what needs head office now, for the brand the person looks at (``/`` for
someone with brands and no location of their own).

Posts waiting on the brand's approval, failed posts by campaign, social accounts that need
reconnecting, reviews that need an answer and the campaigns under way, each linking where it
is fixed. Read in a fixed number of queries whatever the brand holds (counts and windowed
first rows, never one query per location or campaign); each card only for readers of what it
counts (the policy's ``allowed`` on the brand, loaded first as the API loads it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.web.deps import Viewer
from services.web.i18n import N_
from services.web.post_words import PLATFORM_NAMES
from services.web.rendering import render
from shared import clock
from shared.access.policy import Target, allowed
from shared.brands import service as brand_service
from shared.campaigns.models import Campaign
from shared.locations.models import Location
from shared.posts.models import Post
from shared.reviews.models import UNANSWERED, Review
from shared.social_accounts.models import SocialAccount

PER_LIST = 5
FAILED_WITHIN = timedelta(days=14)
"""Failed posts stay on the home page this long (the calendar keeps them all)."""
UNDER_WAY = ("launching", "running", "paused")
CAMPAIGN_STATUS_NAMES = {
    "launching": N_("Launching"),
    "running": N_("Running"),
    "paused": N_("Paused"),
}
STILL_TO_GO = ("needs_approval", "approved", "scheduled", "queued")


@dataclass(frozen=True, slots=True)
class Waiting:
    id: uuid.UUID
    platform: str
    location_name: str
    scheduled_at: datetime | None
    text: str


@dataclass(frozen=True, slots=True)
class Failed:
    campaign_id: uuid.UUID | None
    campaign_name: str | None
    count: int


@dataclass(frozen=True, slots=True)
class Running:
    id: uuid.UUID
    name: str
    status: str
    published: int
    total: int
    next_at: datetime | None


@dataclass(slots=True)
class BrandHome:
    brand_id: uuid.UUID
    brand_name: str
    waiting: list[Waiting] = field(default_factory=list)
    waiting_total: int = 0
    can_approve: bool = False
    failed: list[Failed] = field(default_factory=list)
    failed_total: int = 0
    reconnect_accounts: int = 0
    reconnect_locations: int = 0
    reviews_to_answer: int = 0
    campaigns: list[Running] = field(default_factory=list)
    campaigns_total: int = 0
    reads_campaigns: bool = False

    @property
    def nothing_needed(self) -> bool:
        return not (
            self.waiting or self.failed or self.reconnect_accounts or self.reviews_to_answer
        )


async def load(session: AsyncSession, viewer: Viewer, brand_id: uuid.UUID) -> BrandHome:
    principal = viewer.principal
    brand = await brand_service.get_brand(session, principal, brand_id)
    target = Target(brand_id=brand.id)
    home = BrandHome(brand.id, brand.name, can_approve=allowed(principal, "post.approve", target))
    agency_id = principal.agency_id
    if allowed(principal, "post.read", target):
        await _waiting(session, agency_id, brand.id, home)
        await _failed(session, agency_id, brand.id, home)
    if allowed(principal, "social_account.read", target):
        row = (
            await session.execute(
                select(func.count(), func.count(func.distinct(SocialAccount.location_id))).where(
                    SocialAccount.agency_id == agency_id,
                    SocialAccount.brand_id == brand.id,
                    SocialAccount.status == "needs_reconnect",
                )
            )
        ).one()
        home.reconnect_accounts, home.reconnect_locations = int(row[0]), int(row[1])
    if allowed(principal, "review.read", target):
        home.reviews_to_answer = int(
            await session.scalar(
                select(func.count()).where(
                    Review.agency_id == agency_id,
                    Review.brand_id == brand.id,
                    Review.needs_attention.is_(True),
                    Review.reply_status.in_(UNANSWERED),  # as /brand/reviews?needs_answer=1
                )
            )
            or 0
        )
    if allowed(principal, "campaign.read", target):
        home.reads_campaigns = True
        await _campaigns(session, agency_id, brand.id, home)
    return home


async def _waiting(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, home: BrandHome
) -> None:
    """The posts waiting on the brand's approval, the soonest due first, with how many."""
    rows = await session.execute(
        select(
            Post.id,
            Post.platform,
            Location.name,
            Post.scheduled_at,
            func.left(Post.text, 140),
            func.count().over().label("total"),
        )
        .join(Location, and_(Location.agency_id == Post.agency_id, Location.id == Post.location_id))
        .where(
            Post.agency_id == agency_id,
            Post.brand_id == brand_id,
            Post.status == "needs_approval",
            Post.approval_kind == "brand",
        )
        .order_by(Post.scheduled_at.asc().nulls_last(), Post.id)
        .limit(PER_LIST)
    )
    for row in rows.all():
        home.waiting.append(Waiting(row[0], row[1], row[2], row[3], row[4]))
        home.waiting_total = int(row.total)


async def _failed(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, home: BrandHome
) -> None:
    """Recently failed posts counted by campaign (a location's own posts: no campaign), the
    campaigns with the most first, and how many failed in all."""
    failed = func.count()
    rows = await session.execute(
        select(
            Post.campaign_id,
            Campaign.name,
            failed,
            func.sum(failed).over().label("total"),
        )
        .select_from(Post)
        .outerjoin(
            Campaign, and_(Campaign.agency_id == Post.agency_id, Campaign.id == Post.campaign_id)
        )
        .where(
            Post.agency_id == agency_id,
            Post.brand_id == brand_id,
            Post.status == "failed",
            Post.updated_at >= clock.now() - FAILED_WITHIN,
        )
        .group_by(Post.campaign_id, Campaign.name)
        .order_by(failed.desc(), Campaign.name, Post.campaign_id)
        .limit(PER_LIST)
    )
    for row in rows.all():
        home.failed.append(Failed(row[0], row[1], int(row[2])))
        home.failed_total = int(row.total)


async def _campaigns(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, home: BrandHome
) -> None:
    """Campaigns under way, the one whose next post goes out soonest first, with their
    published posts of all: one query (the posts counted per campaign in a subquery)."""
    now = clock.now()
    counts = (
        select(
            Post.campaign_id.label("campaign_id"),
            func.count().label("total"),
            func.count().filter(Post.status == "published").label("published"),
            func.min(Post.scheduled_at)
            .filter(Post.status.in_(STILL_TO_GO), Post.scheduled_at >= now)
            .label("next_at"),
        )
        .where(
            Post.agency_id == agency_id,
            Post.brand_id == brand_id,
            Post.campaign_id.in_(
                select(Campaign.id).where(
                    Campaign.agency_id == agency_id,
                    Campaign.brand_id == brand_id,
                    Campaign.status.in_(UNDER_WAY),
                )
            ),
        )
        .group_by(Post.campaign_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.status,
            func.coalesce(counts.c.published, 0),
            func.coalesce(counts.c.total, 0),
            counts.c.next_at,
            func.count().over().label("n"),
        )
        .outerjoin(counts, counts.c.campaign_id == Campaign.id)
        .where(
            Campaign.agency_id == agency_id,
            Campaign.brand_id == brand_id,
            Campaign.status.in_(UNDER_WAY),
        )
        .order_by(counts.c.next_at.asc().nulls_last(), Campaign.name, Campaign.id)
        .limit(PER_LIST)
    )
    for row in rows.all():
        home.campaigns.append(Running(row[0], row[1], row[2], int(row[3]), int(row[4]), row[5]))
        home.campaigns_total = int(row.n)


async def page(request: Request, viewer: Viewer, session: AsyncSession) -> Response:
    assert viewer.brand is not None
    home = await load(session, viewer, viewer.brand.id)
    return render(
        request,
        "brand_home/index.html",
        {
            "home": home,
            "platform_names": PLATFORM_NAMES,
            "campaign_status_names": CAMPAIGN_STATUS_NAMES,
        },
    )
