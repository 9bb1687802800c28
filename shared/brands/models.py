from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from shared.brands.names import name_key, name_key_default
from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table


class Brand(TenantMixin, TimestampMixin, Base):
    __tablename__ = tenant_table("brand")
    __table_args__ = (
        UniqueConstraint("agency_id", "name_key"),
        ForeignKeyConstraint(["agency_id"], ["agency.id"], ondelete="CASCADE"),
    )

    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(Text, default=name_key_default)
    """``names.name_key(name)``: what the unique index compares (case and form folded)."""
    description: Mapped[str] = mapped_column(String(2000), default="", server_default="")

    @validates("name")
    def _keep_name_key(self, _: str, name: str) -> str:
        self.name_key = name_key(name)
        return name
