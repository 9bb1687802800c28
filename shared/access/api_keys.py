"""Agency API keys: ``chk_<8 visible chars>_<secret>``, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import scopes
from shared.access.models import ApiKey
from shared.access.policy import authorize, authorize_grant
from shared.access.principal import Grant, Principal
from shared.access.roles import Role, ScopeType
from shared.access.schemas import ApiKeyCreate
from shared.audit import service as audit
from shared.billing import entitlements as billing
from shared.billing.plans import Feature
from shared.db.tenancy import set_tenant
from shared.errors import FieldProblem, NotFound, Unauthorized, ValidationFailed
from shared.locations.models import Location
from shared.pagination import Slice, Sorting, sorted_page
from shared.tenancy import scoped

KEY_PREFIX = "chk_"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` (and the audit event for key use) is written at most this often."""


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _new_key() -> tuple[str, str]:
    visible = KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return visible, f"{visible}_{secrets.token_urlsafe(32)}"


async def create(
    session: AsyncSession, principal: Principal, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    role = data.role
    if role is Role.OWNER:
        message = "API keys cannot hold the owner role; use admin or a narrower role"
        raise ValidationFailed(message, errors=[FieldProblem("body.role", message, "not_allowed")])
    authorize(principal, "api_key.manage")
    # Billing (issue #8): API keys are a plan feature.
    await billing.require_feature(session, None, principal.agency_id, Feature.API_KEYS)
    scope = await scopes.resolve(session, principal, role, data.brand_id, data.location_id)
    authorize_grant(principal, role, scope.target, "api_key.manage")
    now = datetime.now(UTC)
    if data.expires_at is not None and data.expires_at <= now:
        message = "expires_at is in the past; leave it out for a key that does not expire"
        raise ValidationFailed(message, errors=[FieldProblem("body.expires_at", message)])
    prefix, key = _new_key()
    api_key = ApiKey(
        agency_id=principal.agency_id,
        name=data.name,
        prefix=prefix,
        secret_hash=_digest(key),
        role=role.value,
        scope_type=scope.type.value,
        scope_id=scope.id,
        created_by=principal.user_id,
        expires_at=data.expires_at,
    )
    session.add(api_key)
    await session.flush()
    await session.refresh(api_key)
    audit.record_by(
        session,
        principal,
        action="api_key.create",
        object_type="api_key",
        object_id=api_key.id,
        after=audit.snapshot(api_key, ["name", "prefix", "role", "scope_type", "scope_id"]),
    )
    return api_key, key


SORTING = Sorting(
    default="created_at",
    fields={"created_at": ApiKey.created_at, "name": ApiKey.name, "role": ApiKey.role},
    tiebreak=ApiKey.id,
)


async def list_keys(
    session: AsyncSession,
    principal: Principal,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[ApiKey]:
    authorize(principal, "api_key.read")
    return await sorted_page(
        session,
        scoped(ApiKey, principal),
        SORTING,
        sort=sort,
        cursor=cursor,
        limit=limit,
        total=total,
    )


async def revoke(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    authorize(principal, "api_key.manage", object_type="api_key")
    api_key = (
        await session.execute(scoped(ApiKey, principal).where(ApiKey.id == key_id))
    ).scalar_one_or_none()
    if api_key is None:
        raise NotFound("API key not found")
    if api_key.revoked_at is None:
        api_key.revoked_at = datetime.now(UTC)
        audit.record_by(
            session,
            principal,
            action="api_key.revoke",
            object_type="api_key",
            object_id=api_key.id,
            details={"prefix": api_key.prefix},
        )
    await session.flush()
    return api_key


_BAD_KEY = "API key is not valid (revoked, expired or mistyped)"


async def authenticate(session: AsyncSession, key: str) -> Principal:
    """Finds the key by its visible prefix (the only pre-tenant lookup RLS allows), checks
    the secret in constant time, then enters the key's agency."""
    prefix = key[: len(KEY_PREFIX) + 8]  # the secret part may itself contain "_"
    if not prefix.startswith(KEY_PREFIX) or key[len(prefix) : len(prefix) + 1] != "_":
        raise Unauthorized(_BAD_KEY, code="invalid_api_key")
    await session.execute(text("SELECT set_config('app.api_key_prefix', :p, true)"), {"p": prefix})
    candidates = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalars()
    digest = _digest(key)
    match = next((k for k in candidates if hmac.compare_digest(k.secret_hash, digest)), None)
    await session.execute(text("SELECT set_config('app.api_key_prefix', '', true)"))
    now = datetime.now(UTC)
    if (
        match is None
        or match.revoked_at is not None
        or (match.expires_at is not None and match.expires_at <= now)
    ):
        raise Unauthorized(_BAD_KEY, code="invalid_api_key")
    await set_tenant(session, match.agency_id, None)
    principal = await _principal(session, match)
    if match.last_used_at is None or now - match.last_used_at >= LAST_USED_RESOLUTION:
        match.last_used_at = now
        audit.record(
            session,
            agency_id=match.agency_id,
            actor=principal,
            action="api_key.use",
            object_type="api_key",
            object_id=match.id,
        )
        await session.flush()
    return principal


async def _principal(session: AsyncSession, api_key: ApiKey) -> Principal:
    return Principal(
        agency_id=api_key.agency_id,
        api_key_id=api_key.id,
        grants=(
            Grant(
                role=Role(api_key.role),
                scope_type=ScopeType(api_key.scope_type),
                scope_id=api_key.scope_id,
                brand_id=await _brand_of_location(session, api_key),
            ),
        ),
    )


async def principal_of_key(
    session: AsyncSession, agency_id: uuid.UUID, key_id: uuid.UUID
) -> Principal | None:
    """The principal of a key still in force, inside its agency (tenant already set); for
    work a key started that finishes later (an OAuth callback)."""
    key = (
        await session.execute(
            select(ApiKey).where(ApiKey.agency_id == agency_id, ApiKey.id == key_id)
        )
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        return None
    return await _principal(session, key)


async def _brand_of_location(session: AsyncSession, api_key: ApiKey) -> uuid.UUID | None:
    if api_key.scope_type != ScopeType.LOCATION.value or api_key.scope_id is None:
        return None
    return (
        await session.execute(
            select(Location.brand_id).where(
                Location.agency_id == api_key.agency_id, Location.id == api_key.scope_id
            )
        )
    ).scalar_one_or_none()
