"""X (Twitter) through API v2.

Connect: OAuth 2.0 authorization code with PKCE (S256) on ``x.com/i/oauth2/authorize``; Chorus
is a confidential client, so the token endpoint (``api.x.com/2/oauth2/token``) gets HTTP Basic
client credentials. Access tokens live 2 hours; ``offline.access`` brings a refresh token that
*rotates*: every refresh answers a new one and the old one stops working. The connected
account is the user's own (``/2/users/me``).

Publish: images are downloaded from the customer's URL through the SSRF-guarded client, sent to
``POST /2/media/upload`` (multipart, one shot) and attached by ``media.media_ids`` to
``POST /2/tweets``. Reconciling an unanswered publish reads the user's timeline
(``GET /2/users/{id}/tweets``) since the attempt started.

Errors: API errors are problem objects ``{"title", "detail", "type", "status"}`` (``errors``
for field problems); the token endpoint answers OAuth's ``{"error", "error_description"}``.
Every answer carries ``x-rate-limit-limit/-remaining/-reset`` (reset in epoch seconds).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from shared import clock
from shared.content.xtext import MAX_WEIGHTED_LENGTH, weighted_length
from shared.crypto import Sealed
from shared.http import Response
from shared.platforms.base import (
    CLIENT_REF_HEADER,
    Connector,
    expires_in,
    json_body,
    keep_refresh_token,
    retry_after_of,
    same_text,
)
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AccountChoice,
    AuthorizeRequest,
    DailyMetrics,
    Grant,
    Limits,
    Media,
    PostContent,
    PostMetrics,
    PublishAttempt,
    Published,
    RateWindow,
    RemotePost,
    TokenSet,
)

MAX_IMAGES = 4  # up to 4 photos per post (X media best practices)
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # tweet_image uploads: 5 MB
MAX_ALT_TEXT = 1000  # media metadata alt text
TIMELINE_PAGE = 100  # GET /2/users/:id/tweets max_results
TIMELINE_MAX_PAGES = 32  # the timeline reaches back 3200 posts at most
_TWEET_FIELDS = "created_at,public_metrics"
_AUTH_TOKEN_HINTS = ("token was invalid", "token is invalid", "refresh token")


class XConnector(Connector):
    platform = "x"
    display_name = "X"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://x.com",
        "api": "https://api.x.com",
    }
    scopes = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
    post_metrics_batch = 100  # GET /2/tweets: up to 100 ids
    limits = Limits(
        # X API v2 rate limits per user (OAuth 2.0 user context), Pro tier, 15-minute windows
        # (docs.x.com/x-api/fundamentals/rate-limits): POST /2/tweets 100, DELETE 50,
        # GET /2/tweets/:id 900, GET /2/users/:id/tweets 900, GET /2/users/me 75,
        # POST /2/media/upload 500, POST /2/media/metadata 500.
        rate_windows=(
            RateWindow("tweets.create", 100, 900, "user"),
            RateWindow("tweets.delete", 50, 900, "user"),
            RateWindow("tweets.lookup", 900, 900, "user"),
            RateWindow("users.tweets", 900, 900, "user"),
            RateWindow("users.me", 75, 900, "user"),
            RateWindow("media.upload", 500, 900, "user"),
            RateWindow("media.metadata", 500, 900, "user"),
        ),
        publish_per_day=None,  # Pro counts posts per 15 min; Free/Basic cap per 24 h instead
        max_concurrency=2,
        token_lifetime_s=7200,  # OAuth 2.0 access tokens: 2 hours
        supports_refresh=True,
        supports_reviews=False,
        supports_delete=True,
        supports_revoke=True,
        publish_windows=("tweets.create",),
    )

    def api(self, path: str) -> str:
        return self.url("api", path)

    def _basic(self) -> dict[str, str]:
        pair = f"{self.app.client_id}:{self.app.client_secret.reveal()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        verifier = secrets.token_urlsafe(64)[:96]  # 43..128 characters (RFC 7636)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.scopes),
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return AuthorizeRequest(self.url("www", f"/i/oauth2/authorize?{query}"), verifier)

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        body = json_body(
            await self.request(
                "POST", self.api("/2/oauth2/token"), data=form, headers=self._basic()
            )
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise self.error(ErrorKind.TRANSIENT, detail="token answer without an access token")
        return body

    @staticmethod
    def _tokens(body: dict[str, Any]) -> TokenSet:
        refresh = body.get("refresh_token")
        return TokenSet(
            access_token=Sealed(str(body["access_token"])),
            refresh_token=Sealed(str(refresh)) if refresh else None,
            expires_at=expires_in(body.get("expires_in")),
            scopes=tuple(str(body.get("scope", "")).split()),
        )

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        if not code_verifier:
            raise self.error(ErrorKind.REJECTED, "the PKCE code verifier is missing")
        tokens = self._tokens(
            await self._token(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": code_verifier,
                    "client_id": self.app.client_id,
                }
            )
        )
        me = await self._me(tokens.access_token)
        username = str(me.get("username", ""))
        choice = AccountChoice(
            external_id=str(me["id"]),
            name=str(me.get("name", username)),
            username=username or None,
            kind="user",
            extra={"username": username} if username else {},
        )
        return Grant(tokens=tokens, choices=(choice,))

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise self.error(
                ErrorKind.AUTH, "no refresh token is held", detail="no refresh token held"
            )
        body = await self._token(
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.reveal(),
                "client_id": self.app.client_id,
            }
        )
        return keep_refresh_token(tokens, self._tokens(body))

    async def revoke(self, auth: AccountAuth) -> bool:
        await self.request(
            "POST",
            self.api("/2/oauth2/revoke"),
            data={
                "token": auth.access_token.reveal(),
                "token_type_hint": "access_token",
                "client_id": self.app.client_id,
            },
            headers=self._basic(),
        )
        return True

    async def _me(self, token: Sealed, fields: str | None = None) -> dict[str, Any]:
        params = {"user.fields": fields} if fields else None
        body = json_body(
            await self.request("GET", self.api("/2/users/me"), token=token, params=params)
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise self.error(ErrorKind.TRANSIENT, detail="users/me answered without a user")
        return data

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        text = content.text
        if content.link and content.link not in text:
            text = f"{text}\n{content.link}" if text else content.link
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            raise self.error(
                ErrorKind.REJECTED,
                f"the post is longer than X's {MAX_WEIGHTED_LENGTH} characters",
                code="too_long",
            )
        if any(m.kind != "image" for m in content.media):
            raise self.error(ErrorKind.REJECTED, "Chorus posts only images to X", code="media")
        if len(content.media) > MAX_IMAGES:
            raise self.error(
                ErrorKind.REJECTED, f"X takes at most {MAX_IMAGES} images per post", code="media"
            )
        if not text and not content.media:
            raise self.error(ErrorKind.REJECTED, "the post is empty", code="empty")
        # Uploads post nothing by themselves: a failure here is safe to retry.
        media_ids = [await self._upload(auth, m) for m in content.media]
        payload: dict[str, Any] = {"text": text}
        if media_ids:
            payload["media"] = {"media_ids": media_ids}
        body = json_body(
            await self.request(
                "POST",
                self.api("/2/tweets"),
                token=auth.access_token,
                mutating=True,
                json=payload,
                headers={CLIENT_REF_HEADER: client_ref},
            )
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise self.error(ErrorKind.AMBIGUOUS, detail="the post answer carried no id")
        tweet_id = str(data["id"])
        return Published(tweet_id, _permalink(auth, tweet_id), clock.now())

    async def _upload(self, auth: AccountAuth, media: Media) -> str:
        blob, media_type = await self._download(media.url)
        boundary = "chorus-" + secrets.token_hex(12)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="media_category"\r\n\r\n'
            "tweet_image\r\n".encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="image"\r\n'
            f"Content-Type: {media_type}\r\n\r\n".encode()
            + blob
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        body = json_body(
            await self.request(
                "POST",
                self.api("/2/media/upload"),
                token=auth.access_token,
                data=b"".join(parts),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise self.error(ErrorKind.TRANSIENT, detail="the media upload answered no id")
        media_id = str(data["id"])
        if media.alt_text:
            await self.request(
                "POST",
                self.api("/2/media/metadata"),
                token=auth.access_token,
                json={
                    "id": media_id,
                    "metadata": {"alt_text": {"text": media.alt_text[:MAX_ALT_TEXT]}},
                },
            )
        return media_id

    async def _download(self, url: str) -> tuple[bytes, str]:
        """The image behind a customer's URL, through the SSRF-guarded client."""
        answer = await self.download_media(url, "image", MAX_IMAGE_BYTES)
        media_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
        if not media_type.startswith("image/"):
            media_type = "application/octet-stream"
        return answer.body, media_type

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        try:
            await self.request(
                "DELETE",
                self.api(f"/2/tweets/{external_id}"),
                token=auth.access_token,
                mutating=True,
            )
        except PlatformError as exc:
            if exc.status == 404:
                return  # already gone: what deleting wanted
            raise

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            body = json_body(
                await self.request(
                    "GET",
                    self.api(f"/2/tweets/{attempt.external_id}"),
                    token=auth.access_token,
                    params={"tweet.fields": "created_at"},
                )
            )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                return None  # X answers 200 with only ``errors`` for a missing post
            return _remote(auth, data)
        start = attempt.started_at - timedelta(seconds=60)  # clocks differ a little
        async for tweet in self._timeline(auth, start, None):
            if same_text(attempt.content.text, str(tweet.get("text", ""))) or (
                attempt.content.link
                and same_text(
                    f"{attempt.content.text}\n{attempt.content.link}", str(tweet.get("text", ""))
                )
            ):
                return _remote(auth, tweet)
        return None

    async def _timeline(
        self, auth: AccountAuth, start: datetime, end: datetime | None
    ) -> AsyncIterator[dict[str, Any]]:
        params = {
            "start_time": _x_time(start),
            "max_results": str(TIMELINE_PAGE),
            "tweet.fields": _TWEET_FIELDS,
        }
        if end is not None:
            params["end_time"] = _x_time(end)
        for _ in range(TIMELINE_MAX_PAGES):
            body = json_body(
                await self.request(
                    "GET",
                    self.api(f"/2/users/{auth.external_id}/tweets"),
                    token=auth.access_token,
                    params=params,
                )
            )
            for tweet in body.get("data", []) if isinstance(body, dict) else []:
                if isinstance(tweet, dict):
                    yield tweet
            next_token = body.get("meta", {}).get("next_token") if isinstance(body, dict) else None
            if not next_token:
                return
            params = {**params, "pagination_token": str(next_token)}

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
        today = datetime.now(UTC).date()
        followers: int | None = None
        if since <= today <= until:
            me = await self._me(auth.access_token, "public_metrics")
            count = me.get("public_metrics", {}).get("followers_count")
            followers = int(count) if count is not None else None
        start = datetime.combine(since, datetime.min.time(), UTC)
        end: datetime | None = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
        if end is not None and end > datetime.now(UTC) - timedelta(seconds=30):
            end = None  # X refuses an end_time that is not in the past
        totals: dict[date, dict[str, int]] = {}
        async for tweet in self._timeline(auth, start, end):
            at = _parse_time(tweet.get("created_at"))
            if at is None:
                continue
            day = totals.setdefault(
                at.date(), {"impressions": 0, "engagements": 0, "posts_published": 0}
            )
            metrics = tweet.get("public_metrics", {})
            day["impressions"] += int(metrics.get("impression_count") or 0)
            day["engagements"] += sum(
                int(metrics.get(k) or 0)
                for k in ("like_count", "retweet_count", "reply_count", "quote_count")
            )
            day["posts_published"] += 1
        empty = {"impressions": 0, "engagements": 0, "posts_published": 0}
        return [
            DailyMetrics(
                day=d,
                followers=followers if d == today else None,
                **totals.get(d, empty),
            )
            for d in days
        ]

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """``GET /2/tweets?ids=…&tweet.fields=public_metrics``, 100 ids a call; deleted posts
        come back under ``errors`` and are left out."""
        found: dict[str, PostMetrics] = {}
        ids = list(dict.fromkeys(external_ids))
        for start in range(0, len(ids), self.post_metrics_batch):
            body = json_body(
                await self.request(
                    "GET",
                    self.api("/2/tweets"),
                    token=auth.access_token,
                    params={
                        "ids": ",".join(ids[start : start + self.post_metrics_batch]),
                        "tweet.fields": "public_metrics",
                    },
                )
            )
            for tweet in body.get("data", []) if isinstance(body, dict) else []:
                metrics = tweet.get("public_metrics") if isinstance(tweet, dict) else None
                if isinstance(metrics, dict) and "id" in tweet:
                    found[str(tweet["id"])] = _post_metrics(metrics)
        return found

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        status = response.status
        if "error" in body and isinstance(body.get("error"), str):  # the OAuth endpoints
            error = str(body["error"])
            description = str(body.get("error_description", error))
            kind = ErrorKind.REJECTED
            if status >= 500:
                kind = ErrorKind.TRANSIENT
            elif status == 429:
                kind = ErrorKind.RATE_LIMITED
            elif error in ("invalid_grant", "invalid_token", "unauthorized_client") or any(
                hint in description.lower() for hint in _AUTH_TOKEN_HINTS
            ):
                kind = ErrorKind.AUTH
            return self.error(
                kind,
                description,
                status=status,
                code=error,
                detail=description,
                retry_after=_reset_after(response) if kind is ErrorKind.RATE_LIMITED else None,
            )
        detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
        problems = body.get("errors")
        if isinstance(problems, list) and problems and isinstance(problems[0], dict):
            message = problems[0].get("message")
            if message and str(message) not in detail:
                detail = f"{detail} ({message})"
        code = str(body.get("type")) if body.get("type") else None
        if status == 429:
            return self.error(
                ErrorKind.RATE_LIMITED,
                status=status,
                code=code,
                detail=detail,
                retry_after=_reset_after(response),
            )
        if status >= 500:
            return self.error(
                ErrorKind.TRANSIENT,
                status=status,
                code=code,
                detail=detail,
                retry_after=retry_after_of(response),
            )
        if status == 401:
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=detail)
        if status == 403:
            lowered = detail.lower()
            if "duplicate content" in lowered:
                return self.error(
                    ErrorKind.REJECTED,
                    "X does not allow posting the same text twice",
                    status=status,
                    code="duplicate",
                    detail=detail,
                )
            if "not authored by you" in lowered:
                return self.error(ErrorKind.REJECTED, detail, status=status, detail=detail)
            # client-forbidden, missing scopes, a suspended or locked account
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=detail)
        return self.error(ErrorKind.REJECTED, detail, status=status, code=code, detail=detail)


def _count(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _post_metrics(metrics: dict[str, Any]) -> PostMetrics:
    """A post's ``public_metrics``; engagements as the daily numbers count them (likes,
    reposts, replies and quotes), shares as reposts plus quotes."""
    names = ("like_count", "retweet_count", "reply_count", "quote_count")
    likes, reposts, replies, quotes = (_count(metrics.get(k)) for k in names)
    known = [n for n in (likes, reposts, replies, quotes) if n is not None]
    shares = [n for n in (reposts, quotes) if n is not None]
    return PostMetrics(
        impressions=_count(metrics.get("impression_count")),
        engagements=sum(known) if known else None,
        likes=likes,
        comments=replies,
        shares=sum(shares) if shares else None,
    )


def _reset_after(response: Response) -> float | None:
    """Seconds until the window resets, from ``x-rate-limit-reset`` (epoch seconds)."""
    raw = response.headers.get("x-rate-limit-reset")
    if raw and raw.strip().isdigit():
        return max(0.0, float(raw.strip()) - time.time())
    return retry_after_of(response)


def _x_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _permalink(auth: AccountAuth, tweet_id: str) -> str:
    username = auth.extra.get("username")
    if username:
        return f"https://x.com/{username}/status/{tweet_id}"
    return f"https://x.com/i/web/status/{tweet_id}"


def _remote(auth: AccountAuth, tweet: dict[str, Any]) -> RemotePost:
    tweet_id = str(tweet["id"])
    return RemotePost(tweet_id, _permalink(auth, tweet_id), _parse_time(tweet.get("created_at")))


CONNECTOR = XConnector
