"""The FastAPI application factory (``uvicorn services.api.app:create_app --factory``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from arq.connections import ArqRedis
from fastapi import Depends, FastAPI
from redis import exceptions as redis_errors

from services.api.concurrency import install_concurrency_handlers
from services.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from services.api.openapi_document import document_problems
from services.api.problems import install_problem_handlers
from services.api.routes import (
    access,
    analytics,
    approval_page,
    approvals,
    audit,
    auth,
    billing,
    brands,
    campaigns,
    health,
    location_groups,
    location_import,
    locations,
    media,
    media_files,
    media_uploads,
    posts,
    reviews,
    social_accounts,
    templates,
)
from services.api.validation import document_unknown_query, refuse_unstorable_input
from services.web import app as web_app
from shared import http as outbound_http
from shared.config import Settings, get_settings
from shared.db import Database
from shared.identity.claims_cache import ClaimsCache
from shared.logging import configure_logging
from shared.platforms import registry as platform_registry
from shared.ratelimit import RateLimiter

log = structlog.get_logger("chorus.api")

DESCRIPTION = """
Chorus runs social media for multi-location brands: agencies and brand managers write once,
every location gets its own localized post.

Authenticate with `Authorization: Bearer <access token>` from `POST /v1/auth/login`.
Errors are RFC 9457 `application/problem+json` with a stable `code`; list endpoints page with
an opaque `cursor`.
"""


async def connect_redis(settings: Settings) -> ArqRedis:
    """The API's Redis client (jobs, rate limits, one-time tokens), every wait bounded: a dead
    or frozen Redis fails a command within seconds (answered 503) instead of hanging it.

    Unlike arq's ``create_pool`` (no read timeout, and five retries a second apart before
    giving up), a Redis that is down when the API starts is only logged: the routes that need
    it answer 503 until it is back, and the rest of the API works meanwhile."""
    redis: ArqRedis = ArqRedis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
    )
    try:
        await redis.ping()
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
        log.warning("api.redis_unavailable", error=str(exc))
    return redis


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.app_db_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            connect_timeout=settings.db_connect_timeout_seconds,
            pool_timeout=settings.db_pool_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
        )
        redis = await connect_redis(settings)
        app.state.db = db
        app.state.redis = redis
        app.state.limiter = RateLimiter(redis)
        app.state.claims_cache = ClaimsCache()
        # Start-up objects live as long as the process: keep the collector from walking
        # them again in every full collection (each walk stalled every request in flight).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await outbound_http.close()
            await platform_registry.close()
            gateway = getattr(app.state, "stripe_gateway", None)
            if gateway is not None:
                await gateway.aclose()
            await redis.aclose()
            await db.dispose()

    app = FastAPI(
        title="Chorus API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        dependencies=[Depends(refuse_unstorable_input)],
    )
    app.state.settings = settings
    install_problem_handlers(app)
    install_concurrency_handlers(app)  # after: it passes other database errors on to them
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(access.router)
    app.include_router(audit.router)
    app.include_router(brands.router)
    app.include_router(location_import.router)
    app.include_router(locations.router)
    app.include_router(location_groups.router)
    app.include_router(templates.router)
    app.include_router(posts.router)
    app.include_router(social_accounts.router)
    app.include_router(campaigns.router)
    app.include_router(approvals.router)
    app.include_router(approval_page.router)
    app.include_router(reviews.router)
    app.include_router(analytics.router)
    app.include_router(billing.router)
    app.include_router(media_files.router)
    app.include_router(media_uploads.router)
    app.include_router(media.router)
    web_app.mount(app)  # last: its error pages answer every path the API does not
    document_unknown_query(app)
    document_problems(app)
    return app
