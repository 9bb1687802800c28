"""What a calendar page is made of, whoever's posts it shows (a location's ``/calendar``, a
brand's ``/brand/calendar``): the period a view and a date name, its days laid out in weeks,
its title, and posts placed on their local day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from babel import dates as babel_dates

from services.web.i18n import Translator
from shared.posts.models import Post

VIEWS = ("month", "week", "list")
"""``month`` is the default: a grid of the month on a wide screen, and on a phone the same
markup read as a list of the days that have posts (chorus.css). ``list`` is the agenda of
the month, with each post's first words."""
DEFAULT_VIEW = "month"

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(9000, 12, 31)
"""Dates the calendar opens at; anything else (or no date) opens at today."""

EXCERPT = 120


@dataclass
class Day:
    date: dt.date
    in_period: bool
    is_today: bool
    posts: list[Post] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Period:
    view: str
    anchor: dt.date
    start: dt.date
    end: dt.date
    """Exclusive."""
    previous: dt.date
    following: dt.date


def anchor_of(value: str, today: dt.date) -> dt.date:
    try:
        chosen = dt.date.fromisoformat(value.strip())
    except ValueError:
        return today
    return chosen if EARLIEST <= chosen <= LATEST else today


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _week_start(day: dt.date, first_week_day: int) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() - first_week_day) % 7)


def period_of(view: str, anchor: dt.date, first_week_day: int) -> Period:
    if view == "week":
        start = _week_start(anchor, first_week_day)
        week = dt.timedelta(days=7)
        return Period(view, anchor, start, start + week, start - week, start + week)
    start = _month_start(anchor)
    return Period(
        view, anchor, start, _add_months(start, 1), _add_months(start, -1), _add_months(start, 1)
    )


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant the day begins in the zone (as UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def grid(period: Period, first_week_day: int, today: dt.date) -> list[Day]:
    """The period's days; a month starts on its first week's first day (blank days before
    the 1st, never shown as the other month's)."""
    first = period.start if period.view == "week" else _week_start(period.start, first_week_day)
    days = []
    day = first
    while day < period.end:
        days.append(Day(day, day >= period.start, day == today))
        day += dt.timedelta(days=1)
    return days


def place(days: list[Day], posts: Iterable[Post], zone: ZoneInfo) -> None:
    """Each post on the day its time falls on in the zone."""
    by_date = {d.date: d for d in days}
    for post in posts:
        assert post.scheduled_at is not None  # the calendar lists timed posts only
        found = by_date.get(post.scheduled_at.astimezone(zone).date())
        if found is not None:
            found.posts.append(post)


def choices(values: list[str], known: dict[str, str]) -> list[str]:
    """The known values asked for, once each (unknown ones are ignored, as a typo in the
    address bar should not break the page)."""
    return list(dict.fromkeys(v for v in values if v in known))


def title(period: Period, t: Translator) -> str:
    if period.view == "week":
        last = period.end - dt.timedelta(days=1)
        return babel_dates.format_interval(period.start, last, skeleton="yMMMd", locale=t.locale)
    return babel_dates.format_skeleton("yMMMM", period.start, locale=t.locale)


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def weekdays(t: Translator) -> list[str]:
    first_week_day = t.locale.first_week_day
    names = babel_dates.get_day_names("abbreviated", locale=t.locale)
    return [names[(first_week_day + i) % 7] for i in range(7)]


def day_formats(t: Translator) -> dict[str, object]:
    """The template's day labels in the reader's language."""
    return {
        "day_label": lambda d: babel_dates.format_skeleton("MMMEd", d, locale=t.locale),
        "day_long": lambda d: babel_dates.format_date(d, "full", locale=t.locale),
    }
