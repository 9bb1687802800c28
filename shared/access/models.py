from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
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
