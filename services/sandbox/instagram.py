"""Instagram professional accounts through the Instagram API with Instagram Login.

Real hosts, all collapsed onto ``/instagram``: ``www.instagram.com`` (the authorize page),
``api.instagram.com`` (the short-lived token) and ``graph.instagram.com`` (long-lived tokens and
the Graph API under ``/v21.0``).

Served:
- ``GET /oauth/authorize``; ``POST /oauth/access_token`` (code → 1-hour token, answered as
  ``{"data": [{"access_token", "user_id", "permissions"}]}``, errors as
  ``{"error_type", "code", "error_message"}``); ``GET /access_token?grant_type=ig_exchange_token``
  (→ 60-day token); ``GET /refresh_access_token?grant_type=ig_refresh_token``.
- ``GET /v21.0/me``, ``GET /v21.0/{ig_user_id}`` (fields incl. ``followers_count``),
  ``POST /v21.0/{ig_user_id}/media`` (IMAGE, REELS, VIDEO carousel items, CAROUSEL),
  ``GET /v21.0/{container_id}?fields=status_code``, ``POST /v21.0/{ig_user_id}/media_publish``,
  ``GET /v21.0/{media_id}``, ``GET /v21.0/{ig_user_id}/media`` (newest first, ``since``,
  ``limit``, ``after`` cursor), ``GET /v21.0/{ig_user_id}/content_publishing_limit``,
  ``GET /v21.0/{ig_user_id}/insights``. No delete: the API has none for feed posts.

Graph errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; every
authenticated answer carries ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` (type
``instagram``).

Sandbox choices, where Instagram can't be modelled exactly:
- the authorize page consents at once (``sandbox_deny=1`` refuses) and creates a fresh BUSINESS
  account; its app-scoped id and its IG user id are the same number;
- containers are ``FINISHED`` as soon as they are created (nothing is downloaded; only
  ``http(s)`` media URLs are accepted, anything else fails like an unfetchable URL, 9004);
- refreshing a long-lived token extends that same token by 60 days (as Instagram mostly does);
  a token younger than 24 h is answered unchanged, with its remaining lifetime;
- the Business Use Case window (``IG_ACCOUNT_WINDOW`` per account) and the ``rate_limited``
  fault answer **429** with code 80002 and both usage headers at 100, where Graph uses 400;
- insights serve every metric as a ``period=day`` time series (the real API gives
  ``accounts_engaged``, ``total_interactions`` and ``website_clicks`` only as ``total_value``);
- the ``auth_revoked`` fault answers code 190 / subcode 460 without revoking the token;
- media insights (``GET /v21.0/{media_id}/insights``, lifetime) are derived from the media id
  and grow with its age in whole days for its first ``MEDIA_GROWTH_DAYS``.
"""

import base64
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox import activity, media_check
from services.sandbox.call import PlatformCall
from services.sandbox.config import Window
from services.sandbox.deps import bearer, client_ref, consent_redirect, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.graph import (
    graph_error,
    graph_time,
    no_object,
    revoked,
    token_error,
    usage_headers,
)
from services.sandbox.state import (
    Account,
    PlatformState,
    Post,
    TokenKind,
    TokenProblem,
)
from shared.content.text import hashtags, length

PLATFORM = "instagram"
VERSION = "v21.0"

SHORT_TOKEN_TTL_S = 3600  # the code exchange's token: 1 hour
LONG_TOKEN_TTL_S = 60 * 24 * 3600  # ig_exchange_token / ig_refresh_token: 60 days
REFRESH_MIN_AGE_S = 24 * 3600  # a long-lived token refreshes once it is a day old
CONTAINER_TTL_S = 24 * 3600  # an unpublished container expires after 24 h
# Content publishing: 100 API-published posts per account in a moving 24 h (carousel = 1).
PUBLISH_QUOTA = 100
PUBLISH_QUOTA_S = 24 * 3600
MAX_CAPTION = 2_200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_CAROUSEL = 10
MAX_INSIGHTS_RANGE_S = 30 * 86_400
# Instagram Business Use Case limit: 4800 x impressions per 24 h; one impression here.
IG_ACCOUNT_WINDOW = Window(4800, 24 * 3600)
INSIGHT_METRICS = (
    "reach",
    "impressions",
    "accounts_engaged",
    "total_interactions",
    "website_clicks",
    "follower_count",
    "profile_views",
)
PUBLISH_SCOPE = "instagram_business_content_publish"
BASIC_SCOPE = "instagram_business_basic"
_MENTION = re.compile(r"(?<!\w)@[\w.]+")

router = APIRouter(tags=["instagram"])


# --- State beyond the shared one ----------------------------------------------------------------


@dataclass(slots=True)
class Container:
    id: str
    owner_id: str
    media_type: str  # IMAGE, VIDEO, REELS, CAROUSEL
    created_at: float
    caption: str = ""
    media_url: str | None = None
    children: tuple[str, ...] = ()
    carousel_item: bool = False
    published_media_id: str | None = None


@dataclass(slots=True)
class Media:
    id: str
    media_type: str
    shortcode: str
    media_url: str | None
    children: tuple[str, ...] = ()


@dataclass(slots=True)
class _Store:
    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    long_lived: dict[str, float] = field(default_factory=dict)  # token value -> issued at


_STORE_KEY = "_instagram"


def _store(state: PlatformState) -> _Store:
    found = state.activity.get(_STORE_KEY)
    if isinstance(found, _Store):
        return found
    store = _Store()
    state.activity[_STORE_KEY] = store
    return store


# --- Errors and headers -------------------------------------------------------------------------


def _oauth_error(message: str, status: int = 400) -> JSONResponse:
    """api.instagram.com's own error shape."""
    body = {"error_type": "OAuthException", "code": status, "error_message": message}
    return JSONResponse(body, status_code=status)


def _no_permission() -> JSONResponse:
    return graph_error(403, "(#10) Application does not have permission for this action", 10)


def _invalid(message: str, *, subcode: int | None = None) -> JSONResponse:
    return graph_error(400, message, 100, subcode=subcode)


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await request.json()
            if isinstance(body, dict):
                params.update({k: _str(v) for k, v in body.items() if v is not None})
        elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


class _Call(PlatformCall):
    """An authenticated Graph call that passed the token check, the faults and the window."""

    platform = PLATFORM

    def error(self, response: JSONResponse) -> JSONResponse:
        response.headers.update(self.headers)
        return response

    def owns(self, account_id: str) -> bool:
        return self.token.subject == account_id

    def can_publish(self) -> bool:
        return PUBLISH_SCOPE in self.token.scopes


async def _begin(request: Request, params: dict[str, str]) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    value = bearer(request) or params.get("access_token")
    if not value:
        return graph_error(400, "An access token is required to request this resource.", 104)
    now = box.clock.now()
    checked = state.check_token(value, now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    key = checked.subject
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, IG_ACCOUNT_WINDOW, now)
    else:
        status = state.windows.hit(key, IG_ACCOUNT_WINDOW, now)
    headers = usage_headers(key, status, now, "instagram")
    if fault is FaultKind.RATE_LIMITED or not status.allowed:
        return graph_error(
            429,
            "There have been too many calls to this Instagram account. Wait a bit and try again.",
            80002,
            headers=headers,
        )
    if fault is FaultKind.SERVER_ERROR:
        return graph_error(
            500,
            "An unexpected error has occurred. Please retry your request later.",
            2,
            transient=True,
            headers=headers,
        )
    if fault is FaultKind.AUTH_REVOKED:
        return revoked()
    return _Call(request, box, state, checked, fault, headers)


def _fields(request: Request, default: tuple[str, ...]) -> list[str]:
    raw = request.query_params.get("fields")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else list(default)


def _pick(body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in fields or k == "id"}


# --- OAuth ----------------------------------------------------------------------------------------


@router.get("/oauth/authorize")
async def authorize(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    q = dict(request.query_params)
    client_id, redirect_uri = q.get("client_id"), q.get("redirect_uri")
    if not client_id or not redirect_uri or q.get("response_type") != "code":
        return _oauth_error("Invalid request: client_id, redirect_uri and response_type=code")
    back: dict[str, str] = {}
    if q.get("state") is not None:
        back["state"] = q["state"]
    if q.get("sandbox_deny") == "1":
        back.update(
            error="access_denied",
            error_reason="user_denied",
            error_description="The user denied your request.",
        )
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    n = state.next_seq()
    user = Account(
        id=str(17_841_400_000_000_000 + n),
        name=f"Sandbox Studio {n}",
        kind="ig_user",
        username=f"sandbox.studio.{n}",
    )
    state.accounts[user.id] = user
    scopes = tuple(s for s in q.get("scope", "").replace(" ", ",").split(",") if s)
    return consent_redirect(
        box,
        state,
        back,
        client_id=client_id,
        redirect_uri=redirect_uri,
        user_id=user.id,
        scopes=scopes,
    )


@router.post("/oauth/access_token")
async def short_lived_token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = box.clock.now()
    for name in ("client_id", "client_secret", "grant_type", "redirect_uri", "code"):
        if not form.get(name):
            return _oauth_error(f"Missing required field '{name}'")
    if form["grant_type"] != "authorization_code":
        return _oauth_error("Unsupported grant_type")
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return graph_error(500, "An unexpected error has occurred.", 2, transient=True)
    if fault is FaultKind.RATE_LIMITED:
        return graph_error(429, "(#4) Application request limit reached", 4)
    code = state.take_code(form["code"], now)
    if code is None or code.client_id != form["client_id"]:
        return _oauth_error("This authorization code has been used")
    if code.redirect_uri != form["redirect_uri"]:
        return _oauth_error(
            "Error validating verification code. Please make sure your "
            "redirect_uri is identical to the one you used in the OAuth "
            "dialog request"
        )
    if fault is FaultKind.AUTH_REVOKED:
        return _oauth_error("The user has not authorized application")
    token = state.issue_token(
        TokenKind.USER, code.user_id, code.client_id, now + SHORT_TOKEN_TTL_S, code.scopes, "IG"
    )
    body = {
        "data": [
            {
                "access_token": token.value,
                "user_id": code.user_id,
                "permissions": ",".join(code.scopes),
            }
        ]
    }
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


async def _long_lived(request: Request, grant_type: str) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    store = _store(state)
    q = dict(request.query_params)
    now = box.clock.now()
    if q.get("grant_type") != grant_type:
        return _invalid(f"(#100) grant_type must be {grant_type}")
    if grant_type == "ig_exchange_token" and not q.get("client_secret"):
        return graph_error(400, "Missing client_secret parameter.", 1)
    value = q.get("access_token") or bearer(request) or ""
    checked = state.check_token(value, now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return graph_error(500, "An unexpected error has occurred.", 2, transient=True)
    if fault is FaultKind.RATE_LIMITED:
        return graph_error(429, "(#4) Application request limit reached", 4)
    if fault is FaultKind.AUTH_REVOKED:
        return revoked()
    issued = store.long_lived.get(checked.value)
    if grant_type == "ig_exchange_token":
        if issued is not None:
            return _invalid("(#100) The access token is already a long-lived token")
        token = state.issue_token(
            TokenKind.USER,
            checked.subject,
            checked.client_id,
            now + LONG_TOKEN_TTL_S,
            checked.scopes,
            "IG",
        )
        store.long_lived[token.value] = now
    else:
        if issued is None:
            return _invalid("(#100) Only long-lived tokens can be refreshed")
        token = checked
        if now - issued >= REFRESH_MIN_AGE_S:
            token.expires_at = now + LONG_TOKEN_TTL_S
            store.long_lived[token.value] = now
    expires_in = int((token.expires_at or now) - now)
    body = {"access_token": token.value, "token_type": "bearer", "expires_in": expires_in}
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


@router.get("/access_token")
async def exchange_token(request: Request) -> Response:
    return await _long_lived(request, "ig_exchange_token")


@router.get("/refresh_access_token")
async def refresh_token(request: Request) -> Response:
    return await _long_lived(request, "ig_refresh_token")


# --- Graph API ------------------------------------------------------------------------------------


def _user_body(call: _Call, user: Account) -> dict[str, Any]:
    today = activity.utc_day(call.now)
    followers = activity.daily_metrics(call.state, user.id, today).followers
    media_count = sum(
        1 for p in call.state.posts.values() if p.account_id == user.id and p.deleted_at is None
    )
    return {
        "id": user.id,
        "user_id": user.id,
        "username": user.username,
        "name": user.name,
        "account_type": "BUSINESS",
        "followers_count": followers,
        "follows_count": 0,
        "media_count": media_count,
        "profile_picture_url": f"https://scontent.cdninstagram.com/sandbox/{user.id}.jpg",
    }


@router.get(f"/{VERSION}/me")
async def me(request: Request) -> Response:
    call = await _begin(request, await _params(request))
    if isinstance(call, JSONResponse):
        return call
    user = call.state.accounts[call.token.subject]
    fields = _fields(request, ("id",))
    return await call.answer(call.json(_pick(_user_body(call, user), fields)))


def _is_http(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _unfetchable() -> JSONResponse:
    return graph_error(
        400,
        "Media download has failed.: The media could not be fetched from this uri",
        9004,
        subcode=2207052,
        user_title="Media download has failed.",
        user_msg="The media could not be fetched from this URI. Please check the URI and try "
        "again.",
    )


_PLACEMENTS = {"REELS": "reel", "STORIES": "story", "COVER": "reel"}
_SUBCODES = {
    # Instagram's container errors (Graph API error codes, "IG media" troubleshooting).
    "aspect_ratio": (36003, 2207009, "The aspect ratio is not supported."),
    "file_too_large": (36001, 2207004, "The image is too large to download."),
    "type_not_accepted": (36000, 2207013, "The media format is not supported."),
    "duration_too_short": (36000, 2207026, "The video duration is not supported."),
    "duration_too_long": (36000, 2207026, "The video duration is not supported."),
    "frame_rate": (36000, 2207026, "The video frame rate is not supported."),
    "unfetchable": (9004, 2207052, "Media download has failed."),
}
_DEFAULT_SUBCODE = (36000, 2207026, "The media format is not supported.")


async def _check_media(call: _Call, media_type: str, url: str) -> JSONResponse | None:
    """Fetch a Chorus media link and check it as Instagram does for the container's
    placement (feed image or carousel item, Reel, story, a Reel's cover); its error
    otherwise."""
    where = _PLACEMENTS.get(media_type, "feed")
    got = await media_check.receive_link(PLATFORM, where, url)
    if got is None:
        return None
    if media_type == "COVER" and got.facts is not None:
        got.problems, got.codes = media_check.cover_problems(PLATFORM, where, got.facts)
    call.state.received_media.append(got)
    if got.accepted:
        return None
    code, subcode, title = _SUBCODES.get(got.codes[0], _DEFAULT_SUBCODE)
    return graph_error(
        400,
        f"{title}: {'; '.join(got.problems)}",
        code,
        subcode=subcode,
        user_title=title,
        user_msg="; ".join(got.problems),
    )


def _check_caption(caption: str) -> JSONResponse | None:
    if length(caption) > MAX_CAPTION:
        return _invalid(
            f"(#100) The caption is too long: it must be at most {MAX_CAPTION} characters"
        )
    if len(hashtags(caption)) > MAX_HASHTAGS:
        return _invalid(f"(#100) The caption contains more than {MAX_HASHTAGS} hashtags")
    if len(_MENTION.findall(caption)) > MAX_MENTIONS:
        return _invalid(f"(#100) The caption mentions more than {MAX_MENTIONS} accounts")
    return None


@router.post(f"/{VERSION}/{{ig_user_id}}/media")
async def create_container(ig_user_id: str, request: Request) -> Response:
    params = await _params(request)
    call = await _begin(request, params)
    if isinstance(call, JSONResponse):
        return call
    if ig_user_id not in call.state.accounts or not call.owns(ig_user_id):
        return call.error(no_object(ig_user_id))
    if not call.can_publish():
        return call.error(_no_permission())
    store = _store(call.state)
    caption = params.get("caption", "")
    carousel_item = params.get("is_carousel_item", "").lower() == "true"
    media_type = params.get("media_type", "").upper()
    image_url, video_url = params.get("image_url"), params.get("video_url")
    children: tuple[str, ...] = ()
    if media_type == "CAROUSEL":
        children = tuple(c for c in params.get("children", "").split(",") if c)
        if len(children) < 2 or len(children) > MAX_CAROUSEL:
            return call.error(
                _invalid(
                    f"(#100) The carousel must have between 2 and {MAX_CAROUSEL} children",
                    subcode=2207060 if children else None,
                )
            )
        for child_id in children:
            child = store.containers.get(child_id)
            if child is None or child.owner_id != ig_user_id or not child.carousel_item:
                return call.error(_invalid(f"(#100) Invalid carousel child {child_id}"))
        media_url = None
    elif media_type in ("REELS", "VIDEO", "STORIES") and video_url:
        if media_type == "VIDEO" and not carousel_item:
            return call.error(
                _invalid(
                    "(#100) The VIDEO media_type is no longer supported for feed posts; use REELS",
                    subcode=2207067,
                )
            )
        media_url = video_url
    elif media_type in ("", "IMAGE", "STORIES") and image_url:
        media_type = media_type or "IMAGE"
        media_url = image_url
    elif media_type in ("REELS", "VIDEO"):
        return call.error(_invalid("(#100) The parameter video_url is required"))
    else:
        return call.error(_invalid("(#100) The parameter image_url is required"))
    if media_url is not None and not _is_http(media_url):
        return call.error(_unfetchable())
    if not carousel_item:
        problem = _check_caption(caption)
        if problem is not None:
            return call.error(problem)
    if media_url is not None:
        refused = await _check_media(call, media_type, media_url)
        if refused is not None:
            return call.error(refused)
        cover_url = params.get("cover_url")
        if media_type == "REELS" and cover_url:
            refused = await _check_media(call, "COVER", cover_url)
            if refused is not None:
                return call.error(refused)
    container = Container(
        id=str(17_900_000_000_000_000 + call.state.next_seq()),
        owner_id=ig_user_id,
        media_type=media_type,
        created_at=call.now,
        caption="" if carousel_item else caption,
        media_url=media_url,
        children=children,
        carousel_item=carousel_item,
    )
    store.containers[container.id] = container
    return await call.answer(call.json({"id": container.id}))


def _quota_usage(state: PlatformState, account_id: str, now: float) -> list[float]:
    """When each API publish in the moving 24 h went out, oldest first."""
    return sorted(
        p.created_at
        for p in state.posts.values()
        if p.account_id == account_id and now - p.created_at < PUBLISH_QUOTA_S
    )


@router.post(f"/{VERSION}/{{ig_user_id}}/media_publish")
async def media_publish(ig_user_id: str, request: Request) -> Response:
    params = await _params(request)
    call = await _begin(request, params)
    if isinstance(call, JSONResponse):
        return call
    if ig_user_id not in call.state.accounts or not call.owns(ig_user_id):
        return call.error(no_object(ig_user_id))
    if not call.can_publish():
        return call.error(_no_permission())
    store = _store(call.state)
    creation_id = params.get("creation_id", "")
    if not creation_id:
        return call.error(_invalid("(#100) The parameter creation_id is required"))
    container = store.containers.get(creation_id)
    if container is None or container.owner_id != ig_user_id or container.carousel_item:
        return call.error(
            graph_error(
                400,
                "Media ID is not available",
                9007,
                subcode=2207027,
                user_title="Media ID is not available",
                user_msg="The media is not ready for publishing, please wait for a moment",
            )
        )
    if call.now - container.created_at >= CONTAINER_TTL_S:
        return call.error(
            graph_error(
                400,
                "The media you are trying to access has expired. Please try to upload again.",
                -2,
                subcode=2207020,
            )
        )
    if container.published_media_id is not None:
        return call.error(
            _invalid("(#100) This container has already been published", subcode=2207008)
        )
    if len(_quota_usage(call.state, ig_user_id, call.now)) >= PUBLISH_QUOTA:
        return call.error(
            graph_error(
                400,
                "Application request limit reached",
                9,
                subcode=2207042,
                user_title="Max posts reached",
                user_msg=f"You have reached the maximum of {PUBLISH_QUOTA} posts that can be "
                "published through the API in 24 hours.",
            )
        )
    seq = call.state.next_seq()
    media_id = str(18_000_000_000_000_000 + seq)
    shortcode = base64.urlsafe_b64encode(seq.to_bytes(8, "big")).decode().rstrip("=")[-11:]
    post = call.state.store_post(
        Post(
            id=media_id,
            account_id=ig_user_id,
            text=container.caption,
            created_at=call.now,
            client_ref=client_ref(request),
        )
    )
    kind = "VIDEO" if container.media_type == "REELS" else container.media_type
    if kind == "CAROUSEL":
        kind = "CAROUSEL_ALBUM"
    store.media[post.id] = Media(post.id, kind, shortcode, container.media_url, container.children)
    container.published_media_id = post.id
    return await call.answer(call.json({"id": post.id}))


def _media_body(call: _Call, post: Post) -> dict[str, Any]:
    media = _store(call.state).media.get(post.id)
    owner = call.state.accounts[post.account_id]
    shortcode = media.shortcode if media else post.id
    kind = media.media_type if media else "IMAGE"
    path = "reel" if kind == "VIDEO" else "p"
    body: dict[str, Any] = {
        "id": post.id,
        "caption": post.text,
        "media_type": kind,
        "media_product_type": "REELS" if kind == "VIDEO" else "FEED",
        "permalink": f"https://www.instagram.com/{path}/{shortcode}/",
        "shortcode": shortcode,
        "timestamp": graph_time(post.created_at),
        "username": owner.username,
        "owner": {"id": owner.id},
        "like_count": 0,
        "comments_count": 0,
    }
    if media is not None and media.media_url:
        body["media_url"] = media.media_url
    return body


def _owned_post(call: _Call, media_id: str) -> Post | None:
    post = call.state.live_post(media_id)
    return post if post is not None and call.owns(post.account_id) else None


@router.get(f"/{VERSION}/{{ig_user_id}}/media")
async def list_media(ig_user_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request))
    if isinstance(call, JSONResponse):
        return call
    if ig_user_id not in call.state.accounts or not call.owns(ig_user_id):
        return call.error(no_object(ig_user_id))
    q = request.query_params
    try:
        since = float(q["since"]) if q.get("since") else None
        until = float(q["until"]) if q.get("until") else None
        limit = min(max(int(q.get("limit", "25")), 1), 100)
    except ValueError:
        return call.error(_invalid("(#100) since, until and limit must be numbers"))
    posts = sorted(
        (
            p
            for p in call.state.posts.values()
            if p.account_id == ig_user_id
            and p.deleted_at is None
            and (since is None or p.created_at >= since)
            and (until is None or p.created_at <= until)
        ),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    start = 0
    after = q.get("after")
    if after:
        try:
            last = base64.urlsafe_b64decode(after.encode()).decode()
        except ValueError:
            return call.error(_invalid("(#100) Invalid cursor"))
        ids = [p.id for p in posts]
        start = ids.index(last) + 1 if last in ids else len(ids)
    page = posts[start : start + limit]
    fields = _fields(request, ("id",))
    data = [_pick(_media_body(call, p), fields) for p in page]
    paging: dict[str, Any] = {}
    if page:
        cursors = {
            "before": base64.urlsafe_b64encode(page[0].id.encode()).decode(),
            "after": base64.urlsafe_b64encode(page[-1].id.encode()).decode(),
        }
        paging["cursors"] = cursors
        if start + limit < len(posts):
            paging["next"] = str(request.url.include_query_params(after=cursors["after"]))
    return await call.answer(call.json({"data": data, "paging": paging}))


@router.get(f"/{VERSION}/{{ig_user_id}}/content_publishing_limit")
async def content_publishing_limit(ig_user_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request))
    if isinstance(call, JSONResponse):
        return call
    if ig_user_id not in call.state.accounts or not call.owns(ig_user_id):
        return call.error(no_object(ig_user_id))
    used = len(_quota_usage(call.state, ig_user_id, call.now))
    entry = {
        "config": {"quota_total": PUBLISH_QUOTA, "quota_duration": PUBLISH_QUOTA_S},
        "quota_usage": used,
    }
    fields = _fields(request, ("quota_usage",))
    return await call.answer(call.json({"data": [{k: entry[k] for k in fields if k in entry}]}))


_TITLES = {
    "reach": "Accounts reached",
    "impressions": "Impressions",
    "accounts_engaged": "Accounts engaged",
    "total_interactions": "Total interactions",
    "website_clicks": "Website clicks",
    "follower_count": "Follower count",
    "profile_views": "Profile views",
}


def _metric_value(state: PlatformState, account_id: str, day: date, metric: str) -> int:
    m = activity.daily_metrics(state, account_id, day)
    previous = activity.daily_metrics(state, account_id, day - timedelta(days=1))
    values = {
        "reach": m.reach,
        "impressions": m.impressions,
        "accounts_engaged": max(1, m.engagements * 3 // 4) if m.engagements else 0,
        "total_interactions": m.engagements,
        "website_clicks": m.clicks,
        "follower_count": m.followers - previous.followers,
        "profile_views": m.clicks * 2,
    }
    return values[metric]


@router.get(f"/{VERSION}/{{ig_user_id}}/insights")
async def insights(ig_user_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request))
    if isinstance(call, JSONResponse):
        return call
    if ig_user_id not in call.state.accounts:
        post = _owned_post(call, ig_user_id)
        if post is not None:
            return await _media_insights(call, post)
    if ig_user_id not in call.state.accounts or not call.owns(ig_user_id):
        return call.error(no_object(ig_user_id))
    q = request.query_params
    metrics = [m.strip() for m in q.get("metric", "").split(",") if m.strip()]
    if not metrics:
        return call.error(_invalid("(#100) The parameter metric is required"))
    for i, metric in enumerate(metrics):
        if metric not in INSIGHT_METRICS:
            return call.error(
                _invalid(
                    f"(#100) metric[{i}] must be one of the following values: "
                    + ", ".join(INSIGHT_METRICS)
                )
            )
    if q.get("period") != "day":
        return call.error(_invalid("(#100) period must be one of the following values: day"))
    try:
        until = int(q["until"]) if q.get("until") else int(call.now)
        since = int(q["since"]) if q.get("since") else until - 2 * 86_400
    except ValueError:
        return call.error(_invalid("(#100) since and until must be unix timestamps"))
    if until <= since:
        return call.error(_invalid("(#100) since must be earlier than until"))
    if until - since > MAX_INSIGHTS_RANGE_S:
        return call.error(
            _invalid("(#100) There cannot be more than 30 days (2592000 s) between since and until")
        )
    first = activity.utc_day(since)
    last = activity.utc_day(until - 1)
    today = activity.utc_day(call.now)
    days = [d for d in activity.days(first, last) if d < today]
    data = []
    for metric in metrics:
        values = [
            {
                "value": _metric_value(call.state, ig_user_id, d, metric),
                "end_time": f"{(d + timedelta(days=1)).isoformat()}T07:00:00+0000",
            }
            for d in days
        ]
        data.append(
            {
                "name": metric,
                "period": "day",
                "values": values,
                "title": _TITLES[metric],
                "description": _TITLES[metric] + " per day.",
                "id": f"{ig_user_id}/insights/{metric}/day",
            }
        )
    return await call.answer(call.json({"data": data, "paging": {}}))


MEDIA_INSIGHT_METRICS = ("impressions", "reach", "likes", "comments", "shares", "saved", "views")
MEDIA_GROWTH_DAYS = 5


def media_insights(post: Post, now: float) -> dict[str, int]:
    """A media's lifetime insights: stable per media id, growing by day of age."""
    rng, grown = activity.post_numbers("instagram-media", post, now, MEDIA_GROWTH_DAYS)
    impressions = int(rng.randint(100, 9000) * grown)
    reach = int(impressions * rng.uniform(0.5, 0.85))
    likes = int(reach * rng.uniform(0.02, 0.1))
    return {
        "impressions": impressions,
        "reach": reach,
        "likes": likes,
        "comments": int(likes * rng.uniform(0.02, 0.2)),
        "shares": int(likes * rng.uniform(0.01, 0.15)),
        "saved": int(likes * rng.uniform(0.02, 0.2)),
        "views": int(impressions * rng.uniform(1.0, 1.4)),
    }


async def _media_insights(call: _Call, post: Post) -> Response:
    """``GET /{media_id}/insights?metric=…``: lifetime values, one series per metric."""
    metrics = [
        m.strip() for m in call.request.query_params.get("metric", "").split(",") if m.strip()
    ]
    if not metrics:
        return call.error(_invalid("(#100) The parameter metric is required"))
    for i, metric in enumerate(metrics):
        if metric not in MEDIA_INSIGHT_METRICS:
            return call.error(
                _invalid(
                    f"(#100) metric[{i}] must be one of the following values: "
                    + ", ".join(MEDIA_INSIGHT_METRICS)
                )
            )
    values = media_insights(post, call.now)
    data = [
        {
            "name": metric,
            "period": "lifetime",
            "values": [{"value": values[metric]}],
            "title": metric.capitalize(),
            "id": f"{post.id}/insights/{metric}/lifetime",
        }
        for metric in metrics
    ]
    return await call.answer(call.json({"data": data}))


@router.get(f"/{VERSION}/{{object_id}}")
async def get_object(object_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request))
    if isinstance(call, JSONResponse):
        return call
    fields = _fields(request, ("id",))
    user = call.state.accounts.get(object_id)
    if user is not None and call.owns(object_id):
        return await call.answer(call.json(_pick(_user_body(call, user), fields)))
    container = _store(call.state).containers.get(object_id)
    if container is not None and call.owns(container.owner_id):
        if container.published_media_id is not None:
            status = "PUBLISHED"
        elif call.now - container.created_at >= CONTAINER_TTL_S:
            status = "EXPIRED"
        else:
            status = "FINISHED"
        body = {"id": container.id, "status_code": status, "status": status}
        return await call.answer(call.json(_pick(body, fields)))
    post = _owned_post(call, object_id)
    if post is None:
        return call.error(no_object(object_id))
    return await call.answer(call.json(_pick(_media_body(call, post), fields)))
