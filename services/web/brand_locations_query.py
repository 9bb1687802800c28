"""What the brand's location pages read: one page of the brand's locations with the filters
of the list (search on name, code and city; group, status, country, city, account health),
the totals of the same filters, and for the rows shown their groups and account health.

Every statement starts from the repositories' scoped helpers (``visible_locations``,
``scoped``): the agency of the principal and the reach of its grants. Each page reads a fixed
number of statements whatever the number of rows (tests/web/test_brand_locations_pages.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.principal import Principal
from shared.locations import repository
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.locations.repository import LocationFilter
from shared.posts.models import Post
from shared.reviews.models import Review
from shared.social_accounts.models import SocialAccount
from shared.tenancy import scoped

PAGE_SIZE = 50
NEEDS_RECONNECT = "needs_reconnect"
NO_ACCOUNT = "no_account"
HEALTHS = (NEEDS_RECONNECT, NO_ACCOUNT)


@dataclass(frozen=True, slots=True)
class ListFilter:
    brand_id: uuid.UUID
    q: str = ""
    group_id: uuid.UUID | None = None
    status: str | None = None
    country: str | None = None
    city: str | None = None
    health: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    id: uuid.UUID
    name: str
    external_ref: str | None
    city: str
    country: str
    status: str
    groups: list[str]
    connected: int
    needs_reconnect: int


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[Row]
    matching: int
    active: int
    page: int
    """The page shown: the one asked for, or the last one when it asked past the end."""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(principal: Principal, f: ListFilter) -> Select[Any]:
    stmt = repository.filtered(
        repository.visible_locations(principal),
        LocationFilter(
            brand_id=f.brand_id,
            group_id=f.group_id,
            status=f.status,
            country=f.country,
            city=f.city,
        ),
        principal,
    )
    if f.q:
        pattern = _like(f.q)
        stmt = stmt.where(
            or_(
                Location.name.ilike(pattern, escape="\\"),
                Location.external_ref.ilike(pattern, escape="\\"),
                Location.city.ilike(pattern, escape="\\"),
            )
        )
    if f.health == NEEDS_RECONNECT:
        stmt = stmt.where(
            exists().where(
                SocialAccount.agency_id == Location.agency_id,
                SocialAccount.location_id == Location.id,
                SocialAccount.status == NEEDS_RECONNECT,
            )
        )
    if f.health == NO_ACCOUNT:
        stmt = stmt.where(
            ~exists().where(
                SocialAccount.agency_id == Location.agency_id,
                SocialAccount.location_id == Location.id,
                SocialAccount.status != "revoked",
            )
        )
    return stmt


async def totals(session: AsyncSession, principal: Principal, f: ListFilter) -> tuple[int, int]:
    """How many locations match, and how many of them are active (one statement)."""
    found = _matching(principal, f).with_only_columns(Location.status).subquery()
    row = (
        await session.execute(
            select(func.count(), func.count().filter(found.c.status == "active")).select_from(found)
        )
    ).one()
    return int(row[0]), int(row[1])


async def listing(
    session: AsyncSession, principal: Principal, f: ListFilter, *, page: int, size: int = PAGE_SIZE
) -> Listing:
    """Page ``page`` (from 1) by name, each row with its groups and its accounts' health (one
    statement: the page's rows are chosen first, by the name index, then each joined to its
    group names and account counts), and the totals (a second one)."""
    matching, active = await totals(session, principal, f)
    page = max(1, min(page, -(-matching // size)))
    chosen = (
        _matching(principal, f)
        .with_only_columns(
            Location.agency_id,
            Location.id,
            Location.name,
            Location.external_ref,
            Location.city,
            Location.country,
            Location.status,
        )
        .order_by(Location.name, Location.id)
        .offset((page - 1) * size)
        .limit(size)
        .subquery("chosen")
    )
    groups = (
        scoped(LocationGroup, principal)
        .with_only_columns(
            func.coalesce(
                func.array_agg(aggregate_order_by(LocationGroup.name, LocationGroup.name)),
                text("'{}'::text[]"),
            ).label("names")
        )
        .select_from(LocationGroup)
        .join(
            LocationGroupMember,
            (LocationGroupMember.agency_id == LocationGroup.agency_id)
            & (LocationGroupMember.group_id == LocationGroup.id),
        )
        .where(
            LocationGroupMember.agency_id == chosen.c.agency_id,
            LocationGroupMember.location_id == chosen.c.id,
        )
        .lateral("groups")
    )
    health = (
        scoped(SocialAccount, principal)
        .with_only_columns(
            func.count().filter(SocialAccount.status == "connected").label("connected"),
            func.count().filter(SocialAccount.status == NEEDS_RECONNECT).label("reconnect"),
        )
        .where(
            SocialAccount.agency_id == chosen.c.agency_id,
            SocialAccount.location_id == chosen.c.id,
        )
        .lateral("health")
    )
    stmt = (
        select(chosen, groups.c.names, health.c.connected, health.c.reconnect)
        .select_from(chosen)
        .join(groups, true())
        .join(health, true())
        .order_by(chosen.c.name, chosen.c.id)
    )
    rows = [
        Row(
            id=r.id,
            name=r.name,
            external_ref=r.external_ref,
            city=r.city,
            country=r.country,
            status=r.status,
            groups=list(r.names),
            connected=int(r.connected),
            needs_reconnect=int(r.reconnect),
        )
        for r in (await session.execute(stmt)).all()
    ]
    return Listing(rows, matching, active, page)


async def countries(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> list[str]:
    """The countries the brand's locations are in (the country filter's choices)."""
    stmt = (
        repository.visible_locations(principal)
        .with_only_columns(Location.country)
        .where(Location.brand_id == brand_id)
        .distinct()
        .order_by(Location.country)
    )
    return [str(c) for c in (await session.execute(stmt)).scalars()]


async def member_counts(
    session: AsyncSession, principal: Principal, group_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not group_ids:
        return {}
    stmt = (
        select(LocationGroupMember.group_id, func.count())
        .where(
            LocationGroupMember.agency_id == principal.agency_id,
            LocationGroupMember.group_id.in_(group_ids),
        )
        .group_by(LocationGroupMember.group_id)
    )
    return {g: int(n) for g, n in (await session.execute(stmt)).all()}


async def location_groups(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> list[LocationGroup]:
    stmt = (
        scoped(LocationGroup, principal)
        .join(
            LocationGroupMember,
            (LocationGroupMember.agency_id == LocationGroup.agency_id)
            & (LocationGroupMember.group_id == LocationGroup.id),
        )
        .where(LocationGroupMember.location_id == location_id)
        .order_by(LocationGroup.name)
    )
    return list((await session.execute(stmt)).scalars())


async def accounts_of(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> list[SocialAccount]:
    stmt = (
        scoped(SocialAccount, principal)
        .where(SocialAccount.location_id == location_id)
        .order_by(SocialAccount.platform)
    )
    return list((await session.execute(stmt)).scalars())


UPCOMING = ("needs_approval", "approved", "scheduled", "queued")


async def next_posts(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID, limit: int = 5
) -> list[Post]:
    stmt = (
        scoped(Post, principal)
        .where(Post.location_id == location_id, Post.status.in_(UPCOMING))
        .order_by(Post.scheduled_at.asc().nulls_last(), Post.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def last_posts(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID, limit: int = 5
) -> list[Post]:
    stmt = (
        scoped(Post, principal)
        .where(Post.location_id == location_id, Post.published_at.is_not(None))
        .order_by(Post.published_at.desc(), Post.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def rating(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> tuple[int, float | None]:
    """How many reviews the location has, and their average rating (None without stars)."""
    stmt = (
        scoped(Review, principal)
        .with_only_columns(func.count(), func.avg(Review.rating))
        .where(Review.location_id == location_id)
    )
    n, avg = (await session.execute(stmt)).one()
    return int(n), (float(avg) if avg is not None else None)
