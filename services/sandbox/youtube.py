"""YouTube: Google OAuth, the Data API v3 (channels, multipart video upload, videos, uploads
playlist, search) and the Analytics API v2 reports.

Served under ``/youtube`` (www.googleapis.com, youtubeanalytics.googleapis.com and the Google
OAuth hosts all collapse onto it):
- OAuth (see ``google_oauth``): ``GET /o/oauth2/v2/auth``, ``POST /token``, ``POST /revoke``;
- ``GET /youtube/v3/channels?part=…&mine=true|id=…``;
- ``POST /upload/youtube/v3/videos?uploadType=multipart&part=snippet,status``
  (``multipart/related``: the JSON resource, then the video bytes);
- ``GET /youtube/v3/videos?part=…&id=…``, ``DELETE /youtube/v3/videos?id=…`` (204);
- ``GET /youtube/v3/playlistItems?part=…&playlistId=UU…`` (the channel's uploads, newest first);
- ``GET /youtube/v3/search?part=snippet&forMine=true&type=video`` (descriptions cut to 160);
- ``GET /v2/reports?ids=channel==MINE&startDate&endDate&metrics&dimensions=day`` (Analytics);
- ``GET /_media/sample.mp4``: a few KB of video bytes for tests to upload (not a YouTube path).

Sandbox choices:
- each consent creates a new user with one channel;
- the Data API quota is 10,000 units per project (client id) per day, reset at midnight Pacific
  time; calls cost what YouTube documents (upload 1,600, delete 50, search 100, lists 1); a call
  that doesn't fit answers 403 ``quotaExceeded``. Analytics calls don't count against it;
- the ``rate_limited`` fault answers 403 ``userRateLimitExceeded`` (a short-term limit);
- uploads are processed at once: ``uploadStatus`` is ``processed`` when read back;
- a video's ``statistics`` are derived from its id and grow with its age (``video_statistics``);
- only ``uploadType=multipart`` is served (not resumable uploads).
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.sandbox import activity
from services.sandbox.deps import client_ref
from services.sandbox.google_oauth import (
    Call,
    add_oauth_routes,
    begin,
    google_error,
    invalid_argument,
)
from services.sandbox.state import Account, PlatformState, Post, Sandbox

PLATFORM = "youtube"
UPLOAD_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube",
        "https://www.googleapis.com/auth/youtube.force-ssl",
    }
)
MANAGE_SCOPES = frozenset(
    {"https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtube.force-ssl"}
)
READ_SCOPES = MANAGE_SCOPES | {"https://www.googleapis.com/auth/youtube.readonly"}
ANALYTICS_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/yt-analytics.readonly",
        "https://www.googleapis.com/auth/yt-analytics-monetary.readonly",
    }
)
DAILY_QUOTA = 10_000
COSTS = {"channels": 1, "videos.list": 1, "playlistItems": 1, "search": 100, "insert": 1600}
COSTS["delete"] = 50
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_RESULTS = 50
SEARCH_DESCRIPTION_CHARS = 160
PACIFIC = ZoneInfo("America/Los_Angeles")
REPORT_METRICS = frozenset(
    {"views", "likes", "dislikes", "comments", "shares", "subscribersGained", "subscribersLost"}
)
_VIDEOS = "youtube.videos"  # PlatformState.activity key: video id -> title, status, size
_QUOTA = "youtube.quota"  # PlatformState.activity key: "client:pacific day" -> units used
SAMPLE_MP4 = (
    b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    + b"\x00\x00\x00\x08free"
    + (4096).to_bytes(4, "big")
    + b"mdat"
    + bytes(range(256)) * 16
)

router = APIRouter(tags=[PLATFORM])


def _create_channel(box: Sandbox, state: PlatformState, user: Account) -> None:
    n = int(user.id) % 1_000_000
    suffix = _b64id(f"channel:{n}", 22)
    state.accounts["UC" + suffix] = Account(
        id="UC" + suffix,
        name=f"Sandbox Channel {n}",
        kind="channel",
        username=f"@sandboxchannel{n}",
        owner_id=user.id,
    )


def _b64id(seed: str, length: int) -> str:
    raw = base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()
    return raw[:length]


add_oauth_routes(router, PLATFORM, _create_channel, lambda n: str(120_000_000_000_000_000_000 + n))


def _rate_limited() -> JSONResponse:
    return google_error(403, "Rate Limit Exceeded", "userRateLimitExceeded", domain="usageLimits")


def _quota_exceeded() -> JSONResponse:
    return google_error(
        403,
        'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
        'getting-started#quota">quota</a>.',
        "quotaExceeded",
        domain="youtube.quota",
    )


def _pacific_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, PACIFIC).date().isoformat()


async def _begin(request: Request, scopes: frozenset[str], cost: int) -> Call | JSONResponse:
    """Token, scope, faults, then the project's daily quota (``cost`` units)."""
    call = await begin(request, PLATFORM, scopes, rate_limited=_rate_limited)
    if isinstance(call, JSONResponse) or not cost:
        return call
    used: dict[str, int] = call.state.activity.setdefault(_QUOTA, {})
    key = f"{call.token.client_id}:{_pacific_day(call.now)}"
    if used.get(key, 0) + cost > DAILY_QUOTA:
        return _quota_exceeded()
    used[key] = used.get(key, 0) + cost
    return call


def _channel_of(state: PlatformState, user_id: str) -> Account | None:
    return next(
        (a for a in state.accounts.values() if a.kind == "channel" and a.owner_id == user_id),
        None,
    )


def _videos(state: PlatformState) -> dict[str, dict[str, Any]]:
    found = state.activity.setdefault(_VIDEOS, {})
    assert isinstance(found, dict)
    return found


def _parts(request: Request) -> set[str] | JSONResponse:
    raw = request.query_params.get("part", "")
    parts = {p.strip() for p in raw.split(",") if p.strip()}
    if not parts:
        return google_error(
            400, "Required parameter: part", "required", location="part", locationType="parameter"
        )
    return parts


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _etag(*parts: object) -> str:
    return _b64id(":".join(map(str, parts)), 27)


def _list(kind: str, items: list[dict[str, Any]], **extra: Any) -> JSONResponse:
    body = {
        "kind": f"youtube#{kind}ListResponse",
        "etag": _etag(kind, len(items)),
        **extra,
        "pageInfo": {"totalResults": len(items), "resultsPerPage": max(len(items), 5)},
        "items": items,
    }
    return JSONResponse(body)


@router.get("/_media/sample.mp4")
async def sample_video() -> Response:
    return Response(SAMPLE_MP4, media_type="video/mp4")


# --- Channels ------------------------------------------------------------------------------------


def _channel_resource(call: Call, channel: Account, parts: set[str]) -> dict[str, Any]:
    today = activity.daily_metrics(call.state, channel.id, activity.utc_day(call.now))
    videos = [
        p for p in call.state.posts.values() if p.account_id == channel.id and not p.deleted_at
    ]
    item: dict[str, Any] = {"kind": "youtube#channel", "etag": _etag(channel.id), "id": channel.id}
    if "snippet" in parts:
        item["snippet"] = {
            "title": channel.name,
            "description": "",
            "customUrl": channel.username,
            "publishedAt": "2020-01-01T00:00:00Z",
            "thumbnails": {"default": {"url": "https://yt3.ggpht.com/sandbox", "width": 88}},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "relatedPlaylists": {"likes": "", "uploads": "UU" + channel.id[2:]}
        }
    if "statistics" in parts:
        item["statistics"] = {
            "viewCount": str(today.impressions * 40),
            "subscriberCount": str(today.followers),
            "hiddenSubscriberCount": False,
            "videoCount": str(len(videos)),
        }
    return item


@router.get("/youtube/v3/channels")
async def channels(request: Request) -> Response:
    parts = _parts(request)
    if isinstance(parts, JSONResponse):
        return parts
    q = request.query_params
    if q.get("mine") != "true" and not q.get("id"):
        return google_error(
            400,
            "No filter selected. Expected one of: forUsername, mine, managedByMe, id, "
            "forHandle, categoryId",
            "missingRequiredParameter",
            location="parameters.",
            locationType="other",
        )
    call = await _begin(request, READ_SCOPES, COSTS["channels"])
    if isinstance(call, JSONResponse):
        return call
    if q.get("mine") == "true":
        mine = _channel_of(call.state, call.token.subject)
        found = [mine] if mine else []
    else:
        wanted = q["id"].split(",")
        found = [a for i in wanted if (a := call.state.accounts.get(i)) and a.kind == "channel"]
    items = [_channel_resource(call, c, parts) for c in found]
    return await call.answer(_list("channel", items))


# --- Videos -------------------------------------------------------------------------------------


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]] | None:
    """The parts of a ``multipart/related`` body as (content type, payload)."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/related" or not isinstance(boundary, str):
        return None
    delimiter = b"--" + boundary.encode()
    parts: list[tuple[str, bytes]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, payload = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            return None
        ctype = "application/octet-stream"
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                ctype = value.strip()
        parts.append((ctype, payload.removesuffix(b"\r\n")))
    return parts


def _video_resource(call: Call, post: Post, parts: set[str]) -> dict[str, Any]:
    meta = _videos(call.state).get(post.id, {})
    channel = call.state.accounts.get(post.account_id)
    item: dict[str, Any] = {"kind": "youtube#video", "etag": _etag(post.id), "id": post.id}
    if "snippet" in parts:
        item["snippet"] = {
            "publishedAt": rfc3339(post.created_at),
            "channelId": post.account_id,
            "title": meta.get("title", ""),
            "description": post.text,
            "thumbnails": {"default": {"url": f"https://i.ytimg.com/vi/{post.id}/default.jpg"}},
            "channelTitle": channel.name if channel else "",
            "categoryId": meta.get("categoryId", "22"),
            "liveBroadcastContent": "none",
        }
    if "status" in parts:
        item["status"] = {
            "uploadStatus": "processed" if meta.get("read") else "uploaded",
            "privacyStatus": meta.get("privacyStatus", "public"),
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": bool(meta.get("madeForKids", False)),
        }
    if "statistics" in parts:
        item["statistics"] = video_statistics(post, call.box.clock.now())
    return item


STATS_GROWTH_DAYS = 10


def video_statistics(post: Post, now: float) -> dict[str, str]:
    """A video's public counts (strings, as YouTube sends them): stable per video id, growing
    with its age in whole days for its first ``STATS_GROWTH_DAYS``."""
    rng, share = activity.post_numbers("youtube-video", post, now, STATS_GROWTH_DAYS)
    views = int(rng.randint(50, 20_000) * share)
    likes = int(views * rng.uniform(0.01, 0.06))
    return {
        "viewCount": str(views),
        "likeCount": str(likes),
        "favoriteCount": "0",
        "commentCount": str(int(likes * rng.uniform(0.02, 0.2))),
    }


def _metadata_problem(meta: Any) -> JSONResponse | None:
    if not isinstance(meta, dict):
        return invalid_argument("The request metadata is invalid.", "invalidVideoMetadata")
    snippet = meta.get("snippet") or {}
    status = meta.get("status") or {}
    title = snippet.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
        return invalid_argument(
            "The request metadata specifies an invalid or empty video title.", "invalidTitle"
        )
    if "<" in title or ">" in title:
        return invalid_argument(
            "The request metadata specifies an invalid or empty video title.", "invalidTitle"
        )
    description = snippet.get("description", "")
    if not isinstance(description, str) or len(description.encode()) > MAX_DESCRIPTION_BYTES:
        return invalid_argument(
            "The request metadata specifies an invalid video description.", "invalidDescription"
        )
    if status.get("privacyStatus", "public") not in ("public", "private", "unlisted"):
        return invalid_argument(
            "The request metadata specifies an invalid privacy status.", "invalidVideoMetadata"
        )
    return None


@router.post("/upload/youtube/v3/videos")
async def insert_video(request: Request) -> Response:
    q = request.query_params
    if q.get("uploadType") != "multipart":
        return invalid_argument(
            "Invalid upload type: this endpoint serves uploadType=multipart.", "badRequest"
        )
    parts = _parts(request)
    if isinstance(parts, JSONResponse):
        return parts
    call = await _begin(request, UPLOAD_SCOPES, COSTS["insert"])
    if isinstance(call, JSONResponse):
        return call
    channel = _channel_of(call.state, call.token.subject)
    if channel is None:
        return google_error(401, "Unauthorized", "youtubeSignupRequired", domain="youtube.header")
    sections = _multipart(request.headers.get("content-type", ""), await request.body())
    if not sections:
        return invalid_argument("Media type is not multipart/related.", "badContent")
    try:
        meta = json.loads(sections[0][1]) if sections[0][0].startswith("application/json") else None
    except ValueError:
        meta = None
    if len(sections) < 2 or not sections[1][1]:
        return invalid_argument(
            "The request does not include the video content.", "mediaBodyRequired"
        )
    media_type = sections[1][0].split(";")[0].strip().lower()
    if not (media_type.startswith("video/") or media_type == "application/octet-stream"):
        return invalid_argument(
            f"Media type '{media_type}' is not supported. Valid media types: [video/*, "
            "application/octet-stream]",
            "badContent",
        )
    problem = _metadata_problem(meta)
    if problem is not None:
        return problem
    assert isinstance(meta, dict)
    snippet, status = meta.get("snippet") or {}, meta.get("status") or {}
    post = call.state.store_post(
        Post(
            id=_b64id(f"video:{call.state.next_seq()}:{call.now}", 11),
            account_id=channel.id,
            text=snippet.get("description", ""),
            created_at=call.now,
            client_ref=client_ref(request),
        )
    )
    _videos(call.state)[post.id] = {
        "title": snippet["title"],
        "categoryId": str(snippet.get("categoryId", "22")),
        "privacyStatus": status.get("privacyStatus", "public"),
        "madeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
        "bytes": len(sections[1][1]),
    }
    resource = _video_resource(call, post, parts & {"snippet", "status", "statistics"} | {"id"})
    _videos(call.state)[post.id]["read"] = True  # processed by the time anyone reads it back
    return await call.answer(JSONResponse(resource))


@router.get("/youtube/v3/videos")
async def list_videos(request: Request) -> Response:
    parts = _parts(request)
    if isinstance(parts, JSONResponse):
        return parts
    ids = [i for i in request.query_params.get("id", "").split(",") if i]
    if not ids:
        return google_error(
            400,
            "No filter selected. Expected one of: chart, id, myRating",
            "missingRequiredParameter",
        )
    call = await _begin(request, READ_SCOPES, COSTS["videos.list"])
    if isinstance(call, JSONResponse):
        return call
    found = [p for i in ids[:MAX_RESULTS] if (p := call.state.live_post(i))]
    return await call.answer(_list("video", [_video_resource(call, p, parts) for p in found]))


@router.delete("/youtube/v3/videos")
async def delete_video(request: Request) -> Response:
    video_id = request.query_params.get("id", "")
    call = await _begin(request, MANAGE_SCOPES, COSTS["delete"])
    if isinstance(call, JSONResponse):
        return call
    post = call.state.live_post(video_id)
    if post is None:
        return google_error(
            404,
            "The video that you are trying to delete cannot be found.",
            "videoNotFound",
            domain="youtube.video",
            location="id",
            locationType="parameter",
        )
    channel = _channel_of(call.state, call.token.subject)
    if channel is None or post.account_id != channel.id:
        return google_error(
            403,
            "The video that you are trying to delete cannot be deleted. The request might not "
            "be properly authorized.",
            "forbidden",
            domain="youtube.video",
        )
    post.deleted_at = call.now
    return await call.answer(Response(status_code=204))


def _uploads(call: Call, channel_id: str) -> list[Post]:
    return sorted(
        (
            p
            for p in call.state.posts.values()
            if p.account_id == channel_id and p.deleted_at is None
        ),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    try:
        offset = int(token[2:]) if token and token.startswith("CA") else 0
    except ValueError:
        offset = 0
    more = f"CA{offset + size}" if offset + size < len(items) else None
    return items[offset : offset + size], more


def _max_results(request: Request) -> int:
    try:
        return max(0, min(int(request.query_params.get("maxResults", "5")), MAX_RESULTS))
    except ValueError:
        return 5


@router.get("/youtube/v3/playlistItems")
async def playlist_items(request: Request) -> Response:
    parts = _parts(request)
    if isinstance(parts, JSONResponse):
        return parts
    playlist = request.query_params.get("playlistId", "")
    call = await _begin(request, READ_SCOPES, COSTS["playlistItems"])
    if isinstance(call, JSONResponse):
        return call
    channel = call.state.accounts.get("UC" + playlist[2:]) if playlist.startswith("UU") else None
    if channel is None or channel.kind != "channel":
        return google_error(
            404,
            "The playlist identified with the request's <code>playlistId</code> parameter cannot "
            "be found.",
            "playlistNotFound",
            domain="youtube.playlistItem",
        )
    page, more = _page(
        _uploads(call, channel.id), request.query_params.get("pageToken"), _max_results(request)
    )
    items = []
    for i, post in enumerate(page):
        meta = _videos(call.state).get(post.id, {})
        item: dict[str, Any] = {
            "kind": "youtube#playlistItem",
            "etag": _etag(playlist, post.id),
            "id": _b64id(f"{playlist}:{post.id}", 48),
        }
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": rfc3339(post.created_at),
                "channelId": channel.id,
                "title": meta.get("title", ""),
                "description": post.text,
                "channelTitle": channel.name,
                "playlistId": playlist,
                "position": i,
                "resourceId": {"kind": "youtube#video", "videoId": post.id},
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {
                "videoId": post.id,
                "videoPublishedAt": rfc3339(post.created_at),
            }
        items.append(item)
    extra = {"nextPageToken": more} if more else {}
    return await call.answer(_list("playlistItem", items, **extra))


@router.get("/youtube/v3/search")
async def search(request: Request) -> Response:
    parts = _parts(request)
    if isinstance(parts, JSONResponse):
        return parts
    q = request.query_params
    if q.get("forMine") == "true" and q.get("type") != "video":
        return invalid_argument(
            "Request contains an invalid argument: forMine requires type=video.",
            "invalidSearchFilter",
        )
    call = await _begin(request, READ_SCOPES, COSTS["search"])
    if isinstance(call, JSONResponse):
        return call
    channel = _channel_of(call.state, call.token.subject)
    found = _uploads(call, channel.id) if channel else []
    after = q.get("publishedAfter")
    if after:
        try:
            floor = datetime.fromisoformat(after.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return invalid_argument("Invalid value for publishedAfter.", "invalidPublishedAfter")
        found = [p for p in found if p.created_at >= floor]
    page, more = _page(found, q.get("pageToken"), _max_results(request))
    items = [
        {
            "kind": "youtube#searchResult",
            "etag": _etag("s", p.id),
            "id": {"kind": "youtube#video", "videoId": p.id},
            "snippet": {
                "publishedAt": rfc3339(p.created_at),
                "channelId": p.account_id,
                "title": _videos(call.state).get(p.id, {}).get("title", ""),
                "description": p.text[:SEARCH_DESCRIPTION_CHARS],
                "liveBroadcastContent": "none",
            },
        }
        for p in page
    ]
    extra = {"nextPageToken": more} if more else {}
    body = _list("search", items, **extra)
    return await call.answer(body)


# --- Analytics ---------------------------------------------------------------------------------


def _bad_query(message: str) -> JSONResponse:
    return google_error(400, message, "badRequest")


@router.get("/v2/reports")
async def reports(request: Request) -> Response:
    q = request.query_params
    call = await begin(request, PLATFORM, ANALYTICS_SCOPES, rate_limited=_rate_limited)
    if isinstance(call, JSONResponse):
        return call
    for required in ("ids", "startDate", "endDate", "metrics"):
        if not q.get(required):
            return _bad_query(f"Required parameter: {required}")
    channel = _channel_of(call.state, call.token.subject)
    if channel is None or q["ids"] not in ("channel==MINE", f"channel=={channel.id}"):
        return google_error(403, "Forbidden", "forbidden")
    metrics = [m.strip() for m in q["metrics"].split(",") if m.strip()]
    unknown = [m for m in metrics if m not in REPORT_METRICS]
    if unknown:
        return _bad_query(f"Unknown identifier ({unknown[0]}) given in field parameters.metrics.")
    if q.get("dimensions", "day") != "day":
        return _bad_query("The query is not supported. Check the documentation.")
    try:
        start, end = date.fromisoformat(q["startDate"]), date.fromisoformat(q["endDate"])
    except ValueError:
        return _bad_query("Invalid value for startDate or endDate.")
    if end < start:
        return _bad_query("The start date must be before the end date.")
    today = activity.utc_day(call.now)
    rows: list[list[Any]] = []
    for day in activity.days(start, min(end, today)):
        numbers = activity.daily_metrics(call.state, channel.id, day)
        before = activity.daily_metrics(call.state, channel.id, day - timedelta(days=1))
        engaged = numbers.engagements
        values = {
            "views": numbers.impressions,
            "likes": engaged * 6 // 10,
            "dislikes": engaged // 20,
            "comments": engaged * 2 // 10,
            "shares": engaged - engaged * 6 // 10 - engaged * 2 // 10,
            "subscribersGained": max(numbers.followers - before.followers, 0),
            "subscribersLost": 0,
        }
        rows.append([day.isoformat(), *(values[m] for m in metrics)])
    headers = [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}] + [
        {"name": m, "columnType": "METRIC", "dataType": "INTEGER"} for m in metrics
    ]
    body = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows}
    return await call.answer(JSONResponse(body))
