from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from shared.brands.names import name_key, name_key_default
from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table


class Template(TenantMixin, TimestampMixin, Base):
    """A brand's post template; its content lives in numbered versions."""

    __tablename__ = tenant_table("template")
    __table_args__ = (
        UniqueConstraint("agency_id", "brand_id", "name_key"),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(Text, default=name_key_default)
    """``brands.names.name_key(name)``: unique within the brand (case and form folded)."""
    description: Mapped[str] = mapped_column(String(2000), default="", server_default="")

    @validates("name")
    def _keep_name_key(self, _: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class TemplateVersion(TenantMixin, Base):
    """One version of a template. A draft may change; a published version never does
    (campaigns point at it)."""

    __tablename__ = tenant_table("template_version")
    __table_args__ = (
        UniqueConstraint("agency_id", "template_id", "version"),
        ForeignKeyConstraint(
            ["agency_id", "template_id"], ["template.agency_id", "template.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "template_id", "version"),
        CheckConstraint("status IN ('draft', 'published')", name="status_known"),
    )

    template_id: Mapped[uuid.UUID]
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    bodies: Mapped[dict[str, str]] = mapped_column(JSONB)
    """``{"default": "...", "x": "..."}``: the shared body and per-platform overrides."""
    slots: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    media: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    """``{"default": [media…], "instagram": [media…]}``."""
    titles: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    published_at: Mapped[datetime | None]
    published_by: Mapped[uuid.UUID | None]
