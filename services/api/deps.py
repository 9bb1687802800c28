"""Dependencies: settings, the per-request transaction, the principal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Annotated

import structlog
from arq.connections import ArqRedis
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis import exceptions as redis_errors
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access import api_keys
from shared.access import repository as access_repository
from shared.access.principal import Principal
from shared.billing import entitlements
from shared.billing.plans import Feature
from shared.config import Settings
from shared.db import Database, hooks
from shared.errors import AppError, Unauthorized
from shared.identity import sessions as identity_sessions
from shared.identity import tokens
from shared.identity.claims_cache import ClaimsCache
from shared.identity.service import ClientInfo
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.ratelimit import Limit as RateLimit
from shared.ratelimit import RateLimiter


async def get_settings(request: Request) -> Settings:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
    # hop on every request for a dictionary lookup.
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the route returns, roll back on error
    (unless the error says the work before it must stand, e.g. a revoked token family)."""
    session = get_database(request).sessionmaker()
    try:
        await session.begin()
        yield session
        await session.commit()
        await hooks.run_after_commit(session)
    except AppError as exc:
        if exc.keep_changes:
            await session.commit()
            await hooks.run_after_commit(session)
        else:
            await session.rollback()
        raise
    except BaseException:
        await session.rollback()
        raise
    finally:
        hooks.discard(session)
        await session.close()


Session = Annotated[AsyncSession, Depends(db_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="An access token or an API key.")


async def current_principal(
    request: Request,
    session: Session,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """One principal per request, from a user's access token or an agency API key, with
    its grants and its session read fresh (a removed member or an ended session loses access
    on the next request)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "send `Authorization: Bearer <access token or API key>` "
            "(get a token from POST /v1/auth/login)",
            code="missing_token",
        )
    token = credentials.credentials
    if api_keys.is_api_key(token):
        principal = await api_keys.authenticate(session, token)
    else:
        claims = _verified_claims(request, settings, token)
        # The tenant, and whether the token's session still stands, in one round trip.
        await identity_sessions.enter(session, claims)
        grants = await access_repository.load_grants(session, claims.agency_id, claims.user_id)
        if not grants:
            raise Unauthorized("you no longer have access to this agency", code="not_a_member")
        principal = Principal(
            agency_id=claims.agency_id,
            user_id=claims.user_id,
            session_id=claims.session_id,
            grants=grants,
        )
    structlog.contextvars.bind_contextvars(
        agency_id=str(principal.agency_id), actor=principal.actor
    )
    request.state.principal = principal
    state = request.app.state
    # Billing (issue #8): the plan sets the API rate (capped by the installation's), and a
    # read-only agency (grace over, canceled, trial ended) may read, pay and nothing else.
    standing = await entitlements.standing(session, settings, principal.agency_id)
    limit = entitlements.request_limit(settings.rate_limit_agency_requests, standing)
    await _count_request(state.limiter, limit, str(principal.agency_id))
    if standing.read_only and request.method not in _READS and not _billing_path(request):
        entitlements.require_writable(standing)
    if principal.api_key_id is not None:
        entitlements.require_plan_feature(standing, Feature.API_KEYS)
    return principal


_READS = frozenset({"GET", "HEAD", "OPTIONS"})
log = structlog.get_logger("chorus.api")


async def _count_request(limiter: RateLimiter, limit: RateLimit, agency_id: str) -> None:
    """The per-agency request quota fails open when Redis is down or stuck (after the Redis
    client's own short timeout): it guards fairness and capacity, while the data lives in
    PostgreSQL, so refusing every call for want of a counter would turn a Redis outage into a
    whole-API outage. The sign-up, login and refresh limits stand against password guessing
    instead and fail closed: those routes answer 503 until Redis is back."""
    try:
        await limiter.hit(limit, agency_id)
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
        log.warning("ratelimit.unavailable", limit=limit.name, error=type(exc).__name__)


def _billing_path(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/v1/billing", "/v1/auth/"))


def _verified_claims(request: Request, settings: Settings, token: str) -> tokens.AccessClaims:
    """Signature and claims are checked once per token and process; expiry on every use."""
    cache: ClaimsCache = request.app.state.claims_cache
    claims = cache.get(token)
    if claims is None:
        claims = tokens.decode_access_token(settings, token)
        cache.put(token, claims)
    elif claims.expires_at <= clock.now():
        cache.drop(token)
        claims = tokens.decode_access_token(settings, token)  # raises "token expired"
    return claims


def forget_sessions(request: Request, session_ids: Iterable[uuid.UUID]) -> None:
    """Drops ended sessions' tokens from this process's claims cache (the per-request
    session check already refuses them; this keeps them out of memory too)."""
    cache: ClaimsCache = request.app.state.claims_cache
    cache.drop_sessions(session_ids)


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_redis(request: Request) -> ArqRedis:
    redis: ArqRedis = request.app.state.redis
    return redis


CurrentPrincipal = Annotated[Principal, Depends(current_principal, scope="function")]


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(ip=request.client.host if request.client else None)


Client = Annotated[ClientInfo, Depends(client_info)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]
Redis = Annotated[ArqRedis, Depends(get_redis)]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` from the previous page."),
]
DEFAULT_PAGE_SIZE = DEFAULT_LIMIT
