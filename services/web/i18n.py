"""Languages of the web app: gettext catalogs (Babel ``.po`` files, read at start-up: no build
step), the choice of language per request, and dates and numbers formatted for it.

Python code marks a string with ``_`` (or ``N_`` where it is translated later, at render
time); templates use ``{{ _("…") }}`` and ``{% trans %}``. ``make`` needs nothing:
``tests/web/test_catalogs.py`` extracts every message and fails on one missing from, or
untranslated in, a catalog."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import Markup

CATALOG_DIR = Path(__file__).parent / "i18n"
DOMAIN = "messages"
LANGUAGES = ("en", "el")
"""English first: the default when nothing the browser asks for is available."""
DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    return CATALOG_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The language's catalog, compiled in memory from its ``.po`` once per process."""
    with po_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


WALL_CLOCK_FORMATS = ("short", "medium")
"""Time formats without a zone in their pattern: the local wall-clock time decides them."""


@lru_cache(maxsize=4096)
def _wall_time(clock: dt.time, format: str, language: str) -> str:
    """A wall-clock time formatted once per language (a month's calendar shows a few distinct
    times hundreds of times; Babel takes tens of microseconds for each)."""
    return dates.format_time(clock, format=format, locale=_locale(language))


@lru_cache(maxsize=4096)
def _wall_date(day: dt.date, format: str, language: str) -> str:
    return dates.format_date(day, format=format, locale=_locale(language))


def _wall_datetime(local: dt.datetime, format: str, language: str) -> str:
    """Babel's own composition of a short/medium date and time (its datetime pattern with
    ``{1}`` the date and ``{0}`` the time), from the cached parts: a page's instants share
    a few days and a few times."""
    named = cast(Literal["short", "medium"], format)
    pattern = dates.get_datetime_format(named, locale=_locale(language))
    return (
        str(pattern)
        .replace("'", "")
        .replace("{0}", _wall_time(local.time(), format, language))
        .replace("{1}", _wall_date(local.date(), format, language))
    )


def load_all() -> None:
    """At start-up: a broken catalog stops the app instead of the first page in it."""
    for language in LANGUAGES:
        translations(language)


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The user's own setting if it is a language we have, else the best of the browser's
    ``Accept-Language`` (by q-value, ``el-GR`` matching ``el``), else English."""
    if preferred in LANGUAGES:
        assert preferred is not None
        return preferred
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag:
            ranked.append((-quality, position, tag.lower()))
    for quality, _, tag in sorted(ranked):
        if quality >= 0:
            continue
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Translator:
    """One request's language: gettext for Python code and templates, and Babel formatting
    of instants in a time zone (the location's) and of numbers."""

    language: str

    @property
    def catalog(self) -> Translations:
        return translations(self.language)

    def gettext(self, message: str, **variables: Any) -> str:
        text: str = self.catalog.ugettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables: Any) -> str:
        text: str = self.catalog.ungettext(singular, plural, n)
        variables.setdefault("num", n)
        return text % variables

    # Templates: new-style gettext (``{{ _("Hello %(name)s", name=x) }}``), the variables
    # escaped, the translation itself trusted (it is ours).
    def template_gettext(self, message: str, **variables: Any) -> Markup:
        text = Markup(self.catalog.ugettext(message))  # noqa: S704 - our own catalog
        return text % variables if variables else text

    def template_ngettext(self, singular: str, plural: str, n: int, **variables: Any) -> Markup:
        text = Markup(self.catalog.ungettext(singular, plural, n))  # noqa: S704
        variables.setdefault("num", n)
        return text % variables

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def format_datetime(self, when: dt.datetime, zone: str = "UTC", format: str = "medium") -> str:
        if format in WALL_CLOCK_FORMATS:
            return _wall_datetime(when.astimezone(ZoneInfo(zone)), format, self.language)
        return dates.format_datetime(when, format=format, tzinfo=ZoneInfo(zone), locale=self.locale)

    def format_date(self, when: dt.datetime, zone: str = "UTC", format: str = "medium") -> str:
        local = when.astimezone(ZoneInfo(zone))
        return dates.format_date(local.date(), format=format, locale=self.locale)

    def format_time(self, when: dt.datetime, zone: str = "UTC", format: str = "short") -> str:
        if format in WALL_CLOCK_FORMATS:
            return _wall_time(when.astimezone(ZoneInfo(zone)).time(), format, self.language)
        return dates.format_time(when, format=format, tzinfo=ZoneInfo(zone), locale=self.locale)

    def format_number(self, value: float) -> str:
        return numbers.format_decimal(value, locale=self.locale)
