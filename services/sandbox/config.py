"""Sandbox settings: token lifetimes and rate-limit windows, overridable per app instance."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Window:
    """A fixed window: ``limit`` calls per ``seconds``."""

    limit: int
    seconds: int


def _x_windows() -> dict[str, Window]:
    # X API v2 per-user (OAuth 2.0 user context) limits, Pro tier as documented:
    # POST /2/tweets 100/15 min, DELETE /2/tweets/:id 50/15 min, GET /2/tweets/:id 900/15 min,
    # GET /2/users/me 75/15 min. (Free and Basic tiers count POST /2/tweets per 24 h instead.)
    return {
        "tweets.create": Window(100, 900),
        "tweets.delete": Window(50, 900),
        "tweets.lookup": Window(900, 900),
        "users.me": Window(75, 900),
    }


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    # Facebook: a long-lived user token lives 60 days; page tokens got from it never expire.
    facebook_user_token_ttl_s: int = 60 * 24 * 3600
    facebook_pages_per_user: int = 2
    # Pages' Business Use Case limit is 4800 x engaged users per 24 h; one engaged user here.
    facebook_page_window: Window = field(default_factory=lambda: Window(4800, 24 * 3600))
    # X: access tokens live 2 h; refresh tokens rotate on every use.
    x_access_token_ttl_s: int = 7200
    x_windows: dict[str, Window] = field(default_factory=_x_windows)
    # OAuth authorization codes: single use, short-lived.
    auth_code_ttl_s: int = 600
