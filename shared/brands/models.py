from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table


class Brand(TenantMixin, TimestampMixin, Base):
    __tablename__ = tenant_table("brand")
    __table_args__ = (
        UniqueConstraint("agency_id", "name"),
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="", server_default="")
