from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table

CAMPAIGN_STATUSES = (
    "draft",  # being written; nothing fanned out
    "launching",  # the fan-out job is writing posts
    "running",  # posts written; publishing as they come due
    "paused",  # nothing of it is dispatched until resumed
    "completed",  # every post reached an ending
    "cancelled",  # what was not published was cancelled
)
APPROVAL_POLICIES = ("none", "location_confirm", "brand_approval")


class Campaign(TenantMixin, TimestampMixin, Base):
    """A published template version + audience + channels + schedule + variables + approval
    policy. ``audience`` and ``schedule`` are JSON validated by the schemas:

    - audience: ``{"kind": "all" | "groups" | "locations" | "filter", "group_ids": [...],
      "location_ids": [...], "filter": {"country": …, "region": …, "city": …, "q": …}}``
      (always among the brand's *active* locations);
    - schedule: ``{"kind": "absolute", "at": "<UTC instant>"}`` or ``{"kind": "local",
      "date": "2026-12-01", "time": "09:00"}``, the wall-clock time in each location's own
      time zone.
    """

    __tablename__ = tenant_table("campaign")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "template_id"], ["template.agency_id", "template.id"], ondelete="RESTRICT"
        ),
        Index(None, "agency_id", "brand_id", "id"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in CAMPAIGN_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint(
            "approval_policy IN (" + ", ".join(f"'{s}'" for s in APPROVAL_POLICIES) + ")",
            name="approval_policy_known",
        ),
        CheckConstraint(
            "approval_deadline_hours BETWEEN 0 AND 336", name="approval_deadline_hours_range"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[uuid.UUID]
    template_version: Mapped[int]
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    approval_policy: Mapped[str] = mapped_column(String(30), default="none", server_default="none")
    approval_deadline_hours: Mapped[int] = mapped_column(default=0, server_default="0")
    """How many hours before each post's time its decision is due (0: at its time)."""
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Fan-out progress: locations done of total, posts written, skipped (by reason in posts).
    fanout_total: Mapped[int] = mapped_column(default=0, server_default="0")
    fanout_done: Mapped[int] = mapped_column(default=0, server_default="0")
    launched_at: Mapped[datetime | None]
    launched_by: Mapped[uuid.UUID | None]
    completed_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]


class IdempotentRequest(TenantMixin, Base):
    """An ``Idempotency-Key`` seen on a POST: the same key again answers the stored response
    (a different body under the same key is refused), for 24 hours."""

    __tablename__ = tenant_table("idempotent_request")
    __table_args__ = (
        Index("uq_idempotent_request_key", "agency_id", "principal", "key", unique=True),
    )

    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | list[Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime]
