"""Signed approval links: a franchisee who only reads email approves or rejects a post with one
click, without logging in.

A token names the agency, the post, the decision, the person it was sent to and when it
expires, signed with HMAC-SHA256 under a key derived from the secret key for this purpose
alone. It carries no authority of its own: using it acts as its recipient, whose permission
is checked again at that moment. It works once (a Redis key per token, kept for the token's
remaining life) and only while the post still waits for a decision.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from redis.asyncio import Redis

from shared.config import Settings
from shared.errors import BadRequest
from shared.identity import tokens
from shared.posts.models import Post

Decision = Literal["approve", "reject"]

TOKEN_PREFIX = "capl_"
_VERSION = 1
_DECISIONS: dict[Decision, bytes] = {"approve": b"a", "reject": b"r"}
_DECISION_OF = {v: k for k, v in _DECISIONS.items()}
# version, agency, post, decision, recipient, expiry (unix seconds), nonce
_LAYOUT = struct.Struct(">B16s16sc16sQ8s")
_USED_KEY = "chorus:approval_link:used:{}"
_INVALID = (
    "this approval link is not valid (it may have been cut short by the mail program); "
    "open the post in Chorus, or ask for a new link"
)


@dataclass(frozen=True, slots=True)
class LinkClaims:
    agency_id: uuid.UUID
    post_id: uuid.UUID
    decision: Decision
    recipient_id: uuid.UUID
    expires_at: datetime
    token_id: str
    """Names the token for its single use (a digest of its payload, never the token)."""


def _key(settings: Settings) -> bytes:
    return tokens.derive_key(settings, "approval-link.v1")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(
    settings: Settings,
    post: Post,
    decision: Decision,
    recipient_user_id: uuid.UUID,
    expires_in: timedelta,
    *,
    now: datetime | None = None,
) -> str:
    """A URL-safe token that, once, makes ``decision`` on ``post`` as its recipient."""
    if decision not in _DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    expires_at = (now or datetime.now(UTC)) + expires_in
    payload = _LAYOUT.pack(
        _VERSION,
        post.agency_id.bytes,
        post.id.bytes,
        _DECISIONS[decision],
        recipient_user_id.bytes,
        int(expires_at.timestamp()),
        secrets.token_bytes(8),
    )
    signature = hmac.new(_key(settings), payload, hashlib.sha256).digest()
    return f"{TOKEN_PREFIX}{_b64(payload)}.{_b64(signature)}"


def read(settings: Settings, token: str, *, now: datetime | None = None) -> LinkClaims:
    """What a token says, if its signature holds and it has not expired (else 400)."""
    try:
        if not token.startswith(TOKEN_PREFIX):
            raise ValueError
        encoded_payload, encoded_signature = token[len(TOKEN_PREFIX) :].split(".", 1)
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        expected = hmac.new(_key(settings), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise ValueError
        version, agency, post, decision, recipient, expiry, _nonce = _LAYOUT.unpack(payload)
        if version != _VERSION or decision not in _DECISION_OF:
            raise ValueError
    except (ValueError, binascii.Error, struct.error):
        raise BadRequest(_INVALID, code="invalid_approval_link") from None
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if expires_at <= (now or datetime.now(UTC)):
        raise BadRequest(
            f"this approval link expired at {expires_at.isoformat()}; open the post in Chorus "
            "to decide it, or ask for a new link",
            code="approval_link_expired",
            extra={"expired_at": expires_at.isoformat()},
        )
    return LinkClaims(
        agency_id=uuid.UUID(bytes=agency),
        post_id=uuid.UUID(bytes=post),
        decision=_DECISION_OF[decision],
        recipient_id=uuid.UUID(bytes=recipient),
        expires_at=expires_at,
        token_id=hashlib.sha256(payload).hexdigest()[:32],
    )


async def claim(redis: Redis, claims: LinkClaims, *, now: datetime | None = None) -> bool:
    """Marks the token used; False when it already was. Kept as long as the token lives."""
    remaining = claims.expires_at - (now or datetime.now(UTC))
    ttl = max(1, int(remaining.total_seconds()) + 1)
    return bool(await redis.set(_USED_KEY.format(claims.token_id), b"1", nx=True, ex=ttl))


async def release(redis: Redis, claims: LinkClaims) -> None:
    """Gives the use back when the decision it was claimed for did not happen."""
    await redis.delete(_USED_KEY.format(claims.token_id))


async def is_used(redis: Redis, claims: LinkClaims) -> bool:
    return bool(await redis.exists(_USED_KEY.format(claims.token_id)))
