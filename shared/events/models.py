from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, tenant_table


class OutboxEvent(TenantMixin, Base):
    """A domain event (``account.needs_reconnect``, ``post.published`` …), written in the
    same transaction as the change it reports; a relay delivers it later and stamps
    ``relayed_at``. The location and brand it concerns make it visible to their people."""

    __tablename__ = tenant_table("outbox_event")
    __table_args__ = (
        Index(None, "agency_id", "location_id", "id"),
        Index("ix_outbox_event_unrelayed", "id", postgresql_where="relayed_at IS NULL"),
    )

    type: Mapped[str] = mapped_column(String(80))
    brand_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID | None]
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    relayed_at: Mapped[datetime | None]
    relay_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    relay_after: Mapped[datetime | None]
    relay_error: Mapped[str | None] = mapped_column(Text)
