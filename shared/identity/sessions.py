"""Sessions: one per login, the family of its refresh tokens (``refresh_token.family_id``),
named in every access token it issues (the ``sid`` claim).

A session is live while its family still holds an unrevoked token. Every request made with
an access token checks that, in the same round trip that sets the tenant for row-level
security (``enter``), so logout, ending a session, a password change, refresh-token reuse
and removal from the agency stop its access tokens at once, on every API replica: nothing
is remembered between requests. The check is one probe of a partial index holding only the
live rows (``ix_refresh_token_live_family``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.errors import NotFound, Unauthorized
from shared.identity.models import RefreshToken
from shared.identity.schemas import SessionOut
from shared.identity.tokens import AccessClaims

# Sets the tenant exactly as ``shared.db.tenancy.set_tenant`` does (transaction-local), and
# asks whether the session is live, in one statement. refresh_token has no row-level security
# of its own (it is read by digest before any tenant is known), so the order does not matter.
_ENTER = text(
    "SELECT set_config('app.agency_id', :agency_id, true),"
    " set_config('app.user_id', :user_id, true),"
    " EXISTS (SELECT 1 FROM refresh_token"
    " WHERE family_id = :session_id AND user_id = CAST(:user_id AS uuid)"
    " AND agency_id = CAST(:agency_id AS uuid) AND revoked_at IS NULL)"
)


class SessionRevoked(Unauthorized):
    pass


async def enter(session: AsyncSession, claims: AccessClaims) -> None:
    """Sets the request's tenant and refuses an access token whose session has ended."""
    connection = await session.connection()
    row = (
        await connection.execute(
            _ENTER,
            {
                "agency_id": str(claims.agency_id),
                "user_id": str(claims.user_id),
                "session_id": claims.session_id,
            },
        )
    ).one()
    if not row[2]:
        raise SessionRevoked("this session has ended; log in again", code="session_revoked")


async def list_sessions(
    session: AsyncSession, user_id: uuid.UUID, current: uuid.UUID | None
) -> list[SessionOut]:
    """The user's live sessions in every agency, most recently used first."""
    stmt = (
        select(
            RefreshToken.family_id,
            RefreshToken.agency_id,
            func.min(RefreshToken.created_at),
            func.max(RefreshToken.created_at),
            func.max(RefreshToken.expires_at),
            # the address of the latest rotation
            func.array_agg(
                aggregate_order_by(RefreshToken.created_ip, RefreshToken.created_at.desc())
            ),
        )
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .group_by(RefreshToken.family_id, RefreshToken.agency_id)
        .order_by(func.max(RefreshToken.created_at).desc())
    )
    rows = (await session.execute(stmt)).all()
    now = clock.now()
    return [
        SessionOut(
            id=family_id,
            agency_id=agency_id,
            created_at=created,
            last_refreshed_at=last,
            expires_at=expires,
            ip=ips[0] if ips else None,
            current=family_id == current,
        )
        for family_id, agency_id, created, last, expires, ips in rows
        if expires > now or family_id == current
    ]


async def end(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Ends one of the user's own sessions; another user's session is not found."""
    ended = await revoke(session, user_id, session_id)
    if not ended:
        raise NotFound("no such session of yours; list them with GET /v1/auth/sessions")


async def revoke(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.family_id == session_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(RefreshToken.id)
    )
    return bool(result.all())


async def revoke_all_but(
    session: AsyncSession, user_id: uuid.UUID, keep: uuid.UUID | None
) -> list[uuid.UUID]:
    """Ends every session of the user except ``keep``; returns the ended sessions' ids."""
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(RefreshToken.family_id)
    )
    if keep is not None:
        stmt = stmt.where(RefreshToken.family_id != keep)
    return sorted(set((await session.execute(stmt)).scalars().all()))
