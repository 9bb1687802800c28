"""The one interface every platform connector implements, and the HTTP plumbing they share.

A connector speaks its platform's real API (paths, parameters, auth headers, error bodies,
rate-limit headers) against base URLs that are either the platform's real hosts or, when the
``platform_sandbox_url`` setting is set, ``{sandbox}/{platform}`` for every host of that
platform. All calls go through :meth:`Connector.request`, which owns the timeout/transport
half of the error classification; each connector owns the other half, reading its platform's
error bodies in :meth:`Connector.classify`.
"""

from __future__ import annotations

import email.utils
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from shared.crypto import Sealed
from shared.http import (
    BlockedDestination,
    OutboundError,
    OutboundHttp,
    Response,
    ResponseTooLarge,
    TooManyRedirects,
    get_client,
)
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError, message_for
from shared.platforms.types import (
    AccountAuth,
    AppCredentials,
    AuthorizeRequest,
    DailyMetrics,
    Grant,
    Limits,
    PostContent,
    PostMetrics,
    PublishAttempt,
    Published,
    RemotePost,
    ReviewPage,
    TokenSet,
)

CLIENT_REF_HEADER = "X-Chorus-Client-Ref"
"""Sent with every publish. Real platforms ignore it; the sandbox counts publishes by it."""


def resolve_hosts(
    platform: str, real_hosts: Mapping[str, str], sandbox_url: str | None
) -> dict[str, str]:
    """Base URL per host role: the real ones, or all of them on the sandbox's prefix."""
    if sandbox_url:
        base = f"{sandbox_url.rstrip('/')}/{platform}"
        return dict.fromkeys(real_hosts, base)
    return {role: url.rstrip("/") for role, url in real_hosts.items()}


class Connector(ABC):
    platform: ClassVar[str]
    display_name: ClassVar[str]
    limits: ClassVar[Limits]
    real_hosts: ClassVar[dict[str, str]]
    """Host role → real base URL (``{"api": "https://graph.facebook.com"}``)."""
    scopes: ClassVar[tuple[str, ...]]
    """What Chorus asks for at connect time."""
    post_metrics_batch: ClassVar[int] = 1
    """How many post ids one :meth:`fetch_post_metrics` call is given at most (what one
    request of the platform takes)."""

    def __init__(
        self,
        app: AppCredentials,
        *,
        sandbox_url: str | None = None,
        http: OutboundHttp | None = None,
    ) -> None:
        self.app = app
        self.sandbox_url = sandbox_url or None
        self.hosts = resolve_hosts(self.platform, self.real_hosts, self.sandbox_url)
        self._http = http

    @property
    def http(self) -> OutboundHttp:
        return self._http or get_client()

    def url(self, role: str, path: str) -> str:
        return f"{self.hosts[role]}{path}"

    # -- OAuth ----------------------------------------------------------------------------------

    @abstractmethod
    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        """The consent page to send the user to; ``state`` comes back on the callback."""

    @abstractmethod
    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        """Trade the callback's code for tokens and list the accounts the user may connect."""

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        """New tokens for old. Never returns an empty refresh token when one was held: a
        platform that does not rotate keeps the old one (see :meth:`keep_refresh_token`)."""
        raise NotSupported(self.platform, "refreshing tokens")

    async def revoke(self, auth: AccountAuth) -> bool:
        """Revoke Chorus's access at the platform; False where the platform has no way."""
        return False

    # -- Publishing -----------------------------------------------------------------------------

    @abstractmethod
    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        """Publish once. A timeout after sending raises ``ambiguous``: never retry blindly."""

    @abstractmethod
    async def delete(self, auth: AccountAuth, external_id: str) -> None: ...

    @abstractmethod
    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        """Did an earlier, unanswered publish go out? The post if so, ``None`` if not."""

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_reviews(self, auth: AccountAuth, cursor: str | None) -> ReviewPage:
        raise NotSupported(self.platform, "reviews")

    # Review replies: what the platform's API allows, read before anything is queued (an edit
    # Chorus cannot make is refused to the person asking, not failed later by a job).
    can_reply: ClassVar[bool] = False
    can_edit_reply: ClassVar[bool] = False
    can_delete_reply: ClassVar[bool] = False
    reply_needs_id: ClassVar[bool] = False
    """Whether editing or deleting a reply addresses it by its own id (a Facebook comment)
    rather than by the review's."""

    async def reply_to_review(self, auth: AccountAuth, review_id: str, text: str) -> str | None:
        """Post the reply; the platform's id of it where it has one."""
        raise NotSupported(self.platform, "review replies")

    async def edit_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None, text: str
    ) -> None:
        """Replace the reply's text (idempotent: the same edit twice leaves the same reply)."""
        raise NotSupported(self.platform, "editing review replies")

    async def delete_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None
    ) -> None:
        """Remove the reply; one already gone counts as removed (a lost answer's retry)."""
        raise NotSupported(self.platform, "deleting review replies")

    @abstractmethod
    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        """One entry per day from ``since`` to ``until`` (both included, UTC days)."""

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """The current lifetime numbers of the account's own posts, by external id. Ids the
        platform does not know (deleted, never there) are left out. The default: the platform
        gives none."""
        return {}

    # -- HTTP -----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        token: Sealed | None = None,
        mutating: bool = False,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | str | dict[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One call with the token as a Bearer header; any failure becomes a PlatformError.

        ``mutating`` marks calls that change something at the platform (publish, delete,
        reply): for those a failure after the request was sent is ``ambiguous``; for reads it
        is ``transient``, since reading again is harmless.
        """
        send: dict[str, str] = dict(headers or {})
        if token is not None:
            send["Authorization"] = f"Bearer {token.reveal()}"
        try:
            response = await self.http.fetch(
                method,
                url,
                customer_url=False,
                headers=send,
                params=dict(params) if params else None,
                json=json,
                data=data,
            )
        except OutboundError as exc:
            kind = ErrorKind.AMBIGUOUS if exc.request_sent and mutating else ErrorKind.TRANSIENT
            raise self.error(kind, detail=str(exc)) from None
        if response.status >= 400:
            raise self.classify(response)
        return response

    async def download_media(self, url: str, what: str, max_bytes: int) -> Response:
        """The bytes behind a customer's media URL, for platforms that take uploads (X,
        LinkedIn, YouTube). Fetched with the SSRF-guarded client; every problem that is the
        address's is ``rejected`` naming it (code ``media_url`` or ``media_size``), a failure
        on the way is ``transient`` (nothing was sent to the platform yet)."""
        try:
            answer = await self.http.fetch(
                "GET", url, customer_url=True, max_bytes=max_bytes, follow_redirects=True
            )
        except BlockedDestination as exc:
            raise self.error(
                ErrorKind.REJECTED,
                f"the {what} address {exc.url or 'given'} cannot be used ({exc.reason})",
                code="media_url",
                detail=str(exc),
            ) from None
        except ValueError:
            raise self.error(
                ErrorKind.REJECTED, f"a {what} address is not a valid address", code="media_url"
            ) from None
        except ResponseTooLarge:
            raise self.error(
                ErrorKind.REJECTED,
                f"a {what} is larger than {max_bytes // (1024 * 1024)} MB, "
                f"the most {self.display_name} takes",
                code="media_size",
            ) from None
        except TooManyRedirects:
            raise self.error(
                ErrorKind.REJECTED, f"a {what} address redirects too many times", code="media_url"
            ) from None
        except OutboundError as exc:
            raise self.error(
                ErrorKind.TRANSIENT, detail=f"downloading a {what} failed: {exc}"
            ) from None
        if answer.status >= 500:
            raise self.error(
                ErrorKind.TRANSIENT, detail=f"downloading a {what}: HTTP {answer.status}"
            )
        if answer.status >= 400 or not answer.body:
            raise self.error(
                ErrorKind.REJECTED,
                f"a {what} could not be downloaded (its address answered {answer.status})",
                code="media_url",
            )
        return answer

    @abstractmethod
    def classify(self, response: Response) -> PlatformError:
        """The PlatformError for an answer with status >= 400, from the platform's body."""

    def error(
        self,
        kind: ErrorKind,
        reason: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> PlatformError:
        return PlatformError(
            kind,
            self.platform,
            message_for(kind, self.display_name, reason),
            status=status,
            code=code,
            detail=detail,
            retry_after=retry_after,
        )

    def by_status(
        self,
        response: Response,
        reason: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> PlatformError:
        """The usual HTTP meaning of a status, for platforms whose bodies add nothing more."""
        status = response.status
        if status == 429:
            kind = ErrorKind.RATE_LIMITED
            retry_after = retry_after if retry_after is not None else retry_after_of(response)
        elif status in (401, 403):
            kind = ErrorKind.AUTH
        elif status >= 500 or status in (408, 425):
            kind = ErrorKind.TRANSIENT
            retry_after = retry_after if retry_after is not None else retry_after_of(response)
        else:
            kind = ErrorKind.REJECTED
        return self.error(
            kind, reason, status=status, code=code, detail=reason, retry_after=retry_after
        )


def keep_refresh_token(old: TokenSet, new: TokenSet) -> TokenSet:
    """The new tokens, keeping the old refresh token (and its expiry) when none came back."""
    if new.refresh_token:
        return new
    return TokenSet(
        access_token=new.access_token,
        refresh_token=old.refresh_token,
        expires_at=new.expires_at,
        refresh_expires_at=old.refresh_expires_at,
        scopes=new.scopes or old.scopes,
    )


def retry_after_of(response: Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def expires_in(seconds: Any) -> datetime | None:
    """An ``expires_in`` field as an instant; absent or 0 means it does not expire."""
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    return datetime.fromtimestamp(time.time() + value, UTC)


def same_text(sent: str, found: str) -> bool:
    """Whether a post found at the platform is the one Chorus sent: platforms may normalise
    Unicode, line endings and surrounding whitespace, and shorten links."""

    def norm(text: str) -> str:
        text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
        return " ".join(text.split())

    return norm(sent) == norm(found)


def json_body(response: Response) -> Any:
    """The answer's JSON, or ``{}`` for an empty or non-JSON body."""
    if not response.body:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}
