from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, tenant_table


class OutboundEmail(TenantMixin, Base):
    """Mail waiting to be delivered. Written in the transaction that caused it; a sender (or,
    in development, the log) picks it up after commit, so a rolled-back change sends nothing."""

    __tablename__ = tenant_table("outbound_email")
    __table_args__ = (ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),)

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
