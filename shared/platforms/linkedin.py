"""LinkedIn organization pages through the Community Management API (versioned ``/rest``).

OAuth 2.0 (3-legged, no PKCE) at ``www.linkedin.com/oauth/v2``: access tokens live 60 days;
refresh tokens (approved partners) 365 days and do not rotate: a refresh gives a new access
token and the same refresh token with its original expiry. The accounts a member may connect
are the organizations they administer (``organizationAcls``).

Every ``/rest`` call carries ``LinkedIn-Version`` and ``X-Restli-Protocol-Version: 2.0.0``;
URNs in paths are URL-encoded. Post commentary is in LinkedIn's "little text" format, whose
reserved characters must be escaped (an unescaped parenthesis silently truncates the post);
hashtags become hashtag templates.

Chorus publishes text, article-link and image posts. Each image is downloaded from the
customer's URL through the SSRF-guarded client, registered with ``POST /rest/images?action=
initializeUpload`` (owner: the organization) and its bytes ``PUT`` to the ``uploadUrl`` that
answers; the post then carries ``content.media`` (one image) or ``content.multiImage`` (2 to 20).
A post has one kind of content, so a link that comes with images goes into the commentary.
A media URL the SSRF guard refuses, one that redirects too often, answers 4xx, or gives
something too large or not a JPG/PNG/GIF fails the publish as ``rejected``; a timeout, a lost
connection or a 5xx there is ``transient``; either way before anything is posted. Videos (the
``/rest/videos`` multi-part upload flow) are not supported: a post with a video raises
:class:`NotSupported` before any call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from shared import clock
from shared.crypto import Sealed
from shared.http import (
    Response,
)
from shared.platforms.base import (
    CLIENT_REF_HEADER,
    Connector,
    expires_in,
    json_body,
    keep_refresh_token,
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
    Media,
    PostContent,
    PostMetrics,
    PublishAttempt,
    Published,
    RateWindow,
    RemotePost,
    TokenSet,
)

API_VERSION = "202609"  # LinkedIn-Version (YYYYMM); versions are supported for about a year
RESTLI = "2.0.0"
RESERVED = frozenset("\\|{}@[]()<>#*_~")
_HASHTAG = re.compile(r"(?<![\w\\])#(\w+)")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\#\|(\w+)\}")
_UNESCAPE = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")
RECONCILE_SLACK_S = 300
RECONCILE_PAGE = 50
RECONCILE_PAGES = 4
_LI_DOMAIN = ".linkedin.com"
MAX_IMAGES = 20  # a multiImage post has 2 to 20 images (MultiImage API)
MAX_ALT_TEXT = 4086  # altText of a post's media (Posts API)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Chorus's own cap on an image it downloads and re-uploads: the Images API documents formats
(JPG, PNG, GIF) and a pixel count (under 36,152,320), not a byte limit."""
IMAGE_MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def escape_little_text(text: str) -> str:
    """Commentary in LinkedIn's little text format: hashtags as hashtag templates, every other
    reserved character escaped with a backslash."""
    out: list[str] = []
    pos = 0
    for match in _HASHTAG.finditer(text):
        if match.group(1).strip("0123456789_") == "":
            continue  # "#1" is not a hashtag: escaped like any other "#"
        out.append(_escape(text[pos : match.start()]))
        out.append(f"{{hashtag|\\#|{match.group(1)}}}")
        pos = match.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in RESERVED else c for c in text)


def unescape_little_text(text: str) -> str:
    return _UNESCAPE.sub(r"\1", _HASHTAG_TEMPLATE.sub(r"#\1", text))


def _ms_to_dt(raw: Any) -> datetime | None:
    return datetime.fromtimestamp(raw / 1000, UTC) if isinstance(raw, int) else None


def _midnight_ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)


def seconds_to_utc_midnight(now: datetime | None = None) -> float:
    """LinkedIn's daily limits reset at midnight UTC and it says nothing more."""
    now = now or datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1.0, (midnight - now).total_seconds())


class LinkedInConnector(Connector):
    platform: ClassVar[str] = "linkedin"
    post_metrics_batch: ClassVar[int] = 20  # shares + ugcPosts named per statistics call
    display_name: ClassVar[str] = "LinkedIn"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://www.linkedin.com",
        "api": "https://api.linkedin.com",
    }
    scopes: ClassVar[tuple[str, ...]] = (
        "r_organization_social",
        "w_organization_social",
        "rw_organization_admin",
    )
    limits: ClassVar[Limits] = Limits(
        # Daily limits reset at midnight UTC (learn.microsoft.com/linkedin/shared/api-guide/
        # concepts/rate-limits); the Posts API allows 150 creates per member and 100,000 per
        # application a day (Community Management API, "Posts API" rate limits).
        rate_windows=(
            RateWindow("posts_create_member_day", 150, 24 * 3600, "user"),
            RateWindow("posts_create_app_day", 100_000, 24 * 3600, "app"),
        ),
        publish_per_day=None,
        max_concurrency=2,
        token_lifetime_s=60 * 24 * 3600,  # access tokens: 60 days
        supports_refresh=True,  # refresh tokens (365 days) for approved partners
        supports_reviews=False,
        supports_delete=True,
        supports_revoke=True,
        publish_windows=("posts_create_member_day", "posts_create_app_day"),
    )

    # -- HTTP -----------------------------------------------------------------------------------

    async def rest(
        self,
        method: str,
        path: str,
        auth: AccountAuth | Sealed,
        *,
        mutating: bool = False,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        token = auth.access_token if isinstance(auth, AccountAuth) else auth
        send = {"LinkedIn-Version": API_VERSION, "X-Restli-Protocol-Version": RESTLI}
        send.update(headers or {})
        return await self.request(
            method,
            self.url("api", f"/rest{path}"),
            token=token,
            mutating=mutating,
            params=params,
            json=json,
            headers=send,
        )

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": " ".join(self.scopes),
            }
        )
        return AuthorizeRequest(f"{self.url('www', '/oauth/v2/authorization')}?{query}")

    def _credentials(self) -> dict[str, str]:
        return {"client_id": self.app.client_id, "client_secret": self.app.client_secret.reveal()}

    def _tokens(self, body: dict[str, Any]) -> TokenSet:
        access = body.get("access_token")
        if not access:
            raise self.error(ErrorKind.TRANSIENT, "no access token in the answer")
        refresh = body.get("refresh_token")
        scopes = tuple(s for s in re.split(r"[ ,]", str(body.get("scope") or "")) if s)
        return TokenSet(
            access_token=Sealed(str(access)),
            refresh_token=Sealed(str(refresh)) if refresh else None,
            expires_at=expires_in(body.get("expires_in")),
            refresh_expires_at=expires_in(body.get("refresh_token_expires_in"))
            if refresh
            else None,
            scopes=scopes,
        )

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        answer = await self.request(
            "POST",
            self.url("www", "/oauth/v2/accessToken"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                **self._credentials(),
            },
        )
        tokens = self._tokens(json_body(answer))
        acls = await self.rest(
            "GET",
            "/organizationAcls",
            tokens.access_token,
            params={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"},
        )
        choices = []
        for element in json_body(acls).get("elements") or []:
            urn = str(element.get("organization") or element.get("organizationTarget") or "")
            org_id = urn.rpartition(":")[2]
            if not urn.startswith("urn:li:organization:") or not org_id:
                continue
            org = json_body(await self.rest("GET", f"/organizations/{org_id}", tokens.access_token))
            choices.append(
                AccountChoice(
                    external_id=urn,
                    name=str(org.get("localizedName") or urn),
                    username=str(org.get("vanityName") or "") or None,
                    kind="organization",
                )
            )
        return Grant(tokens, tuple(choices))

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise self.error(ErrorKind.AUTH, "no refresh token held: reconnect the account")
        try:
            answer = await self.request(
                "POST",
                self.url("www", "/oauth/v2/accessToken"),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens.refresh_token.reveal(),
                    **self._credentials(),
                },
            )
        except PlatformError as exc:
            if exc.kind is ErrorKind.REJECTED:
                # An invalid or expired refresh token: only the member can fix it.
                raise self.error(
                    ErrorKind.AUTH,
                    exc.detail or "",
                    status=exc.status,
                    code=exc.code,
                    detail=exc.detail,
                ) from None
            raise
        return keep_refresh_token(tokens, self._tokens(json_body(answer)))

    async def revoke(self, auth: AccountAuth) -> bool:
        await self.request(
            "POST",
            self.url("www", "/oauth/v2/revoke"),
            data={"token": auth.access_token.reveal(), **self._credentials()},
        )
        return True

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        """Images are uploaded first (nothing is posted by an upload, so a failure there is
        safe to retry); videos are not supported."""
        if any(m.kind != "image" for m in content.media):
            raise NotSupported(self.platform, "videos in LinkedIn posts (images only)")
        if len(content.media) > MAX_IMAGES:
            raise self.error(
                ErrorKind.REJECTED,
                f"LinkedIn takes at most {MAX_IMAGES} images per post",
                code="media",
            )
        images = [await self._upload(auth, m) for m in content.media]
        body: dict[str, Any] = {
            "author": auth.external_id,
            "commentary": escape_little_text(_commentary(content)),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": images[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        elif content.link:
            body["content"] = {
                "article": {"source": content.link, "title": content.title or content.link}
            }
        answer = await self.rest(
            "POST",
            "/posts",
            auth,
            mutating=True,
            json=body,
            headers={CLIENT_REF_HEADER: client_ref},
        )
        urn = answer.headers.get("x-restli-id") or answer.headers.get("x-linkedin-id")
        if not urn:
            raise self.error(ErrorKind.AMBIGUOUS, "no post id in the answer")
        return Published(urn, permalink(urn), clock.now())

    async def _upload(self, auth: AccountAuth, media: Media) -> dict[str, str]:
        """Download one image, register it with the Images API and upload its bytes: the
        ``{"id", "altText"}`` a post's content refers to it by."""
        blob, media_type = await self._download(media.url)
        answer = json_body(
            await self.rest(
                "POST",
                "/images",
                auth,
                params={"action": "initializeUpload"},
                json={"initializeUploadRequest": {"owner": auth.external_id}},
            )
        )
        value = answer.get("value") if isinstance(answer, dict) else None
        value = value if isinstance(value, dict) else {}
        upload_url, urn = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(urn, str) or not urn:
            raise self.error(ErrorKind.TRANSIENT, detail="initializeUpload answered no upload URL")
        if not self._is_linkedin_url(upload_url):
            # The token goes along with the bytes: only ever to LinkedIn.
            raise self.error(
                ErrorKind.REJECTED,
                "LinkedIn gave an upload address outside LinkedIn",
                code="upload_url",
                detail=upload_url.split("?")[0],
            )
        await self.request(
            "PUT",
            upload_url,
            token=auth.access_token,
            data=blob,
            headers={"Content-Type": media_type},
        )
        image = {"id": urn}
        if media.alt_text:
            image["altText"] = media.alt_text[:MAX_ALT_TEXT]
        return image

    def _is_linkedin_url(self, url: str) -> bool:
        if self.sandbox_url:
            return url.startswith(self.hosts["api"] + "/")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "linkedin.com" or host.endswith(_LI_DOMAIN))

    async def _download(self, url: str) -> tuple[bytes, str]:
        """An image's bytes and media type from the customer's URL (SSRF-guarded)."""
        answer = await self.download_media(url, "image", MAX_IMAGE_BYTES)
        media_type = next((t for m, t in IMAGE_MAGIC.items() if answer.body.startswith(m)), None)
        if media_type is None:
            raise self.error(
                ErrorKind.REJECTED,
                "an image is not a JPG, PNG or GIF file, which is all LinkedIn takes",
                code="media_type",
            )
        return answer.body, media_type

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        try:
            await self.rest("DELETE", f"/posts/{quote(external_id, safe='')}", auth, mutating=True)
        except PlatformError as exc:
            if exc.status == 404:
                return  # already gone: what was asked for
            raise

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            try:
                answer = await self.rest(
                    "GET", f"/posts/{quote(attempt.external_id, safe='')}", auth
                )
            except PlatformError as exc:
                if exc.status == 404:
                    return None
                raise
            return remote(json_body(answer))
        since_ms = int((attempt.started_at.timestamp() - RECONCILE_SLACK_S) * 1000)
        for page in range(RECONCILE_PAGES):
            answer = await self.rest(
                "GET",
                "/posts",
                auth,
                params={
                    "author": auth.external_id,
                    "q": "author",
                    "count": str(RECONCILE_PAGE),
                    "start": str(page * RECONCILE_PAGE),
                    "sortBy": "CREATED",
                },
            )
            body = json_body(answer)
            elements = body.get("elements") or []
            for post in elements:
                if self._matches(attempt.content, post):
                    return remote(post)
            created = [p.get("createdAt") for p in elements if isinstance(p.get("createdAt"), int)]
            if len(elements) < RECONCILE_PAGE or (created and min(created) < since_ms):
                return None
        return None

    @staticmethod
    def _matches(content: PostContent, post: dict[str, Any]) -> bool:
        text = unescape_little_text(str(post.get("commentary") or ""))
        if not same_text(_commentary(content), text):
            return False
        found = post.get("content") or {}
        if content.media:
            single = 1 if isinstance(found.get("media"), dict) else 0
            several = len((found.get("multiImage") or {}).get("images") or [])
            return max(single, several) == len(content.media)
        article = found.get("article") or {}
        return not content.link or article.get("source") == content.link

    # -- Metrics --------------------------------------------------------------------------------

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        intervals = (
            f"(timeRange:(start:{_midnight_ms(since)},end:"
            f"{_midnight_ms(until + timedelta(days=1))}),timeGranularityType:DAY)"
        )
        answer = await self.rest(
            "GET",
            "/organizationalEntityShareStatistics",
            auth,
            params={
                "q": "organizationalEntity",
                "organizationalEntity": auth.external_id,
                "timeIntervals": intervals,
            },
        )
        stats: dict[date, dict[str, Any]] = {}
        for element in json_body(answer).get("elements") or []:
            started = _ms_to_dt((element.get("timeRange") or {}).get("start"))
            total = element.get("totalShareStatistics")
            if started is not None and isinstance(total, dict):
                stats[started.date()] = total
        size = await self.rest(
            "GET",
            f"/networkSizes/{quote(auth.external_id, safe='')}",
            auth,
            params={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"},
        )
        followers = json_body(size).get("firstDegreeSize")
        today = datetime.now(UTC).date()
        out = []
        day = since
        while day <= until:
            got = stats.get(day)
            engagements = None
            if got is not None:
                parts = [got.get(k) for k in ("likeCount", "commentCount", "shareCount")]
                engagements = sum(p for p in parts if isinstance(p, int))
            out.append(
                DailyMetrics(
                    day=day,
                    followers=followers if day == today and isinstance(followers, int) else None,
                    impressions=_int(got, "impressionCount"),
                    reach=_int(got, "uniqueImpressionsCount"),
                    engagements=engagements,
                    clicks=_int(got, "clickCount"),
                )
            )
            day += timedelta(days=1)
        return out

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """Lifetime ``organizationalEntityShareStatistics`` of the page's own posts, named as
        ``shares=List(…)`` and ``ugcPosts=List(…)`` (20 a call, by their URN's kind). Posts
        LinkedIn does not return (deleted) are left out."""
        urns = [u for u in dict.fromkeys(external_ids) if _POST_URN.match(u)]
        found: dict[str, PostMetrics] = {}
        for start in range(0, len(urns), self.post_metrics_batch):
            batch = urns[start : start + self.post_metrics_batch]
            params = {"q": "organizationalEntity", "organizationalEntity": auth.external_id}
            for param, kind in (("shares", "share"), ("ugcPosts", "ugcPost")):
                named = [quote(u, safe="") for u in batch if u.startswith(f"urn:li:{kind}:")]
                if named:
                    params[param] = f"List({','.join(named)})"
            answer = await self.rest(
                "GET", "/organizationalEntityShareStatistics", auth, params=params
            )
            for element in json_body(answer).get("elements") or []:
                urn = element.get("share") or element.get("ugcPost")
                total = element.get("totalShareStatistics")
                if not isinstance(urn, str) or not isinstance(total, dict):
                    continue
                likes, comments, shares = (
                    _int(total, k) for k in ("likeCount", "commentCount", "shareCount")
                )
                engaged = [n for n in (likes, comments, shares) if n is not None]
                found[urn] = PostMetrics(
                    impressions=_int(total, "impressionCount"),
                    reach=_int(total, "uniqueImpressionsCount"),
                    clicks=_int(total, "clickCount"),
                    likes=likes,
                    comments=comments,
                    shares=shares,
                    engagements=sum(engaged) if engaged else None,
                )
        return found

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        if "error" in body and "status" not in body:
            # OAuth endpoints: {"error", "error_description"}.
            reason = str(body.get("error_description") or body.get("error"))
            return self.by_status(response, reason, code=str(body.get("error")))
        reason = str(body.get("message") or response.text()[:200] or f"HTTP {response.status}")
        code = body.get("code") or body.get("serviceErrorCode")
        code_s = str(code) if code is not None else None
        status = response.status
        if status == 429:
            return self.error(
                ErrorKind.RATE_LIMITED,
                reason,
                status=status,
                code=code_s,
                detail=reason,
                retry_after=seconds_to_utc_midnight(),
            )
        if code_s in ("EXPIRED_ACCESS_TOKEN", "REVOKED_ACCESS_TOKEN", "INVALID_ACCESS_TOKEN"):
            return self.error(ErrorKind.AUTH, reason, status=status, code=code_s, detail=reason)
        return self.by_status(response, reason, code=code_s)


_POST_URN = re.compile(r"^urn:li:(share|ugcPost):\d+$")


def _int(stats: dict[str, Any] | None, key: str) -> int | None:
    value = (stats or {}).get(key)
    return value if isinstance(value, int) else None


def _commentary(content: PostContent) -> str:
    """The text as posted: a post has one kind of content, so a link that comes with images
    goes into the text (LinkedIn shows it as a link)."""
    if content.media and content.link and content.link not in content.text:
        return f"{content.text}\n{content.link}" if content.text else content.link
    return content.text


def permalink(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def remote(post: dict[str, Any]) -> RemotePost:
    urn = str(post.get("id") or "")
    published = _ms_to_dt(post.get("publishedAt")) or _ms_to_dt(post.get("createdAt"))
    return RemotePost(urn, permalink(urn), published)


CONNECTOR = LinkedInConnector
