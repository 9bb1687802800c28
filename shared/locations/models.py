from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table


class Location(TenantMixin, TimestampMixin, Base):
    """One storefront. Active locations are the billed seats."""

    __tablename__ = tenant_table("location")
    __table_args__ = (
        UniqueConstraint("agency_id", "brand_id", "external_ref"),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "brand_id", "id"),
        Index(None, "agency_id", "brand_id", "name", "id"),
        CheckConstraint("status IN ('active', 'paused', 'archived')", name="status_known"),
    )

    brand_id: Mapped[uuid.UUID]
    external_ref: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    region: Mapped[str] = mapped_column(String(100), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    country: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    website: Mapped[str] = mapped_column(String(500), default="", server_default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")


class LocationGroup(TenantMixin, TimestampMixin, Base):
    """A named set of a brand's locations (a region, a franchisee) for targeting and rollups."""

    __tablename__ = tenant_table("location_group")
    __table_args__ = (
        UniqueConstraint("agency_id", "brand_id", "name"),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="", server_default="")


class LocationGroupMember(Base):
    __tablename__ = tenant_table("location_group_member")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "group_id"],
            ["location_group.agency_id", "location_group.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            ondelete="CASCADE",
        ),
        Index(None, "agency_id", "location_id"),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
