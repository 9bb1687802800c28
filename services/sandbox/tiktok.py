"""TikTok through Login Kit (OAuth v2) and the Content Posting API v2 (Direct Post), with the
Display API's user info and video list/query.

Shapes follow ``open.tiktokapis.com``: every API answer is ``{"data": …, "error": {"code",
"message", "log_id"}}`` with ``code == "ok"`` on success and the documented HTTP status
otherwise (401 ``access_token_invalid`` / ``scope_not_authorized``, 400 ``invalid_params`` /
``privacy_level_option_mismatch``, 403 ``spam_risk_too_many_posts`` /
``url_ownership_unverified``, 429 ``rate_limit_exceeded``, 500 ``internal_error``). The token
endpoints take a form body and answer OAuth errors ``{"error", "error_description",
"log_id"}``.

Served under ``/tiktok`` (``www.tiktok.com`` and ``open.tiktokapis.com`` collapse onto it):
``GET /v2/auth/authorize/``, ``POST /v2/oauth/token/``, ``POST /v2/oauth/revoke/``,
``GET /v2/user/info/``, ``POST /v2/post/publish/creator_info/query/``,
``POST /v2/post/publish/video/init/``, ``POST /v2/post/publish/content/init/``,
``POST /v2/post/publish/status/fetch/``, ``POST /v2/video/list/``, ``POST /v2/video/query/``.

Sandbox choices, where TikTok can't be modelled exactly:
- the authorize page consents at once (``sandbox_deny=1`` refuses with ``access_denied``) and
  creates a fresh creator; the web flow has no PKCE, but a ``code_challenge`` given at authorize
  (desktop/mobile apps) is enforced at the token endpoint, hex (TikTok's desktop variant) or
  base64url SHA-256;
- refreshing rotates the refresh token (the old one stops working) and the new one keeps the old
  one's expiry, as ``refresh_expires_in`` counts down at TikTok;
- only ``PULL_FROM_URL`` is served; a ``video_url``/photo URL counts as a verified domain when it
  is https and its host has no ``unverified`` label (else ``url_ownership_unverified``);
- processing completes ``PROCESSING_DELAY_S`` (sandbox clock) after init; ``SELF_ONLY`` posts
  never get a ``publicaly_available_post_id`` and are not listed, as at TikTok;
- rate windows are per user and endpoint (TikTok counts per access token), so a refreshed token
  does not get a fresh window; TikTok sends no rate-limit headers and neither does the sandbox;
- the daily cap counts the creator's direct posts in the last 24 h (``DAILY_POST_CAP``);
- a video's counts split the day's ``activity.daily_metrics`` across that day's listed videos;
- the ``auth_revoked`` fault answers ``access_token_invalid`` without revoking the token.
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox import activity, media_check
from services.sandbox.call import PlatformCall
from services.sandbox.config import Window
from services.sandbox.deps import bearer, client_ref, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.state import (
    Account,
    AuthCode,
    PlatformState,
    Post,
    Token,
    TokenKind,
    TokenProblem,
    new_code,
)

PLATFORM = "tiktok"

# Login Kit: access tokens live 24 h, refresh tokens 365 days.
ACCESS_TOKEN_TTL_S = 86_400
REFRESH_TOKEN_TTL_S = 365 * 86_400
# Content Posting API: caption ("title") of a video post 2,200 UTF-16 runes; a photo post's
# title 90 and description 4,000; 1 to 35 photos; max video length offered to the creator.
MAX_VIDEO_TITLE = 2_200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4_000
MAX_PHOTOS = 35
MAX_VIDEO_DURATION_S = 600
# "About 15" direct posts per creator per 24 h across all API clients.
DAILY_POST_CAP = 15
# How long (sandbox clock) a pulled video or photo set takes to process before it is public.
PROCESSING_DELAY_S = 0.3
PRIVACY_LEVEL_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
# Documented per-access-token limits (requests per minute) for each endpoint.
WINDOWS = {
    "creator_info": Window(20, 60),
    "video.init": Window(6, 60),
    "content.init": Window(6, 60),
    "status.fetch": Window(30, 60),
    "user.info": Window(600, 60),
    "video.list": Window(600, 60),
    "video.query": Window(600, 60),
}
# The scope each field of ``/v2/user/info/`` needs.
USER_FIELD_SCOPES = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "display_name": "user.info.basic",
    "username": "user.info.profile",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
MAX_LIST_COUNT = 20
_PUBLISHES = "_publishes"  # key in PlatformState.activity (account ids never start with "_")

router = APIRouter(tags=["tiktok"])


@dataclass(slots=True)
class _Publish:
    publish_id: str
    post_id: str
    account_id: str
    ready_at: float
    privacy_level: str
    media_type: str  # "VIDEO" or "PHOTO"
    title: str
    description: str


def _log_id() -> str:
    stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%d%H%M%S")
    return stamp + secrets.token_hex(10).upper()


def api_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": _log_id()}}
    return JSONResponse(body, status_code=status, headers=headers)


def _ok(data: dict[str, Any]) -> JSONResponse:
    body = {"data": data, "error": {"code": "ok", "message": "", "log_id": _log_id()}}
    return JSONResponse(body)


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    body = {"error": error, "error_description": description, "log_id": _log_id()}
    return JSONResponse(body, status_code=status)


def _invalid_token() -> JSONResponse:
    return api_error(
        401,
        "access_token_invalid",
        "The access token is invalid or not found in the request.",
    )


def _token_error(problem: TokenProblem) -> JSONResponse:
    if problem is TokenProblem.EXPIRED:
        return api_error(401, "access_token_invalid", "The access token has expired.")
    return _invalid_token()


def _scope_error(scope: str) -> JSONResponse:
    return api_error(
        401,
        "scope_not_authorized",
        f"The user did not authorize the scope required for completing this request: {scope}.",
    )


def _invalid(message: str) -> JSONResponse:
    return api_error(400, "invalid_params", message)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Call(PlatformCall):
    """An authenticated call that passed the token check, the scope, the faults and the
    window."""

    platform = PLATFORM

    @property
    def user(self) -> Account:
        return self.state.accounts[self.token.subject]


async def _begin(request: Request, endpoint: str, scope: str | None) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    now = box.clock.now()
    checked = state.check_token(bearer(request) or "", now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return _token_error(checked)
    if scope is not None and scope not in checked.scopes:
        return _scope_error(scope)
    fault = await box.faults.before_call(PLATFORM)
    window = WINDOWS[endpoint]
    key = f"{checked.subject}:{endpoint}"
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, window, now)
    else:
        status = state.windows.hit(key, window, now)
    if fault is FaultKind.RATE_LIMITED or not status.allowed:
        return api_error(
            429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."
        )
    if fault is FaultKind.SERVER_ERROR:
        return api_error(500, "internal_error", "Something went wrong. Please try again later.")
    if fault is FaultKind.AUTH_REVOKED:
        return _invalid_token()
    return _Call(request, box, state, checked, fault)


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _publishes(state: PlatformState) -> dict[str, _Publish]:
    found = state.activity.get(_PUBLISHES)
    if isinstance(found, dict):
        return found
    publishes: dict[str, _Publish] = {}
    state.activity[_PUBLISHES] = publishes
    return publishes


# --- Login Kit ---------------------------------------------------------------------------------


@router.get("/v2/auth/authorize/")
async def authorize(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    q = dict(request.query_params)
    client_key, redirect_uri = q.get("client_key"), q.get("redirect_uri")
    if not client_key or not redirect_uri or q.get("response_type") != "code":
        return _oauth_error(
            "invalid_request", "client_key, redirect_uri and response_type=code are required"
        )
    scopes = tuple(s for s in q.get("scope", "").split(",") if s)
    if not scopes:
        return _oauth_error("invalid_scope", "The scope parameter is required.")
    challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
    if challenge and method != "S256":
        return _oauth_error("invalid_request", "code_challenge_method must be S256.")
    back = {"state": q["state"]} if "state" in q else {}
    if q.get("sandbox_deny") == "1":
        back["error"] = "access_denied"
        back["error_description"] = "The user denied the authorization request."
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    n = state.next_seq()
    open_id = f"-000{n:04d}{secrets.token_hex(12)}"
    user = Account(
        id=open_id,
        name=f"Sandbox Creator {n}",
        kind="user",
        username=f"sandbox.creator.{n}",
    )
    state.accounts[user.id] = user
    code = state.issue_code(
        AuthCode(
            code=new_code(),
            client_id=client_key,
            redirect_uri=redirect_uri,
            user_id=user.id,
            expires_at=box.clock.now() + box.config.auth_code_ttl_s,
            scopes=scopes,
            code_challenge=challenge or None,
            code_challenge_method=method if challenge else None,
        )
    )
    back["code"] = code.code
    back["scopes"] = ",".join(scopes)
    return RedirectResponse(with_query(redirect_uri, back), status_code=302)


def _pkce_ok(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(digest.hex(), challenge) or hmac.compare_digest(b64, challenge)


def _token_body(access: Token, refresh: Token, now: float) -> dict[str, Any]:
    refresh_left = int((refresh.expires_at or now) - now)
    return {
        "access_token": access.value,
        "expires_in": ACCESS_TOKEN_TTL_S,
        "open_id": access.subject,
        "refresh_expires_in": refresh_left,
        "refresh_token": refresh.value,
        "scope": ",".join(access.scopes),
        "token_type": "Bearer",
    }


@router.post("/v2/oauth/token/")
async def token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = box.clock.now()
    client_key = form.get("client_key")
    if not client_key or not form.get("client_secret"):
        return _oauth_error("invalid_client", "Client key or secret is incorrect.", 401)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return _oauth_error("server_error", "Something went wrong. Please try again.", 500)
    if fault is FaultKind.RATE_LIMITED:
        return _oauth_error("rate_limit_exceeded", "Too many requests.", 429)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = state.take_code(form.get("code", ""), now)
        if code is None or code.client_id != client_key:
            return _oauth_error("invalid_grant", "Authorization code is expired.")
        if code.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_request", "Redirect URI does not match.")
        if code.code_challenge is not None and not _pkce_ok(
            form.get("code_verifier", ""), code.code_challenge
        ):
            return _oauth_error("invalid_request", "Code verifier or code challenge is invalid.")
        if fault is FaultKind.AUTH_REVOKED:
            return _oauth_error("invalid_grant", "Authorization code is expired.")
        user_id, scopes = code.user_id, code.scopes
        refresh_expires: float | None = now + REFRESH_TOKEN_TTL_S
    elif grant == "refresh_token":
        old = state.check_token(form.get("refresh_token", ""), now, (TokenKind.REFRESH,))
        if isinstance(old, TokenProblem) or old.client_id != client_key:
            return _oauth_error("invalid_grant", "Refresh token is invalid or expired.")
        if fault is FaultKind.AUTH_REVOKED:
            return _oauth_error("invalid_grant", "Refresh token is invalid or expired.")
        old.revoked = True  # rotated: the new refresh token replaces it
        user_id, scopes, refresh_expires = old.subject, old.scopes, old.expires_at
    else:
        return _oauth_error("unsupported_grant_type", "The grant_type is not supported.")
    access = state.issue_token(
        TokenKind.USER, user_id, client_key, now + ACCESS_TOKEN_TTL_S, scopes, prefix="act."
    )
    refresh = state.issue_token(
        TokenKind.REFRESH, user_id, client_key, refresh_expires, scopes, prefix="rft."
    )
    body = _token_body(access, refresh, now)
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


@router.post("/v2/oauth/revoke/")
async def revoke(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    client_key = form.get("client_key")
    if not client_key or not form.get("client_secret"):
        return _oauth_error("invalid_client", "Client key or secret is incorrect.", 401)
    found = state.tokens.get(form.get("token", ""))
    if found is None or found.client_id != client_key:
        return _oauth_error("invalid_request", "The token is invalid.")
    # Revoking ends the whole authorization: every token of this user for this client.
    for t in state.tokens.values():
        if t.subject == found.subject and t.client_id == client_key:
            t.revoked = True
    return JSONResponse({})


# --- Display API ---------------------------------------------------------------------------------


@router.get("/v2/user/info/")
async def user_info(request: Request) -> Response:
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if not fields:
        return _invalid("The fields parameter is required.")
    unknown = [f for f in fields if f not in USER_FIELD_SCOPES]
    if unknown:
        return _invalid(f"Invalid fields: {','.join(unknown)}")
    call = await _begin(request, "user.info", "user.info.basic")
    if isinstance(call, JSONResponse):
        return call
    for f in fields:
        if USER_FIELD_SCOPES[f] not in call.token.scopes:
            return _scope_error(USER_FIELD_SCOPES[f])
    user = call.user
    today = activity.utc_day(call.now)
    videos = _listed(call.state, user.id, call.now)
    full: dict[str, Any] = {
        "open_id": user.id,
        "union_id": f"union-{user.id}",
        "avatar_url": f"https://p16-sign.tiktokcdn-us.com/sandbox/{user.id}.jpeg",
        "display_name": user.name,
        "username": user.username,
        "bio_description": "",
        "profile_deep_link": f"https://vm.tiktok.com/{user.username}",
        "is_verified": False,
        "follower_count": activity.daily_metrics(call.state, user.id, today).followers,
        "following_count": 0,
        "likes_count": sum(_counts(call.state, p)["like_count"] for p, _ in videos),
        "video_count": len(videos),
    }
    return await call.answer(_ok({"user": {f: full[f] for f in fields}}))


def _listed(state: PlatformState, account_id: str, now: float) -> list[tuple[Post, _Publish]]:
    """The creator's public, processed posts, newest first."""
    found = [
        (state.posts[pub.post_id], pub)
        for pub in _publishes(state).values()
        if pub.account_id == account_id
        and pub.ready_at <= now
        and pub.privacy_level != "SELF_ONLY"
        and state.live_post(pub.post_id) is not None
    ]
    return sorted(found, key=lambda item: (item[0].created_at, item[0].id), reverse=True)


def _counts(state: PlatformState, post: Post) -> dict[str, int]:
    """This video's share of its day's numbers (split evenly over the day's listed videos)."""
    day = activity.utc_day(post.created_at)
    same_day = sorted(
        p.id
        for p, _ in _listed(state, post.account_id, float("inf"))
        if activity.utc_day(p.created_at) == day
    )
    n = max(len(same_day), 1)
    first = bool(same_day) and same_day[0] == post.id
    m = activity.daily_metrics(state, post.account_id, day)
    likes = m.engagements * 7 // 10
    comments = m.engagements // 10
    shares = m.engagements - likes - comments

    def share(total: int) -> int:
        return total // n + (total % n if first else 0)

    return {
        "view_count": share(m.impressions),
        "like_count": share(likes),
        "comment_count": share(comments),
        "share_count": share(shares),
    }


def _video(state: PlatformState, post: Post, pub: _Publish, fields: list[str]) -> dict[str, Any]:
    user = state.accounts[post.account_id]
    full: dict[str, Any] = {
        "id": post.id,
        "create_time": int(post.created_at),
        "cover_image_url": f"https://p16-sign.tiktokcdn-us.com/sandbox/{post.id}~cover.jpeg",
        "share_url": f"https://www.tiktok.com/@{user.username}/video/{post.id}",
        "video_description": pub.description,
        "duration": 15 if pub.media_type == "VIDEO" else 0,
        "height": 1920,
        "width": 1080,
        "title": pub.title,
        "embed_link": f"https://www.tiktok.com/player/v1/{post.id}",
        **_counts(state, post),
    }
    return {f: full[f] for f in fields}


def _video_fields(request: Request) -> list[str] | JSONResponse:
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if not fields:
        return _invalid("The fields parameter is required.")
    unknown = [f for f in fields if f not in VIDEO_FIELDS]
    if unknown:
        return _invalid(f"Invalid fields: {','.join(unknown)}")
    return fields


@router.post("/v2/video/list/")
async def video_list(request: Request) -> Response:
    fields = _video_fields(request)
    if isinstance(fields, JSONResponse):
        return fields
    call = await _begin(request, "video.list", "video.list")
    if isinstance(call, JSONResponse):
        return call
    body = await _json_body(request) or {}
    max_count = body.get("max_count", 10)
    cursor = body.get("cursor")
    if not isinstance(max_count, int) or not 1 <= max_count <= MAX_LIST_COUNT:
        return _invalid(f"max_count must be between 1 and {MAX_LIST_COUNT}.")
    if cursor is not None and not isinstance(cursor, int):
        return _invalid("cursor must be a UTC Unix timestamp in milliseconds.")
    videos = _listed(call.state, call.token.subject, call.now)
    if cursor is not None:
        videos = [(p, pub) for p, pub in videos if int(p.created_at * 1000) < cursor]
    page = videos[:max_count]
    next_cursor = int(page[-1][0].created_at * 1000) if page else (cursor or 0)
    data = {
        "videos": [_video(call.state, p, pub, fields) for p, pub in page],
        "cursor": next_cursor,
        "has_more": len(videos) > len(page),
    }
    return await call.answer(_ok(data))


@router.post("/v2/video/query/")
async def video_query(request: Request) -> Response:
    fields = _video_fields(request)
    if isinstance(fields, JSONResponse):
        return fields
    call = await _begin(request, "video.query", "video.list")
    if isinstance(call, JSONResponse):
        return call
    body = await _json_body(request) or {}
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_LIST_COUNT:
        return _invalid(f"filters.video_ids must list 1 to {MAX_LIST_COUNT} video ids.")
    wanted = {str(i) for i in ids}
    videos = [
        _video(call.state, p, pub, fields)
        for p, pub in _listed(call.state, call.token.subject, call.now)
        if p.id in wanted
    ]
    return await call.answer(_ok({"videos": videos, "cursor": 0, "has_more": False}))


# --- Content Posting API --------------------------------------------------------------------------


def _cap_error(state: PlatformState, account_id: str, now: float) -> JSONResponse | None:
    since = now - 86_400
    mine = [p for p in state.posts.values() if p.account_id == account_id]
    if sum(1 for p in mine if p.created_at > since) < DAILY_POST_CAP:
        return None
    return api_error(
        403,
        "spam_risk_too_many_posts",
        "The daily post cap from the API is reached for the current user.",
    )


@router.post("/v2/post/publish/creator_info/query/")
async def creator_info(request: Request) -> Response:
    call = await _begin(request, "creator_info", "video.publish")
    if isinstance(call, JSONResponse):
        return call
    capped = _cap_error(call.state, call.token.subject, call.now)
    if capped is not None:
        return capped
    user = call.user
    data = {
        "creator_avatar_url": f"https://p16-sign.tiktokcdn-us.com/sandbox/{user.id}.jpeg",
        "creator_username": user.username,
        "creator_nickname": user.name,
        "privacy_level_options": PRIVACY_LEVEL_OPTIONS,
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": False,
        "max_video_post_duration_sec": MAX_VIDEO_DURATION_S,
    }
    return await call.answer(_ok(data))


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_FAIL_REASONS = {
    # status/fetch fail_reason values of the Content Posting API, answered here at init.
    "duration_too_short": "duration_check_failed",
    "duration_too_long": "duration_check_failed",
    "frame_rate": "frame_rate_check_failed",
    "too_narrow": "picture_size_check_failed",
    "too_short": "picture_size_check_failed",
    "too_wide": "picture_size_check_failed",
    "too_tall": "picture_size_check_failed",
    "too_many_pixels": "picture_size_check_failed",
    "file_too_large": "file_format_check_failed",
    "type_not_accepted": "file_format_check_failed",
}


async def _media_error(call: _Call, placement: str, urls: list[str]) -> JSONResponse | None:
    """Fetch Chorus media links and check them as TikTok does for a video or photo post;
    TikTok's ``invalid_params`` naming the failed check otherwise."""
    for url in urls:
        got = await media_check.receive_link(PLATFORM, placement, url)
        if got is None:
            continue
        call.state.received_media.append(got)
        if not got.accepted:
            reason = _FAIL_REASONS.get(got.codes[0], "file_format_check_failed")
            return api_error(400, "invalid_params", f"{reason}: {'; '.join(got.problems)}")
    return None


def _url_error(url: Any, what: str) -> JSONResponse | None:
    if not isinstance(url, str) or not url:
        return _invalid(f"{what} is required for PULL_FROM_URL.")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    # Chorus's own media links on this machine (tests, ``make run``) stand for its verified
    # public domain.
    local_chorus = media_check.is_chorus_link(url) and host in _LOOPBACK
    secure = parts.scheme == "https" or local_chorus
    if not secure or not host or "unverified" in host.split("."):
        return api_error(
            403,
            "url_ownership_unverified",
            "Please review our URL ownership verification rules: the domain or URL prefix of "
            f"{what} must be verified for this client.",
        )
    return None


def _privacy_error(post_info: dict[str, Any]) -> JSONResponse | None:
    level = post_info.get("privacy_level")
    if level not in PRIVACY_LEVEL_OPTIONS:
        return api_error(
            400,
            "privacy_level_option_mismatch",
            "privacy_level must be one of the creator's privacy_level_options.",
        )
    return None


async def _store(
    call: _Call, *, media_type: str, title: str, description: str, privacy: str
) -> Response:
    state, now = call.state, call.now
    seq = state.next_seq()
    post = state.store_post(
        Post(
            id=str(7_300_000_000_000_000_000 + seq * 7919),
            account_id=call.token.subject,
            text=description or title,
            created_at=now,
            client_ref=client_ref(call.request),
        )
    )
    prefix = "v_pub_url" if media_type == "VIDEO" else "p_pub_url"
    publish_id = f"{prefix}~v2.{7_300_000_000_000_000_000 + seq}"
    _publishes(state)[publish_id] = _Publish(
        publish_id=publish_id,
        post_id=post.id,
        account_id=post.account_id,
        ready_at=now + PROCESSING_DELAY_S,
        privacy_level=privacy,
        media_type=media_type,
        title=title,
        description=description,
    )
    return await call.answer(_ok({"publish_id": publish_id}))


@router.post("/v2/post/publish/video/init/")
async def video_init(request: Request) -> Response:
    call = await _begin(request, "video.init", "video.publish")
    if isinstance(call, JSONResponse):
        return call
    body = await _json_body(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    post_info, source_info = body.get("post_info") or {}, body.get("source_info")
    if not isinstance(post_info, dict) or not isinstance(source_info, dict):
        return _invalid("post_info and source_info are required.")
    title = post_info.get("title", "")
    if not isinstance(title, str):
        return _invalid("post_info.title must be a string.")
    if _utf16_len(title) > MAX_VIDEO_TITLE:
        return _invalid(f"post_info.title must be at most {MAX_VIDEO_TITLE} UTF-16 runes.")
    if (mismatch := _privacy_error(post_info)) is not None:
        return mismatch
    source = source_info.get("source")
    if source == "FILE_UPLOAD":
        return _invalid("The sandbox serves PULL_FROM_URL only.")
    if source != "PULL_FROM_URL":
        return _invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
    if (bad_url := _url_error(source_info.get("video_url"), "video_url")) is not None:
        return bad_url
    if (refused := await _media_error(call, "video", [source_info["video_url"]])) is not None:
        return refused
    if (capped := _cap_error(call.state, call.token.subject, call.now)) is not None:
        return capped
    return await _store(
        call,
        media_type="VIDEO",
        title=title,
        description=title,
        privacy=str(post_info["privacy_level"]),
    )


@router.post("/v2/post/publish/content/init/")
async def content_init(request: Request) -> Response:
    call = await _begin(request, "content.init", "video.publish")
    if isinstance(call, JSONResponse):
        return call
    body = await _json_body(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    if body.get("media_type") != "PHOTO":
        return _invalid("media_type must be PHOTO.")
    if body.get("post_mode") != "DIRECT_POST":
        return _invalid("The sandbox serves post_mode DIRECT_POST only.")
    post_info, source_info = body.get("post_info") or {}, body.get("source_info")
    if not isinstance(post_info, dict) or not isinstance(source_info, dict):
        return _invalid("post_info and source_info are required.")
    title, description = post_info.get("title", ""), post_info.get("description", "")
    if not isinstance(title, str) or not isinstance(description, str):
        return _invalid("post_info.title and post_info.description must be strings.")
    if _utf16_len(title) > MAX_PHOTO_TITLE:
        return _invalid(f"post_info.title must be at most {MAX_PHOTO_TITLE} UTF-16 runes.")
    if _utf16_len(description) > MAX_PHOTO_DESCRIPTION:
        return _invalid(
            f"post_info.description must be at most {MAX_PHOTO_DESCRIPTION} UTF-16 runes."
        )
    if (mismatch := _privacy_error(post_info)) is not None:
        return mismatch
    if source_info.get("source") != "PULL_FROM_URL":
        return _invalid("source_info.source must be PULL_FROM_URL for photos.")
    images = source_info.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
        return _invalid(f"source_info.photo_images must list 1 to {MAX_PHOTOS} image URLs.")
    cover = source_info.get("photo_cover_index", 0)
    if not isinstance(cover, int) or not 0 <= cover < len(images):
        return _invalid("source_info.photo_cover_index is out of range.")
    for url in images:
        if (bad_url := _url_error(url, "photo_images")) is not None:
            return bad_url
    if (refused := await _media_error(call, "photo", [str(u) for u in images])) is not None:
        return refused
    if (capped := _cap_error(call.state, call.token.subject, call.now)) is not None:
        return capped
    return await _store(
        call,
        media_type="PHOTO",
        title=title,
        description=description,
        privacy=str(post_info["privacy_level"]),
    )


@router.post("/v2/post/publish/status/fetch/")
async def status_fetch(request: Request) -> Response:
    call = await _begin(request, "status.fetch", "video.publish")
    if isinstance(call, JSONResponse):
        return call
    body = await _json_body(request) or {}
    pub = _publishes(call.state).get(str(body.get("publish_id", "")))
    if pub is None or pub.account_id != call.token.subject:
        return _invalid("publish_id is invalid or not found.")
    data: dict[str, Any]
    if pub.ready_at > call.now:
        data = {"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 0, "uploaded_bytes": 0}
    else:
        public = pub.privacy_level != "SELF_ONLY"
        data = {
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [int(pub.post_id)] if public else [],
            "downloaded_bytes": 4_718_592 if pub.media_type == "VIDEO" else 0,
            "uploaded_bytes": 0,
        }
    return await call.answer(_ok(data))
