"""Per-account publishing limits in Redis: GCRA for each rate window and daily cap, and a
pause an account gets when its platform answers 429 — all checked and taken in one atomic
Lua call, so concurrent workers never overshoot.

GCRA (generic cell rate algorithm) keeps one timestamp per key, the "theoretical arrival
time": a window of ``calls`` per ``seconds`` lets a burst of ``calls`` through, then one every
``seconds / calls``. A daily cap of N is the same with ``calls = N`` over 24 h. Redis' own
clock is used (``TIME``), so workers with skewed clocks agree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.platforms.types import Limits

_SCRIPT = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {0, paused} end
local wait = 0
local tats = {}
for i = 2, #KEYS do
  local emission = tonumber(ARGV[(i - 2) * 2 + 1])
  local span = tonumber(ARGV[(i - 2) * 2 + 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + emission
  local allow_at = new_tat - span
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = new_tat
end
if wait > 0 then return {0, wait} end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.max(1, math.ceil(tats[i] - now)))
end
return {1, 0}
"""

PAUSE_KEY = "chorus:publish:pause:{}"
_WINDOW_KEY = "chorus:publish:gcra:{}:{}"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds; 0 when allowed


class AccountLimiter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_SCRIPT)

    async def take(self, account_id: uuid.UUID, platform: str, limits: Limits) -> Verdict:
        """One publish for the account, if every window, the daily cap and no pause allow it
        (nothing is taken otherwise)."""
        return (await self.take_many([(account_id, platform, limits)]))[0]

    async def take_many(self, asks: list[tuple[uuid.UUID, str, Limits]]) -> list[Verdict]:
        """``take`` for many publishes in one round trip (a pipeline of the same script),
        in order: two posts of one account are decided one after the other."""
        if not asks:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for account_id, platform, limits in asks:
                keys, args = _keys_and_args(account_id, platform, limits)
                await self._script(keys=keys, args=args, client=pipe)
            answers = await pipe.execute()
        return [Verdict(bool(allowed), int(wait_ms) / 1000) for allowed, wait_ms in answers]

    async def pause(self, account_id: uuid.UUID, seconds: float) -> None:
        """The platform said slow down: nothing goes out through the account for a while."""
        await self._redis.set(PAUSE_KEY.format(account_id), "1", px=max(1, int(seconds * 1000)))


def _keys_and_args(
    account_id: uuid.UUID, platform: str, limits: Limits
) -> tuple[list[str], list[float]]:
    """The pause key, then one GCRA key per window a publish spends (an app-wide window is
    shared by the platform's accounts) and the daily cap: each with (emission, span) in ms."""
    keys = [PAUSE_KEY.format(account_id)]
    args: list[float] = []
    by_name = {w.name: w for w in limits.rate_windows}
    for name in limits.publish_windows:
        window = by_name[name]
        owner = platform if window.scope == "app" else str(account_id)
        keys.append(_WINDOW_KEY.format(owner, f"{platform}.{name}"))
        args += [1000 * window.seconds / window.calls, 1000 * window.seconds]
    if limits.publish_per_day:
        keys.append(_WINDOW_KEY.format(account_id, f"{platform}.daily_cap"))
        args += [86_400_000 / limits.publish_per_day, 86_400_000]
    return keys, args
