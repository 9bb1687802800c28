from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table

ACCOUNT_STATUSES = ("connected", "needs_reconnect", "revoked")


class SocialAccount(TenantMixin, TimestampMixin, Base):
    """One location's connection to one platform (at most one per location and platform;
    reconnecting updates the row). Tokens are AES-GCM envelopes bound to this row
    (``shared.crypto``); a revoked account keeps its row, without tokens, for the record."""

    __tablename__ = tenant_table("social_account")
    __table_args__ = (
        UniqueConstraint("agency_id", "location_id", "platform"),
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "brand_id", "id"),
        # The refresh scan: connected accounts by expiry, across agencies.
        Index(
            "ix_social_account_refresh_due",
            "token_expires_at",
            postgresql_where="status = 'connected' AND refresh_token IS NOT NULL",
        ),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ACCOUNT_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint(
            "status = 'revoked' OR access_token IS NOT NULL", name="connected_has_token"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(300))
    username: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_key_id: Mapped[str | None] = mapped_column(String(40))
    """The key that sealed the tokens: rows still under a retired key are easy to find."""
    token_expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]
    refresh_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    next_refresh_at: Mapped[datetime | None]
    """After a failed refresh: not before this (backoff)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    connected_by: Mapped[uuid.UUID | None]
    connected_at: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
