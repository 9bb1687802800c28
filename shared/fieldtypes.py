"""Field types for input Chorus must refuse where it is given, as a 422 naming the field:
numbers a database column cannot hold, media URLs no platform should be sent to."""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from yarl import URL

from shared.http.errors import BlockedDestination
from shared.http.ssrf import HostPort, check_destination

INT4_MAX = 2**31 - 1
INT4_MIN = -(2**31)

Int32 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer a PostgreSQL ``integer`` column can hold."""

_BARE_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def iso_not_a_number(value: Any) -> Any:
    """pydantic reads a number, or a string of one, as Unix time where a date or date-time is
    expected: ``?to=0.5`` was 1970. The API takes ISO 8601 (what the document says)."""
    bare = isinstance(value, str) and _BARE_NUMBER.fullmatch(value.strip())
    if bare or (isinstance(value, int | float) and not isinstance(value, bool)):
        raise ValueError(
            "give an ISO 8601 date or date-time (2026-12-01, 2026-12-01T09:00:00Z), not a number"
        )
    return value


MaybeDateTime = Annotated[datetime | None, BeforeValidator(iso_not_a_number)]
"""An optional ISO 8601 date-time (a date is midnight); never a number read as Unix time."""
MaybeDate = Annotated[date | None, BeforeValidator(iso_not_a_number)]
"""An optional ISO 8601 date; never a number read as Unix time."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name people read in lists (a brand, template, campaign, person): kept without the spaces
around it, so one of spaces only is refused as empty rather than saved blank."""


_media_url_allow: ContextVar[frozenset[HostPort] | None] = ContextVar(
    "media_url_allow", default=None
)
_NAMES_INSIDE = ("localhost", "metadata.google.internal")
_SUFFIXES_INSIDE = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")


def check_media_urls(allow: frozenset[HostPort]) -> None:
    """From here on in this context (an API request), media URLs given as input are checked;
    ``allow`` holds the ``(host, port)`` pairs that may be used anyway, over http too (the
    configured platform sandbox, in test mode)."""
    _media_url_allow.set(allow)


def media_url(value: str | None) -> str | None:
    """A media URL the platforms will be told to fetch: https, to a public host.

    Checked when it is saved, so a bad one is a 422 naming the field rather than a failed
    post at publish time. Literal addresses must be public (no private, loopback, link-local
    or metadata address); names that only mean something inside a network (``localhost``,
    ``*.internal``, ``*.local``) are refused. Other names are checked again, address by
    address, when Chorus fetches them (``shared.http.ssrf.GuardedResolver``). Stored media
    read back outside a request is not checked again."""
    allow = _media_url_allow.get()
    if value is None or allow is None:
        return value
    url = URL(value)
    if not url.absolute or not url.host:
        raise ValueError("must be an absolute https:// URL")
    host, port = url.host.lower().rstrip("."), url.port
    if (host, port) in allow:
        return value
    if url.scheme != "https":
        raise ValueError(f"must be an https:// URL (not {url.scheme or 'relative'})")
    if host in _NAMES_INSIDE or host.endswith(_SUFFIXES_INSIDE):
        raise ValueError(f"{host!r} is not a public host")
    try:
        check_destination(url, frozenset())
    except BlockedDestination as exc:
        raise ValueError(f"must point to a public host: {exc}") from None
    return value


MediaUrl = Annotated[str, AfterValidator(media_url)]
"""A media URL given as input (see ``media_url``)."""
