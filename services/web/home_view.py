"""What the home page shows a location's people: what needs them now, read in a fixed number
of queries whatever the location holds (the needs service's few counts, and one query for the
posts of all three lists, each cut to its first few by a window function)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.web.deps import LocationChoice, Viewer
from shared import clock
from shared.access.policy import Target, allowed
from shared.locations import needs as location_needs
from shared.posts.models import Post

PER_LIST = 5
FAILED_WITHIN = timedelta(days=14)
"""Failed posts stay on the home page this long (the calendar keeps them all)."""
NEXT = ("approved", "scheduled", "queued")


@dataclass(frozen=True, slots=True)
class PostLine:
    id: uuid.UUID
    platform: str
    status: str
    scheduled_at: datetime | None
    text: str
    last_error: str | None


@dataclass(slots=True)
class Home:
    to_confirm: list[PostLine] = field(default_factory=list)
    to_confirm_total: int = 0
    failed: list[PostLine] = field(default_factory=list)
    failed_total: int = 0
    next_up: list[PostLine] = field(default_factory=list)
    connect: list[tuple[str, str, int]] = field(default_factory=list)
    """(platform, "connect" or "reconnect", upcoming posts it holds back)."""
    reviews_to_answer: int = 0
    can_confirm: bool = False

    @property
    def nothing_needed(self) -> bool:
        return not (self.to_confirm or self.failed or self.connect or self.reviews_to_answer)


async def load(session: AsyncSession, viewer: Viewer, location: LocationChoice) -> Home:
    principal = viewer.principal
    target = Target(brand_id=location.brand_id, location_id=location.id)
    home = Home(can_confirm=allowed(principal, "post.confirm", target))
    needs = await location_needs.location_needs(session, principal, location.id)
    for item in needs.items:
        if item.kind in ("connect_account", "reconnect_account") and item.platform:
            kind = "connect" if item.kind == "connect_account" else "reconnect"
            home.connect.append((item.platform, kind, item.count))
        elif item.kind == "answer_reviews":
            home.reviews_to_answer = item.count
    if allowed(principal, "post.read", target):
        await _posts(session, principal.agency_id, location.id, home)
    return home


async def _posts(
    session: AsyncSession, agency_id: uuid.UUID, location_id: uuid.UUID, home: Home
) -> None:
    now = clock.now()
    kind = case(
        (and_(Post.status == "needs_approval", Post.approval_kind == "location"), "confirm"),
        (Post.status == "failed", "failed"),
        else_="next",
    )
    order = case(
        (Post.status == "failed", -func.extract("epoch", Post.updated_at)),
        else_=func.extract("epoch", func.coalesce(Post.scheduled_at, Post.created_at)),
    )
    ranked = (
        select(
            Post.id,
            Post.platform,
            Post.status,
            Post.scheduled_at,
            func.left(Post.text, 140).label("text"),
            func.left(Post.last_error, 300).label("last_error"),
            kind.label("kind"),
            func.row_number().over(partition_by=kind, order_by=(order, Post.id)).label("n"),
            func.count().over(partition_by=kind).label("total"),
        )
        .where(
            Post.agency_id == agency_id,
            Post.location_id == location_id,
            or_(
                and_(Post.status == "needs_approval", Post.approval_kind == "location"),
                and_(Post.status == "failed", Post.updated_at >= now - FAILED_WITHIN),
                and_(Post.status.in_(NEXT), Post.scheduled_at >= now),
            ),
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked).where(ranked.c.n <= PER_LIST).order_by(ranked.c.kind, ranked.c.n)
    )
    for row in rows:
        line = PostLine(
            row.id, row.platform, row.status, row.scheduled_at, row.text, row.last_error
        )
        if row.kind == "confirm":
            home.to_confirm.append(line)
            home.to_confirm_total = row.total
        elif row.kind == "failed":
            home.failed.append(line)
            home.failed_total = row.total
        else:
            home.next_up.append(line)
