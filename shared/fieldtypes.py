"""Field types for input Chorus must refuse where it is given, as a 422 naming the field:
numbers a database column cannot hold, media URLs no platform should be sent to."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from yarl import URL

from shared.http.errors import BlockedDestination
from shared.http.ssrf import HostPort, check_destination

INT4_MAX = 2**31 - 1
INT4_MIN = -(2**31)

Int32 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer a PostgreSQL ``integer`` column can hold."""

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
