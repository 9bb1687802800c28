"""Refreshing tokens before they expire, so nobody notices they do.

A cron finds connected accounts whose access token expires within
``token_refresh_lead_seconds`` (skipping those backing off after a failure) and enqueues one
refresh per account. A refresh:

- locks the row (``FOR UPDATE SKIP LOCKED``: two workers never refresh one account at once,
  which matters where refresh tokens rotate and the loser's would be dead);
- stores the new tokens, keeping the stored refresh token when the platform sent none;
- on ``transient``, ``rate_limited`` or ``ambiguous``: stays connected, counts the failure and
  backs off (30 s doubling, at most 15 min), and tries again while the token still lives;
- on ``auth`` only: marks the account ``needs_reconnect`` and raises
  ``account.needs_reconnect``, which the location sees.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import service as audit
from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.events import service as events
from shared.platforms import registry
from shared.platforms.base import keep_refresh_token
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount

log = structlog.get_logger("chorus.social_accounts")

SCAN_NAME = "social_account"
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 15 * 60


class Outcome(StrEnum):
    REFRESHED = "refreshed"
    NOT_DUE = "not_due"
    BUSY = "busy"  # another worker holds the row
    GONE = "gone"  # deleted, disconnected or no longer connected
    RETRY_LATER = "retry_later"
    NEEDS_RECONNECT = "needs_reconnect"


@dataclass(frozen=True, slots=True)
class Due:
    agency_id: uuid.UUID
    account_id: uuid.UUID
    expires_at: datetime
    failures: int

    @property
    def job_id(self) -> str:
        """One job per token generation and attempt: a duplicate enqueue is a no-op, a new
        token (or a retry after a failure) gets a job of its own."""
        expiry = int(self.expires_at.timestamp())
        return f"social_account.refresh:{self.account_id}:{expiry}:{self.failures}"


def backoff(failures: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S))


async def find_due(
    session: AsyncSession, *, now: datetime, lead: timedelta, limit: int = 1000
) -> list[Due]:
    """Accounts of every agency due for a refresh, soonest expiry first. Only ids cross the
    tenant line here (the ``named_scan`` policy); each refresh then runs in its own tenant."""
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN_NAME})
    rows = await session.execute(
        select(
            SocialAccount.agency_id,
            SocialAccount.id,
            SocialAccount.token_expires_at,
            SocialAccount.refresh_failures,
        )
        .where(
            SocialAccount.status == "connected",
            SocialAccount.refresh_token.is_not(None),
            SocialAccount.token_expires_at < now + lead,
            or_(SocialAccount.next_refresh_at.is_(None), SocialAccount.next_refresh_at <= now),
        )
        .order_by(SocialAccount.token_expires_at)
        .limit(limit)
    )
    due = [Due(a, i, e, f) for a, i, e, f in rows.all() if e is not None]
    await session.execute(text("SELECT set_config('app.scan', '', true)"))
    return due


async def refresh_account(
    db: Database,
    settings: Settings,
    agency_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> Outcome:
    keyring = keyring_from_settings(settings)
    async with db.transaction(agency_id) as session:
        account = (
            await session.execute(
                select(SocialAccount)
                .where(SocialAccount.agency_id == agency_id, SocialAccount.id == account_id)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if account is None:
            exists = await session.scalar(
                select(SocialAccount.id).where(
                    SocialAccount.agency_id == agency_id, SocialAccount.id == account_id
                )
            )
            return Outcome.BUSY if exists else Outcome.GONE
        if account.status != "connected" or account.refresh_token is None:
            return Outcome.GONE
        now = now or datetime.now(UTC)
        lead = timedelta(seconds=settings.token_refresh_lead_seconds)
        due = account.token_expires_at is not None and account.token_expires_at < now + lead
        if not force and (
            not due or (account.next_refresh_at is not None and account.next_refresh_at > now)
        ):
            return Outcome.NOT_DUE
        connector = registry.connector(account.platform, settings)
        old = sealing.token_set(account, keyring)
        bound = structlog.get_logger("chorus.social_accounts").bind(
            account_id=str(account.id), platform=account.platform
        )
        try:
            fresh = keep_refresh_token(old, await connector.refresh_token(old))
        except NotSupported:
            return Outcome.GONE
        except PlatformError as exc:
            if exc.kind is ErrorKind.AUTH:
                _needs_reconnect(session, account, exc)
                bound.warning("social_account.needs_reconnect", detail=exc.detail)
                return Outcome.NEEDS_RECONNECT
            account.refresh_failures += 1
            wait = backoff(account.refresh_failures)
            if exc.retry_after is not None:
                wait = max(wait, timedelta(seconds=exc.retry_after))
            account.next_refresh_at = now + wait
            account.last_error = exc.message
            bound.info(
                "social_account.refresh_failed",
                kind=exc.kind.value,
                failures=account.refresh_failures,
                retry_in_s=wait.total_seconds(),
            )
            return Outcome.RETRY_LATER
        sealing.store_tokens(
            account,
            keyring,
            access_token=fresh.access_token,
            refresh_token=fresh.refresh_token,
            expires_at=fresh.expires_at,
            refresh_expires_at=fresh.refresh_expires_at,
        )
        if fresh.scopes:
            account.scopes = list(fresh.scopes)
        account.last_refreshed_at = now
        account.refresh_failures = 0
        account.next_refresh_at = None
        account.last_error = None
        bound.info("social_account.refreshed", expires_at=str(fresh.expires_at))
        return Outcome.REFRESHED


async def mark_needs_reconnect(
    session: AsyncSession, agency_id: uuid.UUID, account_id: uuid.UUID, exc: PlatformError
) -> bool:
    """The platform refused the account's token (while publishing, collecting …): flag it
    for the location, once. False when it was not connected any more."""
    account = (
        await session.execute(
            select(SocialAccount)
            .where(SocialAccount.agency_id == agency_id, SocialAccount.id == account_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if account is None or account.status != "connected":
        return False
    _needs_reconnect(session, account, exc)
    return True


def _needs_reconnect(session: AsyncSession, account: SocialAccount, exc: PlatformError) -> None:
    account.status = "needs_reconnect"
    account.last_error = exc.message
    account.next_refresh_at = None
    audit.record(
        session,
        agency_id=account.agency_id,
        actor=audit.SYSTEM,
        action="social_account.needs_reconnect",
        object_type="social_account",
        object_id=account.id,
        before={"status": "connected"},
        after={"status": "needs_reconnect"},
        details={"reason": exc.message},
    )
    events.emit(
        session,
        agency_id=account.agency_id,
        type="account.needs_reconnect",
        subject_type="social_account",
        subject_id=account.id,
        brand_id=account.brand_id,
        location_id=account.location_id,
        payload={"platform": account.platform, "name": account.name, "reason": exc.message},
    )


async def reseal_all(db: Database, settings: Settings, *, batch: int = 500) -> tuple[int, int]:
    """Re-encrypt every account's tokens under the active key: ``(seen, changed)``. Safe to
    run while Chorus runs (each row is locked and rewritten in its own tenant)."""
    keyring = keyring_from_settings(settings)
    seen = changed = 0
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    while True:
        async with db.transaction() as session:
            await session.execute(
                text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN_NAME}
            )
            stmt = select(SocialAccount.agency_id, SocialAccount.id).where(
                SocialAccount.access_token.is_not(None) | SocialAccount.refresh_token.is_not(None)
            )
            if after is not None:
                stmt = stmt.where(tuple_(SocialAccount.agency_id, SocialAccount.id) > after)
            ids = (
                await session.execute(
                    stmt.order_by(SocialAccount.agency_id, SocialAccount.id).limit(batch)
                )
            ).all()
        if not ids:
            return seen, changed
        for agency_id, account_id in ids:
            async with db.transaction(agency_id) as session:
                account = (
                    await session.execute(
                        select(SocialAccount)
                        .where(SocialAccount.agency_id == agency_id, SocialAccount.id == account_id)
                        .with_for_update()
                    )
                ).scalar_one_or_none()
                if account is not None:
                    seen += 1
                    changed += sealing.reseal(account, keyring)
        after = (ids[-1][0], ids[-1][1])
