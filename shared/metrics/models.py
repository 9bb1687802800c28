"""Daily numbers per connected account, and their rollups per brand and per location group.

``daily_metric`` is the record: one row per account and UTC day, upserted on that natural key
by the collector. ``metric_rollup`` is derived from it by triggers in the database (migration
0008), so every way a daily row can change (collector upsert, a location deleted, an account
hard-deleted, a location joining or leaving a group) keeps the rollups exact without the
application having to remember: a brand's 90 days are then 90 rows per channel, whatever the
number of locations.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, tenant_table
from shared.posts import models as _posts  # noqa: F401  (the table post metrics refer to)

METRIC_FIELDS = ("followers", "impressions", "reach", "engagements", "clicks", "posts_published")
"""The numbers a connector gives per day (each may be unknown: NULL)."""

ROLLUP_SCOPES = ("brand", "group")


class DailyMetric(Base):
    """One account's numbers for one UTC day. ``brand_id``, ``location_id`` and ``platform``
    are copied from the account so that reads never join it."""

    __tablename__ = tenant_table("daily_metric")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "account_id"],
            ["social_account.agency_id", "social_account.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        Index(None, "agency_id", "location_id", "metric_on"),
        Index(None, "agency_id", "brand_id", "metric_on"),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    metric_on: Mapped[date] = mapped_column(primary_key=True)
    brand_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(40))
    followers: Mapped[int | None] = mapped_column(BigInteger)
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    reach: Mapped[int | None] = mapped_column(BigInteger)
    engagements: Mapped[int | None] = mapped_column(BigInteger)
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    posts_published: Mapped[int | None] = mapped_column(BigInteger)
    collected_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MetricRollup(Base):
    """Sums of ``daily_metric`` per brand (or group), day and platform. ``accounts`` counts the
    rows summed; ``<field>_n`` counts those where the field was known, so a number no account
    gave reads as unknown rather than 0. Written only by the database's triggers."""

    __tablename__ = tenant_table("metric_rollup")
    __table_args__ = (CheckConstraint("scope IN ('brand', 'group')", name="scope_known"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    scope_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    metric_on: Mapped[date] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(40), primary_key=True)
    accounts: Mapped[int] = mapped_column(BigInteger)
    followers: Mapped[int] = mapped_column(BigInteger)
    followers_n: Mapped[int] = mapped_column(BigInteger)
    impressions: Mapped[int] = mapped_column(BigInteger)
    impressions_n: Mapped[int] = mapped_column(BigInteger)
    reach: Mapped[int] = mapped_column(BigInteger)
    reach_n: Mapped[int] = mapped_column(BigInteger)
    engagements: Mapped[int] = mapped_column(BigInteger)
    engagements_n: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    clicks_n: Mapped[int] = mapped_column(BigInteger)
    posts_published: Mapped[int] = mapped_column(BigInteger)
    posts_published_n: Mapped[int] = mapped_column(BigInteger)


POST_METRIC_FIELDS = (
    "impressions",
    "reach",
    "engagements",
    "likes",
    "comments",
    "shares",
    "clicks",
    "views",
)
"""The lifetime numbers a connector gives per post (each may be unknown: NULL)."""


class PostMetric(Base):
    """The latest lifetime numbers of one of Chorus's published posts, as its platform counts
    them. One row per post, replaced on each collection; ``collected_at`` says when."""

    __tablename__ = tenant_table("post_metric")
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["post.agency_id", "post.id"], ondelete="CASCADE"
        ),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(40))
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    reach: Mapped[int | None] = mapped_column(BigInteger)
    engagements: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    views: Mapped[int | None] = mapped_column(BigInteger)
    collected_at: Mapped[datetime] = mapped_column(server_default=func.now())
