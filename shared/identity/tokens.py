"""Access tokens (JWT, HS256 pinned) and opaque refresh tokens (stored as SHA-256 digests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt.types import Options

from shared import clock
from shared.config import Settings
from shared.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
REFRESH_PREFIX = "crt_"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    agency_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


def derive_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose alone, so the root secret signs nothing directly."""
    root = settings.secret_key.get_secret_value().encode()
    return hmac.new(root, f"chorus.{purpose}".encode(), hashlib.sha256).digest()


def _signing_key(settings: Settings) -> bytes:
    return derive_key(settings, "jwt.v1")


def issue_access_token(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    agency_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    issued = now or clock.now()
    expires = issued + timedelta(seconds=settings.access_token_ttl_seconds)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "aid": str(agency_id),
        "sid": str(session_id),
        "typ": ACCESS_TOKEN_TYPE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(8),
    }
    token = jwt.encode(claims, _signing_key(settings), algorithm=ALGORITHM)
    return token, expires


def decode_on_clock(
    token: str, key: bytes, *, options: Options, leeway: float = 0, **kwargs: Any
) -> dict[str, Any]:
    """``jwt.decode``, with ``exp``, ``iat`` and ``nbf`` checked against :mod:`shared.clock`
    instead of PyJWT's own reading of the system clock (which nothing can move), by PyJWT's
    rules and with its errors: expired once ``exp <= now - leeway``, not yet valid while
    ``iat`` or ``nbf`` is after ``now + leeway``. In production the two clocks agree."""
    ours: Options = {**options, "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    claims: dict[str, Any] = jwt.decode(token, key, options=ours, leeway=leeway, **kwargs)
    now = clock.now().timestamp()
    for name, error in (("iat", jwt.InvalidIssuedAtError), ("nbf", jwt.DecodeError)):
        if name in claims:
            try:
                at = int(claims[name])
            except (ValueError, TypeError, OverflowError):
                raise error(f"the {name} claim must be an integer") from None
            if at > now + leeway:
                raise jwt.ImmatureSignatureError(f"The token is not yet valid ({name})")
    if "exp" in claims:
        try:
            expires = int(claims["exp"])
        except (ValueError, TypeError, OverflowError):
            raise jwt.DecodeError("the exp claim must be an integer") from None
        if expires <= now - leeway:
            raise jwt.ExpiredSignatureError("Signature has expired")
    return claims


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = decode_on_clock(
            token,
            _signing_key(settings),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "access token expired; get a new one from POST /v1/auth/refresh",
            code="token_expired",
        ) from None
    except jwt.PyJWTError:
        raise Unauthorized("access token is not valid", code="invalid_token") from None
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("token is not an access token", code="invalid_token")
    try:
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            agency_id=uuid.UUID(claims["aid"]),
            session_id=uuid.UUID(claims["sid"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (KeyError, ValueError, TypeError):
        raise Unauthorized("access token is not valid", code="invalid_token") from None


def new_refresh_token() -> tuple[str, bytes]:
    """Returns the token to hand out once and the digest to store."""
    raw = secrets.token_bytes(32)
    token = REFRESH_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return token, refresh_token_digest(token)


def refresh_token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
