"""``python -m shared.cli demo-connect``: the demo locations' social accounts, connected
through the platform sandbox with the real OAuth flow (consent page, code exchange, the first
page or business location chosen), then their numbers collected.

The sandbox keeps nothing across restarts, so ``make run`` runs this each time once the
sandbox is up: every demo location gets fresh accounts (the same rows, new tokens), and the
worker backfills 30 days of metrics for each (queued when an account connects).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import aiohttp
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import func, select, update

from shared.access import repository as access_repository
from shared.access.principal import Grant, Principal
from shared.access.roles import Role, ScopeType
from shared.brands.models import Brand
from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.demo import DEMO_BRAND, DEMO_EMAIL, DEMO_LOCATIONS
from shared.identity.models import User
from shared.locations.models import Location
from shared.platforms import registry
from shared.social_accounts import service as social_service
from shared.social_accounts.models import SocialAccount

DEMO_PLATFORMS = ("facebook", "instagram", "x", "google_business")
CONCURRENT_LOCATIONS = 1
"""Locations connected at once. One: the sandbox numbers the accounts and places it creates in
the order they are connected, and only the same order every run gives each demo location the
same ones again after a restart (the sandbox forgets everything), so the reviews and posts
collected on earlier runs still name places that exist: with four at a time, a reply to an
earlier run's review reached another location's place or none ("not found")."""


@dataclass(frozen=True)
class Connected:
    accounts: int
    locations: int


class DemoNotSeeded(RuntimeError):
    pass


async def _consent(browser: aiohttp.ClientSession, url: str) -> str:
    """The browser's part: open the consent page; the code it redirects back with."""
    async with browser.get(url, allow_redirects=False) as answer:
        location = answer.headers.get("Location", "")
    query = parse_qs(urlsplit(location).query)
    if "code" not in query:
        raise RuntimeError(f"the sandbox's consent page did not give a code ({answer.status})")
    return query["code"][0]


async def _sandbox_up(url: str, seconds: float = 60.0) -> None:
    """``make run`` starts this beside the sandbox: wait until it answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/_sandbox/platforms") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if loop.time() > deadline:
                raise RuntimeError(f"the sandbox at {url} did not answer")
            await asyncio.sleep(0.2)


async def connect_demo(settings: Settings) -> Connected:
    if not settings.platform_sandbox_url:
        raise RuntimeError("demo-connect only works against the sandbox (test mode)")
    await _sandbox_up(settings.platform_sandbox_url)
    db = Database(settings.app_db_url, pool_size=CONCURRENT_LOCATIONS)
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    keyring = keyring_from_settings(settings)
    redirect_uri = social_service.callback_url(settings)
    try:
        async with db.transaction() as session:
            user = (
                await session.execute(select(User).where(User.email == DEMO_EMAIL))
            ).scalar_one_or_none()
            if user is None:
                raise DemoNotSeeded("run `python -m shared.cli seed-demo` first")
            await set_tenant(session, None, user.id)
            agency_id = (await access_repository.agencies_of_user(session, user.id))[0]
            user_id = user.id
        principal = Principal(
            agency_id=agency_id, user_id=user_id, grants=(Grant(Role.OWNER, ScopeType.AGENCY),)
        )
        async with db.transaction(agency_id, user_id) as session:
            brand_id = (
                await session.execute(
                    select(Brand.id).where(Brand.agency_id == agency_id, Brand.name == DEMO_BRAND)
                )
            ).scalar_one()
            locations: list[uuid.UUID] = list(
                (
                    await session.execute(
                        select(Location.id)
                        .where(
                            Location.agency_id == agency_id,
                            Location.brand_id == brand_id,
                            Location.external_ref.in_([d.ref for d in DEMO_LOCATIONS]),
                        )
                        .order_by(Location.external_ref)
                    )
                ).scalars()
            )
            # The sandbox keeps nothing across restarts (and numbers its accounts afresh):
            # what the demo had connected is gone there, so it is forgotten here too.
            await session.execute(
                update(SocialAccount)
                .where(SocialAccount.agency_id == agency_id, SocialAccount.status != "revoked")
                .values(
                    status="revoked",
                    access_token=None,
                    refresh_token=None,
                    token_key_id=None,
                    token_expires_at=None,
                    disconnected_at=func.now(),
                    last_error="the platform sandbox restarted",
                )
            )
        gate = asyncio.Semaphore(CONCURRENT_LOCATIONS)

        async def connect_location(browser: aiohttp.ClientSession, location_id: uuid.UUID) -> int:
            async with gate:
                for platform in DEMO_PLATFORMS:
                    connector = registry.connector(platform, settings)
                    request = connector.authorize_url("demo", redirect_uri)
                    code = await _consent(browser, request.url)
                    grant = await connector.exchange_code(code, redirect_uri, request.code_verifier)
                    async with db.transaction(agency_id, user_id) as session:
                        await social_service.connect_with_grant(
                            session, keyring, principal, location_id, platform, grant, redis
                        )
                return len(DEMO_PLATFORMS)

        async with aiohttp.ClientSession() as browser:
            connected = await asyncio.gather(*(connect_location(browser, i) for i in locations))
        accounts = sum(connected)
        return Connected(accounts=accounts, locations=len(locations))
    finally:
        await registry.close()
        await redis.aclose()
        await db.dispose()
