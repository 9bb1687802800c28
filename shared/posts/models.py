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
from sqlalchemy.orm import Mapped, mapped_column

from shared.campaigns import models as _campaigns  # noqa: F401  (the table posts refer to)
from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table

ACTIVE_STATUSES = ("scheduled", "queued", "publishing", "unconfirmed")
"""What the dispatcher looks at (when ``due_at`` comes): waiting to go, leased to a job, being
published, or sent without an answer (to reconcile before anything else)."""

ENDINGS = ("published", "failed", "cancelled", "skipped")

POST_STATUSES = (
    "draft",
    "needs_approval",
    "approved",
    "scheduled",
    "queued",
    "publishing",
    "unconfirmed",
    "published",
    "failed",
    "cancelled",
    "skipped",
)


class Post(TenantMixin, TimestampMixin, Base):
    """One location × one platform: the rendered content and where it is in its life."""

    __tablename__ = tenant_table("post")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "template_id"], ["template.agency_id", "template.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["agency_id", "campaign_id"], ["campaign.agency_id", "campaign.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "location_id", "id"),
        Index(None, "agency_id", "brand_id", "status"),
        # The calendar: a brand's posts by time (the keyset: time, then id).
        Index(None, "agency_id", "brand_id", "scheduled_at", "id"),
        Index(None, "agency_id", "campaign_id", "status"),
        # Fan-out writes each location x channel of a campaign once, however often it runs.
        UniqueConstraint("agency_id", "campaign_id", "location_id", "platform"),
        # The dispatcher's one scan, across agencies: what is due, soonest first.
        Index(
            "ix_post_approval_deadline",
            "scheduled_at",
            postgresql_where="status = 'needs_approval'",
        ),
        # The media library's "used by a post not yet ended?" (issue #17).
        Index(
            "ix_post_media_in_use",
            "media",
            postgresql_using="gin",
            postgresql_ops={"media": "jsonb_path_ops"},
            postgresql_where="status IN ('draft', 'needs_approval', 'approved', 'scheduled', "
            "'queued', 'publishing', 'unconfirmed')",
        ),
        # The approval deadlines a campaign set before its posts' times.
        Index(
            "ix_post_decide_by",
            "decide_by",
            postgresql_where="status = 'needs_approval' AND decide_by IS NOT NULL",
        ),
        Index(
            "ix_post_due",
            "due_at",
            postgresql_where="status IN ('scheduled', 'queued', 'publishing', 'unconfirmed')",
        ),
        # Per platform: what may be sent next, and what jobs hold now (the dispatcher's room).
        Index(
            "ix_post_sendable",
            "platform",
            "due_at",
            postgresql_where="status IN ('scheduled', 'queued')",
        ),
        Index(
            "ix_post_held",
            "platform",
            "due_at",
            postgresql_where="status IN ('queued', 'publishing')",
        ),
        Index(
            "ix_post_unsettled",
            "due_at",
            postgresql_where="status IN ('publishing', 'unconfirmed')",
        ),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in POST_STATUSES) + ")",
            name="status_known",
        ),
    )

    brand_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID | None]
    template_id: Mapped[uuid.UUID]
    template_version: Mapped[int]
    platform: Mapped[str] = mapped_column(String(40))
    slot_values: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(20))
    scheduled_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    external_id: Mapped[str | None] = mapped_column(String(200))
    permalink: Mapped[str | None] = mapped_column(String(2000))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    """Why the post is where it is, for the location: a skip's reason, a failure's cause."""
    account_id: Mapped[uuid.UUID | None]
    """The social account it went (or goes) out through; set when it is published."""
    sent_as: Mapped[str | None] = mapped_column(String(200))
    """The platform account (its ``external_id``) the latest attempt was sent as: a lost
    answer is looked up only through that same platform account."""
    due_at: Mapped[datetime | None]
    """When the dispatcher next looks at it: the scheduled instant, a retry's time, a lease's
    end (a job that died), a reconciliation's time."""
    lease_token: Mapped[uuid.UUID | None]
    """The dispatch that holds it; a job whose token no longer matches must let go."""
    publish_started_at: Mapped[datetime | None]
    publish_deadline: Mapped[datetime | None]
    """Retries stop here: better not published than published very late."""
    published_at: Mapped[datetime | None]
    approval_kind: Mapped[str | None] = mapped_column(String(20))
    """Who must say yes: ``location`` (confirm) or ``brand`` (approve local edits)."""
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    decide_by: Mapped[datetime | None]
    """When a post waiting for a decision is skipped if still undecided (its campaign's
    deadline); empty: at its ``scheduled_at``."""
    decision_comment: Mapped[str | None] = mapped_column(Text)


class PostStatusChange(TenantMixin, Base):
    """Every transition of a post: from, to, who or what, when, why."""

    __tablename__ = tenant_table("post_status_change")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["post.agency_id", "post.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "post_id", "id"),
    )

    post_id: Mapped[uuid.UUID]
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
