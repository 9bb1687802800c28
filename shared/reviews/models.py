"""Reviews and what decides about them.

- ``review_source``: one place reviews come from for one location (its Google Business
  Profile or Facebook page through the location's social account, or a Yelp business attached
  by id), with the collection cursor and schedule.
- ``review``: one review, unique on (agency, source, external id); ``created_at`` and
  ``updated_at`` are the review's own times at the platform, ``collected_at`` when Chorus first
  saw it. The reply columns hold the one reply a location gives (from Chorus or found at the
  platform) and its delivery status.
- ``review_settings``: per brand, what counts as negative.
- ``auto_reply_rule``: per brand, which reviews get an automatic reply, with which template.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table

SCAN_NAME = "review_collect"
"""The named scan (``app.scan``) of the collection and reply sweeps."""

SOURCES = ("google_business", "facebook", "yelp")
"""Where reviews come from, named as social accounts name their platform."""
SOURCE_PLATFORM = {s: s for s in SOURCES}
PLATFORM_SOURCE = {s: s for s in SOURCES}
LEGACY_SOURCES = {"google": "google_business"}
"""Names reviews gave their sources before they followed the accounts' (still accepted)."""
SOURCE_STATUSES = ("active", "needs_reconnect", "disabled")
REPLY_STATUSES = ("none", "pending_approval", "queued", "sending", "unconfirmed", "sent", "failed")
"""``none`` → (``pending_approval`` →) ``queued`` → ``sending`` → ``sent``; a transient error
goes back to ``queued`` with a later ``reply_due_at``; a timeout after sending is
``unconfirmed`` until Chorus has checked at the platform; ``failed`` keeps its reason."""
REPLY_ORIGINS = ("platform", "manual", "auto")
REPLY_ACTIONS = ("post", "edit", "delete")
"""What the queued reply work does at the platform; ``edit`` and ``delete`` change a reply that
is there (``reply_previous_text``), and leave it as it was if the platform refuses."""
ANSWERED = ("queued", "sending", "unconfirmed", "sent")
"""Reply statuses that count as an answer: a review with one no longer needs attention.
``pending_approval`` (a draft waiting for a person) and ``failed`` do not."""
UNANSWERED = tuple(s for s in REPLY_STATUSES if s not in ANSWERED)
SENTIMENT_LABELS = ("positive", "neutral", "negative")


def _known(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class ReviewSource(TenantMixin, TimestampMixin, Base):
    __tablename__ = tenant_table("review_source")
    __table_args__ = (
        UniqueConstraint("agency_id", "location_id", "source"),
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        # The collection scan: active sources by due time, across agencies.
        Index("ix_review_source_due", "next_collect_at", postgresql_where="status = 'active'"),
        Index(None, "agency_id", "account_id"),
        CheckConstraint(_known("source", SOURCES), name="source_known"),
        CheckConstraint(_known("status", SOURCE_STATUSES), name="status_known"),
        CheckConstraint(
            "(source = 'yelp') = (account_id IS NULL)", name="social_sources_have_account"
        ),
    )

    brand_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    source: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[uuid.UUID | None]
    """The location's social account (google, facebook); none for Yelp (Chorus's own key)."""
    external_id: Mapped[str] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    cursor: Mapped[datetime | None]
    """The newest review update time collected: the next run stops once it reaches it."""
    full_sync_at: Mapped[datetime | None]
    """The last run that read every page (sources without edit times re-read daily)."""
    stagger_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """This source's fixed offset within the collection interval (spreads the load)."""
    next_collect_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_collected_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    attached_by: Mapped[uuid.UUID | None]


class Review(TenantMixin, Base):
    __tablename__ = tenant_table("review")
    __table_args__ = (
        UniqueConstraint("agency_id", "source", "external_id"),
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "source_id"],
            ["review_source.agency_id", "review_source.id"],
            ondelete="CASCADE",
        ),
        Index(None, "agency_id", "location_id", "created_at"),
        Index(None, "agency_id", "brand_id", "created_at"),
        Index(
            "ix_review_needs_attention",
            "agency_id",
            "location_id",
            "created_at",
            postgresql_where=(
                "needs_attention AND reply_status IN ('none', 'pending_approval', 'failed')"
            ),
        ),
        # Replies due to be sent or checked, across agencies (a lost job is found again).
        Index(
            "ix_review_reply_due",
            "reply_due_at",
            postgresql_where="reply_status IN ('queued', 'sending', 'unconfirmed')",
        ),
        CheckConstraint(_known("source", SOURCES), name="source_known"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(_known("reply_status", REPLY_STATUSES), name="reply_status_known"),
        CheckConstraint(_known("reply_action", REPLY_ACTIONS), name="reply_action_known"),
        CheckConstraint(_known("sentiment_label", SENTIMENT_LABELS), name="sentiment_known"),
    )

    brand_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    source_id: Mapped[uuid.UUID]
    account_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    """1..5; None where the platform gives no stars (a Facebook recommendation)."""
    recommends: Mapped[bool | None] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    author: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime]
    """When the reviewer wrote it (the platform's time)."""
    updated_at: Mapped[datetime]
    """When the reviewer last changed it (the platform's time)."""
    collected_at: Mapped[datetime] = mapped_column(server_default=func.now())
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    """When Chorus last stored a change to it."""
    sentiment_score: Mapped[float] = mapped_column(Float)
    """VADER's compound score, -1 (most negative) .. 1."""
    sentiment_label: Mapped[str] = mapped_column(String(10))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    """Negative by the brand's rules; the API's ``needs_attention`` is this while unanswered
    (see :attr:`open_attention`)."""
    attention_reason: Mapped[str | None] = mapped_column(String(200))
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_status: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    reply_origin: Mapped[str | None] = mapped_column(String(10))
    reply_by: Mapped[uuid.UUID | None]
    reply_rule_id: Mapped[uuid.UUID | None]
    reply_requested_at: Mapped[datetime | None]
    reply_due_at: Mapped[datetime | None]
    reply_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reply_error: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    """When the reply reached the platform (or the platform's time of a reply found there)."""
    reply_action: Mapped[str] = mapped_column(String(10), default="post", server_default="post")
    reply_external_id: Mapped[str | None] = mapped_column(String(300))
    """The platform's id of the reply, where it has one (a Facebook comment)."""
    reply_previous_text: Mapped[str | None] = mapped_column(Text)
    """The reply at the platform while an edit or delete of it is on its way."""

    @property
    def open_attention(self) -> bool:
        """Negative and not answered: no reply sent or on its way."""
        return self.needs_attention and self.reply_status not in ANSWERED


class ReviewSettings(TenantMixin, TimestampMixin, Base):
    __tablename__ = tenant_table("review_settings")
    __table_args__ = (
        UniqueConstraint("agency_id", "brand_id"),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
        CheckConstraint("negative_rating BETWEEN 0 AND 5", name="negative_rating_range"),
    )

    brand_id: Mapped[uuid.UUID]
    negative_rating: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")
    """A review rated at or below this needs attention (0: never by rating alone)."""
    negative_sentiment: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    """Whether negative sentiment alone makes a review need attention."""


class AutoReplyRule(TenantMixin, TimestampMixin, Base):
    __tablename__ = tenant_table("auto_reply_rule")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "group_id"],
            ["location_group.agency_id", "location_group.id"],
            ondelete="CASCADE",
        ),
        Index(None, "agency_id", "brand_id", "position"),
        CheckConstraint(
            "min_rating BETWEEN 1 AND 5 AND max_rating BETWEEN 1 AND 5 "
            "AND min_rating <= max_rating",
            name="rating_range",
        ),
    )

    brand_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    sources: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    """Empty: every source."""
    min_rating: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    max_rating: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    group_id: Mapped[uuid.UUID | None]
    """Only locations of this group; none: every location of the brand."""
    template: Mapped[str] = mapped_column(Text)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Rules are tried in this order; the first that matches replies."""
    created_by: Mapped[uuid.UUID | None]
