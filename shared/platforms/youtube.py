"""YouTube through the Data API v3 and the Analytics API v2.

Connect: Google OAuth (see ``_google``); the user's channel from ``channels?mine=true``, with
its uploads playlist kept in ``extra``.

Publish: one video per post. Chorus downloads it from the customer's URL through the SSRF-
guarded client, then uploads it in one ``multipart/related`` request (the JSON resource, then
the bytes) to ``/upload/youtube/v3/videos``; the title is the post's title or the first line of
its text (at most 100 characters, without ``<``/``>``), the description the text (and link).
Reconciling an unanswered upload reads the channel's uploads playlist (newest first; 1 quota
unit a page, where ``search`` costs 100 and cuts descriptions).

Quota: 10,000 units per project per day, reset at midnight Pacific; an upload costs 1,600.
``quotaExceeded`` is rate_limited until that midnight.

Metrics: Analytics ``reports`` by day (views → impressions; likes + comments + shares →
engagements); followers only for today, from the channel's ``subscriberCount``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from shared.platforms._google import GOOGLE_HOSTS, GoogleConnector, parse_time
from shared.platforms.base import CLIENT_REF_HEADER, json_body, same_text
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AccountChoice,
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
)

MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_VIDEO_BYTES = 256 * 1024 * 1024
"""Chorus's own cap on a video it downloads and re-uploads (YouTube takes up to 256 GB)."""
WATCH_URL = "https://www.youtube.com/watch?v={}"
_VIDEO_ID = re.compile(r"^[0-9A-Za-z_-]{6,20}$")
_REPORT_METRICS = ("views", "likes", "comments", "shares", "subscribersGained")


class YouTubeConnector(GoogleConnector):
    platform = "youtube"
    post_metrics_batch = 50  # videos.list: up to 50 ids, 1 quota unit
    display_name = "YouTube"
    real_hosts: ClassVar[dict[str, str]] = {
        **GOOGLE_HOSTS,
        "api": "https://www.googleapis.com",
        "analytics": "https://youtubeanalytics.googleapis.com",
    }
    scopes = (
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.force-ssl",
        "https://www.googleapis.com/auth/yt-analytics.readonly",
    )
    limits = Limits(
        # developers.google.com/youtube/v3/getting-started#quota: 10,000 units per project per
        # day; videos.insert costs 1,600 units, so at most 6 uploads per project per day.
        rate_windows=(RateWindow("data_api_uploads", 6, 24 * 3600, "app"),),
        publish_per_day=None,  # the cap is the project's quota, not a per-channel number
        max_concurrency=1,
        token_lifetime_s=3599,
        supports_refresh=True,
        supports_reviews=False,
        supports_delete=True,
        supports_revoke=True,
        publish_windows=("data_api_uploads",),
    )

    def api(self, path: str) -> str:
        return self.url("api", f"/youtube/v3{path}")

    # -- OAuth ----------------------------------------------------------------------------------

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        tokens = await self.exchange_tokens(code, redirect_uri, code_verifier)
        body = json_body(
            await self.request(
                "GET",
                self.api("/channels"),
                token=tokens.access_token,
                params={"part": "snippet,contentDetails,statistics", "mine": "true"},
            )
        )
        choices = []
        for item in body.get("items", []):
            snippet = item.get("snippet") or {}
            uploads = (item.get("contentDetails") or {}).get("relatedPlaylists", {}).get("uploads")
            choices.append(
                AccountChoice(
                    external_id=str(item["id"]),
                    name=str(snippet.get("title", "")),
                    username=snippet.get("customUrl"),
                    kind="channel",
                    extra={"uploads_playlist": str(uploads)} if uploads else {},
                )
            )
        return Grant(tokens=tokens, choices=tuple(choices))

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        video = self._the_video(content)
        data, media_type = await self._download(video)
        metadata = {
            "snippet": {
                "title": _title(content),
                "description": _description(content),
                "categoryId": "22",
            },
            "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False},
        }
        boundary = "chorus" + secrets.token_hex(12)
        body = b"".join(
            [
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps(metadata).encode(),
                f"\r\n--{boundary}\r\nContent-Type: {media_type}\r\n\r\n".encode(),
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        answer = json_body(
            await self.request(
                "POST",
                self.url("api", "/upload/youtube/v3/videos"),
                token=auth.access_token,
                mutating=True,
                params={"uploadType": "multipart", "part": "snippet,status"},
                data=body,
                headers={
                    "Content-Type": f"multipart/related; boundary={boundary}",
                    CLIENT_REF_HEADER: client_ref,
                },
            )
        )
        video_id = str(answer["id"])
        return Published(
            external_id=video_id,
            permalink=WATCH_URL.format(video_id),
            published_at=parse_time((answer.get("snippet") or {}).get("publishedAt")),
        )

    def _the_video(self, content: PostContent) -> Media:
        videos = [m for m in content.media if m.kind == "video"]
        if len(videos) != 1 or len(content.media) != 1:
            raise self.error(
                ErrorKind.REJECTED,
                "a YouTube post needs exactly one video and no other media",
                code="media_required",
            )
        return videos[0]

    async def _download(self, video: Media) -> tuple[bytes, str]:
        """The video's bytes and media type, fetched like any customer URL (SSRF-guarded)."""
        answer = await self.download_media(video.url, "video", MAX_VIDEO_BYTES)
        media_type = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not media_type.startswith("video/"):
            media_type = "application/octet-stream"
        return answer.body, media_type

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        """A video that is already gone (404 ``videoNotFound``) counts as deleted."""
        self._check_id(external_id)
        try:
            await self.request(
                "DELETE",
                self.api("/videos"),
                token=auth.access_token,
                mutating=True,
                params={"id": external_id},
            )
        except PlatformError as exc:
            if exc.status != 404:
                raise

    def _check_id(self, video_id: str) -> None:
        if not _VIDEO_ID.match(video_id):
            raise self.error(ErrorKind.REJECTED, "that is not a YouTube video id", code="bad_id")

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            self._check_id(attempt.external_id)
            body = json_body(
                await self.request(
                    "GET",
                    self.api("/videos"),
                    token=auth.access_token,
                    params={"part": "snippet,status", "id": attempt.external_id},
                )
            )
            items = body.get("items") or []
            if not items:
                return None
            return _remote(str(items[0]["id"]), (items[0].get("snippet") or {}).get("publishedAt"))
        playlist = auth.extra.get("uploads_playlist") or "UU" + auth.external_id[2:]
        since = attempt.started_at - timedelta(minutes=1)
        description = _description(attempt.content)
        params = {"part": "snippet,contentDetails", "playlistId": playlist, "maxResults": "50"}
        for _ in range(10):
            body = json_body(
                await self.request(
                    "GET", self.api("/playlistItems"), token=auth.access_token, params=params
                )
            )
            items = [i for i in body.get("items", []) if isinstance(i, dict)]
            oldest: datetime | None = None
            for item in items:  # newest first
                snippet = item.get("snippet") or {}
                details = item.get("contentDetails") or {}
                published = details.get("videoPublishedAt") or snippet.get("publishedAt")
                when = parse_time(published)
                oldest = when or oldest
                if when is not None and when < since:
                    continue
                if same_text(description, str(snippet.get("description", ""))):
                    video_id = details.get("videoId") or snippet.get("resourceId", {}).get(
                        "videoId"
                    )
                    return _remote(str(video_id), published)
            token = body.get("nextPageToken")
            if not token or (oldest is not None and oldest < since):
                return None
            params = {**params, "pageToken": str(token)}
        return None

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """``videos.list?part=statistics&id=…``, 50 ids (1 quota unit) a call: views, likes
        and comments; a deleted video is simply not in ``items``."""
        ids = [i for i in dict.fromkeys(external_ids) if _VIDEO_ID.match(i)]
        found: dict[str, PostMetrics] = {}
        for start in range(0, len(ids), self.post_metrics_batch):
            body = json_body(
                await self.request(
                    "GET",
                    self.api("/videos"),
                    token=auth.access_token,
                    params={
                        "part": "statistics",
                        "id": ",".join(ids[start : start + self.post_metrics_batch]),
                        "maxResults": str(self.post_metrics_batch),
                    },
                )
            )
            for item in body.get("items", []) if isinstance(body, dict) else []:
                stats = item.get("statistics") if isinstance(item, dict) else None
                if not isinstance(stats, dict) or "id" not in item:
                    continue
                views, likes, comments = (
                    _count(stats.get(k)) for k in ("viewCount", "likeCount", "commentCount")
                )
                engaged = [n for n in (likes, comments) if n is not None]
                found[str(item["id"])] = PostMetrics(
                    views=views,
                    likes=likes,
                    comments=comments,
                    engagements=sum(engaged) if engaged else None,
                )
        return found

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        body = json_body(
            await self.request(
                "GET",
                self.url("analytics", "/v2/reports"),
                token=auth.access_token,
                params={
                    "ids": "channel==MINE",
                    "startDate": since.isoformat(),
                    "endDate": until.isoformat(),
                    "metrics": ",".join(_REPORT_METRICS),
                    "dimensions": "day",
                    "sort": "day",
                },
            )
        )
        columns = [str(h.get("name")) for h in body.get("columnHeaders", [])]
        by_day: dict[date, dict[str, int]] = {}
        for row in body.get("rows") or []:
            record = dict(zip(columns, row, strict=False))
            try:
                day = date.fromisoformat(str(record.get("day")))
            except ValueError:
                continue
            by_day[day] = {k: int(v or 0) for k, v in record.items() if k != "day"}
        today = datetime.now(UTC).date()
        followers = await self._subscribers(auth) if since <= today <= until else None
        result = []
        for i in range((until - since).days + 1):
            day = since + timedelta(days=i)
            row = by_day.get(day)
            subs = followers if day == today else None
            if row is None:
                result.append(DailyMetrics(day=day, followers=subs))
                continue
            result.append(
                DailyMetrics(
                    day=day,
                    followers=subs,
                    impressions=row.get("views"),
                    engagements=row.get("likes", 0) + row.get("comments", 0) + row.get("shares", 0),
                )
            )
        return result

    async def _subscribers(self, auth: AccountAuth) -> int | None:
        body = json_body(
            await self.request(
                "GET",
                self.api("/channels"),
                token=auth.access_token,
                params={"part": "statistics", "id": auth.external_id},
            )
        )
        for item in body.get("items", []):
            stats = item.get("statistics") or {}
            if stats.get("hiddenSubscriberCount"):
                return None
            try:
                return int(stats["subscriberCount"])
            except (KeyError, TypeError, ValueError):
                return None
        return None


def _title(content: PostContent) -> str:
    """The post's title as given, or its text's first line made to fit YouTube's rules."""
    if content.title:
        return content.title
    first = next((line.strip() for line in content.text.splitlines() if line.strip()), "")
    first = first.replace("<", "").replace(">", "")
    if len(first) > MAX_TITLE_CHARS:
        first = first[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return first


def _description(content: PostContent) -> str:
    if content.link and content.link not in content.text:
        return f"{content.text}\n\n{content.link}".strip()
    return content.text


def _remote(video_id: str, published: Any) -> RemotePost:
    return RemotePost(
        external_id=video_id,
        permalink=WATCH_URL.format(video_id),
        published_at=parse_time(published),
    )


CONNECTOR = YouTubeConnector


def _count(raw: Any) -> int | None:
    """A statistics count (YouTube sends them as strings); hidden counts are absent."""
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
