"""Collecting each connected account's daily numbers and storing them on their natural key.

The cursor is the data itself: the newest stored day of an account. A run fetches from the day
after it, and always re-fetches the last ``REVISE_DAYS`` (platforms revise recent numbers), up
to yesterday (UTC: the last complete day). An account without any stored day is backfilled
``backfill_days`` (``CHORUS_METRICS_BACKFILL_DAYS``, 30 by default) — this is how the first
collection after connecting fills the past month.

The HTTP call to the platform runs outside any transaction; only the read before it and the
upsert after it hold one. Rollups follow in the database (see ``shared.metrics.models``).

The same run then collects the lifetime numbers of the account's own posts (``published`` by
Chorus, with an external id, in the last ``POST_WINDOW_DAYS``), in batches as large as the
platform's lookup takes, upserted on (agency, post). That part never fails the account's
collection: a failure is logged and the next day tries again (an auth failure marks the
account ``needs_reconnect`` like the account part does).

When numbers first appear:

- an account's past ``backfill_days`` a minute or so after it connects (the connect path
  queues a backfill, paced at a couple per second across all accounts connecting at once);
- a post's own numbers 5 to 10 minutes after it is published: the ``post.published`` event
  queues one ``metrics.collect_posts`` per account and five-minute window, deferred to the
  window's end plus ``POSTS_DELAY_S``, so a campaign publishing many posts through one
  account reads them in one run, not one per post;
- then every day (the daily run, staggered over ``SPREAD_S`` from 01:05 UTC), for days until
  yesterday and posts of the last ``POST_WINDOW_DAYS``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import structlog
from redis.asyncio import Redis
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database, retry
from shared.db.hooks import after_commit
from shared.jobs import enqueue
from shared.metrics.models import METRIC_FIELDS, POST_METRIC_FIELDS, DailyMetric, PostMetric
from shared.platforms import registry
from shared.platforms.base import Connector
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.types import AccountAuth, DailyMetrics, PostMetrics
from shared.posts.models import Post
from shared.social_accounts import refresh, sealing
from shared.social_accounts.models import SocialAccount

log = structlog.get_logger("chorus.metrics")

BACKFILL_DAYS = 30
MAX_DAYS_PER_RUN = 90
"""An account silent for longer catches up at most this far back in one run."""
REVISE_DAYS = 3
UPSERT_BATCH = 1000
POST_WINDOW_DAYS = 30
"""Posts published longer ago than this are no longer followed."""
SCAN_NAME = refresh.SCAN_NAME
"""The social-account scan policy (ids of every agency's accounts, read-only) is reused."""

COLLECT_JOB = "metrics.collect_account"
BACKFILL_JOB = "metrics.backfill_account"
POSTS_JOB = "metrics.collect_posts"
POSTS_DELAY_S = 300
"""A post's first numbers are read this long after the end of the five-minute window it was
published in: its first views are counted by then, and the window's other posts of the same
account share the run."""


class Outcome(StrEnum):
    COLLECTED = "collected"
    UP_TO_DATE = "up_to_date"
    GONE = "gone"  # deleted, or not connected any more
    UNSUPPORTED = "unsupported"
    NEEDS_RECONNECT = "needs_reconnect"
    RETRY_LATER = "retry_later"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class CollectResult:
    outcome: Outcome
    days: int = 0
    retry_after: float | None = None
    posts: int = 0
    """Posts whose numbers were stored."""


def backfill_days(settings: Settings) -> int:
    return int(getattr(settings, "metrics_backfill_days", BACKFILL_DAYS))


def window(
    last: date | None, today: date, *, backfill: int = BACKFILL_DAYS
) -> tuple[date, date] | None:
    """The days to fetch, both included; None when there is nothing new to ask for."""
    until = today - timedelta(days=1)
    if last is None:
        since = until - timedelta(days=max(backfill, 1) - 1)
    else:
        since = min(last + timedelta(days=1), until - timedelta(days=REVISE_DAYS - 1))
        since = max(since, until - timedelta(days=MAX_DAYS_PER_RUN - 1))
    return (since, until) if since <= until else None


def _has_numbers(row: DailyMetrics) -> bool:
    return any(getattr(row, f) is not None for f in METRIC_FIELDS)


async def upsert_days(
    session: AsyncSession, account: SocialAccount, rows: Sequence[DailyMetrics]
) -> int:
    """Store ``rows`` for ``account`` on (agency, account, day): a day seen again replaces the
    stored numbers, and only when they changed (an unchanged row is not rewritten, so the
    rollups are not touched). Days with no number at all are not stored. Returns the days
    given numbers."""
    values = [
        {
            "agency_id": account.agency_id,
            "account_id": account.id,
            "metric_on": row.day,
            "brand_id": account.brand_id,
            "location_id": account.location_id,
            "platform": account.platform,
            **{f: getattr(row, f) for f in METRIC_FIELDS},
        }
        for row in sorted(rows, key=lambda r: r.day)
        if _has_numbers(row)
    ]
    for start in range(0, len(values), UPSERT_BATCH):
        stmt = insert(DailyMetric).values(values[start : start + UPSERT_BATCH])
        changed = tuple_(*(getattr(DailyMetric, f) for f in METRIC_FIELDS)).is_distinct_from(
            tuple_(*(getattr(stmt.excluded, f) for f in METRIC_FIELDS))
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["agency_id", "account_id", "metric_on"],
                set_={
                    **{f: getattr(stmt.excluded, f) for f in METRIC_FIELDS},
                    "collected_at": func.now(),
                },
                where=changed,
            )
        )
    return len(values)


async def _load(
    session: AsyncSession, agency_id: uuid.UUID, account_id: uuid.UUID
) -> SocialAccount | None:
    return (
        await session.execute(
            select(SocialAccount).where(
                SocialAccount.agency_id == agency_id, SocialAccount.id == account_id
            )
        )
    ).scalar_one_or_none()


async def last_day(
    session: AsyncSession, agency_id: uuid.UUID, account_id: uuid.UUID
) -> date | None:
    day: date | None = await session.scalar(
        select(func.max(DailyMetric.metric_on)).where(
            DailyMetric.agency_id == agency_id, DailyMetric.account_id == account_id
        )
    )
    return day


async def collect_account(
    db: Database,
    settings: Settings,
    agency_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    today: date | None = None,
    backfill: int | None = None,
) -> CollectResult:
    """Fetch and store one account's new days. Safe to run twice (natural key, and the second
    run re-fetches only the revision window)."""
    today = today or datetime.now(UTC).date()
    keyring = keyring_from_settings(settings)
    async with db.transaction(agency_id) as session:
        account = await _load(session, agency_id, account_id)
        if account is None or account.status != "connected":
            return CollectResult(Outcome.GONE)
        span = window(
            await last_day(session, agency_id, account_id),
            today,
            backfill=backfill if backfill is not None else backfill_days(settings),
        )
        auth = sealing.account_auth(account, keyring)
        platform = account.platform
    bound = log.bind(account_id=str(account_id), platform=platform)
    connector = registry.connector(platform, settings)
    if span is None:
        result = CollectResult(Outcome.UP_TO_DATE)
    else:
        since, until = span
        try:
            fetched = await connector.fetch_metrics(auth, since, until)
        except NotSupported:
            result = CollectResult(Outcome.UNSUPPORTED)
        except PlatformError as exc:
            if exc.kind is ErrorKind.AUTH:
                async with db.transaction(agency_id) as session:
                    await refresh.mark_needs_reconnect(session, agency_id, account_id, exc)
                bound.warning("metrics.needs_reconnect", detail=exc.detail)
                return CollectResult(Outcome.NEEDS_RECONNECT)
            if exc.kind is ErrorKind.REJECTED:
                bound.warning("metrics.rejected", detail=exc.detail, message=exc.message)
                return CollectResult(Outcome.REJECTED)
            # transient, rate limited, or no answer: reading is safe to repeat.
            bound.info("metrics.retry_later", kind=exc.kind.value, retry_after=exc.retry_after)
            return CollectResult(Outcome.RETRY_LATER, retry_after=exc.retry_after)
        else:
            rows = [r for r in fetched if since <= r.day <= until]

            async def store(session: AsyncSession) -> int | None:
                account = await _load(session, agency_id, account_id)
                if account is None or account.status != "connected":
                    return None
                return await upsert_days(session, account, rows)

            # The rollups' triggers run in this transaction: a deadlock or serialization
            # failure there re-runs it (the numbers are in hand, nothing is fetched again).
            stored = await retry.run_transaction(
                db, store, agency_id=agency_id, what="storing an account's daily metrics"
            )
            if stored is None:
                return CollectResult(Outcome.GONE)
            bound.info("metrics.collected", since=str(since), until=str(until), days=stored)
            result = CollectResult(Outcome.COLLECTED, days=stored)
    posts = await collect_post_metrics(
        db, connector, agency_id, account_id, auth, now=datetime.now(UTC)
    )
    return CollectResult(result.outcome, days=result.days, posts=posts)


async def followed_posts(
    session: AsyncSession, agency_id: uuid.UUID, account_id: uuid.UUID, *, now: datetime
) -> dict[str, uuid.UUID]:
    """The account's posts whose numbers are collected: published by Chorus through it, with
    an external id, in the last ``POST_WINDOW_DAYS``; external id → post id, newest first."""
    rows = await session.execute(
        select(Post.external_id, Post.id)
        .where(
            Post.agency_id == agency_id,
            Post.account_id == account_id,
            Post.status == "published",
            Post.external_id.is_not(None),
            Post.published_at >= now - timedelta(days=POST_WINDOW_DAYS),
        )
        .order_by(Post.published_at.desc(), Post.id)
    )
    return {str(external_id): post_id for external_id, post_id in rows.all()}


def _has_post_numbers(numbers: PostMetrics) -> bool:
    return any(getattr(numbers, f) is not None for f in POST_METRIC_FIELDS)


async def upsert_post_metrics(
    session: AsyncSession,
    agency_id: uuid.UUID,
    account_id: uuid.UUID,
    platform: str,
    numbers: dict[uuid.UUID, PostMetrics],
) -> int:
    """Store the numbers of posts (by post id) on (agency, post), replacing what was there.
    Posts deleted meanwhile and answers without any number are skipped; returns rows written."""
    if not numbers:
        return 0
    existing = set(
        (
            await session.execute(
                select(Post.id).where(Post.agency_id == agency_id, Post.id.in_(list(numbers)))
            )
        ).scalars()
    )
    values = [
        {
            "agency_id": agency_id,
            "post_id": post_id,
            "account_id": account_id,
            "platform": platform,
            **{f: getattr(found, f) for f in POST_METRIC_FIELDS},
        }
        for post_id, found in sorted(numbers.items(), key=lambda item: item[0])
        if post_id in existing and _has_post_numbers(found)
    ]
    for start in range(0, len(values), UPSERT_BATCH):
        stmt = insert(PostMetric).values(values[start : start + UPSERT_BATCH])
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["agency_id", "post_id"],
                set_={
                    **{f: getattr(stmt.excluded, f) for f in POST_METRIC_FIELDS},
                    "account_id": stmt.excluded.account_id,
                    "collected_at": func.now(),
                },
            )
        )
    return len(values)


async def collect_post_metrics(
    db: Database,
    connector: Connector,
    agency_id: uuid.UUID,
    account_id: uuid.UUID,
    auth: AccountAuth,
    *,
    now: datetime,
) -> int:
    """Fetch and store the numbers of the account's followed posts, a platform batch at a
    time; how many posts got numbers. Never raises a platform error: a batch that fails is
    logged and skipped, and an auth failure or a rate limit ends the run (the account's
    status is updated for the former)."""
    async with db.transaction(agency_id) as session:
        followed = await followed_posts(session, agency_id, account_id, now=now)
    if not followed:
        return 0
    bound = log.bind(account_id=str(account_id), platform=connector.platform)
    external_ids = list(followed)
    size = max(1, connector.post_metrics_batch)
    stored = 0
    for start in range(0, len(external_ids), size):
        batch = external_ids[start : start + size]
        try:
            fetched = await connector.fetch_post_metrics(auth, batch)
        except PlatformError as exc:
            if exc.kind is ErrorKind.AUTH:
                async with db.transaction(agency_id) as session:
                    await refresh.mark_needs_reconnect(session, agency_id, account_id, exc)
                bound.warning("metrics.posts.needs_reconnect", detail=exc.detail)
                break
            bound.warning(
                "metrics.posts.failed",
                kind=exc.kind.value,
                detail=exc.detail,
                posts=len(batch),
            )
            if exc.kind is ErrorKind.RATE_LIMITED:
                break
            continue
        numbers = {followed[e]: m for e, m in fetched.items() if e in followed}
        store = functools.partial(
            upsert_post_metrics,
            agency_id=agency_id,
            account_id=account_id,
            platform=connector.platform,
            numbers=numbers,
        )
        stored += await retry.run_transaction(
            db, store, agency_id=agency_id, what="storing posts' metrics"
        )
    bound.info("metrics.posts.collected", followed=len(followed), stored=stored)
    return stored


async def collect_posts(
    db: Database, settings: Settings, agency_id: uuid.UUID, account_id: uuid.UUID
) -> int | None:
    """Only the account's posts' numbers (the follow-up after publishing): how many posts
    got numbers, None when the account is gone or not connected."""
    keyring = keyring_from_settings(settings)
    async with db.transaction(agency_id) as session:
        account = await _load(session, agency_id, account_id)
        if account is None or account.status != "connected":
            return None
        auth = sealing.account_auth(account, keyring)
        platform = account.platform
    connector = registry.connector(platform, settings)
    return await collect_post_metrics(
        db, connector, agency_id, account_id, auth, now=datetime.now(UTC)
    )


def posts_job(account_id: uuid.UUID, published_at: datetime) -> tuple[str, datetime]:
    """The follow-up collection for a post the account published at ``published_at``: its
    job id (one per account and five-minute window) and when it runs."""
    window = int(published_at.timestamp()) // POSTS_DELAY_S
    run_at = datetime.fromtimestamp((window + 1) * POSTS_DELAY_S + POSTS_DELAY_S, UTC)
    return f"{POSTS_JOB}:{account_id}:{window}", run_at


async def follow_up_published(
    session: AsyncSession,
    redis: Redis,
    agency_id: uuid.UUID,
    post_ids: Sequence[uuid.UUID],
    *,
    now: datetime | None = None,
) -> int:
    """Once ``session`` commits, queue the follow-up collection of every account that
    published one of ``post_ids``; how many accounts. For the ``post.published`` event's
    consumer: a burst of events of one account in one window queues one job."""
    if not post_ids:
        return 0
    accounts = (
        await session.execute(
            select(Post.account_id)
            .where(
                Post.agency_id == agency_id,
                Post.id.in_(list(post_ids)),
                Post.status == "published",
                Post.account_id.is_not(None),
            )
            .distinct()
        )
    ).scalars()
    at = now or datetime.now(UTC)
    found = {account_id for account_id in accounts if account_id is not None}
    jobs = [(account_id, *posts_job(account_id, at)) for account_id in sorted(found)]

    async def _enqueue() -> None:
        for account_id, job_id, run_at in jobs:
            await enqueue(
                redis,  # type: ignore[arg-type]
                POSTS_JOB,
                str(agency_id),
                str(account_id),
                job_id=job_id,
                _defer_until=run_at,
            )

    if jobs:
        after_commit(session, _enqueue)
    return len(jobs)


async def post_metrics(
    session: AsyncSession, agency_id: uuid.UUID, post_id: uuid.UUID
) -> PostMetric | None:
    """The stored numbers of one post (the caller has checked the principal may read it)."""
    found: PostMetric | None = (
        await session.execute(
            select(PostMetric).where(
                PostMetric.agency_id == agency_id, PostMetric.post_id == post_id
            )
        )
    ).scalar_one_or_none()
    return found


@dataclass(frozen=True, slots=True)
class Collectable:
    agency_id: uuid.UUID
    account_id: uuid.UUID


async def find_collectable(
    session: AsyncSession,
    *,
    after: tuple[uuid.UUID, uuid.UUID] | None = None,
    limit: int = 1000,
) -> list[Collectable]:
    """Connected accounts of every agency, in (agency, id) order from ``after``. Only ids
    cross the tenant line here; each collection runs in its own tenant."""
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN_NAME})
    try:
        stmt = select(SocialAccount.agency_id, SocialAccount.id).where(
            SocialAccount.status == "connected"
        )
        if after is not None:
            stmt = stmt.where(tuple_(SocialAccount.agency_id, SocialAccount.id) > after)
        rows = await session.execute(
            stmt.order_by(SocialAccount.agency_id, SocialAccount.id).limit(limit)
        )
        return [Collectable(a, i) for a, i in rows.all()]
    finally:
        await session.execute(text("SELECT set_config('app.scan', '', true)"))


def collect_job_id(account_id: uuid.UUID, day: date) -> str:
    """One collection per account and day: a second enqueue the same day is a no-op."""
    return f"{COLLECT_JOB}:{account_id}:{day.isoformat()}"


def backfill_job_id(account_id: uuid.UUID, connected_at: datetime) -> str:
    return f"{BACKFILL_JOB}:{account_id}:{int(connected_at.timestamp())}"


def backfill_after_commit(session: AsyncSession, redis: Redis, account: SocialAccount) -> None:
    """Once the connecting transaction commits, enqueue the account's first collection (the
    backfill). For the connect path: ``metrics_service.backfill_after_commit(session, redis,
    account)`` after the account is saved. A lost enqueue is caught up by the next daily run,
    which backfills any account without stored days."""
    agency_id, account_id, connected_at = account.agency_id, account.id, account.connected_at

    async def _enqueue() -> None:
        await enqueue(
            redis,  # type: ignore[arg-type]
            BACKFILL_JOB,
            str(agency_id),
            str(account_id),
            job_id=backfill_job_id(account_id, connected_at),
        )

    after_commit(session, _enqueue)


async def collect_agency(
    db: Database, settings: Settings, agency_id: uuid.UUID, *, today: date | None = None
) -> dict[Outcome, int]:
    """Collect every connected account of one agency now, one after another (the demo seed,
    an operator's catch-up); how many accounts ended in each outcome."""
    async with db.transaction(agency_id) as session:
        ids = (
            await session.execute(
                select(SocialAccount.id)
                .where(SocialAccount.agency_id == agency_id, SocialAccount.status == "connected")
                .order_by(SocialAccount.id)
            )
        ).scalars()
        account_ids = list(ids)
    counts: dict[Outcome, int] = {}
    for account_id in account_ids:
        result = await collect_account(db, settings, agency_id, account_id, today=today)
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts
