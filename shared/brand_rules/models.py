from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table


class BrandRules(TenantMixin, TimestampMixin, Base):
    """What a brand's posts must and must not contain; one row per brand."""

    __tablename__ = tenant_table("brand_rules")
    __table_args__ = (
        UniqueConstraint("agency_id", "brand_id"),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    allowed_platforms: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
    """None: every platform."""
    banned_words: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    required_hashtags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default="{}"
    )
    required_disclaimer: Mapped[str] = mapped_column(Text, default="", server_default="")
    allowed_link_domains: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    """None: links to any domain."""
    max_hashtags: Mapped[int | None]
    location_edits_need_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    platform_overrides: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default="{}"
    )
