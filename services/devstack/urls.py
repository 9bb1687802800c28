"""Connection URLs: which servers the children get, and how a URL is shown to a person.

Why a module of its own: the choice between an external server and an embedded one is made
from the environment in one place, and every URL that is printed goes through `redact`, so a
password in ``DATABASE_URL`` never reaches a terminal or a CI log.
"""

from __future__ import annotations

from collections.abc import Mapping

DATABASE_ENV = ("DATABASE_URL", "CHORUS_DATABASE_URL")
"""Variables naming an external PostgreSQL, in order of precedence (same as shared.config)."""

REDIS_ENV = ("REDIS_URL", "CHORUS_REDIS_URL")
"""Variables naming an external Redis, in order of precedence."""

LOOPBACK = "127.0.0.1"


def external(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """Return ``(variable, url)`` for the first non-empty variable of `names`, else None."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def postgres_url(port: int, database: str, user: str = "postgres", host: str = LOOPBACK) -> str:
    """A plain libpq URL; the app picks its own driver (``postgresql+asyncpg``) from it."""
    return f"postgresql://{user}@{host}:{port}/{database}"


def redis_url(port: int, db: int = 0, host: str = LOOPBACK) -> str:
    """A plain ``redis://`` URL as redis-py and arq expect it."""
    return f"redis://{host}:{port}/{db}"


def redact(url: str) -> str:
    """Replace the password of `url`, if any, by ``***``; everything else is kept as written."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, hostinfo = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{hostinfo}{slash}{path}"
