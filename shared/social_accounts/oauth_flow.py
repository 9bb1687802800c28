"""The server-side half of a connect flow, kept in Redis between its three steps.

1. *start*: Chorus makes a ``state`` — a random id plus an HMAC of it under the secret key —
   and keeps what the callback needs (who started it, for which location and platform, the
   PKCE verifier) under that id, sealed, for ``oauth_state_ttl_seconds``.
2. *callback*: a state whose HMAC fails is refused before Redis is asked; a good one is taken
   with GETDEL, so it works once.
3. *choose* (platforms where the user picks a page or business location): the exchanged
   tokens and the choices wait, sealed, under a selection id, for the user who started.

Everything stored is sealed with the token key ring (bound to the agency and the id), so a
Redis dump shows no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from shared.config import Settings
from shared.crypto import Binding, CryptoError, KeyRing, Sealed, decrypt, encrypt
from shared.platforms.types import AccountChoice, Grant, TokenSet

_STATE_KEY = "chorus:oauth:state:{}"
_CHOICE_KEY = "chorus:oauth:choose:{}"
_INDEX_KEY = "chorus:oauth:agency:{}"
"""Which agency a state or selection belongs to (the seal is bound to it)."""


@dataclass(frozen=True, slots=True)
class PendingConnect:
    agency_id: uuid.UUID
    location_id: uuid.UUID
    platform: str
    actor_type: str  # "user" or "api_key"
    actor_id: uuid.UUID
    redirect_uri: str
    code_verifier: str | None


@dataclass(frozen=True, slots=True)
class PendingChoice:
    selection_id: str
    agency_id: uuid.UUID
    location_id: uuid.UUID
    platform: str
    actor_type: str
    actor_id: uuid.UUID
    grant: Grant


def _mac(settings: Settings, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, b"chorus.oauth-state\x00" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _nonce_of(settings: Settings, state: str) -> str | None:
    nonce, _, mac = state.partition(".")
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str (a forged state).
    expected = _mac(settings, nonce).encode()
    if not nonce or not mac or not hmac.compare_digest(mac.encode(), expected):
        return None
    return nonce


async def _seal_put(
    redis: Redis,
    keyring: KeyRing,
    key: str,
    ident: str,
    agency_id: uuid.UUID,
    payload: dict[str, Any],
    ttl: int,
) -> None:
    envelope = encrypt(json.dumps(payload), Binding("oauth.flow", agency_id, ident), keyring)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, envelope, ex=ttl)
        pipe.set(_INDEX_KEY.format(ident), str(agency_id), ex=ttl)
        await pipe.execute()


async def _seal_take(
    redis: Redis, keyring: KeyRing, key: str, ident: str, *, consume: bool
) -> dict[str, Any] | None:
    raw = await (redis.getdel(key) if consume else redis.get(key))
    agency = await (
        redis.getdel(_INDEX_KEY.format(ident)) if consume else redis.get(_INDEX_KEY.format(ident))
    )
    if raw is None or agency is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    agency_id = agency.decode() if isinstance(agency, bytes) else str(agency)
    try:
        opened = decrypt(text, Binding("oauth.flow", agency_id, ident), keyring)
    except CryptoError:
        return None
    data: dict[str, Any] = json.loads(opened.reveal())
    return data


def new_state(settings: Settings) -> tuple[str, str]:
    """A fresh ``(nonce, state)``: the state is what goes to the platform."""
    nonce = secrets.token_urlsafe(24)
    return nonce, f"{nonce}.{_mac(settings, nonce)}"


async def keep(
    redis: Redis, settings: Settings, keyring: KeyRing, nonce: str, pending: PendingConnect
) -> None:
    """Keep ``pending`` under the state's nonce until the callback (or the TTL)."""
    payload = {
        "agency_id": str(pending.agency_id),
        "location_id": str(pending.location_id),
        "platform": pending.platform,
        "actor_type": pending.actor_type,
        "actor_id": str(pending.actor_id),
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    await _seal_put(
        redis,
        keyring,
        _STATE_KEY.format(nonce),
        nonce,
        pending.agency_id,
        payload,
        settings.oauth_state_ttl_seconds,
    )


async def take(
    redis: Redis, settings: Settings, keyring: KeyRing, state: str
) -> PendingConnect | None:
    """The pending connect for ``state``, once; None when forged, expired or used."""
    nonce = _nonce_of(settings, state)
    if nonce is None:
        return None
    data = await _seal_take(redis, keyring, _STATE_KEY.format(nonce), nonce, consume=True)
    if data is None:
        return None
    return PendingConnect(
        agency_id=uuid.UUID(data["agency_id"]),
        location_id=uuid.UUID(data["location_id"]),
        platform=data["platform"],
        actor_type=data["actor_type"],
        actor_id=uuid.UUID(data["actor_id"]),
        redirect_uri=data["redirect_uri"],
        code_verifier=data["code_verifier"],
    )


def _tokens_out(tokens: TokenSet) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token.reveal(),
        "refresh_token": tokens.refresh_token.reveal() if tokens.refresh_token else None,
        "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        "refresh_expires_at": (
            tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None
        ),
        "scopes": list(tokens.scopes),
    }


def _tokens_in(data: dict[str, Any]) -> TokenSet:
    return TokenSet(
        access_token=Sealed(data["access_token"]),
        refresh_token=Sealed(data["refresh_token"]) if data["refresh_token"] else None,
        expires_at=datetime.fromisoformat(data["expires_at"]) if data["expires_at"] else None,
        refresh_expires_at=(
            datetime.fromisoformat(data["refresh_expires_at"])
            if data["refresh_expires_at"]
            else None
        ),
        scopes=tuple(data["scopes"]),
    )


async def offer_choice(
    redis: Redis,
    settings: Settings,
    keyring: KeyRing,
    pending: PendingConnect,
    grant: Grant,
) -> str:
    """Keep the grant until the user picks one of its accounts; the selection id."""
    selection_id = secrets.token_urlsafe(18)
    payload = {
        "agency_id": str(pending.agency_id),
        "location_id": str(pending.location_id),
        "platform": pending.platform,
        "actor_type": pending.actor_type,
        "actor_id": str(pending.actor_id),
        "tokens": _tokens_out(grant.tokens),
        "choices": [
            {
                "external_id": c.external_id,
                "name": c.name,
                "username": c.username,
                "kind": c.kind,
                "access_token": c.access_token.reveal() if c.access_token else None,
                "extra": c.extra,
            }
            for c in grant.choices
        ],
    }
    await _seal_put(
        redis,
        keyring,
        _CHOICE_KEY.format(selection_id),
        selection_id,
        pending.agency_id,
        payload,
        settings.oauth_state_ttl_seconds,
    )
    return selection_id


async def choice(
    redis: Redis, keyring: KeyRing, selection_id: str, *, consume: bool
) -> PendingChoice | None:
    data = await _seal_take(
        redis, keyring, _CHOICE_KEY.format(selection_id), selection_id, consume=consume
    )
    if data is None:
        return None
    choices = tuple(
        AccountChoice(
            external_id=c["external_id"],
            name=c["name"],
            username=c["username"],
            kind=c["kind"],
            access_token=Sealed(c["access_token"]) if c["access_token"] else None,
            extra=dict(c["extra"]),
        )
        for c in data["choices"]
    )
    return PendingChoice(
        selection_id=selection_id,
        agency_id=uuid.UUID(data["agency_id"]),
        location_id=uuid.UUID(data["location_id"]),
        platform=data["platform"],
        actor_type=data["actor_type"],
        actor_id=uuid.UUID(data["actor_id"]),
        grant=Grant(tokens=_tokens_in(data["tokens"]), choices=choices),
    )
