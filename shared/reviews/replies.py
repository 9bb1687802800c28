"""Sending a review reply through the platform, with publishing's error classes and retries.

The same path carries the three things a location does to its reply (``reply_action``):
*post* it, *edit* it, *delete* it. One change at a time per review (the row's status is the
lock); editing or deleting a reply are idempotent at the platform, so a check that cannot tell
sends them again, never a second post. If the platform refuses an edit or a delete, or Chorus
gives up, the reply is back to what the platform shows (``reply_previous_text``, ``sent``) with
the reason in ``reply_error``.

1. *Claim* (the review row locked, ``SKIP LOCKED``): a ``queued`` reply whose time has come
   takes a token from the account's limits (Google counts a reply as a location edit) and
   becomes ``sending`` with a lease; a reply left ``sending`` by a worker that died, or
   ``unconfirmed``, is *checked* at the platform first. Committed before anything is sent.
2. *Send* (or check).
3. *Outcome*: ``sent``; ``ambiguous`` → ``unconfirmed`` (checked before anything is sent
   again: a reply must not appear twice); ``transient``/``rate_limited`` → ``queued`` again
   after exponential backoff with jitter (never sooner than the platform asked; the account
   paused on a 429), ``failed`` after ``MAX_ATTEMPTS``; ``auth`` → ``failed`` and the account
   ``needs_reconnect``; ``rejected`` → ``failed`` with the platform's reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.events import service as events
from shared.platforms import registry
from shared.platforms.base import Connector, same_text
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import AccountAuth, Limits, RemoteReview
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import backoff
from shared.reviews.models import SOURCE_PLATFORM, Review
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount
from shared.social_accounts.refresh import mark_needs_reconnect

log = structlog.get_logger("chorus.reviews")

MAX_ATTEMPTS = 8
SEND_LEASE = timedelta(minutes=5)
RECONCILE_DELAY = timedelta(seconds=30)
RECONCILE_PAGES = 10
REPLY_WINDOWS = {"google_business": ("location_edits", "project_qpm"), "facebook": ("pages",)}
EVENT_OF_ACTION = {
    "post": "review.replied",
    "edit": "review.reply_edited",
    "delete": "review.reply_deleted",
}


@dataclass(frozen=True, slots=True)
class Sent:
    outcome: str  # sent | queued | unconfirmed | failed | deferred | not_due | gone | busy
    attempts: int = 0
    due_at: datetime | None = None
    message: str | None = None


@dataclass(slots=True)
class _Work:
    review_id: uuid.UUID
    external_id: str
    text: str
    check_first: bool
    attempts: int
    platform: str
    account_id: uuid.UUID
    auth: AccountAuth
    action: str = "post"
    reply_id: str | None = None


def reply_limits(platform: str, limits: Limits) -> Limits:
    return replace(limits, publish_windows=REPLY_WINDOWS.get(platform, ()), publish_per_day=None)


class ReplySender:
    def __init__(self, db: Database, limiter: AccountLimiter, settings: Settings) -> None:
        self.db = db
        self.limiter = limiter
        self.settings = settings
        self.keyring = keyring_from_settings(settings)

    async def send(
        self, agency_id: uuid.UUID, review_id: uuid.UUID, *, now: datetime | None = None
    ) -> Sent:
        now = now or datetime.now(UTC)
        work = await self._claim(agency_id, review_id, now)
        if isinstance(work, Sent):
            return work
        connector = registry.connector(work.platform, self.settings)
        outcome: PlatformError | bool | None
        try:
            if work.check_first:
                outcome = self._applied(work, await self._remote(connector, work))
                if outcome is False:  # known not to be done: a plain send from here
                    work.check_first = False
                    outcome = await self._apply(connector, work)
            else:
                outcome = await self._apply(connector, work)
        except PlatformError as exc:
            outcome = exc
        return await self._settle(agency_id, work, outcome, now)

    async def _apply(self, connector: Connector, work: _Work) -> bool:
        if work.action == "post":
            reply_id = await connector.reply_to_review(work.auth, work.external_id, work.text)
            work.reply_id = reply_id or work.reply_id
            return True
        if connector.reply_needs_id and work.reply_id is None:
            remote = await self._remote(connector, work)
            if work.action == "delete" and remote is not None and remote.reply_text is None:
                return True  # nothing there to delete
            work.reply_id = remote.reply_id if remote is not None else None
        if work.action == "edit":
            await connector.edit_review_reply(work.auth, work.external_id, work.reply_id, work.text)
        else:
            await connector.delete_review_reply(work.auth, work.external_id, work.reply_id)
        return True

    @staticmethod
    def _applied(work: _Work, remote: RemoteReview | None) -> bool:
        """Whether an earlier attempt's change is at the platform already."""
        if remote is None:
            return False
        if work.action == "delete":
            return remote.reply_text is None
        if remote.reply_text is None or not same_text(work.text, remote.reply_text):
            return False
        work.reply_id = remote.reply_id or work.reply_id
        return True

    async def _claim(
        self, agency_id: uuid.UUID, review_id: uuid.UUID, now: datetime
    ) -> _Work | Sent:
        async with self.db.transaction(agency_id) as session:
            review = (
                await session.execute(
                    select(Review)
                    .where(Review.agency_id == agency_id, Review.id == review_id)
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if review is None:
                exists = await session.scalar(
                    select(Review.id).where(Review.agency_id == agency_id, Review.id == review_id)
                )
                return Sent("busy" if exists else "gone")
            if review.reply_status not in ("queued", "sending", "unconfirmed"):
                return Sent("gone")
            if review.reply_due_at is not None and review.reply_due_at > now:
                return Sent("not_due", review.reply_attempts, review.reply_due_at)
            platform = SOURCE_PLATFORM[review.source]
            account = (
                await session.get(SocialAccount, (agency_id, review.account_id))
                if review.account_id is not None
                else None
            )
            if account is None or account.status != "connected" or review.reply_text is None:
                reason = (
                    f"the {platform} account needs reconnecting before this reply can be sent"
                    if account is not None
                    else f"no connected {platform} account for this location"
                )
                self._fail(review, reason)
                return Sent("failed", review.reply_attempts, message=reason)
            check_first = review.reply_status != "queued"
            if not check_first:
                connector = registry.connector(platform, self.settings)
                verdict = await self.limiter.take(
                    account.id, platform, reply_limits(platform, connector.limits)
                )
                if not verdict.allowed:
                    review.reply_due_at = now + timedelta(seconds=verdict.retry_after + 0.5)
                    return Sent("deferred", review.reply_attempts, review.reply_due_at)
                review.reply_attempts += 1
            review.reply_status = "sending"
            review.reply_due_at = now + SEND_LEASE
            return _Work(
                review_id=review.id,
                external_id=review.external_id,
                text=review.reply_text,
                check_first=check_first,
                attempts=review.reply_attempts,
                platform=platform,
                account_id=account.id,
                auth=sealing.account_auth(account, self.keyring),
                action=review.reply_action,
                reply_id=review.reply_external_id,
            )

    async def _remote(self, connector: Connector, work: _Work) -> RemoteReview | None:
        """The review as the platform shows it now (None: not found in the pages read)."""
        cursor: str | None = None
        for _ in range(RECONCILE_PAGES):
            page = await connector.fetch_reviews(work.auth, cursor)
            for remote in page.reviews:
                if remote.external_id == work.external_id:
                    return remote
            if page.next_cursor is None:
                return None
            cursor = page.next_cursor
        return None

    async def _settle(
        self, agency_id: uuid.UUID, work: _Work, outcome: PlatformError | bool | None, now: datetime
    ) -> Sent:
        if isinstance(outcome, PlatformError) and outcome.kind is ErrorKind.RATE_LIMITED:
            await self.limiter.pause(work.account_id, outcome.retry_after or 60.0)
        async with self.db.transaction(agency_id) as session:
            review = await session.get(Review, (agency_id, work.review_id), with_for_update=True)
            if review is None or review.reply_status != "sending":
                return Sent("gone")
            if outcome is True:
                payload = {"source": review.source, "origin": review.reply_origin}
                self._done(review, work, now)
                events.emit(
                    session,
                    agency_id=agency_id,
                    type=EVENT_OF_ACTION[work.action],
                    subject_type="review",
                    subject_id=review.id,
                    brand_id=review.brand_id,
                    location_id=review.location_id,
                    payload=payload,
                )
                log.info(
                    "reviews.reply_sent",
                    review_id=str(review.id),
                    action=work.action,
                    attempts=work.attempts,
                )
                return Sent("sent", work.attempts)
            error = outcome if isinstance(outcome, PlatformError) else None
            if error is None:  # nothing came back from the check: treat as not known yet
                review.reply_status = "unconfirmed"
                review.reply_due_at = now + RECONCILE_DELAY
                return Sent("unconfirmed", work.attempts, review.reply_due_at)
            review.reply_error = error.detail or error.message
            if error.kind is ErrorKind.AMBIGUOUS or (
                work.check_first and error.kind is not ErrorKind.AUTH
            ):
                review.reply_status = "unconfirmed"
                review.reply_due_at = now + max(
                    RECONCILE_DELAY, timedelta(seconds=error.retry_after or 0)
                )
                return Sent("unconfirmed", work.attempts, review.reply_due_at, error.message)
            if error.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
                if work.attempts >= MAX_ATTEMPTS:
                    reason = f"{error.message} (gave up after {work.attempts} attempts)"
                    self._fail(review, reason)
                    return Sent("failed", work.attempts, message=reason)
                review.reply_status = "queued"
                review.reply_due_at = now + timedelta(
                    seconds=backoff(work.attempts, error.retry_after)
                )
                return Sent("queued", work.attempts, review.reply_due_at, error.message)
            self._fail(review, error.message)
            if error.kind is ErrorKind.AUTH:
                await mark_needs_reconnect(session, agency_id, work.account_id, error)
            return Sent("failed", work.attempts, message=error.message)

    @staticmethod
    def _done(review: Review, work: _Work, now: datetime) -> None:
        review.reply_due_at = None
        review.reply_error = None
        review.reply_previous_text = None
        review.reply_action = "post"
        if work.action == "delete":
            review.reply_status = "none"
            review.reply_text = None
            review.reply_origin = None
            review.reply_rule_id = None
            review.reply_external_id = None
            review.replied_at = None
            return
        review.reply_status = "sent"
        review.reply_external_id = work.reply_id or review.reply_external_id
        if work.action == "post":
            review.replied_at = now  # an edit keeps the time the review was first answered

    def _fail(self, review: Review, reason: str) -> None:
        review.reply_due_at = None
        log.info(
            "reviews.reply_failed",
            review_id=str(review.id),
            action=review.reply_action,
            reason=reason,
        )
        if review.reply_action == "post" or review.reply_previous_text is None:
            review.reply_status = "failed"
            review.reply_error = reason
            return
        # An edit or delete that did not happen: the reply stands as the platform shows it.
        what = "edited" if review.reply_action == "edit" else "deleted"
        review.reply_status = "sent"
        review.reply_text = review.reply_previous_text
        review.reply_previous_text = None
        review.reply_action = "post"
        review.reply_error = f"the reply was not {what}: {reason}"
