"""Per-platform fault injection with a seeded RNG, changeable at runtime.

Each API call rolls one number in [0, 1) from the platform's own ``random.Random(seed)``; the
rates are stacked in the order of ``FaultKind`` (server_error, rate_limited, auth_revoked,
accept_then_timeout, late_commit), so the same seed and the same calls give the same faults.

``late_commit`` is the hard case for exactly-once: the platform applies a write only after
the client has given up on it (``commit_after_s`` after the request arrived, whether or not
the client is still there) and never answers. A reader asking "did it go out?" before then
is told no. The wait is on the sandbox's clock: moving it (``/_sandbox/clock/advance``) past
the commit time applies the write at once. Reads roll no late commit: only writes (POST, PUT,
PATCH, DELETE) are delayed.
"""

import asyncio
import random
from collections import Counter
from contextvars import ContextVar
from enum import StrEnum

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.sandbox.clock import Clock


class FaultKind(StrEnum):
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    AUTH_REVOKED = "auth_revoked"
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    LATE_COMMIT = "late_commit"


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
request_method: ContextVar[str] = ContextVar("sandbox_request_method", default="GET")
"""Set for each request by the app's middleware: late commits only delay writes."""


class FaultRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_error: float = Field(0.0, ge=0.0, le=1.0)
    rate_limited: float = Field(0.0, ge=0.0, le=1.0)
    auth_revoked: float = Field(0.0, ge=0.0, le=1.0)
    accept_then_timeout: float = Field(0.0, ge=0.0, le=1.0)
    late_commit: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _at_most_one(self) -> "FaultRates":
        if sum(self.model_dump().values()) > 1.0 + 1e-9:
            raise ValueError("the error rates add up to more than 1")
        return self


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=600_000)
    error_rates: FaultRates = Field(default_factory=FaultRates)
    seed: int = 0
    # rate_limited: how long the refused call is told to wait (rate-limit headers).
    retry_after_s: float = Field(1.0, ge=0.0, le=86_400.0)
    # accept_then_timeout: how long the answer is held after the work is done (the client gives
    # up long before; the hold ends early when the client disconnects).
    hold_s: float = Field(3600.0, ge=0.0)
    # late_commit: how long after the request arrived the write is applied (then the answer is
    # held like accept_then_timeout's, so the client never hears of it).
    commit_after_s: float = Field(5.0, ge=0.0, le=3600.0)


class PlatformFaults:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.counts: Counter[FaultKind] = Counter()

    def roll(self) -> FaultKind | None:
        draw = self._rng.random()
        edge = 0.0
        rates = self.config.error_rates
        for kind in FaultKind:
            edge += float(getattr(rates, kind.value))
            if draw < edge:
                return kind
        return None


class FaultBook:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._by_platform: dict[str, PlatformFaults] = {}

    def get(self, platform: str) -> PlatformFaults:
        return self._by_platform.setdefault(platform, PlatformFaults())

    def set(self, platform: str, config: FaultConfig) -> PlatformFaults:
        self._by_platform[platform] = PlatformFaults(config)
        return self._by_platform[platform]

    def reset(self) -> None:
        self._by_platform.clear()

    async def before_call(self, platform: str) -> FaultKind | None:
        """Wait the configured latency, then roll this call's fault (``None``: behave).

        A late commit waits here, before the work is done: the handler goes on (and stores the
        post) after the client has timed out, as a platform that applies writes late does."""
        faults = self.get(platform)
        if faults.config.latency_ms:
            await asyncio.sleep(faults.config.latency_ms / 1000)
        fault = faults.roll()
        if fault is FaultKind.LATE_COMMIT and request_method.get() not in WRITES:
            return None
        if fault is not None:
            faults.counts[fault] += 1
        if fault is FaultKind.LATE_COMMIT:
            await self._clock.sleep_until(self._clock.now() + faults.config.commit_after_s)
        return fault

    async def hold(self, platform: str, request: Request) -> None:
        """accept_then_timeout: the work is done; the answer doesn't come until ``hold_s`` has
        passed or the client hung up (so a server shutdown doesn't wait on held answers)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.get(platform).config.hold_s
        while (left := deadline - loop.time()) > 0:
            if await request.is_disconnected():
                return
            await asyncio.sleep(min(0.1, left))
