from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, tenant_table


class Membership(TenantMixin, Base):
    """A user's role at a scope inside one agency. ``scope_id`` is the brand or location id,
    NULL for agency-wide roles."""

    __tablename__ = tenant_table("membership")
    __table_args__ = (
        UniqueConstraint(
            "agency_id", "user_id", "scope_type", "scope_id", postgresql_nulls_not_distinct=True
        ),
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
        Index(None, "user_id"),
        CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)", name="scope_id_matches_scope_type"
        ),
        CheckConstraint("scope_type IN ('agency', 'brand', 'location')", name="scope_type_known"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))
    scope_type: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Invitation(TenantMixin, Base):
    """An invitation to a role at a scope. The token (emailed, never stored) is signed and
    names its agency and id, so accepting needs no login; only its SHA-256 digest is kept."""

    __tablename__ = tenant_table("invitation")
    __table_args__ = (
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
        Index(None, "agency_id", "email"),
        CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)", name="scope_id_matches_scope_type"
        ),
    )

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(40))
    scope_type: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[uuid.UUID | None]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    invited_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_user_id: Mapped[uuid.UUID | None]
    revoked_at: Mapped[datetime | None]


class ApiKey(TenantMixin, Base):
    """An agency's API key. ``prefix`` is the visible, random part (``chk_1a2b3c4d``); the
    whole key is only ever shown once and is stored as a SHA-256 digest."""

    __tablename__ = tenant_table("api_key")
    __table_args__ = (
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
        UniqueConstraint("agency_id", "prefix"),
        Index(None, "prefix"),
        CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)", name="scope_id_matches_scope_type"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(40))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    role: Mapped[str] = mapped_column(String(40))
    scope_type: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
