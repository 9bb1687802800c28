"""Instagram professional accounts (business and creator) through the Instagram API with
Instagram Login (``graph.instagram.com``, no Facebook page needed).

OAuth: ``www.instagram.com/oauth/authorize`` → code → ``POST api.instagram.com/oauth/access_token``
(a 1-hour token) → ``GET graph.instagram.com/access_token?grant_type=ig_exchange_token`` (a
60-day token). There is no refresh token: the long-lived token refreshes itself
(``ig_refresh_token``), so the connector keeps it as both the access and the refresh token and
refreshes with whichever is current.

Publishing is two steps: create a container (``POST /{ig-user-id}/media``), then publish it
(``POST /{ig-user-id}/media_publish``). Creating a container publishes nothing, so only the
second call is ``mutating``; a carousel first creates one container per item. The API cannot
delete feed posts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from shared import clock
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
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AccountChoice,
    AuthorizeRequest,
    DailyMetrics,
    Grant,
    Limits,
    PostContent,
    PostMetrics,
    PublishAttempt,
    Published,
    RateWindow,
    RemotePost,
    TokenSet,
)

VERSION = "v21.0"
# Meta's throttling codes: app (4), user (17), page/BUC (32), custom (613), Instagram BUC (80002).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80002})
AUTH_CODES = frozenset({190, 102, 10})  # 200-299 are permission errors as well
PUBLISH_CAP_SUBCODE = 2207042  # code 9: the 24 h content publishing limit
MEDIA_ERROR_CODES = frozenset({9004, 9007, 36000, 36001, 36003, 36004})
INSIGHT_METRICS = (
    "reach",
    "impressions",
    "accounts_engaged",
    "total_interactions",
    "website_clicks",
)
MAX_INSIGHTS_DAYS = 30  # since..until may span at most 30 days
CONTAINER_POLLS = 20
CONTAINER_POLL_S = 3.0
RECONCILE_SLACK_S = 300  # platform and Chorus clocks may disagree a little
RECONCILE_PAGES = 4


def _graph_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except ValueError:
        return None


def _midnight(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp())


class InstagramConnector(Connector):
    platform: ClassVar[str] = "instagram"
    display_name: ClassVar[str] = "Instagram"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://www.instagram.com",
        "oauth": "https://api.instagram.com",
        "graph": "https://graph.instagram.com",
    }
    scopes: ClassVar[tuple[str, ...]] = (
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_insights",
    )
    limits: ClassVar[Limits] = Limits(
        # Business Use Case rate limit for the Instagram Platform: calls per 24 h =
        # 4800 x the account's impressions (developers.facebook.com/docs/graph-api/overview/
        # rate-limiting#buc-rate-limits); 4800 is the floor.
        rate_windows=(RateWindow("instagram_buc", 4800, 24 * 3600, "account"),),
        # Content publishing: 100 API-published posts per account in a moving 24 h, carousels
        # counting as one (instagram-platform/content-publishing#rate-limit).
        publish_per_day=100,
        max_concurrency=4,
        token_lifetime_s=60 * 24 * 3600,  # long-lived Instagram user tokens: 60 days
        supports_refresh=True,
        supports_reviews=False,
        supports_delete=False,  # no API to delete feed posts
        supports_revoke=False,  # Instagram Login has no token revocation endpoint,
        publish_windows=("instagram_buc",),
    )

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": ",".join(self.scopes),
                "state": state,
            }
        )
        return AuthorizeRequest(f"{self.url('www', '/oauth/authorize')}?{query}")

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        # Instagram appends "#_" to the code in the redirect; browsers drop fragments, but a
        # pasted URL may keep it.
        code = code.removesuffix("#_")
        answer = await self.request(
            "POST",
            self.url("oauth", "/oauth/access_token"),
            data={
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret.reveal(),
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        body = json_body(answer)
        entry = body["data"][0] if isinstance(body.get("data"), list) and body["data"] else body
        short = entry.get("access_token") if isinstance(entry, dict) else None
        if not short:
            raise self.error(ErrorKind.TRANSIENT, "no access token in the answer")
        granted = str(entry.get("permissions") or "")
        scopes = tuple(s for s in granted.replace(" ", ",").split(",") if s)
        answer = await self.request(
            "GET",
            self.url("graph", "/access_token"),
            params={
                "grant_type": "ig_exchange_token",
                "client_secret": self.app.client_secret.reveal(),
                "access_token": str(short),
            },
        )
        tokens = self._tokens(json_body(answer), scopes)
        user = await self._me(tokens.access_token)
        user_id = str(user.get("user_id") or user.get("id") or entry.get("user_id"))
        username = str(user.get("username") or "") or None
        choice = AccountChoice(
            external_id=user_id,
            name=str(user.get("name") or username or user_id),
            username=username,
            kind="instagram_account",
            extra={"account_type": str(user.get("account_type") or "")},
        )
        return Grant(tokens, (choice,))

    def _tokens(self, body: dict[str, Any], scopes: tuple[str, ...]) -> TokenSet:
        value = body.get("access_token")
        if not value:
            raise self.error(ErrorKind.TRANSIENT, "no access token in the answer")
        sealed = Sealed(str(value))
        until = expires_in(body.get("expires_in"))
        # The long-lived token is its own refresh token.
        return TokenSet(sealed, sealed, until, until, scopes)

    async def _me(self, token: Sealed) -> dict[str, Any]:
        answer = await self.request(
            "GET",
            self.url("graph", f"/{VERSION}/me"),
            token=token,
            params={"fields": "user_id,username,name,account_type"},
        )
        body = json_body(answer)
        return body if isinstance(body, dict) else {}

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        current = tokens.access_token or tokens.refresh_token
        if not current:
            raise self.error(ErrorKind.AUTH, "no token to refresh")
        answer = await self.request(
            "GET",
            self.url("graph", "/refresh_access_token"),
            params={"grant_type": "ig_refresh_token", "access_token": current.reveal()},
        )
        return keep_refresh_token(tokens, self._tokens(json_body(answer), tokens.scopes))

    # -- Publishing -----------------------------------------------------------------------------

    @staticmethod
    def caption(content: PostContent) -> str:
        """What goes out as the caption: links aren't clickable in captions, but they are
        still worth showing, after the text."""
        if content.link and content.link not in content.text:
            return f"{content.text}\n\n{content.link}".strip()
        return content.text

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        user = auth.external_id
        media_path = f"/{VERSION}/{user}/media"
        caption = self.caption(content)
        if len(content.media) > 1:
            children = []
            for item in content.media:
                params = {"is_carousel_item": "true"}
                if item.kind == "video":
                    params.update(media_type="VIDEO", video_url=item.url)
                else:
                    params["image_url"] = item.url
                children.append(await self._container(auth, params))
            for item, child in zip(content.media, children, strict=True):
                if item.kind == "video":
                    await self._wait_ready(auth, child)
            container = await self._container(
                auth,
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption},
            )
        else:
            params = {"caption": caption}
            if content.media and content.media[0].kind == "video":
                params.update(media_type="REELS", video_url=content.media[0].url)
                if content.media[0].cover_url:
                    params["cover_url"] = content.media[0].cover_url
            elif content.media:
                params["image_url"] = content.media[0].url
                if content.media[0].alt_text:
                    params["alt_text"] = content.media[0].alt_text
            container = await self._container(auth, params, path=media_path)
            if "video_url" in params:
                await self._wait_ready(auth, container)
        try:
            answer = await self.request(
                "POST",
                self.url("graph", f"/{VERSION}/{user}/media_publish"),
                token=auth.access_token,
                mutating=True,
                data={"creation_id": container},
                headers={CLIENT_REF_HEADER: client_ref},
            )
        except PlatformError as exc:
            capped = exc.code == "9" and f"subcode {PUBLISH_CAP_SUBCODE}" in (exc.detail or "")
            if capped and exc.retry_after is None:
                exc.retry_after = await self._cap_retry_after(auth)
            raise
        media_id = str(json_body(answer).get("id") or "")
        if not media_id:
            raise self.error(ErrorKind.AMBIGUOUS, "no media id in the answer")
        post = await self._get_media(auth, media_id)
        if post is None:
            return Published(media_id, None, clock.now())
        return post_published(post)

    async def _container(
        self, auth: AccountAuth, params: dict[str, str], *, path: str | None = None
    ) -> str:
        answer = await self.request(
            "POST",
            self.url("graph", path or f"/{VERSION}/{auth.external_id}/media"),
            token=auth.access_token,
            data=params,
        )
        container = str(json_body(answer).get("id") or "")
        if not container:
            raise self.error(ErrorKind.TRANSIENT, "no container id in the answer")
        return container

    async def _wait_ready(self, auth: AccountAuth, container: str) -> None:
        """Videos are processed before they can be published (or put in a carousel): wait
        for the container's ``FINISHED``."""
        for attempt in range(CONTAINER_POLLS):
            answer = await self.request(
                "GET",
                self.url("graph", f"/{VERSION}/{container}"),
                token=auth.access_token,
                params={"fields": "status_code,status"},
            )
            body = json_body(answer)
            status = str(body.get("status_code") or "")
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                reason = str(body.get("status") or f"the media container is {status.lower()}")
                raise self.error(ErrorKind.REJECTED, reason, code=status, detail=reason)
            if attempt + 1 < CONTAINER_POLLS:
                await asyncio.sleep(CONTAINER_POLL_S)
        raise self.error(ErrorKind.TRANSIENT, "the media is still being processed")

    async def _cap_retry_after(self, auth: AccountAuth) -> float | None:
        """The cap is a moving 24 h: room comes back when the oldest post in it turns 24 h."""
        since = int(time.time()) - 24 * 3600
        try:
            answer = await self.request(
                "GET",
                self.url("graph", f"/{VERSION}/{auth.external_id}/media"),
                token=auth.access_token,
                params={"fields": "id,timestamp", "since": str(since), "limit": "100"},
            )
        except PlatformError:
            return None
        stamps = [_graph_time(m.get("timestamp")) for m in json_body(answer).get("data") or []]
        known = [s for s in stamps if s is not None]
        if not known:
            return None
        return max(60.0, min(known).timestamp() + 24 * 3600 - time.time())

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        raise NotSupported(self.platform, "deleting posts")

    async def _get_media(self, auth: AccountAuth, media_id: str) -> dict[str, Any] | None:
        try:
            answer = await self.request(
                "GET",
                self.url("graph", f"/{VERSION}/{media_id}"),
                token=auth.access_token,
                params={"fields": "id,caption,permalink,timestamp"},
            )
        except PlatformError as exc:
            if exc.kind is ErrorKind.REJECTED and exc.code == "100":
                return None
            raise
        body = json_body(answer)
        return body if isinstance(body, dict) and body.get("id") else None

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """Lifetime media insights, one ``GET /{media-id}/insights`` per post: impressions,
        reach, likes, comments, shares and saves (engagements: the four interactions). A media
        that is gone answers code 100 and is left out."""
        found: dict[str, PostMetrics] = {}
        for media_id in dict.fromkeys(external_ids):
            try:
                answer = await self.request(
                    "GET",
                    self.url("graph", f"/{VERSION}/{media_id}/insights"),
                    token=auth.access_token,
                    params={"metric": ",".join(_MEDIA_INSIGHTS)},
                )
            except PlatformError as exc:
                if exc.kind is ErrorKind.REJECTED and exc.code == "100":
                    continue
                raise
            body = json_body(answer)
            values: dict[str, int | None] = {}
            for series in body.get("data", []) if isinstance(body, dict) else []:
                points = series.get("values") if isinstance(series, dict) else None
                if isinstance(points, list) and points and isinstance(points[-1], dict):
                    values[str(series.get("name"))] = _count(points[-1].get("value"))
            interactions = ("likes", "comments", "shares", "saved")
            engaged = [n for k in interactions if (n := values.get(k)) is not None]
            found[media_id] = PostMetrics(
                impressions=values.get("impressions"),
                reach=values.get("reach"),
                likes=values.get("likes"),
                comments=values.get("comments"),
                shares=values.get("shares"),
                engagements=sum(engaged) if engaged else None,
            )
        return found

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            found = await self._get_media(auth, attempt.external_id)
            return remote(found) if found else None
        wanted = self.caption(attempt.content)
        since = int(attempt.started_at.timestamp()) - RECONCILE_SLACK_S
        params = {"fields": "id,caption,permalink,timestamp", "since": str(since), "limit": "50"}
        for _ in range(RECONCILE_PAGES):
            answer = await self.request(
                "GET",
                self.url("graph", f"/{VERSION}/{auth.external_id}/media"),
                token=auth.access_token,
                params=params,
            )
            body = json_body(answer)
            for media in body.get("data") or []:
                if same_text(wanted, str(media.get("caption") or "")):
                    return remote(media)
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not (body.get("paging") or {}).get("next") or not after:
                return None
            params = {**params, "after": str(after)}
        return None

    # -- Metrics --------------------------------------------------------------------------------

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        values: dict[date, dict[str, int]] = {}
        start = since
        while start <= until:
            end = min(until, start + timedelta(days=MAX_INSIGHTS_DAYS - 1))
            answer = await self.request(
                "GET",
                self.url("graph", f"/{VERSION}/{auth.external_id}/insights"),
                token=auth.access_token,
                params={
                    "metric": ",".join(INSIGHT_METRICS),
                    "period": "day",
                    "since": str(_midnight(start)),
                    "until": str(_midnight(end + timedelta(days=1))),
                },
            )
            for metric in json_body(answer).get("data") or []:
                name = str(metric.get("name") or "")
                for point in metric.get("values") or []:
                    ended = _graph_time(point.get("end_time"))
                    if ended is None or not isinstance(point.get("value"), int):
                        continue
                    day = (ended - timedelta(days=1)).date()
                    values.setdefault(day, {})[name] = point["value"]
            start = end + timedelta(days=1)
        followers = await self._followers(auth)
        today = datetime.now(UTC).date()
        out = []
        day = since
        while day <= until:
            got = values.get(day, {})
            out.append(
                DailyMetrics(
                    day=day,
                    followers=followers if day == today else None,
                    impressions=got.get("impressions"),
                    reach=got.get("reach"),
                    engagements=got.get("total_interactions"),
                    clicks=got.get("website_clicks"),
                )
            )
            day += timedelta(days=1)
        return out

    async def _followers(self, auth: AccountAuth) -> int | None:
        answer = await self.request(
            "GET",
            self.url("graph", f"/{VERSION}/{auth.external_id}"),
            token=auth.access_token,
            params={"fields": "followers_count"},
        )
        count = json_body(answer).get("followers_count")
        return count if isinstance(count, int) else None

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            # api.instagram.com answers {"error_type", "code", "error_message"}.
            if isinstance(body, dict) and body.get("error_message"):
                reason = str(body["error_message"])
                code = str(body.get("error_type") or "") or None
                if response.status >= 500:
                    return self.by_status(response, reason, code=code)
                kind = ErrorKind.AUTH if response.status in (401, 403) else ErrorKind.REJECTED
                return self.error(kind, reason, status=response.status, code=code, detail=reason)
            return self.by_status(response, response.text()[:200] or f"HTTP {response.status}")
        reason = str(error.get("error_user_msg") or error.get("message") or "")
        raw_code, subcode = error.get("code"), error.get("error_subcode")
        message = str(error.get("message") or reason)
        detail = f"{message} (subcode {subcode})" if subcode is not None else message
        code_n = raw_code if isinstance(raw_code, int) else -999
        code = str(raw_code) if raw_code is not None else None
        status = response.status

        def make(kind: ErrorKind, retry_after: float | None = None) -> PlatformError:
            return self.error(
                kind, reason, status=status, code=code, detail=detail, retry_after=retry_after
            )

        if code_n in AUTH_CODES or 200 <= code_n <= 299:
            return make(ErrorKind.AUTH)
        if code_n in RATE_LIMIT_CODES:
            return make(ErrorKind.RATE_LIMITED, regain_after(response))
        if code_n == 9 and subcode == PUBLISH_CAP_SUBCODE:
            return make(ErrorKind.RATE_LIMITED, regain_after(response))
        if error.get("is_transient") is True or code_n in (-1, -2) or status >= 500:
            return make(ErrorKind.TRANSIENT, retry_after_of(response))
        if code_n in (1, 2) and subcode is None:
            return make(ErrorKind.TRANSIENT, retry_after_of(response))
        return make(ErrorKind.REJECTED)


def regain_after(response: Response) -> float | None:
    """Seconds until access comes back: the largest ``estimated_time_to_regain_access``
    (minutes) in ``X-Business-Use-Case-Usage``, else ``Retry-After``."""
    raw = response.headers.get("X-Business-Use-Case-Usage")
    minutes: list[float] = []
    if raw:
        try:
            usage = json.loads(raw)
        except ValueError:
            usage = {}
        if isinstance(usage, dict):
            for entries in usage.values():
                for entry in entries if isinstance(entries, list) else []:
                    value = entry.get("estimated_time_to_regain_access")
                    if isinstance(value, int | float) and value > 0:
                        minutes.append(float(value))
    if minutes:
        return max(minutes) * 60
    return retry_after_of(response)


def remote(media: dict[str, Any]) -> RemotePost:
    return RemotePost(
        external_id=str(media["id"]),
        permalink=str(media.get("permalink") or "") or None,
        published_at=_graph_time(media.get("timestamp")),
    )


def post_published(media: dict[str, Any]) -> Published:
    found = remote(media)
    return Published(found.external_id, found.permalink, found.published_at)


CONNECTOR = InstagramConnector


_MEDIA_INSIGHTS = ("impressions", "reach", "likes", "comments", "shares", "saved")


def _count(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
