"""Browser sessions: how the cookie maps onto the API's session model.

Signing in on the web runs the API's own login (``shared.identity.service``): the same
throttling, audit, second factor, and a new session family (``refresh_token.family_id``),
listed by ``GET /v1/auth/sessions`` like any other. Its refresh token is never handed out.
The browser gets a cookie holding a fresh opaque token of its own; ``web_session`` keeps only
that token's SHA-256 digest and the family it belongs to. A request's session is live while
the family holds an unrevoked, unexpired refresh token, checked in the same statement that
sets the tenant for row-level security (as ``shared.identity.sessions.enter`` does for access
tokens): logout, "sign out this session", a password change, a password reset and removal
from the agency end it at once, on every replica. A new cookie at every login (rotation);
the cookie cannot be replayed as a refresh token at the API."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.identity import tokens
from shared.identity.models import RefreshToken, WebSession
from shared.identity.service import revoke_family


@dataclass(frozen=True, slots=True)
class LiveSession:
    digest: bytes
    family_id: uuid.UUID
    user_id: uuid.UUID
    agency_id: uuid.UUID
    location_id: uuid.UUID | None
    full_name: str
    email: str
    language: str | None = None
    brand_id: uuid.UUID | None = None


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_for_refresh_token(
    session: AsyncSession, refresh_token: str, location_id: uuid.UUID | None = None
) -> str:
    """A new browser session on the family a login just began; returns the cookie's token."""
    family_id, user_id = (
        await session.execute(
            select(RefreshToken.family_id, RefreshToken.user_id).where(
                RefreshToken.token_hash == tokens.refresh_token_digest(refresh_token)
            )
        )
    ).one()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=digest_of(token),
            family_id=family_id,
            user_id=user_id,
            location_id=location_id,
        )
    )
    await session.flush()
    return token


# One round trip: the session, its person, whether its family is live, and the tenant set
# for row-level security (transaction-local, as shared.db.tenancy.set_tenant does).
_LOAD = text(
    "SELECT ws.family_id, ws.user_id, live.agency_id, ws.location_id, u.full_name, u.email,"
    " u.language, ws.brand_id,"
    " set_config('app.agency_id', live.agency_id::text, true),"
    " set_config('app.user_id', ws.user_id::text, true)"
    " FROM web_session ws"
    " JOIN user_account u ON u.id = ws.user_id AND u.is_active"
    " JOIN LATERAL (SELECT rt.agency_id FROM refresh_token rt"
    "  WHERE rt.family_id = ws.family_id AND rt.user_id = ws.user_id"
    "  AND rt.revoked_at IS NULL AND rt.expires_at > now() LIMIT 1) live ON true"
    " WHERE ws.token_hash = :digest"
)


async def load(session: AsyncSession, token: str) -> LiveSession | None:
    """The cookie's live session (tenant set), or None: unknown, ended or expired."""
    digest = digest_of(token)
    connection = await session.connection()
    row = (await connection.execute(_LOAD, {"digest": digest})).one_or_none()
    if row is None:
        return None
    return LiveSession(
        digest=digest,
        family_id=row[0],
        user_id=row[1],
        agency_id=row[2],
        location_id=row[3],
        full_name=row[4],
        email=row[5],
        language=row[6],
        brand_id=row[7],
    )


async def end(session: AsyncSession, live: LiveSession) -> None:
    """Sign out: the whole session family ends (the API's tokens of it too)."""
    await revoke_family(session, live.user_id, live.family_id)
    await session.execute(delete(WebSession).where(WebSession.family_id == live.family_id))


async def choose_location(session: AsyncSession, live: LiveSession, location_id: uuid.UUID) -> None:
    await session.execute(
        update(WebSession)
        .where(WebSession.token_hash == live.digest)
        .values(location_id=location_id)
    )


async def choose_brand(session: AsyncSession, live: LiveSession, brand_id: uuid.UUID) -> None:
    await session.execute(
        update(WebSession).where(WebSession.token_hash == live.digest).values(brand_id=brand_id)
    )


async def family_of(session: AsyncSession, token: str) -> uuid.UUID | None:
    found: uuid.UUID | None = (
        await session.execute(
            select(WebSession.family_id).where(WebSession.token_hash == digest_of(token))
        )
    ).scalar_one_or_none()
    return found


async def end_by_token(session: AsyncSession, token: str) -> None:
    """Ends the session a cookie names, live or not (a browser signing in again)."""
    row = (
        await session.execute(
            select(WebSession.family_id, WebSession.user_id).where(
                WebSession.token_hash == digest_of(token)
            )
        )
    ).one_or_none()
    if row is None:
        return
    await revoke_family(session, row.user_id, row.family_id)
    await session.execute(delete(WebSession).where(WebSession.family_id == row.family_id))
