from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, tenant_table

SCAN = "mail_sweep"
"""The named scan (``app.scan``) of the mail sweep: it may read every agency's mail."""


class OutboundEmail(TenantMixin, Base):
    """Mail waiting to be delivered. Written in the transaction that caused it; a delivery job
    enqueued after commit sends it, so a rolled-back change sends nothing. A mail is due while
    neither ``sent_at`` nor ``failed_at`` is set; the sweep hands it to a job again once
    ``next_attempt_at`` has passed (after a transient failure, or when its job was lost)."""

    __tablename__ = tenant_table("outbound_email")
    __table_args__ = (
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
        Index(
            "ix_outbound_email_due",
            "next_attempt_at",
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    failed_at: Mapped[datetime | None]
