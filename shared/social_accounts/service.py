"""Connecting a location to a platform, listing its accounts, disconnecting.

The connect flow has up to three steps (see ``oauth_flow``): *start* gives the platform's
consent URL; the platform sends the browser back to the *callback*, which exchanges the code;
where the user manages several pages or business locations, the callback offers them and the
user *chooses* the one that is this location's. Nothing is stored before an account is known.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import api_keys
from shared.access import repository as access_repository
from shared.access.policy import Target, authorize, reach
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.brand_rules import service as rules_service
from shared.config import Settings
from shared.crypto import KeyRing, keyring_from_settings
from shared.db.tenancy import set_tenant
from shared.errors import (
    BadRequest,
    Conflict,
    FieldProblem,
    NotConfigured,
    NotFound,
    UpstreamFailed,
    ValidationFailed,
)
from shared.events import service as events
from shared.ids import new_id
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.metrics import service as metrics_service
from shared.pagination import Slice, Sorting, sorted_page
from shared.platforms import registry
from shared.platforms.base import Connector
from shared.platforms.errors import PlatformError
from shared.platforms.types import AccountChoice, Grant, TokenSet
from shared.social_accounts import oauth_flow, sealing
from shared.social_accounts.models import SocialAccount
from shared.tenancy import scoped

log = structlog.get_logger("chorus.social_accounts")

CALLBACK_PATH = "/v1/social-accounts/oauth/callback"
_SNAP_FIELDS = ("platform", "external_id", "name", "status", "location_id")


@dataclass(frozen=True, slots=True)
class ConnectStart:
    authorize_url: str
    expires_at: datetime
    test_mode: bool


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    """Either the account is connected, or the user must choose among ``choices``."""

    account: SocialAccount | None
    selection_id: str | None = None
    choices: tuple[AccountChoice, ...] = ()
    location_id: uuid.UUID | None = None
    platform: str | None = None
    expires_at: datetime | None = None


def callback_url(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}{CALLBACK_PATH}"


def _known_platform(platform: str) -> str:
    if platform not in registry.PLATFORM_NAMES:
        raise ValidationFailed(
            f"unknown platform '{platform}'",
            code="unknown_platform",
            errors=[
                FieldProblem(
                    "path.platform",
                    f"use one of {', '.join(registry.PLATFORM_NAMES)}",
                    "unknown_platform",
                )
            ],
        )
    return platform


def _connector(settings: Settings, platform: str) -> Connector:
    try:
        return registry.connector(platform, settings)
    except registry.PlatformNotConfigured as exc:
        raise NotConfigured(str(exc), code="platform_not_configured") from None


def _target(account: SocialAccount) -> Target:
    return Target(brand_id=account.brand_id, location_id=account.location_id)


def _upstream(exc: PlatformError, doing: str) -> UpstreamFailed:
    return UpstreamFailed(
        f"{exc.message} (while {doing})",
        code=f"platform_{exc.kind.value}",
        extra={"platform": exc.platform, "kind": exc.kind.value},
    )


# -- Start ---------------------------------------------------------------------------------------


async def start_connect(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    principal: Principal,
    location_id: uuid.UUID,
    platform: str,
) -> ConnectStart:
    _known_platform(platform)
    location = await location_service.get_location(
        session, principal, location_id, "social_account.connect"
    )
    rules = await rules_service.rules_for(session, principal.agency_id, location.brand_id)
    if rules.allowed_platforms is not None and platform not in rules.allowed_platforms:
        raise Conflict(
            f"the brand's rules do not allow {platform}; a brand manager can add it to the "
            "allowed platforms first",
            code="platform_not_allowed",
        )
    connector = _connector(settings, platform)
    keyring = keyring_from_settings(settings)
    redirect_uri = callback_url(settings)
    # The state goes into the URL and the URL's PKCE verifier into what the state keeps.
    nonce, state = oauth_flow.new_state(settings)
    request = connector.authorize_url(state, redirect_uri)
    actor = audit.Actor.of(principal)
    assert actor.id is not None
    await oauth_flow.keep(
        redis,
        settings,
        keyring,
        nonce,
        oauth_flow.PendingConnect(
            agency_id=principal.agency_id,
            location_id=location.id,
            platform=platform,
            actor_type=actor.kind,
            actor_id=actor.id,
            redirect_uri=redirect_uri,
            code_verifier=request.code_verifier,
        ),
    )
    return ConnectStart(
        authorize_url=request.url,
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.oauth_state_ttl_seconds),
        test_mode=bool(settings.platform_sandbox_url),
    )


# -- Callback ------------------------------------------------------------------------------------


async def _principal_of(
    session: AsyncSession, agency_id: uuid.UUID, actor_type: str, actor_id: uuid.UUID
) -> Principal | None:
    """Who started the flow, as they are now (a member removed meanwhile finishes nothing)."""
    if actor_type == "api_key":
        await set_tenant(session, agency_id, None)
        return await api_keys.principal_of_key(session, agency_id, actor_id)
    await set_tenant(session, agency_id, actor_id)
    grants = await access_repository.load_grants(session, agency_id, actor_id)
    if not grants:
        return None
    return Principal(agency_id=agency_id, user_id=actor_id, grants=grants)


_EXPIRED = (
    "this connect link has expired or was already used; start again from the location's "
    "social accounts"
)


async def finish_connect(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    state: str,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> ConnectOutcome:
    keyring = keyring_from_settings(settings)
    pending = await oauth_flow.take(redis, settings, keyring, state)
    if pending is None:
        raise BadRequest(_EXPIRED, code="invalid_state")
    if error or not code:
        raise BadRequest(
            f"the connection was not made: {pending.platform} answered "
            f"'{error or 'no code'}'" + (f" ({error_description})" if error_description else ""),
            code="consent_refused",
        )
    principal = await _principal_of(
        session, pending.agency_id, pending.actor_type, pending.actor_id
    )
    if principal is None:
        raise BadRequest(_EXPIRED, code="invalid_state")
    location = await location_service.get_location(
        session, principal, pending.location_id, "social_account.connect"
    )
    connector = _connector(settings, pending.platform)
    try:
        grant = await connector.exchange_code(code, pending.redirect_uri, pending.code_verifier)
    except PlatformError as exc:
        raise _upstream(exc, "exchanging the authorization code") from None
    if not grant.choices:
        raise UpstreamFailed(
            f"{connector.display_name} gave access to no account Chorus can post to: the "
            "person who consented must manage at least one",
            code="no_accounts",
            extra={"platform": pending.platform},
        )
    if len(grant.choices) == 1:
        account = await _save(
            session, keyring, principal, location, pending.platform, grant, grant.choices[0]
        )
        metrics_service.backfill_after_commit(session, redis, account)
        return ConnectOutcome(account=account)
    selection_id = await oauth_flow.offer_choice(redis, settings, keyring, pending, grant)
    return ConnectOutcome(
        account=None,
        selection_id=selection_id,
        choices=grant.choices,
        location_id=location.id,
        platform=pending.platform,
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.oauth_state_ttl_seconds),
    )


async def choose(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    principal: Principal,
    location_id: uuid.UUID,
    platform: str,
    selection_id: str,
    external_id: str,
) -> SocialAccount:
    _known_platform(platform)
    location = await location_service.get_location(
        session, principal, location_id, "social_account.connect"
    )
    keyring = keyring_from_settings(settings)
    actor = audit.Actor.of(principal)
    pending = await oauth_flow.choice(redis, keyring, selection_id, consume=False)
    if (
        pending is None
        or pending.agency_id != principal.agency_id
        or pending.location_id != location.id
        or pending.platform != platform
        or (pending.actor_type, pending.actor_id) != (actor.kind, actor.id)
    ):
        raise ValidationFailed(
            "no such selection for this location and platform",
            code="selection_not_found",
            errors=[
                FieldProblem(
                    "body.selection_id",
                    "use the selection_id the callback answered, within "
                    f"{settings.oauth_state_ttl_seconds // 60} minutes, as the person who "
                    "connected; or connect again",
                    "selection_not_found",
                )
            ],
        )
    picked = next((c for c in pending.grant.choices if c.external_id == external_id), None)
    if picked is None:
        raise ValidationFailed(
            "that account is not one of the choices",
            code="unknown_choice",
            errors=[
                FieldProblem(
                    "body.external_id",
                    "use the external_id of one of the choices: "
                    + ", ".join(c.external_id for c in pending.grant.choices),
                    "unknown_choice",
                )
            ],
        )
    account = await _save(session, keyring, principal, location, platform, pending.grant, picked)
    metrics_service.backfill_after_commit(session, redis, account)
    await oauth_flow.choice(redis, keyring, selection_id, consume=True)
    return account


async def _save(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    location: Location,
    platform: str,
    grant: Grant,
    choice: AccountChoice,
) -> SocialAccount:
    """Store (or refresh) the location's account for ``platform`` with these tokens."""
    elsewhere = (
        await session.execute(
            select(SocialAccount.location_id).where(
                SocialAccount.agency_id == principal.agency_id,
                SocialAccount.platform == platform,
                SocialAccount.external_id == choice.external_id,
                SocialAccount.location_id != location.id,
                SocialAccount.status != "revoked",
            )
        )
    ).scalar_one_or_none()
    if elsewhere is not None:
        raise Conflict(
            f"this {platform} account is already connected to another location "
            f"({elsewhere}); disconnect it there first, so that no post goes out twice",
            code="account_in_use",
            extra={"location_id": str(elsewhere)},
        )
    account = (
        await session.execute(
            select(SocialAccount)
            .where(
                SocialAccount.agency_id == principal.agency_id,
                SocialAccount.location_id == location.id,
                SocialAccount.platform == platform,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    before = audit.snapshot(account, _SNAP_FIELDS) if account else None
    now = datetime.now(UTC)
    if account is None:
        # The id is needed before the first write: the token seals are bound to it.
        account = SocialAccount(
            id=new_id(),
            agency_id=principal.agency_id,
            brand_id=location.brand_id,
            location_id=location.id,
            platform=platform,
        )
        session.add(account)
    account.external_id = choice.external_id
    account.name = choice.name
    account.username = choice.username
    account.kind = choice.kind
    account.extra = dict(choice.extra)
    account.scopes = list(grant.tokens.scopes)
    account.status = "connected"
    account.connected_by = principal.user_id
    account.connected_at = now
    account.disconnected_at = None
    account.last_error = None
    account.refresh_failures = 0
    account.next_refresh_at = None
    account.last_refreshed_at = None
    # A choice with its own token (a Facebook page) uses it, without expiry or refresh.
    own = choice.access_token is not None
    tokens = grant.tokens
    account.refresh_token = None  # a new grant replaces the old one entirely
    sealing.store_tokens(
        account,
        keyring,
        access_token=choice.access_token or tokens.access_token,
        refresh_token=None if own else tokens.refresh_token,
        expires_at=None if own else tokens.expires_at,
        refresh_expires_at=None if own else tokens.refresh_expires_at,
    )
    await session.flush()
    after = audit.snapshot(account, _SNAP_FIELDS)
    audit.record_by(
        session,
        principal,
        action="social_account.connect",
        object_type="social_account",
        object_id=account.id,
        before=before,
        after=after,
    )
    events.emit(
        session,
        agency_id=account.agency_id,
        type="account.connected",
        subject_type="social_account",
        subject_id=account.id,
        brand_id=account.brand_id,
        location_id=account.location_id,
        payload={"platform": platform, "name": account.name},
    )
    await session.flush()
    await session.refresh(account)
    return account


async def connect_with_grant(
    session: AsyncSession,
    keyring: KeyRing,
    principal: Principal,
    location_id: uuid.UUID,
    platform: str,
    grant: Grant,
    redis: Redis,
    external_id: str | None = None,
) -> SocialAccount:
    """Connect from a grant obtained outside the HTTP flow (operator tools, the demo): the
    chosen account (the first one when ``external_id`` is None), saved as the callback saves
    it, its metrics backfill queued."""
    location = await location_service.get_location(
        session, principal, location_id, "social_account.connect"
    )
    choice = next(
        (c for c in grant.choices if external_id is None or c.external_id == external_id), None
    )
    if choice is None:
        raise NotFound("that account is not among the grant's choices")
    account = await _save(session, keyring, principal, location, platform, grant, choice)
    metrics_service.backfill_after_commit(session, redis, account)
    return account


# -- Reading -------------------------------------------------------------------------------------


async def list_location_accounts(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> list[SocialAccount]:
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal,
        "social_account.read",
        Target(brand_id=location.brand_id, location_id=location.id),
        object_type="location",
    )
    rows = await session.execute(
        scoped(SocialAccount, principal)
        .where(SocialAccount.location_id == location.id)
        .order_by(SocialAccount.platform)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class AccountFilter:
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    platform: str | None = None
    status: str | None = None


SORTING = Sorting(
    default="created_at",
    fields={
        "created_at": SocialAccount.created_at,
        "updated_at": SocialAccount.updated_at,
        "connected_at": SocialAccount.connected_at,
        "name": SocialAccount.name,
        "platform": SocialAccount.platform,
        "status": SocialAccount.status,
    },
    tiebreak=SocialAccount.id,
)


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    filters: AccountFilter,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[SocialAccount]:
    """Every account the principal may read, filtered; ``status=needs_reconnect`` is the
    brand's to-do list."""
    stmt = scoped(SocialAccount, principal)
    r = reach(principal, "social_account.read")
    if not r.everything:
        stmt = stmt.where(
            SocialAccount.brand_id.in_(r.brand_ids) | SocialAccount.location_id.in_(r.location_ids)
        )
    conditions: dict[str, Any] = {
        "brand_id": filters.brand_id,
        "location_id": filters.location_id,
        "platform": filters.platform,
        "status": filters.status,
    }
    for column, value in conditions.items():
        if value is not None:
            stmt = stmt.where(getattr(SocialAccount, column) == value)
    return await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )


async def get_account(
    session: AsyncSession,
    principal: Principal,
    account_id: uuid.UUID,
    action: str = "social_account.read",
) -> SocialAccount:
    account = (
        await session.execute(
            scoped(SocialAccount, principal).where(SocialAccount.id == account_id)
        )
    ).scalar_one_or_none()
    if account is None:
        raise NotFound("social account not found")
    authorize(principal, action, _target(account), object_type="social_account")
    return account


# -- Disconnect ----------------------------------------------------------------------------------


async def disconnect(
    session: AsyncSession, settings: Settings, principal: Principal, account_id: uuid.UUID
) -> tuple[SocialAccount, bool]:
    """Revoke at the platform where it can be done (best effort: a platform that is down
    does not keep a location connected against its will), then forget the tokens."""
    account = await get_account(session, principal, account_id, "social_account.connect")
    if account.status == "revoked":
        return account, False
    revoked_there = False
    if account.access_token is not None:
        connector = _connector(settings, account.platform)
        try:
            revoked_there = await connector.revoke(
                sealing.account_auth(account, keyring_from_settings(settings))
            )
        except PlatformError as exc:
            log.warning(
                "social_account.revoke_failed",
                account_id=str(account.id),
                platform=account.platform,
                kind=exc.kind.value,
            )
    before = audit.snapshot(account, _SNAP_FIELDS)
    sealing.wipe(account)
    account.status = "revoked"
    account.disconnected_at = datetime.now(UTC)
    audit.record_by(
        session,
        principal,
        action="social_account.disconnect",
        object_type="social_account",
        object_id=account.id,
        before=before,
        after=audit.snapshot(account, _SNAP_FIELDS),
        details={"revoked_at_platform": revoked_there},
    )
    events.emit(
        session,
        agency_id=account.agency_id,
        type="account.disconnected",
        subject_type="social_account",
        subject_id=account.id,
        brand_id=account.brand_id,
        location_id=account.location_id,
        payload={"platform": account.platform, "revoked_at_platform": revoked_there},
    )
    await session.flush()
    await session.refresh(account)
    return account, revoked_there


def tokens_of(account: SocialAccount, settings: Settings) -> TokenSet:
    return sealing.token_set(account, keyring_from_settings(settings))
