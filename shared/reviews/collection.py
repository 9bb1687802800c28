"""Collecting reviews: which sources are due, and one source's collection.

**Sources.** Every connected Google Business Profile or Facebook page becomes a
``review_source`` on its own (the sweep adds them, set-based); a Yelp business is attached to
a location by id. Each source has a fixed ``stagger_s`` within the collection interval, so
sources fall due spread over the hour rather than all at the same second.

**A collection** (two short transactions and the network between them, like publishing):

1. *Claim*: the source's ``next_collect_at`` moves a lease ahead, if it was due (two workers
   never collect one source at once; a crashed one leaves a source due again after the lease).
2. *Fetch*, page by page, newest first, each page taking a token from the account's limits
   (the same Redis buckets publishing uses). Google orders by update time, so the run stops at
   the first review older than the stored cursor and still sees edits. Facebook and Yelp give
   no edit time: they stop at the cursor too, and read every page once a day to catch edits.
3. *Store*: one set-based upsert on (agency, source, external id) that writes only rows that
   changed; the cursor moves to the newest update time only after a run that reached it.
   New reviews raise ``review.received``; a review that becomes negative (rating at or below
   the brand's threshold, or negative sentiment) raises ``review.negative`` once; auto-reply
   rules answer reviews written after the rule existed.

Errors are the connectors' five kinds: ``rate_limited`` pauses the account and comes back when
the platform said; ``transient``/``ambiguous`` back off (1 min doubling, at most 1 h); ``auth``
marks the social account ``needs_reconnect`` (the location sees it) and stops the source
until it is reconnected; ``rejected`` (e.g. a Yelp business that no longer exists) disables
the source with the platform's reason.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.backoff import wait_seconds
from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.ids import new_id
from shared.platforms import registry, yelp
from shared.platforms.base import Connector
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import AccountAuth, Limits, RemoteReview
from shared.publishing.limiter import AccountLimiter
from shared.reviews import autoreply
from shared.reviews.models import SCAN_NAME, SOURCE_PLATFORM, ReviewSettings, ReviewSource
from shared.reviews.sentiment import analyze
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount
from shared.social_accounts.refresh import mark_needs_reconnect

log = structlog.get_logger("chorus.reviews")

INTERVAL = timedelta(hours=1)
LEASE = timedelta(minutes=10)
FULL_SYNC_EVERY = timedelta(hours=24)
MAX_PAGES = 40
BACKOFF_BASE_S = 60.0
BACKOFF_MAX_S = 3600.0
DEFAULT_NEGATIVE_RATING = 2
UPDATE_ORDERED = frozenset({"google_business"})
"""Sources whose listing is ordered by update time (edits come first)."""
READ_WINDOWS = {
    "google_business": ("project_qpm",),
    "facebook": ("pages",),
    "yelp": ("daily", "per_second"),
}
"""The platform's rate windows a read spends (a Google review read is not a location edit)."""


def read_limits(platform: str, limits: Limits) -> Limits:
    """The limits as the limiter should apply them to one read."""
    return replace(limits, publish_windows=READ_WINDOWS.get(platform, ()), publish_per_day=None)


def stagger_of(source_id: uuid.UUID) -> int:
    return int(source_id.int % int(INTERVAL.total_seconds()))


def next_slot(now: datetime, stagger_s: int) -> datetime:
    """The source's next collection time: its own second within the next interval."""
    span = int(INTERVAL.total_seconds())
    epoch = int(now.timestamp())
    base = epoch - (epoch - stagger_s) % span
    at = base + span
    return datetime.fromtimestamp(at, UTC)


def backoff(failures: int, retry_after: float | None = None) -> timedelta:
    return timedelta(
        seconds=wait_seconds(
            failures, base_s=BACKOFF_BASE_S, max_s=BACKOFF_MAX_S, retry_after=retry_after
        )
    )


# -- The sweep --------------------------------------------------------------------------------

_SYNC_NEW = text(
    """
    INSERT INTO review_source (agency_id, id, brand_id, location_id, source, account_id,
                               external_id, name, status, stagger_s, next_collect_at)
    SELECT a.agency_id, gen_random_uuid(), a.brand_id, a.location_id,
           a.platform,
           a.id, a.external_id, a.name, 'active', s.stagger,
           CAST(:now AS timestamptz) + make_interval(secs => s.stagger % 300)
    FROM social_account a
    CROSS JOIN LATERAL (SELECT (abs(hashtext(a.id::text)) % 3600) AS stagger) s
    WHERE a.platform IN ('google_business', 'facebook') AND a.status = 'connected'
    ON CONFLICT (agency_id, location_id, source) DO NOTHING
    """
)

_SYNC_STATUS = text(
    """
    UPDATE review_source AS r
    SET status = CASE WHEN a.status = 'connected' THEN 'active' ELSE 'needs_reconnect' END,
        account_id = a.id,
        external_id = a.external_id,
        name = a.name,
        next_collect_at = CASE WHEN a.status = 'connected' THEN CAST(:now AS timestamptz)
                               ELSE r.next_collect_at END,
        last_error = CASE WHEN a.status = 'connected' THEN NULL ELSE r.last_error END,
        cursor = CASE WHEN a.external_id <> r.external_id THEN NULL ELSE r.cursor END,
        updated_at = now()
    FROM social_account a
    WHERE a.agency_id = r.agency_id AND a.location_id = r.location_id
      AND r.source IN ('google_business', 'facebook')
      AND a.platform = r.source
      AND r.status <> 'disabled'
      AND ((a.status = 'connected') <> (r.status = 'active') OR a.external_id <> r.external_id)
    """
)

_DUE = text(
    """
    SELECT agency_id, id, next_collect_at FROM review_source
    WHERE status = 'active' AND next_collect_at <= :now
    ORDER BY next_collect_at
    LIMIT :limit
    """
)

_DUE_REPLIES = text(
    """
    SELECT agency_id, id, reply_attempts, reply_due_at FROM review
    WHERE reply_status IN ('queued', 'sending', 'unconfirmed') AND reply_due_at <= :now
    ORDER BY reply_due_at
    LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class DueSource:
    agency_id: uuid.UUID
    source_id: uuid.UUID
    due_at: datetime

    @property
    def job_id(self) -> str:
        return f"reviews.collect:{self.source_id}:{int(self.due_at.timestamp())}"


@dataclass(frozen=True, slots=True)
class DueReply:
    agency_id: uuid.UUID
    review_id: uuid.UUID
    attempts: int
    due_at: datetime

    @property
    def job_id(self) -> str:
        return reply_job_id(self.review_id, self.attempts, self.due_at)


def reply_job_id(review_id: uuid.UUID, attempts: int, due_at: datetime | None) -> str:
    """One job per attempt and due time: a duplicate enqueue (the sweep finding a reply whose
    job is waiting) is a no-op; a retry or a check gets a job of its own. The due time counts
    in microseconds (as stored): a new change queued in the same second as one that ended
    before its first attempt (an edit after a refused reply) must not reuse that job's id,
    which arq would drop while it remembers the first job's result."""
    due = round(due_at.timestamp() * 1_000_000) if due_at is not None else 0
    return f"reviews.send_reply:{review_id}:{attempts}:{due}"


async def sweep(
    session: AsyncSession, *, now: datetime, limit: int = 1000
) -> tuple[list[DueSource], list[DueReply]]:
    """Across agencies (the named scan): start sources for newly connected accounts, follow
    accounts that need reconnecting or were reconnected, and list what is due."""
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN_NAME})
    try:
        await session.execute(_SYNC_NEW, {"now": now})
        await session.execute(_SYNC_STATUS, {"now": now})
        sources = [
            DueSource(a, i, d)
            for a, i, d in (await session.execute(_DUE, {"now": now, "limit": limit})).all()
        ]
        replies = [
            DueReply(a, i, n, d)
            for a, i, n, d in (
                await session.execute(_DUE_REPLIES, {"now": now, "limit": limit})
            ).all()
        ]
        return sources, replies
    finally:
        await session.execute(text("SELECT set_config('app.scan', '', true)"))


# -- Storing ------------------------------------------------------------------------------------

_UPSERT = text(
    """
    WITH incoming AS (
      SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:external_ids AS text[]), CAST(:ratings AS smallint[]),
        CAST(:recommends AS boolean[]), CAST(:texts AS text[]), CAST(:authors AS text[]),
        CAST(:created AS timestamptz[]), CAST(:updated AS timestamptz[]),
        CAST(:scores AS float8[]), CAST(:labels AS text[]), CAST(:attention AS boolean[]),
        CAST(:reasons AS text[]), CAST(:reply_texts AS text[]), CAST(:reply_at AS timestamptz[]),
        CAST(:reply_ids AS text[])
      ) AS i(id, external_id, rating, recommends, text, author, created_at, updated_at,
             score, label, attention, reason, reply_text, reply_at, reply_id)
    ), before AS (
      SELECT r.external_id, r.needs_attention
      FROM review r JOIN incoming i ON r.external_id = i.external_id
      WHERE r.agency_id = :agency_id AND r.source = :source
    ), written AS (
      INSERT INTO review AS r (
        agency_id, id, brand_id, location_id, source_id, account_id, source, external_id,
        rating, recommends, text, author, created_at, updated_at, sentiment_score,
        sentiment_label, needs_attention, attention_reason, reply_text, reply_status,
        reply_origin, replied_at, reply_external_id)
      SELECT :agency_id, i.id, :brand_id, :location_id, :source_id, :account_id, :source,
             i.external_id, i.rating, i.recommends, i.text, i.author, i.created_at,
             i.updated_at, i.score, i.label, i.attention, i.reason, i.reply_text,
             CASE WHEN i.reply_text IS NULL THEN 'none' ELSE 'sent' END,
             CASE WHEN i.reply_text IS NULL THEN NULL ELSE 'platform' END,
             i.reply_at, i.reply_id
      FROM incoming i
      ON CONFLICT (agency_id, source, external_id) DO UPDATE SET
        rating = EXCLUDED.rating,
        recommends = EXCLUDED.recommends,
        text = EXCLUDED.text,
        author = EXCLUDED.author,
        updated_at = EXCLUDED.updated_at,
        sentiment_score = EXCLUDED.sentiment_score,
        sentiment_label = EXCLUDED.sentiment_label,
        needs_attention = EXCLUDED.needs_attention,
        attention_reason = EXCLUDED.attention_reason,
        reply_text = CASE WHEN r.reply_status IN ('none', 'failed', 'sent')
                           AND EXCLUDED.reply_text IS NOT NULL
                      THEN EXCLUDED.reply_text ELSE r.reply_text END,
        reply_status = CASE WHEN r.reply_status IN ('none', 'failed')
                             AND EXCLUDED.reply_text IS NOT NULL
                        THEN 'sent' ELSE r.reply_status END,
        reply_origin = CASE WHEN r.reply_status IN ('none', 'failed')
                             AND EXCLUDED.reply_text IS NOT NULL
                        THEN 'platform' ELSE r.reply_origin END,
        replied_at = CASE WHEN r.reply_status IN ('none', 'failed')
                           AND EXCLUDED.reply_text IS NOT NULL
                      THEN EXCLUDED.replied_at ELSE r.replied_at END,
        reply_external_id = CASE WHEN r.reply_status IN ('none', 'failed', 'sent')
                                  AND EXCLUDED.reply_text IS NOT NULL
                             THEN COALESCE(EXCLUDED.reply_external_id, r.reply_external_id)
                             ELSE r.reply_external_id END,
        changed_at = now()
      WHERE (r.rating, r.recommends, r.text, r.author, r.updated_at)
              IS DISTINCT FROM
            (EXCLUDED.rating, EXCLUDED.recommends, EXCLUDED.text, EXCLUDED.author,
             EXCLUDED.updated_at)
         OR (EXCLUDED.reply_text IS NOT NULL
             AND r.reply_status IN ('none', 'failed', 'sent')
             AND (r.reply_text, r.reply_external_id)
                 IS DISTINCT FROM
                 (EXCLUDED.reply_text, COALESCE(EXCLUDED.reply_external_id, r.reply_external_id)))
      RETURNING r.id, r.external_id, (r.xmax = 0) AS inserted, r.needs_attention,
                r.attention_reason, r.rating, r.sentiment_label, r.created_at, r.author,
                r.reply_status
    )
    SELECT w.*, COALESCE(b.needs_attention, false) AS was_attention
    FROM written w LEFT JOIN before b ON b.external_id = w.external_id
    """
)


_EVENTS = text(
    """
    INSERT INTO outbox_event (agency_id, id, type, brand_id, location_id, subject_type,
                              subject_id, payload)
    SELECT :agency_id, e.id, e.type, :brand_id, :location_id, 'review', e.subject_id,
           CAST(e.payload AS jsonb)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), CAST(:subjects AS uuid[]),
                CAST(:payloads AS text[])) AS e(id, type, subject_id, payload)
    """
)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a source's reviews belong."""

    agency_id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    source_id: uuid.UUID
    account_id: uuid.UUID | None
    source: str


@dataclass(slots=True)
class Stored:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    negative: int = 0
    new_ids: list[uuid.UUID] = field(default_factory=list)
    auto_queued: list[uuid.UUID] = field(default_factory=list)


def attention(rating: int | None, label: str, threshold: int, by_sentiment: bool) -> str | None:
    """Why a review needs attention, or None."""
    if rating is not None and rating <= threshold:
        return f"rated {rating} of 5 (at or below {threshold})"
    if by_sentiment and label == "negative":
        return "negative sentiment"
    return None


async def brand_thresholds(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID
) -> tuple[int, bool]:
    row = (
        await session.execute(
            select(ReviewSettings.negative_rating, ReviewSettings.negative_sentiment).where(
                ReviewSettings.agency_id == agency_id, ReviewSettings.brand_id == brand_id
            )
        )
    ).one_or_none()
    return (row[0], row[1]) if row is not None else (DEFAULT_NEGATIVE_RATING, True)


def upsert_params(
    place: Place, reviews: list[RemoteReview], threshold: int, by_sentiment: bool
) -> dict[str, Any]:
    """The arrays of one upsert (sentiment and attention worked out here, once per review)."""
    latest: dict[str, RemoteReview] = {}
    for r in reviews:  # one row per external id: the newest version wins
        seen = latest.get(r.external_id)
        if r.external_id and (seen is None or r.updated_at >= seen.updated_at):
            latest[r.external_id] = r
    rows = list(latest.values())
    scores, labels, flags, reasons = [], [], [], []
    for r in rows:
        sentiment = analyze(r.text, r.rating)
        reason = attention(r.rating, sentiment.label, threshold, by_sentiment)
        scores.append(sentiment.score)
        labels.append(sentiment.label)
        flags.append(reason is not None)
        reasons.append(reason)
    return {
        "agency_id": place.agency_id,
        "brand_id": place.brand_id,
        "location_id": place.location_id,
        "source_id": place.source_id,
        "account_id": place.account_id,
        "source": place.source,
        "ids": [new_id() for _ in rows],
        "external_ids": [r.external_id for r in rows],
        "ratings": [r.rating for r in rows],
        "recommends": [r.recommends for r in rows],
        "texts": [r.text for r in rows],
        "authors": [r.author[:300] for r in rows],
        "created": [r.created_at for r in rows],
        "updated": [r.updated_at for r in rows],
        "scores": scores,
        "labels": labels,
        "attention": flags,
        "reasons": reasons,
        "reply_texts": [r.reply_text for r in rows],
        "reply_at": [r.reply_updated_at or (r.updated_at if r.reply_text else None) for r in rows],
        "reply_ids": [r.reply_id if r.reply_text is not None else None for r in rows],
    }


async def store(
    session: AsyncSession,
    place: Place,
    reviews: list[RemoteReview],
    *,
    threshold: int | None = None,
    by_sentiment: bool = True,
    auto_reply: bool = True,
) -> Stored:
    """Upsert the reviews of one source in one statement; events in one more."""
    if not reviews:
        return Stored()
    if threshold is None:
        threshold, by_sentiment = await brand_thresholds(session, place.agency_id, place.brand_id)
    params = upsert_params(place, reviews, threshold, by_sentiment)
    return await store_prepared(session, place, params, auto_reply=auto_reply)


async def store_prepared(
    session: AsyncSession, place: Place, params: dict[str, Any], *, auto_reply: bool = True
) -> Stored:
    """``store`` for rows already prepared by ``upsert_params`` (sentiment worked out)."""
    stored = Stored()
    rows = (await session.execute(_UPSERT, params)).all()
    events: list[dict[str, Any]] = []
    for row in rows:
        if row.inserted:
            stored.new += 1
            stored.new_ids.append(row.id)
            events.append(_event(place, "review.received", row))
        else:
            stored.updated += 1
        if row.needs_attention and not row.was_attention:
            stored.negative += 1
            events.append(_event(place, "review.negative", row))
    stored.unchanged = len(params["ids"]) - len(rows)
    if events:
        await session.execute(
            _EVENTS,
            {
                "agency_id": place.agency_id,
                "brand_id": place.brand_id,
                "location_id": place.location_id,
                "ids": [e["id"] for e in events],
                "types": [e["type"] for e in events],
                "subjects": [e["subject_id"] for e in events],
                "payloads": [orjson.dumps(e["payload"]).decode() for e in events],
            },
        )
    if auto_reply and stored.new_ids:
        stored.auto_queued = await autoreply.apply_rules(session, place, stored.new_ids)
    return stored


def _event(place: Place, kind: str, row: Any) -> dict[str, Any]:
    return {
        "agency_id": place.agency_id,
        "id": new_id(),
        "type": kind,
        "brand_id": place.brand_id,
        "location_id": place.location_id,
        "subject_type": "review",
        "subject_id": row.id,
        "payload": {
            "source": place.source,
            "external_id": row.external_id,
            "rating": row.rating,
            "sentiment": row.sentiment_label,
            "author": row.author,
            **({"reason": row.attention_reason} if kind == "review.negative" else {}),
        },
    }


# -- One source ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Collected:
    outcome: str  # collected | not_due | gone | deferred | rate_limited | retry_later |
    #               needs_reconnect | disabled
    pages: int = 0
    fetched: int = 0
    stored: Stored = field(default_factory=Stored)
    next_collect_at: datetime | None = None
    message: str | None = None


@dataclass(slots=True)
class _Claim:
    place: Place
    platform: str
    external_id: str
    cursor: datetime | None
    full: bool
    auth: AccountAuth
    stagger_s: int
    failures: int


class Collector:
    """One per worker process: the settings, the database and the limiter."""

    def __init__(self, db: Database, limiter: AccountLimiter, settings: Settings) -> None:
        self.db = db
        self.limiter = limiter
        self.settings = settings
        self.keyring = keyring_from_settings(settings)

    def connector(self, platform: str) -> Connector:
        if platform == yelp.PLATFORM:
            return yelp.connector(self.settings)
        return registry.connector(platform, self.settings)

    async def collect(
        self,
        agency_id: uuid.UUID,
        source_id: uuid.UUID,
        *,
        force: bool = False,
        now: datetime | None = None,
    ) -> Collected:
        now = now or datetime.now(UTC)
        claim = await self._claim(agency_id, source_id, now, force)
        if isinstance(claim, Collected):
            return claim
        connector = self.connector(claim.platform)
        limits = read_limits(claim.platform, connector.limits)
        limiter_key = claim.place.account_id or claim.place.source_id
        fetched: list[RemoteReview] = []
        page_cursor: str | None = None
        pages = 0
        reached = False
        error: PlatformError | None = None
        wait: float | None = None
        while pages < MAX_PAGES:
            verdict = await self.limiter.take(limiter_key, claim.platform, limits)
            if not verdict.allowed:
                wait = verdict.retry_after
                break
            try:
                page = await connector.fetch_reviews(claim.auth, page_cursor)
            except PlatformError as exc:
                error = exc
                break
            pages += 1
            fetched.extend(page.reviews)
            older = claim.cursor is not None and any(
                r.updated_at < claim.cursor for r in page.reviews
            )
            if page.next_cursor is None:
                reached = True
                break
            if older and not claim.full:
                reached = True
                break
            page_cursor = page.next_cursor
        if error is not None and error.kind is ErrorKind.RATE_LIMITED:
            await self.limiter.pause(limiter_key, error.retry_after or 60.0)
        return await self._finish(claim, now, fetched, pages, reached, error, wait)

    async def _claim(
        self, agency_id: uuid.UUID, source_id: uuid.UUID, now: datetime, force: bool
    ) -> _Claim | Collected:
        async with self.db.transaction(agency_id) as session:
            source = (
                await session.execute(
                    select(ReviewSource)
                    .where(ReviewSource.agency_id == agency_id, ReviewSource.id == source_id)
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if source is None or source.status != "active":
                return Collected("gone")
            if not force and source.next_collect_at > now:
                return Collected("not_due", next_collect_at=source.next_collect_at)
            platform = SOURCE_PLATFORM[source.source]
            if source.account_id is not None:
                account = await session.get(SocialAccount, (agency_id, source.account_id))
                if account is None or account.status != "connected":
                    source.status = "needs_reconnect"
                    source.last_error = (
                        account.last_error
                        if account is not None and account.last_error
                        else f"the {platform} account is not connected"
                    )
                    return Collected("needs_reconnect", message=source.last_error)
                auth = sealing.account_auth(account, self.keyring)
            else:
                auth = yelp.connector(self.settings).auth_for(source.external_id)
            full = source.source not in UPDATE_ORDERED and (
                source.full_sync_at is None or source.full_sync_at + FULL_SYNC_EVERY <= now
            )
            source.next_collect_at = now + LEASE
            return _Claim(
                place=Place(
                    agency_id,
                    source.brand_id,
                    source.location_id,
                    source.id,
                    source.account_id,
                    source.source,
                ),
                platform=platform,
                external_id=source.external_id,
                cursor=source.cursor,
                full=full,
                auth=auth,
                stagger_s=source.stagger_s,
                failures=source.failures,
            )

    async def _finish(
        self,
        claim: _Claim,
        now: datetime,
        fetched: list[RemoteReview],
        pages: int,
        reached: bool,
        error: PlatformError | None,
        wait: float | None,
    ) -> Collected:
        place = claim.place
        result = Collected("collected", pages=pages, fetched=len(fetched))
        bound = log.bind(source_id=str(place.source_id), source=place.source)
        async with self.db.transaction(place.agency_id) as session:
            source = await session.get(
                ReviewSource, (place.agency_id, place.source_id), with_for_update=True
            )
            if source is None:
                return Collected("gone")
            result.stored = await store(session, place, fetched)
            if reached and error is None:
                newest = max((r.updated_at for r in fetched), default=None)
                if newest is not None and (source.cursor is None or newest > source.cursor):
                    source.cursor = newest
                if claim.full:
                    source.full_sync_at = now
            if error is None and wait is None:
                source.failures = 0
                source.last_error = None
                source.last_collected_at = now
                source.next_collect_at = next_slot(now, claim.stagger_s)
            elif wait is not None:
                result.outcome = "deferred"
                source.last_collected_at = now
                source.next_collect_at = now + timedelta(seconds=wait + random.uniform(0, 5))
            elif error is not None:
                self._failed(session, source, error, now, result)
                if error.kind is ErrorKind.AUTH and source.account_id is not None:
                    await mark_needs_reconnect(session, place.agency_id, source.account_id, error)
            result.next_collect_at = source.next_collect_at
        bound.info(
            "reviews.collected",
            outcome=result.outcome,
            pages=pages,
            new=result.stored.new,
            updated=result.stored.updated,
            negative=result.stored.negative,
        )
        return result

    def _failed(
        self,
        session: AsyncSession,
        source: ReviewSource,
        error: PlatformError,
        now: datetime,
        result: Collected,
    ) -> None:
        source.last_error = error.message
        result.message = error.message
        if error.kind is ErrorKind.RATE_LIMITED:
            result.outcome = "rate_limited"
            wait = timedelta(seconds=(error.retry_after or 60.0) + random.uniform(0, 5))
            source.next_collect_at = now + wait
        elif error.kind is ErrorKind.AUTH and source.account_id is not None:
            result.outcome = "needs_reconnect"
            source.status = "needs_reconnect"
        elif error.kind is ErrorKind.REJECTED:
            result.outcome = "disabled"
            source.status = "disabled"
        else:  # transient, ambiguous (a read: safe to repeat), or Chorus's own Yelp key refused
            result.outcome = "retry_later"
            source.failures += 1
            source.next_collect_at = now + backoff(source.failures, error.retry_after)
