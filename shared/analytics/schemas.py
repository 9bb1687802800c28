from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

ScopeKind = Literal["agency", "brand", "group", "location"]
Interval = Literal["day", "week", "month"]
LeaderboardMetric = Literal["engagement_rate", "rating", "response_rate", "response_time"]


class ScopeOut(BaseModel):
    kind: ScopeKind
    id: uuid.UUID
    name: str


class Totals(BaseModel):
    """Numbers over a period. ``followers`` is the audience on the period's last day with
    data (summed over accounts); ``followers_change`` its change since the first such day.
    The others are sums over the days; ``engagement_rate`` is engagements ÷ impressions.
    ``null``: no account gave that number in the period."""

    followers: int | None = None
    followers_change: int | None = None
    impressions: int | None = None
    reach: int | None = None
    engagements: int | None = None
    clicks: int | None = None
    posts_published: int | None = None
    engagement_rate: float | None = None
    days_with_data: int = 0


class Period(BaseModel):
    start: date = Field(description="first day, included")
    end: date = Field(description="last day, included")


class PlatformSummary(BaseModel):
    platform: str
    totals: Totals
    previous: Totals
    change_pct: dict[str, float | None]


class SummaryOut(BaseModel):
    scope: ScopeOut
    period: Period
    previous_period: Period
    platforms: list[str] | None = Field(description="the channel filter; null: every channel")
    totals: Totals
    previous: Totals
    change_pct: dict[str, float | None] = Field(
        description="per number: (current − previous) ÷ previous × 100; null when the "
        "previous period has no such number or it was 0"
    )
    by_platform: list[PlatformSummary]


class Point(BaseModel):
    start: date
    end: date
    totals: Totals


class TimeseriesOut(BaseModel):
    scope: ScopeOut
    interval: Interval
    period: Period
    previous_period: Period
    platforms: list[str] | None
    points: list[Point]
    previous_points: list[Point] = Field(
        description="the previous period in the same buckets, aligned with ``points``"
    )


class LeaderboardEntry(BaseModel):
    rank: int
    location_id: uuid.UUID
    location_name: str
    value: float
    sample: int = Field(
        description="what the value rests on: impressions for engagement_rate, reviews for "
        "rating and response_rate, replied reviews for response_time"
    )


class LeaderboardOut(BaseModel):
    scope: ScopeOut
    metric: LeaderboardMetric
    order: Literal["best", "worst"]
    unit: str
    period: Period
    platforms: list[str] | None
    entries: list[LeaderboardEntry]
