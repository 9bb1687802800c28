from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, tenant_table


class AuditEvent(TenantMixin, Base):
    """Who did what to which object, when and from where. Append-only."""

    __tablename__ = tenant_table("audit_event")
    __table_args__ = (
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
        Index(None, "agency_id", "object_type", "object_id"),
        Index(None, "agency_id", "actor_id"),
    )

    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[uuid.UUID | None]
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(64))
