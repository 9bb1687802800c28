"""Rate limits on Redis through the ``limits`` library.

Two strategies: a moving window (exact, a sorted log per key: for login and refresh, where
precision matters and volumes are small) and a sliding-window counter (two counters per
key, one round trip: for the per-agency request quota that every API call pays)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.aio.strategies import RateLimiter as RateLimiterStrategy
from redis.asyncio import Redis

from shared.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    rate: RateLimitItem
    message: str
    approximate: bool = False
    """Sliding-window counter instead of the exact moving window."""

    @classmethod
    def of(cls, name: str, rate: str, message: str, *, approximate: bool = False) -> Limit:
        return cls(name, parse(rate), message, approximate)


class RateLimiter:
    """Shares the caller's Redis connection pool, so closing that client closes this too."""

    def __init__(self, redis: Redis) -> None:
        self._storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # typed too narrowly
        )
        self._exact = MovingWindowRateLimiter(self._storage)
        self._approximate = SlidingWindowCounterRateLimiter(self._storage)

    def _strategy(self, limit: Limit) -> RateLimiterStrategy:
        return self._approximate if limit.approximate else self._exact

    async def hit(self, limit: Limit, *identifiers: str) -> None:
        """Count one hit; over the limit raises 429 with the seconds until a slot frees."""
        strategy = self._strategy(limit)
        if await strategy.hit(limit.rate, limit.name, *identifiers):
            return
        stats = await strategy.get_window_stats(limit.rate, limit.name, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(limit.message, retry_after_seconds=retry_after)

    async def test(self, limit: Limit, *identifiers: str) -> bool:
        return await self._strategy(limit).test(limit.rate, limit.name, *identifiers)

    async def clear(self, limit: Limit, *identifiers: str) -> None:
        await self._strategy(limit).clear(limit.rate, limit.name, *identifiers)
