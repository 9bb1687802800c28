"""Binds a connect flow started in the web app to the browser session that started it.

The API's flow trusts the ``state`` alone ("the state says who"). A browser flow must not: a
consent link started by one person and opened by another would connect the second person's
page to the first person's location. So the web app records, under a digest of the state,
the digest of the session cookie that started it; the platform sends the browser back to the
API's callback URL (the one registered with every platform), which hands a state it finds
here to the web app's ``/accounts/callback``; that page finishes the flow only for the same
session. Where the login manages several pages, the choice waits under the session too, so
no selection id travels in a URL.

Only digests are kept: Redis holds neither the state nor the session token."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

_CONNECT_KEY = "chorus:web:connect:{}"
_CHOICE_KEY = "chorus:web:choose:{}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StartedHere:
    session_digest: str
    """The hex SHA-256 of the session cookie's token that started the flow."""
    platform: str


async def bind(
    redis: Redis, state: str, session_digest: bytes, platform: str, ttl_seconds: int
) -> None:
    value = json.dumps({"session": session_digest.hex(), "platform": platform})
    await redis.set(_CONNECT_KEY.format(_digest(state)), value, ex=ttl_seconds)


async def started_on_web(redis: Redis, state: str) -> bool:
    """Was this state's flow started in the web app (and is it still pending)?"""
    return bool(await redis.exists(_CONNECT_KEY.format(_digest(state))))


async def started_by(redis: Redis, state: str) -> StartedHere | None:
    """Who started the flow and for which platform; None when unknown or expired."""
    raw = await redis.get(_CONNECT_KEY.format(_digest(state)))
    if raw is None:
        return None
    data = json.loads(raw)
    return StartedHere(session_digest=data["session"], platform=data["platform"])


async def release(redis: Redis, state: str) -> None:
    await redis.delete(_CONNECT_KEY.format(_digest(state)))


@dataclass(frozen=True, slots=True)
class WaitingChoice:
    selection_id: str
    location_id: uuid.UUID
    platform: str


async def keep_choice(
    redis: Redis, session_digest: bytes, choice: WaitingChoice, ttl_seconds: int
) -> None:
    payload = {
        "selection_id": choice.selection_id,
        "location_id": str(choice.location_id),
        "platform": choice.platform,
    }
    await redis.set(_CHOICE_KEY.format(session_digest.hex()), json.dumps(payload), ex=ttl_seconds)


async def waiting_choice(redis: Redis, session_digest: bytes) -> WaitingChoice | None:
    raw = await redis.get(_CHOICE_KEY.format(session_digest.hex()))
    if raw is None:
        return None
    data = json.loads(raw)
    return WaitingChoice(data["selection_id"], uuid.UUID(data["location_id"]), data["platform"])


async def drop_choice(redis: Redis, session_digest: bytes) -> None:
    await redis.delete(_CHOICE_KEY.format(session_digest.hex()))
