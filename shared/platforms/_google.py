"""What the Google connectors (Business Profile, YouTube) share: Google OAuth 2.0 and Google's
API error format.

OAuth: consent at ``https://accounts.google.com/o/oauth2/v2/auth`` with ``access_type=offline``
(a refresh token), ``prompt=consent`` (so one comes back even for a user who consented before),
``include_granted_scopes=true`` and PKCE ``S256``; tokens from ``POST
https://oauth2.googleapis.com/token`` (form body, client credentials in it). Access tokens live
3,599 s; the refresh token does not rotate and a refresh answer carries none, so the old one is
kept (:func:`keep_refresh_token`). ``invalid_grant`` means the grant is gone (revoked, expired,
password change): the account needs the user again. Revoking (``POST /revoke``) either token
ends the whole grant.

Errors: the OAuth endpoints answer ``{"error": "invalid_grant", "error_description": …}``; the
APIs answer ``{"error": {"code", "message", "status", "errors": [{"reason", "domain",
"message"}], "details": [...]}}``. 401 ``UNAUTHENTICATED`` → auth; 403 ``PERMISSION_DENIED`` →
auth, except the quota reasons (``rateLimitExceeded``, ``userRateLimitExceeded``,
``quotaExceeded``, …) → rate_limited; 429 ``RESOURCE_EXHAUSTED`` → rate_limited (``Retry-After``
when sent); 5xx → transient; anything else (400 ``INVALID_ARGUMENT``/``FAILED_PRECONDITION``,
404) → rejected with Google's message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from shared.crypto import Sealed
from shared.http import Response
from shared.platforms.base import (
    Connector,
    expires_in,
    json_body,
    keep_refresh_token,
    retry_after_of,
)
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import AccountAuth, AuthorizeRequest, TokenSet

GOOGLE_HOSTS = {
    "accounts": "https://accounts.google.com",
    "oauth2": "https://oauth2.googleapis.com",
}
ACCESS_TOKEN_LIFETIME_S = 3599

RATE_REASONS = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "quotaExceeded",
        "dailyLimitExceeded",
        "uploadLimitExceeded",
        "RATE_LIMIT_EXCEEDED",
    }
)
DAILY_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"})
PACIFIC = ZoneInfo("America/Los_Angeles")


def seconds_to_pacific_midnight(now: datetime | None = None) -> float:
    """Google's daily quotas reset at midnight Pacific time."""
    here = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = datetime.combine(here.date() + timedelta(days=1), time(0), PACIFIC)
    return max(1.0, (midnight - here).total_seconds())


def pkce_pair() -> tuple[str, str]:
    """A code verifier (86 characters of the unreserved set) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def parse_time(raw: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2024-05-01T12:00:00.123Z``) as an aware datetime."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


class GoogleConnector(Connector):
    """Google OAuth and error classification; subclasses add their API hosts and calls."""

    quota_retry_after: ClassVar[float | None] = None
    """Seconds to wait on a short-term quota error that came without ``Retry-After``."""

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        verifier, challenge = pkce_pair()
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": " ".join(self.scopes),
                "state": state,
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return AuthorizeRequest(self.url("accounts", f"/o/oauth2/v2/auth?{query}"), verifier)

    async def exchange_tokens(
        self, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret.reveal(),
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        answer = await self.request("POST", self.url("oauth2", "/token"), data=form)
        return self._token_set(json_body(answer))

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise self.error(
                ErrorKind.AUTH, code="no_refresh_token", detail="no refresh token is held"
            )
        answer = await self.request(
            "POST",
            self.url("oauth2", "/token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.reveal(),
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret.reveal(),
            },
        )
        return keep_refresh_token(tokens, self._token_set(json_body(answer), tokens.scopes))

    def _token_set(self, body: Any, scopes: tuple[str, ...] = ()) -> TokenSet:
        if not isinstance(body, dict) or not body.get("access_token"):
            raise self.error(ErrorKind.TRANSIENT, detail="token answer without an access_token")
        refresh = body.get("refresh_token")
        granted = tuple(str(body.get("scope", "")).split()) or scopes
        return TokenSet(
            access_token=Sealed(str(body["access_token"])),
            refresh_token=Sealed(str(refresh)) if refresh else None,
            expires_at=expires_in(body.get("expires_in")),
            scopes=granted,
        )

    async def revoke(self, auth: AccountAuth) -> bool:
        """Revoking the access token ends the whole grant (its refresh token too). The token
        goes in the form body rather than the query string so it never lands in a URL log."""
        try:
            await self.request(
                "POST",
                self.url("oauth2", "/revoke"),
                data={"token": auth.access_token.reveal()},
                mutating=True,
            )
        except PlatformError as exc:
            if exc.code == "invalid_token":
                return True  # already expired or revoked: nothing left to end
            raise
        return True

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str):
            return self._oauth_error(response, error, str(body.get("error_description", "")))
        if not isinstance(error, dict):
            return self.by_status(response, f"HTTP {response.status}")
        status = response.status
        message = str(error.get("message", "")).strip() or f"HTTP {status}"
        state = str(error.get("status", ""))
        reasons = _reasons(error)
        code = reasons[0] if reasons else (state or None)
        rate = RATE_REASONS.intersection(reasons)
        if status == 429 or state == "RESOURCE_EXHAUSTED" or rate:
            retry = retry_after_of(response)
            if retry is None:
                daily = DAILY_REASONS.intersection(reasons)
                retry = seconds_to_pacific_midnight() if daily else self.quota_retry_after
            return self.error(
                ErrorKind.RATE_LIMITED,
                status=status,
                code=next(iter(sorted(rate)), code),
                detail=message,
                retry_after=retry,
            )
        if status in (401, 403) or state in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=message)
        if status >= 500 or state in ("UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"):
            return self.error(
                ErrorKind.TRANSIENT,
                status=status,
                code=code,
                detail=message,
                retry_after=retry_after_of(response),
            )
        return self.error(ErrorKind.REJECTED, message, status=status, code=code, detail=message)

    def _oauth_error(self, response: Response, error: str, description: str) -> PlatformError:
        detail = f"{error}: {description}" if description else error
        status = response.status
        if status == 429 or error == "rate_limit_exceeded":
            kind = ErrorKind.RATE_LIMITED
        elif status >= 500 or error in ("internal_failure", "temporarily_unavailable"):
            kind = ErrorKind.TRANSIENT
        elif error in ("invalid_grant", "access_denied"):
            kind = ErrorKind.AUTH  # the grant is gone: consent again
        else:
            kind = ErrorKind.REJECTED  # invalid_client, invalid_request, redirect_uri_mismatch…
        reason = description or error
        return self.error(
            kind,
            reason,
            status=status,
            code=error,
            detail=detail,
            retry_after=retry_after_of(response) if kind is not ErrorKind.REJECTED else None,
        )


def _reasons(error: dict[str, Any]) -> list[str]:
    found = [
        str(e["reason"]) for e in error.get("errors") or [] if isinstance(e, dict) and "reason" in e
    ]
    for detail in error.get("details") or []:
        if (
            isinstance(detail, dict)
            and str(detail.get("@type", "")).endswith("ErrorInfo")
            and detail.get("reason")
        ):
            found.append(str(detail["reason"]))
    return found
