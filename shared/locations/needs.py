"""What needs a location's people: accounts to connect or reconnect before upcoming posts
come due, campaign posts to confirm, negative reviews to answer. Counted in three small
queries on indexed columns; each kind is shown only to readers of what it counts."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, allowed
from shared.access.principal import Principal
from shared.content.platforms import PLATFORMS
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.locations.schemas import LocationNeedsOut, NeedAction, NeedOut
from shared.posts import readiness
from shared.posts.models import Post
from shared.reviews.models import UNANSWERED, Review

UPCOMING = ("draft", "needs_approval", "approved", "scheduled", "queued")
"""Posts that have not gone out, and whose account is looked at only when they do."""


def _posts(n: int) -> str:
    return f"{n} upcoming post{'' if n == 1 else 's'}"


async def _post_counts(session: AsyncSession, location: Location) -> tuple[dict[str, int], int]:
    """Upcoming posts by platform, and posts waiting for the location's confirmation."""
    to_confirm = and_(Post.status == "needs_approval", Post.approval_kind == "location")
    rows = await session.execute(
        select(Post.platform, func.count(), func.count().filter(to_confirm))
        .where(
            Post.agency_id == location.agency_id,
            Post.location_id == location.id,
            Post.status.in_(UPCOMING),
        )
        .group_by(Post.platform)
    )
    upcoming: dict[str, int] = {}
    confirm = 0
    for platform, n, waiting in rows.all():
        upcoming[str(platform)] = int(n)
        confirm += int(waiting)
    return upcoming, confirm


def _account_needs(
    location: Location, upcoming: dict[str, int], statuses: dict[str, str]
) -> list[NeedOut]:
    needs: list[NeedOut] = []
    for platform in PLATFORMS:
        code = readiness.problem_of(statuses.get(platform))
        n = upcoming.get(platform, 0)
        path = readiness.connect_path(location.id, platform)
        if code == "no_connected_account" and n:
            needs.append(
                NeedOut(
                    kind="connect_account",
                    platform=platform,
                    count=n,
                    detail=f"{_posts(n)} on {platform} will be skipped when "
                    f"{'it is' if n == 1 else 'they are'} due: "
                    f"{location.name} has no connected {platform} account",
                    action=NeedAction(
                        label=f"connect the location's {platform} account", method="POST", path=path
                    ),
                )
            )
        elif code == "account_needs_reconnect":
            detail = f"the {platform} account needs reconnecting: the platform stopped accepting it"
            detail += f"; {_posts(n)} on {platform} will fail until then" if n else ""
            needs.append(
                NeedOut(
                    kind="reconnect_account",
                    platform=platform,
                    count=n,
                    detail=detail,
                    action=NeedAction(
                        label=f"reconnect the {platform} account", method="POST", path=path
                    ),
                )
            )
    return needs


async def _reviews_to_answer(session: AsyncSession, location: Location) -> int:
    value = await session.scalar(
        select(func.count()).where(
            Review.agency_id == location.agency_id,
            Review.location_id == location.id,
            Review.needs_attention.is_(True),
            Review.reply_status.in_(UNANSWERED),  # as the needs-attention list it links to
        )
    )
    return int(value or 0)


async def location_needs(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> LocationNeedsOut:
    location = await location_service.get_location(session, principal, location_id)
    target = Target(brand_id=location.brand_id, location_id=location.id)
    items: list[NeedOut] = []
    if allowed(principal, "post.read", target):
        upcoming, confirm = await _post_counts(session, location)
        if allowed(principal, "social_account.read", target):
            statuses = await readiness.account_statuses(session, location, list(PLATFORMS))
            items += _account_needs(location, upcoming, statuses)
        if confirm:
            items.append(
                NeedOut(
                    kind="confirm_posts",
                    platform=None,
                    count=confirm,
                    detail=f"{confirm} campaign post{'' if confirm == 1 else 's'} wait for "
                    "the location's confirmation; a post not confirmed by its time is skipped",
                    action=NeedAction(
                        label="confirm or reject them",
                        method="GET",
                        path=f"/v1/locations/{location.id}/approvals",
                    ),
                )
            )
    if allowed(principal, "review.read", target):
        reviews = await _reviews_to_answer(session, location)
        if reviews:
            items.append(
                NeedOut(
                    kind="answer_reviews",
                    platform=None,
                    count=reviews,
                    detail=f"{reviews} negative review{'' if reviews == 1 else 's'} not "
                    "answered yet",
                    action=NeedAction(
                        label="answer them",
                        method="GET",
                        path=f"/v1/locations/{location.id}/reviews/needs-attention",
                    ),
                )
            )
    return LocationNeedsOut(location_id=location.id, items=items)
