"""The one classification of everything that can go wrong talking to a platform.

Every connector turns its platform's answers into :class:`PlatformError` with one of five
kinds, so the publisher, the token refresher and the collectors decide what to do from the
kind alone:

- ``transient``: try again later (5xx, a timeout or lost connection before the request was
  sent); ``retry_after`` when the platform said when.
- ``ambiguous``: the request went out and no answer came back (read timeout, connection lost
  after sending). The platform may have acted: reconcile (``fetch_post_status``) before any
  retry, never retry blindly.
- ``auth``: the token is expired, revoked or lacks a permission; the account needs the user.
- ``rejected``: the platform refused the content or the request itself; retrying the same
  thing gives the same answer. ``message`` carries the platform's reason.
- ``rate_limited``: a platform limit (429, Meta's codes 4/17/32/613, a publishing cap);
  ``retry_after`` says when to come back. Pause the account, not the queue.

``message`` is written for the franchisee who reads it in the portal; ``detail`` keeps the
platform's own words for support. Neither ever contains a token.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"
    AUTH = "auth"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"


class PlatformError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        platform: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.platform = platform
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """A plain retry is safe (ambiguous is not: reconcile first)."""
        return self.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED)

    def __repr__(self) -> str:
        extra = f", status={self.status}" if self.status is not None else ""
        extra += f", code={self.code!r}" if self.code else ""
        extra += f", retry_after={self.retry_after}" if self.retry_after is not None else ""
        return f"PlatformError({self.kind.value}, {self.platform}, {self.message!r}{extra})"


class NotSupported(PlatformError):
    """The platform has no such feature (reviews on X, deleting a TikTok video by API)."""

    def __init__(self, platform: str, what: str) -> None:
        super().__init__(
            ErrorKind.REJECTED, platform, f"{platform} does not support {what}", code="unsupported"
        )
        self.what = what


# The messages a franchisee sees, one per kind; connectors add the platform's reason.
MESSAGES = {
    ErrorKind.TRANSIENT: "{name} is having trouble right now; Chorus will try again shortly.",
    ErrorKind.AMBIGUOUS: "{name} did not answer in time; Chorus is checking whether the post "
    "went out before trying again.",
    ErrorKind.AUTH: "Chorus's access to {name} has expired or was removed. Reconnect the "
    "account to continue.",
    ErrorKind.REJECTED: "{name} refused this: {reason}",
    ErrorKind.RATE_LIMITED: "{name} asked Chorus to slow down; the account is paused until "
    "its limit resets.",
}


def message_for(kind: ErrorKind, display_name: str, reason: str = "") -> str:
    return MESSAGES[kind].format(name=display_name, reason=reason or "no reason given")
