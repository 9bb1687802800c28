from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.ids import new_id


class User(Base):
    """A person. Global (not tenant-owned): one login reaches agencies through memberships."""

    __tablename__ = "user_account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_login_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    """The web app's language (``en``, ``el``); None: the browser's Accept-Language."""


class RefreshToken(Base):
    """An opaque refresh token, stored as a SHA-256 digest. Tokens of one login share a family:
    presenting an already-rotated token revokes the whole family (RFC 9700 reuse detection)."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        Index(None, "user_id", "family_id"),
        # The per-request session check (shared.identity.sessions.enter) reads only live rows.
        Index(
            "ix_refresh_token_live_family",
            "family_id",
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    agency_id: Mapped[uuid.UUID]
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_ip: Mapped[str | None] = mapped_column(String(64))


class PasswordReset(Base):
    """A one-time password-reset link, stored as a SHA-256 digest of its token. Global like
    the user it belongs to (no agency: the person may be in several, or asks before any is
    known), so it has no row-level security; it is only ever read by digest."""

    __tablename__ = "password_reset"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_ip: Mapped[str | None] = mapped_column(String(64))


class TwoFactor(Base):
    """A user's TOTP authenticator: the secret sealed at rest (AES-GCM, bound to the user),
    enabled once a first code confirmed it; ``last_step`` refuses a code used before."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RecoveryCode(Base):
    """One single-use recovery code, stored as a SHA-256 digest."""

    __tablename__ = "two_factor_recovery_code"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    used_at: Mapped[datetime | None]


class AgencySecurity(Base):
    """An agency's sign-in policy, set by an owner (tenant table, row-level security)."""

    __tablename__ = "agency_security"

    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_by: Mapped[uuid.UUID | None]


class WebSession(Base):
    """A browser's session of the web app: the cookie's opaque token, kept as its SHA-256
    digest, bound to one session family (``RefreshToken.family_id``). It lives exactly while
    that family does (services/web/sessions.py), so every way the API ends a session ends
    this one too. ``location_id``: the location the person is looking at (the switcher);
    ``brand_id``: the brand of the brand screens (their switcher)."""

    __tablename__ = "web_session"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[uuid.UUID | None]
    brand_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
