"""When a campaign's posts go out: one instant for everyone, or a wall-clock time in each
location's own time zone.

A local time that does not exist (the hour skipped when clocks spring forward) moves forward
to the first instant that does (the moment the clocks jump); a local time that happens twice
(the hour repeated when clocks fall back) takes its first occurrence (``fold=0``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

PUBLISH_WINDOW = timedelta(hours=1)
"""How late a campaign post may still go out after its time: its ``publish_deadline``."""

EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=-12)
"""The widest offsets any time zone uses (Line Islands, Baker Island)."""


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def local_instant(day: date, clock: time, time_zone: str) -> datetime:
    """The UTC instant of ``day`` at ``clock`` on the wall clocks of ``time_zone``."""
    tz = zone(time_zone)
    wall = datetime.combine(day, clock.replace(tzinfo=None))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first  # exists (the first occurrence when it happens twice)
    # In a gap: fold=1 reads the wall time with the offset after the jump, fold=0 with the
    # one before; the jump lies between the two. Find it (to the second) by bisection.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def parse_clock(value: str) -> time:
    return time.fromisoformat(value)


def instant_for(schedule: dict[str, Any], time_zone: str) -> datetime:
    """The UTC instant of a stored schedule (``CampaignSchedule`` as JSON) for a location."""
    if schedule["kind"] == "absolute":
        return datetime.fromisoformat(schedule["at"]).astimezone(UTC)
    return local_instant(
        date.fromisoformat(schedule["date"]), parse_clock(schedule["time"]), time_zone
    )


def latest_instant(schedule: dict[str, Any]) -> datetime:
    """The last instant any location could be scheduled at: past it, the schedule has
    passed everywhere."""
    if schedule["kind"] == "absolute":
        return datetime.fromisoformat(schedule["at"]).astimezone(UTC)
    wall = datetime.combine(date.fromisoformat(schedule["date"]), parse_clock(schedule["time"]))
    return (wall - LATEST_OFFSET).replace(tzinfo=UTC)


class InstantCache:
    """One computation per time zone for the fan-out's thousands of locations."""

    __slots__ = ("_by_zone", "_schedule")

    def __init__(self, schedule: dict[str, Any]) -> None:
        self._schedule = schedule
        self._by_zone: dict[str, datetime] = {}

    def __call__(self, time_zone: str) -> datetime:
        at = self._by_zone.get(time_zone)
        if at is None:
            at = self._by_zone[time_zone] = instant_for(self._schedule, time_zone)
        return at
