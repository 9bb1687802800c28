"""Platform-agnostic in-memory state: accounts, tokens, authorization codes, posts, counters.

One ``PlatformState`` per platform, created on first use. Nothing is persisted: a restart (or
``POST /_sandbox/reset``) starts empty, which is what dev runs and tests want.
"""

import secrets
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.sandbox.clock import Clock
from services.sandbox.config import SandboxConfig
from services.sandbox.faults import FaultBook
from services.sandbox.ratelimit import Windows

# The header Chorus sends with every publish (all platforms): its own reference for the post.
CLIENT_REF_HEADER = "X-Chorus-Client-Ref"


class TokenKind(StrEnum):
    USER = "user"
    PAGE = "page"
    REFRESH = "refresh"


class TokenProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(slots=True)
class Account:
    id: str
    name: str
    kind: str  # "user" or "page"
    username: str = ""
    owner_id: str | None = None  # a page's owning user


@dataclass(slots=True)
class Token:
    value: str
    kind: TokenKind
    subject: str  # account id
    client_id: str
    expires_at: float | None
    scopes: tuple[str, ...] = ()
    revoked: bool = False


@dataclass(slots=True)
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    expires_at: float
    scopes: tuple[str, ...] = ()
    code_challenge: str | None = None
    code_challenge_method: str | None = None


@dataclass(slots=True)
class Post:
    id: str
    account_id: str
    text: str
    created_at: float
    client_ref: str | None
    link: str | None = None
    deleted_at: float | None = None
    media: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "text": self.text,
            "link": self.link,
            "created_at": self.created_at,
            "client_ref": self.client_ref,
            "media": list(self.media),
            "deleted": self.deleted_at is not None,
        }


@dataclass(slots=True)
class PlatformState:
    accounts: dict[str, Account] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    publish_counts: Counter[str] = field(default_factory=Counter)
    windows: Windows = field(default_factory=Windows)
    # Per account: reviews and anything else ``activity`` keeps (typed there, to keep this
    # module free of it).
    activity: dict[str, Any] = field(default_factory=dict)
    photos: dict[str, str] = field(default_factory=dict)  # uploaded, not yet posted: id -> url
    received_media: list[Any] = field(default_factory=list)
    """Every media file fetched or uploaded, checked (``media_check.Received``), in order."""
    _seq: int = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def issue_token(
        self,
        kind: TokenKind,
        subject: str,
        client_id: str,
        expires_at: float | None,
        scopes: tuple[str, ...] = (),
        prefix: str = "",
    ) -> Token:
        token = Token(
            prefix + secrets.token_urlsafe(32), kind, subject, client_id, expires_at, scopes
        )
        self.tokens[token.value] = token
        return token

    def check_token(
        self, value: str, now: float, kinds: tuple[TokenKind, ...]
    ) -> Token | TokenProblem:
        token = self.tokens.get(value)
        if token is None or token.kind not in kinds:
            return TokenProblem.UNKNOWN
        if token.revoked:
            return TokenProblem.REVOKED
        if token.expires_at is not None and now >= token.expires_at:
            return TokenProblem.EXPIRED
        return token

    def issue_code(self, code: AuthCode) -> AuthCode:
        self.codes[code.code] = code
        return code

    def take_code(self, value: str, now: float) -> AuthCode | None:
        """An authorization code is single use: taken even when the exchange then fails."""
        code = self.codes.pop(value, None)
        if code is None or now >= code.expires_at:
            return None
        return code

    def store_post(self, post: Post) -> Post:
        """Store and count a publish. Never dedupes: the counter proves Chorus doesn't repeat."""
        self.posts[post.id] = post
        if post.client_ref is not None:
            self.publish_counts[post.client_ref] += 1
        return post

    def live_post(self, post_id: str) -> Post | None:
        post = self.posts.get(post_id)
        return None if post is None or post.deleted_at is not None else post


def new_code() -> str:
    return secrets.token_urlsafe(24)


class Sandbox:
    """Everything the sandbox app holds, reachable from every router through ``app.state``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.clock = Clock()
        self.faults = FaultBook(self.clock)
        self.platforms: dict[str, PlatformState] = {}

    def platform(self, name: str) -> PlatformState:
        return self.platforms.setdefault(name, PlatformState())

    def reset(self) -> None:
        self.clock.reset()
        self.faults.reset()
        self.platforms.clear()
