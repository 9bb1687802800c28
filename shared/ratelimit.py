"""Rate limits on Redis through the ``limits`` library (moving window, atomic in Lua)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from shared.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    rate: RateLimitItem
    message: str

    @classmethod
    def of(cls, name: str, rate: str, message: str) -> Limit:
        return cls(name, parse(rate), message)


class RateLimiter:
    """Shares the caller's Redis connection pool, so closing that client closes this too."""

    def __init__(self, redis: Redis) -> None:
        self._storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # typed too narrowly
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def hit(self, limit: Limit, *identifiers: str) -> None:
        """Count one hit; over the limit raises 429 with the seconds until a slot frees."""
        if await self._limiter.hit(limit.rate, limit.name, *identifiers):
            return
        stats = await self._limiter.get_window_stats(limit.rate, limit.name, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(limit.message, retry_after_seconds=retry_after)

    async def test(self, limit: Limit, *identifiers: str) -> bool:
        return await self._limiter.test(limit.rate, limit.name, *identifiers)

    async def clear(self, limit: Limit, *identifiers: str) -> None:
        await self._limiter.clear(limit.rate, limit.name, *identifiers)
