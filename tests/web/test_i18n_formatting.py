"""Dates and times on the pages read as Babel writes them, in the location's zone: the web
app's cached formatting of short and medium times (services/web/i18n.py) gives Babel's own
text in both languages, across zones and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel import Locale, dates

from services.web.i18n import LANGUAGES, Translator

ZONES = ("Europe/Athens", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
# Every 7 h 13 min 17 s over two years: all hours, both sides of every clock change.
INSTANTS = [
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n * 25_997)
    for n in range(2 * 365 * 86_400 // 25_997)
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("format", ["short", "medium", "long"])
def test_times_and_dates_read_as_babel_writes_them(language: str, format: str) -> None:
    t = Translator(language)
    locale = Locale.parse(language)
    for zone in ZONES:
        for when in INSTANTS:
            assert t.format_time(when, zone, format) == dates.format_time(
                when, format=format, tzinfo=ZoneInfo(zone), locale=locale
            ), (zone, when)
            assert t.format_datetime(when, zone, format) == dates.format_datetime(
                when, format=format, tzinfo=ZoneInfo(zone), locale=locale
            ), (zone, when)


def test_the_athens_evening_in_greek() -> None:
    when = dt.datetime(2026, 7, 1, 15, 30, tzinfo=dt.UTC)  # 18:30 in Athens (summer time)
    assert Translator("el").format_time(when, "Europe/Athens") == "6:30\u202fμ.μ."
    assert Translator("en").format_datetime(when, "Europe/Athens", "short") == (
        "7/1/26, 6:30\u202fPM"
    )
