"""TikTok through Login Kit (OAuth v2) and the Content Posting API v2 (Direct Post).

Connect: ``www.tiktok.com/v2/auth/authorize/`` (the web flow: no PKCE, which TikTok uses for
desktop and mobile apps only), then ``POST /v2/oauth/token/`` with the client key and secret in
the form body. Access tokens live 24 h, refresh tokens 365 days; a refresh may hand back a new
refresh token, which then replaces the old one (:func:`keep_refresh_token` otherwise). One
TikTok user is one account: the creator, read from ``/v2/user/info/``.

Publish (Direct Post): ``creator_info/query`` (may the creator post now, with which privacy
levels), then ``video/init`` (one video, ``PULL_FROM_URL``) or ``content/init`` (photos,
``media_type=PHOTO``) → ``publish_id``; then ``status/fetch`` is polled briefly until
``PUBLISH_COMPLETE`` gives ``publicaly_available_post_id`` (TikTok's spelling). If processing
outlasts the short poll, the post is accepted and ``Published.external_id`` is the
``publish_id``; :meth:`fetch_post_status` later turns it into the post id. TikTok has no API to
delete a post.

Errors: every answer is ``{"data", "error": {"code", "message", "log_id"}}`` with ``code ==
"ok"`` on success; the token endpoints answer ``{"error", "error_description", "log_id"}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

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

# Content Posting API: a video's caption ("title") is at most 2,200 UTF-16 runes; a photo
# post's title 90 and description 4,000; up to 35 photos.
MAX_VIDEO_TITLE = 2_200
MAX_PHOTO_TITLE = 90
MAX_PHOTOS = 35
# TikTok's per-minute windows: how long to stay away after ``rate_limit_exceeded``, which comes
# without a Retry-After.
RATE_WINDOW_S = 60.0
DAY_S = 86_400
# Polling ``status/fetch`` (30 calls/min per token) right after init: a few short waits.
STATUS_POLL_WAITS = (0.35, 0.5, 0.75, 1.0, 1.5)
_POST_METRIC_FIELDS = "id,view_count,like_count,comment_count,share_count"
LIST_PAGE = 20  # video/list's max_count
VIDEO_FIELDS = "id,title,video_description,create_time,share_url"
METRIC_FIELDS = "id,create_time,view_count,like_count,comment_count,share_count"
USER_FIELDS = "open_id,union_id,display_name,username"
PREFERRED_PRIVACY = ("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS")

_AUTH_CODES = frozenset(
    {
        "access_token_invalid",
        "access_token_expired",
        "scope_not_authorized",
        "scope_permission_missed",
        "invalid_grant",
        "access_denied",
    }
)
_RATE_CODES = frozenset({"rate_limit_exceeded", "spam_risk_too_many_posts"})
_TRANSIENT_CODES = frozenset({"internal_error", "server_error", "temporarily_unavailable"})
_REASONS = {
    "spam_risk_too_many_posts": "the creator reached TikTok's daily limit of posts",
    "spam_risk_user_banned_from_posting": "TikTok has banned this creator from posting",
    "reached_active_user_cap": "TikTok's daily limit of active users for this app is reached",
    "unaudited_client_can_only_post_to_private_accounts": "this app may only post privately "
    "until TikTok audits it",
    "url_ownership_unverified": "the media's web address is not on a domain verified with TikTok",
    "privacy_level_option_mismatch": "the chosen privacy level is not one the creator offers",
}


class TikTokConnector(Connector):
    platform = "tiktok"
    post_metrics_batch = 20  # video/query: filters.video_ids takes up to 20
    display_name = "TikTok"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://www.tiktok.com",
        "api": "https://open.tiktokapis.com",
    }
    # user.info.profile is what ``username`` needs; user.info.stats the follower count.
    scopes = (
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.publish",
        "video.list",
    )
    limits = Limits(
        # developers.tiktok.com Content Posting API reference: per user access token,
        # video/init and content/init 6/min, creator_info/query 20/min, status/fetch 30/min;
        # Display API (user/info, video/list, video/query) 600/min each.
        rate_windows=(
            RateWindow("post_init", 6, 60, "user"),
            RateWindow("creator_info", 20, 60, "user"),
            RateWindow("status_fetch", 30, 60, "user"),
            RateWindow("display", 600, 60, "user"),
        ),
        # "About 15" direct posts per creator per 24 h, shared by every app (Content Sharing
        # Guidelines / spam_risk_too_many_posts).
        publish_per_day=15,
        max_concurrency=2,
        token_lifetime_s=DAY_S,  # Login Kit: access token 24 h, refresh token 365 days
        supports_refresh=True,
        supports_reviews=False,
        supports_delete=False,  # the Content Posting API cannot delete a post
        supports_revoke=True,
        publish_windows=("post_init",),
    )

    def api(self, path: str) -> str:
        return self.url("api", path)

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        query = urlencode(
            {
                "client_key": self.app.client_id,
                "scope": ",".join(self.scopes),
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return AuthorizeRequest(self.url("www", f"/v2/auth/authorize/?{query}"))

    async def _token(self, form: dict[str, str]) -> TokenSet:
        form = {
            "client_key": self.app.client_id,
            "client_secret": self.app.client_secret.reveal(),
            **form,
        }
        response = await self.request(
            "POST",
            self.api("/v2/oauth/token/"),
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        body = json_body(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            # TikTok has answered OAuth errors with HTTP 200 as well.
            raise self.classify(response)
        refresh = body.get("refresh_token")
        scopes = tuple(s for s in str(body.get("scope", "")).split(",") if s)
        return TokenSet(
            access_token=Sealed(str(body["access_token"])),
            refresh_token=Sealed(str(refresh)) if refresh else None,
            expires_at=expires_in(body.get("expires_in")),
            refresh_expires_at=expires_in(body.get("refresh_expires_in")) if refresh else None,
            scopes=scopes,
        )

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        tokens = await self._token(form)
        fields = USER_FIELDS
        if tokens.scopes and "user.info.profile" not in tokens.scopes:
            fields = fields.replace(",username", "")  # the creator did not share their profile
        user = (await self._api("GET", "/v2/user/info/", tokens.access_token, fields=fields))[
            "user"
        ]
        choice = AccountChoice(
            external_id=str(user["open_id"]),
            name=str(user.get("display_name") or user.get("username") or ""),
            username=str(user["username"]) if user.get("username") else None,
            kind="creator",
            extra={"union_id": str(user["union_id"])} if user.get("union_id") else {},
        )
        return Grant(tokens=tokens, choices=(choice,))

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise self.error(
                ErrorKind.AUTH, code="no_refresh_token", detail="no refresh token held"
            )
        new = await self._token(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()}
        )
        return keep_refresh_token(tokens, new)

    async def revoke(self, auth: AccountAuth) -> bool:
        await self.request(
            "POST",
            self.api("/v2/oauth/revoke/"),
            data={
                "client_key": self.app.client_id,
                "client_secret": self.app.client_secret.reveal(),
                "token": auth.access_token.reveal(),
            },
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return True

    # -- API calls ------------------------------------------------------------------------------

    async def _api(
        self,
        method: str,
        path: str,
        token: Sealed,
        *,
        json: Any = None,
        mutating: bool = False,
        headers: dict[str, str] | None = None,
        fields: str | None = None,
    ) -> dict[str, Any]:
        """One Content Posting / Display API call; its ``data``, or the error it carries."""
        send = {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
        response = await self.request(
            method,
            self.api(path),
            token=token,
            mutating=mutating,
            json=json,
            params={"fields": fields} if fields else None,
            headers=send if json is not None else headers,
        )
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") not in (None, "ok"):
            raise self.classify(response)
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else {}

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        videos = [m for m in content.media if m.kind == "video"]
        images = [m for m in content.media if m.kind == "image"]
        if not videos and not images:
            raise self.error(
                ErrorKind.REJECTED, "a TikTok post needs a video or photos", code="media_required"
            )
        if videos and images:
            raise self.error(
                ErrorKind.REJECTED,
                "a TikTok post is one video or photos, not both",
                code="mixed_media",
            )
        if len(videos) > 1:
            raise self.error(
                ErrorKind.REJECTED, "a TikTok post holds one video", code="too_many_videos"
            )
        token = auth.access_token
        try:
            creator = await self._api(
                "POST", "/v2/post/publish/creator_info/query/", token, json={}
            )
            path, body = _init_request(content, creator)
            init = await self._api(
                "POST",
                path,
                token,
                json=body,
                mutating=True,
                headers={CLIENT_REF_HEADER: client_ref},
            )
        except PlatformError as exc:
            if exc.code == "spam_risk_too_many_posts":
                raise await self._capped(auth, exc) from None
            raise
        publish_id = str(init["publish_id"])
        # The post is accepted from here on: a failure to learn its id is not a failure to
        # publish (only a FAILED status is).
        for wait in STATUS_POLL_WAITS:
            await asyncio.sleep(wait)
            try:
                status = await self._status(token, publish_id)
            except PlatformError:
                break
            state = str(status.get("status", ""))
            if state == "FAILED":
                reason = str(status.get("fail_reason") or "processing failed")
                raise self.error(ErrorKind.REJECTED, reason, code="publish_failed", detail=reason)
            if state == "PUBLISH_COMPLETE":
                post_id = _post_id(status)
                if post_id is None:  # private posts never get a public id
                    break
                found = await self._query_video(auth, post_id)
                return found or Published(external_id=post_id)
        return Published(external_id=publish_id)

    async def _status(self, token: Sealed, publish_id: str) -> dict[str, Any]:
        return await self._api(
            "POST", "/v2/post/publish/status/fetch/", token, json={"publish_id": publish_id}
        )

    async def _capped(self, auth: AccountAuth, exc: PlatformError) -> PlatformError:
        """The daily cap: come back when the oldest post of the last 24 h leaves the window."""
        retry_after: float | None = None
        now = time.time()
        try:
            times = [
                int(v["create_time"])
                async for v in self._videos(auth, "id,create_time", now - DAY_S)
            ]
        except PlatformError:
            times = []
        oldest = min(times, default=None)
        if oldest is not None:
            retry_after = max(1.0, oldest + DAY_S - now)
        return self.error(
            ErrorKind.RATE_LIMITED,
            status=exc.status,
            code=exc.code,
            detail=exc.detail,
            retry_after=retry_after,
        )

    async def _videos(
        self, auth: AccountAuth, fields: str, since: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The creator's videos created at or after ``since`` (epoch seconds), newest first."""
        cursor: int | None = None
        while True:
            body: dict[str, Any] = {"max_count": LIST_PAGE}
            if cursor is not None:
                body["cursor"] = cursor
            data = await self._api(
                "POST", "/v2/video/list/", auth.access_token, json=body, fields=fields
            )
            videos = data.get("videos") or []
            for video in videos:
                if int(video.get("create_time", 0)) < since:
                    return
                yield video
            if not data.get("has_more") or not videos:
                return
            cursor = int(data.get("cursor") or 0)

    async def _query_video(self, auth: AccountAuth, post_id: str) -> Published | None:
        try:
            data = await self._api(
                "POST",
                "/v2/video/query/",
                auth.access_token,
                json={"filters": {"video_ids": [post_id]}},
                fields=VIDEO_FIELDS,
            )
        except PlatformError:
            return None
        for video in data.get("videos") or []:
            if str(video.get("id")) == post_id:
                return _published(video)
        return None

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        raise NotSupported(self.platform, "deleting posts")

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        known = attempt.external_id
        if known and _is_publish_id(known):
            try:
                status = await self._status(auth.access_token, known)
            except PlatformError as exc:
                if exc.kind is ErrorKind.REJECTED:
                    return None  # TikTok knows no such publish
                raise
            state = str(status.get("status", ""))
            if state == "FAILED":
                return None
            post_id = _post_id(status)
            if state == "PUBLISH_COMPLETE" and post_id is not None:
                found = await self._query_video(auth, post_id)
                return _remote(found) if found else RemotePost(external_id=post_id)
            return RemotePost(external_id=known)  # accepted, still processing (or private)
        if known:
            found = await self._query_video(auth, known)
            return _remote(found) if found else None
        since = attempt.started_at.timestamp() - 60  # clocks differ a little
        async for video in self._videos(auth, VIDEO_FIELDS, since):
            texts = (str(video.get("title", "")), str(video.get("video_description", "")))
            if any(same_text(attempt.content.text, t) for t in texts):
                return _remote(_published(video))
        return None

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """``POST /v2/video/query/`` with ``filters.video_ids`` (20 a call) and the count
        fields. Ids still naming a publish (not yet a video) and videos TikTok does not list
        (private, removed) are left out."""
        ids = [i for i in dict.fromkeys(external_ids) if not _is_publish_id(i)]
        found: dict[str, PostMetrics] = {}
        for start in range(0, len(ids), self.post_metrics_batch):
            data = await self._api(
                "POST",
                "/v2/video/query/",
                auth.access_token,
                json={"filters": {"video_ids": ids[start : start + self.post_metrics_batch]}},
                fields=_POST_METRIC_FIELDS,
            )
            for video in data.get("videos") or []:
                if not isinstance(video, dict) or "id" not in video:
                    continue
                likes, comments, shares = (
                    _count(video.get(k)) for k in ("like_count", "comment_count", "share_count")
                )
                engaged = [n for n in (likes, comments, shares) if n is not None]
                found[str(video["id"])] = PostMetrics(
                    views=_count(video.get("view_count")),
                    likes=likes,
                    comments=comments,
                    shares=shares,
                    engagements=sum(engaged) if engaged else None,
                )
        return found

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        user = (
            await self._api(
                "GET", "/v2/user/info/", auth.access_token, fields="open_id,follower_count"
            )
        )["user"]
        today = datetime.now(UTC).date()
        start = datetime.combine(since, datetime.min.time(), UTC).timestamp()
        end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC).timestamp()
        sums: dict[date, dict[str, int]] = {}
        async for video in self._videos(auth, METRIC_FIELDS, start):
            created = int(video.get("create_time", 0))
            if created >= end:
                continue
            day = datetime.fromtimestamp(created, UTC).date()
            acc = sums.setdefault(day, {"views": 0, "engagements": 0, "posts": 0})
            acc["views"] += int(video.get("view_count") or 0)
            acc["engagements"] += sum(
                int(video.get(k) or 0) for k in ("like_count", "comment_count", "share_count")
            )
            acc["posts"] += 1
        out = []
        for i in range((until - since).days + 1):
            day = since + timedelta(days=i)
            acc = sums.get(day, {"views": 0, "engagements": 0, "posts": 0})
            out.append(
                DailyMetrics(
                    day=day,
                    followers=int(user["follower_count"])
                    if day == today and user.get("follower_count") is not None
                    else None,
                    impressions=acc["views"],
                    engagements=acc["engagements"],
                    posts_published=acc["posts"],
                )
            )
        return out

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        code, message, log_id = _error_of(json_body(response))
        status = response.status
        if code is None:
            return self.by_status(response, f"HTTP {status}")
        detail = f"{code}: {message} (log_id {log_id})" if log_id else f"{code}: {message}"
        if code in _RATE_CODES or status == 429:
            retry = retry_after_of(response)
            if retry is None and code != "spam_risk_too_many_posts":
                retry = RATE_WINDOW_S
            return self.error(
                ErrorKind.RATE_LIMITED, status=status, code=code, detail=detail, retry_after=retry
            )
        if code in _AUTH_CODES or status == 401:
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=detail)
        if code in _TRANSIENT_CODES or status >= 500:
            return self.error(
                ErrorKind.TRANSIENT,
                status=status,
                code=code,
                detail=detail,
                retry_after=retry_after_of(response),
            )
        reason = _REASONS.get(code) or message or code
        return self.error(ErrorKind.REJECTED, reason, status=status, code=code, detail=detail)


def _error_of(body: Any) -> tuple[str | None, str, str | None]:
    """(code, message, log_id) from the API's ``error`` object or an OAuth error body."""
    if not isinstance(body, dict):
        return None, "", None
    error = body.get("error")
    log_id: Any
    if isinstance(error, dict):
        code, message, log_id = error.get("code"), error.get("message"), error.get("log_id")
    elif isinstance(error, str):
        code, message, log_id = error, body.get("error_description"), body.get("log_id")
    else:
        return None, "", None
    if not code or code == "ok":
        return None, "", None
    return str(code), str(message or "").strip(), str(log_id) if log_id else None


def _is_publish_id(value: str) -> bool:
    """``v_pub_url~v2.123…`` (video) or ``p_pub_url~v2.123…`` (photos), not a post id."""
    return "~" in value and value.split("~", 1)[0].endswith(("_pub_url", "_pub_file"))


def _init_request(content: PostContent, creator: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The init call for a video (``video/init``) or photos (``content/init``)."""
    privacy = _privacy(creator.get("privacy_level_options"))
    no_comments = bool(creator.get("comment_disabled", False))
    videos = [m for m in content.media if m.kind == "video"]
    if videos:
        return "/v2/post/publish/video/init/", {
            "post_info": {
                "title": content.text,
                "privacy_level": privacy,
                "disable_duet": bool(creator.get("duet_disabled", False)),
                "disable_comment": no_comments,
                "disable_stitch": bool(creator.get("stitch_disabled", False)),
            },
            "source_info": {"source": "PULL_FROM_URL", "video_url": videos[0].url},
        }
    post_info: dict[str, Any] = {
        "description": content.text,
        "privacy_level": privacy,
        "disable_comment": no_comments,
        "auto_add_music": True,
    }
    if content.title:
        post_info["title"] = content.title
    return "/v2/post/publish/content/init/", {
        "post_info": post_info,
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 0,
            "photo_images": [m.url for m in content.media if m.kind == "image"],
        },
        "post_mode": "DIRECT_POST",
        "media_type": "PHOTO",
    }


def _privacy(options: Any) -> str:
    offered = [str(o) for o in options] if isinstance(options, list) else []
    for level in PREFERRED_PRIVACY:
        if level in offered:
            return level
    return offered[0] if offered else "SELF_ONLY"


def _post_id(status: dict[str, Any]) -> str | None:
    ids = status.get("publicaly_available_post_id") or []
    return str(ids[0]) if isinstance(ids, list) and ids else None


def _published(video: dict[str, Any]) -> Published:
    created = video.get("create_time")
    return Published(
        external_id=str(video["id"]),
        permalink=video.get("share_url"),
        published_at=datetime.fromtimestamp(int(created), UTC) if created else None,
    )


def _remote(found: Published) -> RemotePost:
    return RemotePost(found.external_id, found.permalink, found.published_at)


CONNECTOR = TikTokConnector


def _count(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
