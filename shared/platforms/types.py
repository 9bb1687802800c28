"""What goes in and out of a connector: plain values, no HTTP, no database rows.

Tokens travel as :class:`~shared.crypto.Sealed` so a log line, a repr or an error message can
never show one by accident; a connector reveals a token only to put it in a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from shared.crypto import Sealed


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """Chorus's own app registration at a platform."""

    client_id: str
    client_secret: Sealed


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """Where to send the user, plus what the callback needs to finish (kept server-side)."""

    url: str
    code_verifier: str | None = None  # PKCE, for platforms that use it


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: Sealed
    refresh_token: Sealed | None = None
    expires_at: datetime | None = None  # None: does not expire
    refresh_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountChoice:
    """One account the user may connect (a Facebook page, a Business Profile location, a
    LinkedIn organization, the user's own X account). ``access_token`` is set when the
    platform gives this account a token of its own (Facebook page tokens); otherwise the
    grant's token is used. ``extra`` holds ids the connector needs later (Instagram's page)."""

    external_id: str
    name: str
    username: str | None = None
    kind: str = "account"
    access_token: Sealed | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Grant:
    """The result of a code exchange: the user's tokens and the accounts they may connect."""

    tokens: TokenSet
    choices: tuple[AccountChoice, ...]


@dataclass(frozen=True, slots=True)
class AccountAuth:
    """What a connector needs to act for one connected account."""

    external_id: str
    access_token: Sealed
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    kind: Literal["image", "video"] = "image"
    alt_text: str | None = None
    cover_url: str | None = None
    """A video's cover (thumbnail) image, where the placement takes one."""


@dataclass(frozen=True, slots=True)
class PostContent:
    text: str
    title: str | None = None
    link: str | None = None
    media: tuple[Media, ...] = ()


@dataclass(frozen=True, slots=True)
class Published:
    external_id: str
    permalink: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishAttempt:
    """What Chorus knows of an earlier publish whose outcome it never learnt: its reference,
    what it sent, and when it started. Connectors find the post by ``external_id`` when known,
    else among the account's posts since ``started_at`` by content."""

    client_ref: str
    content: PostContent
    started_at: datetime
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class RemotePost:
    external_id: str
    permalink: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RemoteReview:
    external_id: str
    rating: int | None  # 1..5; None where the platform has no stars (Facebook recommendations)
    text: str
    author: str
    created_at: datetime
    updated_at: datetime
    reply_text: str | None = None
    reply_updated_at: datetime | None = None
    recommends: bool | None = None
    reply_id: str | None = None
    """The platform's id of the reply, where it has one (a Facebook comment)."""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReviewPage:
    reviews: tuple[RemoteReview, ...]
    next_cursor: str | None  # more pages now; None: caught up


@dataclass(frozen=True, slots=True)
class DailyMetrics:
    day: date
    followers: int | None = None
    impressions: int | None = None
    reach: int | None = None
    engagements: int | None = None
    clicks: int | None = None
    posts_published: int | None = None


@dataclass(frozen=True, slots=True)
class PostMetrics:
    """One published post's lifetime numbers as the platform counts them now (cumulative, not
    per day). ``None``: the platform does not give that number for this kind of post."""

    impressions: int | None = None
    reach: int | None = None
    engagements: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    views: int | None = None


@dataclass(frozen=True, slots=True)
class RateWindow:
    """A documented limit: ``calls`` per ``seconds``, counted per ``scope``."""

    name: str
    calls: int
    seconds: int
    scope: Literal["account", "user", "app"] = "account"


@dataclass(frozen=True, slots=True)
class Limits:
    """What the publisher must respect for this platform."""

    rate_windows: tuple[RateWindow, ...]
    publish_per_day: int | None  # a publishing cap per account per 24 h, when there is one
    max_concurrency: int  # calls in flight per account
    token_lifetime_s: int | None  # typical access token life; None: long-lived
    supports_refresh: bool
    supports_reviews: bool
    supports_delete: bool
    supports_revoke: bool
    publish_windows: tuple[str, ...] = ()
    """The ``rate_windows`` (by name) that one publish spends."""
