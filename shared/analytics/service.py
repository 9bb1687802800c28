"""Analytics over daily metrics and reviews: totals, time series, leaderboards, CSV export.

Brand, group and agency numbers read the rollups (``metric_rollup``: one row per scope, day
and channel, kept by the database as metrics arrive), so a brand's quarter is a few hundred
rows whatever its size; a location reads its own daily rows. Everything is then folded per
day and channel in Python, the same way for every scope, so a total means the same thing
everywhere.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, func, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import authorize
from shared.access.principal import Principal
from shared.analytics import schemas
from shared.billing import entitlements
from shared.billing.plans import Feature
from shared.brands import service as brand_service
from shared.csvwriter import write_rows
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.errors import FieldProblem, ValidationFailed
from shared.locations import service as location_service
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.metrics.models import METRIC_FIELDS, DailyMetric, MetricRollup
from shared.platforms.registry import PLATFORM_NAMES
from shared.reviews.models import PLATFORM_SOURCE, Review

MAX_DAYS = 731
DEFAULT_DAYS = 30
ADDITIVE = ("impressions", "reach", "engagements", "clicks", "posts_published")
EXPORT_BATCH = 5000
EXPORT_COLUMNS = (
    "date",
    "location_id",
    "location_ref",
    "location_name",
    "platform",
    *METRIC_FIELDS,
)


# Scope and period ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str  # agency | brand | group | location
    id: uuid.UUID
    name: str
    brand_id: uuid.UUID | None = None

    def out(self) -> schemas.ScopeOut:
        return schemas.ScopeOut(kind=self.kind, id=self.id, name=self.name)


async def scope_of(
    session: AsyncSession, principal: Principal, kind: str, scope_id: uuid.UUID | None
) -> Scope:
    """The scope, if the principal may read its metrics: 404 for what it cannot see, 403
    naming ``metric.read`` for what it sees but may not analyse. Agency-wide numbers need an
    agency-wide grant."""
    if kind == "brand" and scope_id is not None:
        brand = await brand_service.get_brand(session, principal, scope_id, "metric.read")
        return Scope("brand", brand.id, brand.name, brand.id)
    if kind == "group" and scope_id is not None:
        group = await location_service.get_group(session, principal, scope_id, "metric.read")
        return Scope("group", group.id, group.name, group.brand_id)
    if kind == "location" and scope_id is not None:
        location = await location_service.get_location(session, principal, scope_id, "metric.read")
        return Scope("location", location.id, location.name, location.brand_id)
    authorize(principal, "metric.read")
    return Scope("agency", principal.agency_id, "agency")


async def export_scope(
    session: AsyncSession, principal: Principal, kind: str, scope_id: uuid.UUID | None
) -> Scope:
    """``scope_of`` for a CSV export, which the agency's plan must include (402 naming it)."""
    scope = await scope_of(session, principal, kind, scope_id)
    await entitlements.require_feature(session, None, principal.agency_id, Feature.ANALYTICS_EXPORT)
    return scope


@dataclass(frozen=True, slots=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        """The same number of days, ending the day before this range starts."""
        end = self.start - timedelta(days=1)
        return DateRange(end - timedelta(days=self.days - 1), end)

    def out(self) -> schemas.Period:
        return schemas.Period(start=self.start, end=self.end)


def date_range(start: date | None, end: date | None, *, today: date | None = None) -> DateRange:
    """``from``/``to`` as given, both included; by default the last 30 complete days."""
    yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
    end = end or (yesterday if start is None else min(yesterday, start + timedelta(days=29)))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed(
            f"'from' ({start}) is after 'to' ({end}); give a 'from' on or before 'to'",
            errors=[FieldProblem("query.from", "must be on or before 'to'", "range_reversed")],
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(
            f"the range spans {(end - start).days + 1} days; ask for at most {MAX_DAYS} "
            "days at a time",
            errors=[FieldProblem("query.from", f"at most {MAX_DAYS} days", "range_too_long")],
        )
    return DateRange(start, end)


def check_platforms(platforms: Sequence[str] | None) -> list[str] | None:
    if not platforms:
        return None
    unknown = sorted(set(platforms) - set(PLATFORM_NAMES))
    if unknown:
        raise ValidationFailed(
            f"unknown platform {', '.join(repr(p) for p in unknown)}; use one of "
            + ", ".join(PLATFORM_NAMES),
            errors=[FieldProblem("query.platform", "unknown platform", "unknown_platform")],
        )
    return sorted(set(platforms))


# Reading the days ------------------------------------------------------------------------------


@dataclass(slots=True)
class DayRow:
    """One day and channel of a scope: per number, its sum and how many accounts gave it."""

    day: date
    platform: str
    sums: dict[str, int] = field(default_factory=dict)
    known: dict[str, int] = field(default_factory=dict)


def _raw_days(where: Iterable[ColumnElement[bool]], start: date, end: date) -> Select[Any]:
    columns: list[Any] = [DailyMetric.metric_on, DailyMetric.platform]
    for f in METRIC_FIELDS:
        column = getattr(DailyMetric, f)
        columns += [func.coalesce(func.sum(column), 0), func.count(column)]
    return (
        select(*columns)
        .where(*where, DailyMetric.metric_on.between(start, end))
        .group_by(DailyMetric.metric_on, DailyMetric.platform)
    )


def _rollup_days(
    scope: str, scope_id: uuid.UUID | None, agency_id: uuid.UUID, start: date, end: date
) -> Select[Any]:
    columns: list[Any] = [MetricRollup.metric_on, MetricRollup.platform]
    for f in METRIC_FIELDS:
        columns += [
            func.sum(getattr(MetricRollup, f)),
            func.sum(getattr(MetricRollup, f"{f}_n")),
        ]
    where = [
        MetricRollup.agency_id == agency_id,
        MetricRollup.scope == scope,
        MetricRollup.metric_on.between(start, end),
    ]
    if scope_id is not None:
        where.append(MetricRollup.scope_id == scope_id)
    return select(*columns).where(*where).group_by(MetricRollup.metric_on, MetricRollup.platform)


async def day_rows(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    start: date,
    end: date,
    platforms: Sequence[str] | None = None,
) -> list[DayRow]:
    if scope.kind == "location":
        stmt = _raw_days(
            [DailyMetric.agency_id == principal.agency_id, DailyMetric.location_id == scope.id],
            start,
            end,
        )
        if platforms:
            stmt = stmt.where(DailyMetric.platform.in_(platforms))
    else:
        kind = "group" if scope.kind == "group" else "brand"
        scope_id = None if scope.kind == "agency" else scope.id
        stmt = _rollup_days(kind, scope_id, principal.agency_id, start, end)
        if platforms:
            stmt = stmt.where(MetricRollup.platform.in_(platforms))
    out = []
    for row in await session.execute(stmt):
        day_row = DayRow(row[0], row[1])
        for i, f in enumerate(METRIC_FIELDS):
            day_row.sums[f] = int(row[2 + 2 * i] or 0)
            day_row.known[f] = int(row[3 + 2 * i] or 0)
        out.append(day_row)
    return out


# Folding -----------------------------------------------------------------------------------------


def totals(rows: Iterable[DayRow]) -> schemas.Totals:
    sums = dict.fromkeys(ADDITIVE, 0)
    known = dict.fromkeys(ADDITIVE, 0)
    followers_by_day: dict[date, int] = defaultdict(int)
    days: set[date] = set()
    for row in rows:
        days.add(row.day)
        for f in ADDITIVE:
            sums[f] += row.sums[f]
            known[f] += row.known[f]
        if row.known["followers"]:
            followers_by_day[row.day] += row.sums["followers"]
    values: dict[str, Any] = {f: sums[f] if known[f] else None for f in ADDITIVE}
    if followers_by_day:
        first, last = min(followers_by_day), max(followers_by_day)
        values["followers"] = followers_by_day[last]
        values["followers_change"] = followers_by_day[last] - followers_by_day[first]
    impressions, engagements = values["impressions"], values["engagements"]
    if impressions and engagements is not None:
        values["engagement_rate"] = round(engagements / impressions, 6)
    return schemas.Totals(**values, days_with_data=len(days))


COMPARED = ("followers", *ADDITIVE, "engagement_rate")


def change_pct(current: schemas.Totals, previous: schemas.Totals) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in COMPARED:
        now, before = getattr(current, name), getattr(previous, name)
        out[name] = None if now is None or not before else round((now - before) / before * 100, 2)
    return out


def _in(rows: Iterable[DayRow], span: DateRange) -> list[DayRow]:
    return [r for r in rows if span.start <= r.day <= span.end]


async def summary(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    span: DateRange,
    platforms: list[str] | None = None,
) -> schemas.SummaryOut:
    before = span.previous()
    rows = await day_rows(session, principal, scope, before.start, span.end, platforms)
    current, previous = _in(rows, span), _in(rows, before)
    now_totals, before_totals = totals(current), totals(previous)
    by_platform = []
    for platform in sorted({r.platform for r in rows}):
        mine = totals(r for r in current if r.platform == platform)
        theirs = totals(r for r in previous if r.platform == platform)
        by_platform.append(
            schemas.PlatformSummary(
                platform=platform, totals=mine, previous=theirs, change_pct=change_pct(mine, theirs)
            )
        )
    return schemas.SummaryOut(
        scope=scope.out(),
        period=span.out(),
        previous_period=before.out(),
        platforms=platforms,
        totals=now_totals,
        previous=before_totals,
        change_pct=change_pct(now_totals, before_totals),
        by_platform=by_platform,
    )


def buckets(span: DateRange, interval: str) -> list[DateRange]:
    """Calendar buckets (ISO weeks from Monday, months) clipped to the range."""
    out = []
    day = span.start
    while day <= span.end:
        if interval == "day":
            end = day
        elif interval == "week":
            end = day + timedelta(days=6 - day.weekday())
        else:
            following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            end = following - timedelta(days=1)
        end = min(end, span.end)
        out.append(DateRange(day, end))
        day = end + timedelta(days=1)
    return out


def _points(rows: list[DayRow], span: DateRange, interval: str) -> list[schemas.Point]:
    return [
        schemas.Point(start=b.start, end=b.end, totals=totals(_in(rows, b)))
        for b in buckets(span, interval)
    ]


async def timeseries(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    span: DateRange,
    interval: str,
    platforms: list[str] | None = None,
) -> schemas.TimeseriesOut:
    before = span.previous()
    rows = await day_rows(session, principal, scope, before.start, span.end, platforms)
    return schemas.TimeseriesOut(
        scope=scope.out(),
        interval=interval,
        period=span.out(),
        previous_period=before.out(),
        platforms=platforms,
        points=_points(rows, span, interval),
        previous_points=_points(rows, before, interval),
    )


# Leaderboards ------------------------------------------------------------------------------------

UNITS = {
    "engagement_rate": "ratio",
    "rating": "stars",
    "response_rate": "ratio",
    "response_time": "hours",
}
LOWER_IS_BETTER = frozenset({"response_time"})


def _locations_of(scope: Scope, agency_id: uuid.UUID, column: Any) -> list[ColumnElement[bool]]:
    """Conditions limiting ``column`` (a location id) to the scope's locations."""
    if scope.kind == "location":
        return [column == scope.id]
    if scope.kind == "group":
        members = select(LocationGroupMember.location_id).where(
            LocationGroupMember.agency_id == agency_id, LocationGroupMember.group_id == scope.id
        )
        return [column.in_(members)]
    return []


async def leaderboard(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    span: DateRange,
    metric: str,
    *,
    order: str = "best",
    limit: int = 10,
    platforms: list[str] | None = None,
) -> schemas.LeaderboardOut:
    """Locations ranked by ``metric`` over the range. Engagement rate needs impressions in
    the range; the review metrics rank locations with reviews written in the range (response
    time: with replies). Ties go to the larger sample, then the location id."""
    agency_id = principal.agency_id
    value: Any
    sample: Any
    if metric == "engagement_rate":
        sample = func.sum(DailyMetric.impressions)
        value = func.sum(DailyMetric.engagements).cast(Float) / func.nullif(sample, 0)
        where: list[ColumnElement[bool]] = [
            DailyMetric.agency_id == agency_id,
            DailyMetric.metric_on.between(span.start, span.end),
            *_locations_of(scope, agency_id, DailyMetric.location_id),
        ]
        if scope.brand_id is not None and scope.kind in ("brand", "group"):
            where.append(DailyMetric.brand_id == scope.brand_id)
        if platforms:
            where.append(DailyMetric.platform.in_(platforms))
        location_col: Any = DailyMetric.location_id
        having: ColumnElement[bool] = func.coalesce(sample, 0) > 0
    else:
        lo = datetime.combine(span.start, time.min, UTC)
        hi = datetime.combine(span.end + timedelta(days=1), time.min, UTC)
        where = [
            Review.agency_id == agency_id,
            Review.created_at >= lo,
            Review.created_at < hi,
            *_locations_of(scope, agency_id, Review.location_id),
        ]
        if scope.brand_id is not None and scope.kind in ("brand", "group"):
            where.append(Review.brand_id == scope.brand_id)
        if platforms:
            where.append(Review.source.in_([PLATFORM_SOURCE.get(p, p) for p in platforms]))
        location_col = Review.location_id
        replied = Review.replied_at.is_not(None)
        if metric == "rating":
            where.append(Review.rating.is_not(None))
            sample = func.count()
            value = func.avg(Review.rating).cast(Float)
        elif metric == "response_rate":
            sample = func.count()
            value = func.count().filter(replied).cast(Float) / func.count()
        else:
            where.append(replied)
            sample = func.count()
            value = func.avg(func.extract("epoch", Review.replied_at - Review.created_at)) / 3600
        having = sample > 0
    descending = (metric in LOWER_IS_BETTER) == (order == "worst")
    ranked = (
        select(location_col.label("location_id"), value.label("value"), sample.label("sample"))
        .where(*where)
        .group_by(location_col)
        .having(having)
        .subquery()
    )
    stmt = (
        select(ranked.c.location_id, Location.name, ranked.c.value, ranked.c.sample)
        .join(
            Location,
            and_(Location.agency_id == agency_id, Location.id == ranked.c.location_id),
        )
        .order_by(
            ranked.c.value.desc() if descending else ranked.c.value.asc(),
            ranked.c.sample.desc(),
            ranked.c.location_id,
        )
        .limit(limit)
    )
    entries = [
        schemas.LeaderboardEntry(
            rank=i,
            location_id=row.location_id,
            location_name=row.name,
            value=round(float(row.value), 6),
            sample=int(row.sample),
        )
        for i, row in enumerate((await session.execute(stmt)).all(), start=1)
    ]
    return schemas.LeaderboardOut(
        scope=scope.out(),
        metric=metric,
        order=order,
        unit=UNITS[metric],
        period=span.out(),
        platforms=platforms,
        entries=entries,
    )


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A location group's totals over a range, as its own summary counts them."""

    group_id: uuid.UUID
    name: str
    reach: int | None
    impressions: int | None
    engagements: int | None
    engagement_rate: float | None


async def group_board(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    span: DateRange,
    *,
    limit: int = 10,
    platforms: list[str] | None = None,
) -> list[GroupLine]:
    """The brand's location groups by engagement rate over the range (the best first; a
    group without impressions last, by name), read in one query from the groups' rollups,
    the rows each group's ``summary`` folds, so each line is what that summary says."""
    assert scope.kind == "brand"
    agency_id = principal.agency_id
    where: list[ColumnElement[bool]] = [
        MetricRollup.agency_id == agency_id,
        MetricRollup.scope == "group",
        MetricRollup.scope_id == LocationGroup.id,
        MetricRollup.metric_on.between(span.start, span.end),
    ]
    if platforms:
        where.append(MetricRollup.platform.in_(platforms))
    sums = [
        func.sum(getattr(MetricRollup, f)).label(f) for f in ("reach", "impressions", "engagements")
    ] + [
        func.sum(getattr(MetricRollup, f"{f}_n")).label(f"{f}_n")
        for f in ("reach", "impressions", "engagements")
    ]
    totals_of = select(*sums).where(*where).correlate(LocationGroup).lateral("totals")
    rate = totals_of.c.engagements.cast(Float) / func.nullif(totals_of.c.impressions, 0)
    stmt = (
        select(LocationGroup.id, LocationGroup.name, totals_of, rate.label("rate"))
        .join(totals_of, true())
        .where(LocationGroup.agency_id == agency_id, LocationGroup.brand_id == scope.id)
        .order_by(rate.desc().nulls_last(), LocationGroup.name, LocationGroup.id)
        .limit(limit)
    )
    out = []
    for row in (await session.execute(stmt)).all():
        known = {f: bool(getattr(row, f"{f}_n")) for f in ("reach", "impressions", "engagements")}
        values = {
            f: int(getattr(row, f)) if known[f] else None
            for f in ("reach", "impressions", "engagements")
        }
        impressions, engagements = values["impressions"], values["engagements"]
        out.append(
            GroupLine(
                row.id,
                row.name,
                values["reach"],
                impressions,
                engagements,
                round(engagements / impressions, 6)
                if impressions and engagements is not None
                else None,
            )
        )
    return out


# Export ------------------------------------------------------------------------------------------


def export_filename(scope: Scope, span: DateRange) -> str:
    return f"metrics-{scope.kind}-{scope.id}-{span.start}-{span.end}.csv"


async def export_csv(
    database: Database,
    principal: Principal,
    scope: Scope,
    span: DateRange,
    platforms: list[str] | None = None,
    *,
    batch_size: int = EXPORT_BATCH,
) -> AsyncIterator[str]:
    """Every daily row of the scope in the range (one line per location, channel and day),
    header first, in keyset batches, in a read-only transaction of its own (the request's
    has ended when the body streams). Numbers a platform did not give are empty cells."""
    agency_id = principal.agency_id
    async with database.sessionmaker() as session, session.begin():
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        await set_tenant(session, agency_id, principal.user_id)
        yield write_rows([EXPORT_COLUMNS])
        where: list[ColumnElement[bool]] = [
            DailyMetric.agency_id == agency_id,
            DailyMetric.metric_on.between(span.start, span.end),
            *_locations_of(scope, agency_id, DailyMetric.location_id),
        ]
        if scope.kind in ("brand", "group") and scope.brand_id is not None:
            where.append(DailyMetric.brand_id == scope.brand_id)
        if platforms:
            where.append(DailyMetric.platform.in_(platforms))
        stmt = (
            select(
                DailyMetric.metric_on,
                DailyMetric.account_id,
                DailyMetric.location_id,
                Location.external_ref,
                Location.name,
                DailyMetric.platform,
                *(getattr(DailyMetric, f) for f in METRIC_FIELDS),
            )
            .join(
                Location,
                and_(Location.agency_id == agency_id, Location.id == DailyMetric.location_id),
            )
            .where(*where)
            .order_by(DailyMetric.metric_on, DailyMetric.account_id)
            .limit(batch_size)
        )
        last: tuple[date, uuid.UUID] | None = None
        while True:
            page = stmt
            if last is not None:
                page = stmt.where(tuple_(DailyMetric.metric_on, DailyMetric.account_id) > last)
            rows = (await session.execute(page)).all()
            if not rows:
                return
            yield write_rows(
                [
                    row[0].isoformat(),
                    str(row[2]),
                    row[3],
                    row[4],
                    row[5],
                    *row[6:],
                ]
                for row in rows
            )
            if len(rows) < batch_size:
                return
            last = (rows[-1][0], rows[-1][1])
