"""X through API v2: OAuth 2.0 with PKCE, ``/2/users/me``, posts (create, lookup, delete, the
user's timeline), media upload.

Shapes follow X: the token endpoint takes a form body and answers OAuth errors
``{"error", "error_description"}``; API errors are problem objects ``{"title", "detail",
"type", "status"}``; every answer to an authenticated call carries ``x-rate-limit-limit``,
``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (epoch seconds) for that endpoint.

Sandbox choices:
- the authorize page consents at once (``sandbox_deny=1`` refuses) and creates a fresh user,
  or signs in again as an existing one named by ``sandbox_user=<id>`` (a reconnect);
- PKCE: ``S256`` and ``plain``; a refresh token comes only with the ``offline.access`` scope, as
  on X, and rotates on every refresh (the old one stops working; old access tokens live on);
- rate windows are per user and endpoint (``SandboxConfig.x_windows``; POST /2/tweets 100 per
  15 min), so a refreshed token doesn't get a fresh window;
- a post lookup of an unknown or deleted id answers 200 with an ``errors`` array, as X does;
- like Facebook's, the ``auth_revoked`` fault answers 401 without revoking the token;
- a post identical to one of the user's live posts of the last ``DUPLICATE_WINDOW_S`` is refused
  with X's 403 "duplicate content" problem;
- ``POST /2/media/upload`` is the one-shot v2 upload for images (multipart ``media`` or a JSON
  body with base64 ``media``); video needs X's chunked flow, which the sandbox does not serve;
  alt text goes through ``POST /2/media/metadata`` and shows with
  ``expansions=attachments.media_keys``;
- ``GET /2/tweets?ids=`` looks up to ``MAX_LOOKUP_IDS`` posts at once (the same window as a
  single lookup); unknown or deleted ids come back in ``errors``, the rest in ``data``;
- per-post ``public_metrics`` are derived from the post id (stable), the user's
  ``followers_count`` from ``activity.daily_metrics`` for today;
- ``GET /x/_sandbox/media/{name}`` serves a small PNG (``?bytes=N`` pads it to N bytes): a
  customer media URL the connector can download in tests. It is not part of X.
"""

import base64
import binascii
import hashlib
import hmac
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox import activity, media_check
from services.sandbox.call import PlatformCall
from services.sandbox.config import Window
from services.sandbox.deps import bearer, client_ref, consent_redirect, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.ratelimit import WindowStatus
from services.sandbox.state import (
    Account,
    PlatformState,
    Post,
    TokenKind,
    TokenProblem,
)
from shared.content.xtext import MAX_WEIGHTED_LENGTH, weighted_length

PLATFORM = "x"
PROBLEMS = "https://api.twitter.com/2/problems"

# Endpoints whose windows are not in ``SandboxConfig.x_windows`` (per user, Pro tier, as
# documented): GET /2/users/:id/tweets 900 / 15 min, POST /2/media/upload 500 / 15 min.
EXTRA_WINDOWS = {
    "users.tweets": Window(900, 900),
    "media.upload": Window(500, 900),
    "media.metadata": Window(500, 900),
}
MAX_ALT_TEXT = 1000
DUPLICATE_WINDOW_S = 24 * 3600
MAX_MEDIA_PER_TWEET = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # tweet_image: 5 MB
MEDIA_EXPIRES_S = 24 * 3600  # an upload must be attached within 24 h
MAX_TIMELINE_RESULTS = 100
MAX_LOOKUP_IDS = 100  # GET /2/tweets: ids, up to 100 comma-separated
IMAGE_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")

router = APIRouter(tags=["x"])


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": type_, "status": status, **extra}


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _unauthorized() -> JSONResponse:
    return _json(problem(401, "Unauthorized", "Unauthorized"), 401)


def _oauth_error(description: str, error: str = "invalid_request") -> JSONResponse:
    return _json({"error": error, "error_description": description}, 400)


def _rate_headers(status: WindowStatus) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(status.limit),
        "x-rate-limit-remaining": str(status.remaining),
        "x-rate-limit-reset": str(status.reset_at),
    }


class _Call(PlatformCall):
    platform = PLATFORM


async def _begin(request: Request, endpoint: str) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    now = box.clock.now()
    checked = state.check_token(bearer(request) or "", now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return _unauthorized()
    fault = await box.faults.before_call(PLATFORM)
    window = box.config.x_windows.get(endpoint) or EXTRA_WINDOWS[endpoint]
    key = f"{checked.subject}:{endpoint}"
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, window, now)
    else:
        status = state.windows.hit(key, window, now)
    headers = _rate_headers(status)
    if fault is FaultKind.RATE_LIMITED or not status.allowed:
        return _json(problem(429, "Too Many Requests", "Too Many Requests"), 429, headers)
    if fault is FaultKind.SERVER_ERROR:
        body = problem(500, "Internal Server Error", "Something went wrong. Try again later.")
        return _json(body, 500, headers)
    if fault is FaultKind.AUTH_REVOKED:
        return _unauthorized()
    call = _Call(request, box, state, checked, fault)
    call.headers = headers
    return call


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _client_id(request: Request, form: dict[str, str]) -> str | None:
    """Public clients send ``client_id``; confidential ones HTTP Basic (id:secret)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[0] or None
        except ValueError:
            return None
    return form.get("client_id") or None


# --- OAuth 2.0 ---------------------------------------------------------------------------------


@router.get("/i/oauth2/authorize")
async def authorize(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    q = dict(request.query_params)
    redirect_uri, client_id = q.get("redirect_uri"), q.get("client_id")
    if not redirect_uri or not client_id or q.get("response_type") != "code":
        return _oauth_error("client_id, redirect_uri and response_type=code are required")
    method = q.get("code_challenge_method", "plain")
    if not q.get("code_challenge") or method not in ("S256", "plain"):
        return _oauth_error("code_challenge with method S256 or plain is required")
    back = {"state": q["state"]} if "state" in q else {}
    if q.get("sandbox_deny") == "1":
        back["error"] = "access_denied"
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    returning = state.accounts.get(q.get("sandbox_user", ""))
    if returning is not None and returning.kind == "user":
        user = returning  # signs in again as the same person (a reconnect)
    else:
        n = state.next_seq()
        user = Account(
            id=str(1_500_000_000_000_000_000 + n),
            name=f"Sandbox User {n}",
            kind="user",
            username=f"sandbox_user_{n}",
        )
        state.accounts[user.id] = user
    return consent_redirect(
        box,
        state,
        back,
        client_id=client_id,
        redirect_uri=redirect_uri,
        user_id=user.id,
        scopes=tuple(q.get("scope", "").split()),
        code_challenge=q["code_challenge"],
        code_challenge_method=method,
    )


@router.post("/2/oauth2/token")
async def token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = box.clock.now()
    client_id = _client_id(request, form)
    if client_id is None:
        return _json({"error": "unauthorized_client", "error_description": "Missing client"}, 401)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return _json(problem(500, "Internal Server Error", "Something went wrong."), 500)
    if fault is FaultKind.RATE_LIMITED:
        return _json(problem(429, "Too Many Requests", "Too Many Requests"), 429)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = state.take_code(form.get("code", ""), now)
        if code is None or code.client_id != client_id:
            return _oauth_error("Value passed for the authorization code was invalid.")
        if code.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("Value passed for the redirect uri did not match.")
        verifier = form.get("code_verifier", "")
        expected = _s256(verifier) if code.code_challenge_method == "S256" else verifier
        if not hmac.compare_digest(expected, code.code_challenge or ""):
            return _oauth_error("Value passed for the code verifier did not match.")
        user_id, scopes = code.user_id, code.scopes
    elif grant == "refresh_token":
        old = state.check_token(form.get("refresh_token", ""), now, (TokenKind.REFRESH,))
        if isinstance(old, TokenProblem) or old.client_id != client_id:
            return _oauth_error("Value passed for the token was invalid.")
        old.revoked = True  # rotation: a refresh token works once
        user_id, scopes = old.subject, old.scopes
    else:
        return _oauth_error("Missing or unsupported grant_type", "unsupported_grant_type")
    if fault is FaultKind.AUTH_REVOKED:
        return _oauth_error("Value passed for the token was invalid.")
    ttl = box.config.x_access_token_ttl_s
    access = state.issue_token(TokenKind.USER, user_id, client_id, now + ttl, scopes)
    body: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": ttl,
        "access_token": access.value,
        "scope": " ".join(scopes),
    }
    if "offline.access" in scopes:
        refresh = state.issue_token(TokenKind.REFRESH, user_id, client_id, None, scopes)
        body["refresh_token"] = refresh.value
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return _json(body, 200)


@router.post("/2/oauth2/revoke")
async def revoke(request: Request) -> Response:
    state = sandbox(request).platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    found = state.tokens.get(form.get("token", ""))
    if found is not None and found.client_id == _client_id(request, form):
        found.revoked = True
    return _json({"revoked": True}, 200)


# --- API v2 -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Media:
    id: str
    owner_id: str
    media_type: str
    size: int
    expires_at: float
    width: int | None = None
    height: int | None = None
    alt_text: str | None = None

    @property
    def key(self) -> str:
        return f"3_{self.id}"


@dataclass(slots=True)
class _Extras:
    """What X keeps beyond ``state.Post``: media uploads (a post's ``media`` holds the ids it
    carries). Kept in ``state.activity`` (under a key no account id can take) so a reset
    forgets it."""

    media: dict[str, _Media] = field(default_factory=dict)


def _extras(state: PlatformState) -> _Extras:
    found = state.activity.get("x:extras")
    if isinstance(found, _Extras):
        return found
    extras = _Extras()
    state.activity["x:extras"] = extras
    return extras


def _x_time(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time(raw: str) -> float | None:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def _public_metrics(post: Post) -> dict[str, int]:
    """Stable per post: the same id always shows the same numbers."""
    digest = hashlib.sha256(f"x-metrics\x00{post.id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    impressions = rng.randint(40, 6000)
    likes = int(impressions * rng.uniform(0.005, 0.05))
    retweets = int(likes * rng.uniform(0.05, 0.3))
    replies = int(likes * rng.uniform(0.02, 0.25))
    quotes = int(retweets * rng.uniform(0.0, 0.3))
    return {
        "retweet_count": retweets,
        "reply_count": replies,
        "like_count": likes,
        "quote_count": quotes,
        "bookmark_count": int(likes * rng.uniform(0.0, 0.2)),
        "impression_count": impressions,
    }


def _tweet_fields(request: Request) -> set[str]:
    raw = request.query_params.get("tweet.fields", "")
    return {f for f in raw.split(",") if f} | set(DEFAULT_TWEET_FIELDS)


def _tweet(state: PlatformState, post: Post, fields: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": post.id,
        "text": post.text,
        "edit_history_tweet_ids": [post.id],
        "author_id": post.account_id,
        "created_at": _x_time(post.created_at),
        "public_metrics": _public_metrics(post),
    }
    if post.media:
        body["attachments"] = {"media_keys": [f"3_{m}" for m in post.media]}
    return {k: v for k, v in body.items() if k in fields}


def _not_found(kind: str, value: str, parameter: str = "id") -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


@router.get("/2/users/me")
async def users_me(request: Request) -> Response:
    call = await _begin(request, "users.me")
    if isinstance(call, JSONResponse):
        return call
    user = call.state.accounts[call.token.subject]
    data: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    fields = set(request.query_params.get("user.fields", "").split(","))
    if "public_metrics" in fields:
        now = call.box.clock.now()
        today = activity.daily_metrics(call.state, user.id, activity.utc_day(now))
        tweets = sum(1 for p in call.state.posts.values() if p.account_id == user.id)
        data["public_metrics"] = {
            "followers_count": today.followers,
            "following_count": 100 + int(user.id) % 400,
            "tweet_count": tweets,
            "listed_count": today.followers // 200,
            "like_count": 10 * tweets,
            "media_count": sum(
                1 for p in call.state.posts.values() if p.account_id == user.id and p.media
            ),
        }
    if "created_at" in fields:
        data["created_at"] = "2020-01-01T00:00:00.000Z"
    return await call.answer(call.json({"data": data}))


def _invalid(detail: str, parameter: str, message: str) -> dict[str, Any]:
    return problem(
        400,
        "Invalid Request",
        detail,
        f"{PROBLEMS}/invalid-request",
        errors=[{"parameters": {parameter: []}, "message": message}],
    )


INVALID = "One or more parameters to your request was invalid."


def _media_ids(call: _Call, body: dict[str, Any]) -> list[str] | JSONResponse:
    media = body.get("media")
    if media is None:
        return []
    ids = media.get("media_ids") if isinstance(media, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        message = "$.media.media_ids: is missing but it is required"
        return call.json(_invalid(INVALID, "media.media_ids", message), 400)
    if len(ids) > MAX_MEDIA_PER_TWEET:
        message = f"$.media.media_ids: must have at most {MAX_MEDIA_PER_TWEET} items"
        return call.json(_invalid(INVALID, "media.media_ids", message), 400)
    uploads = _extras(call.state).media
    now = call.box.clock.now()
    for media_id in ids:
        found = uploads.get(media_id)
        if found is None or found.owner_id != call.token.subject or now >= found.expires_at:
            detail = "Your media IDs are invalid."
            return call.json(_invalid(detail, "media.media_ids", detail), 400)
    return list(ids)


def _duplicate(call: _Call, text: str) -> bool:
    if not text:
        return False
    since = call.box.clock.now() - DUPLICATE_WINDOW_S
    same = " ".join(text.split())
    return any(
        p.account_id == call.token.subject
        and p.deleted_at is None
        and p.created_at >= since
        and " ".join(p.text.split()) == same
        for p in call.state.posts.values()
    )


@router.post("/2/tweets")
async def create_tweet(request: Request) -> Response:
    call = await _begin(request, "tweets.create")
    if isinstance(call, JSONResponse):
        return call
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    media_ids = _media_ids(call, body)
    if isinstance(media_ids, JSONResponse):
        return media_ids
    text = body.get("text", "")
    if not isinstance(text, str) or (not text and not media_ids):
        return call.json(_invalid(INVALID, "text", "$.text: is missing but it is required"), 400)
    if weighted_length(text) > MAX_WEIGHTED_LENGTH:
        detail = "Your Tweet text is too long."
        message = f"text must be at most {MAX_WEIGHTED_LENGTH} weighted characters"
        return call.json(_invalid(detail, "text", message), 400)
    if _duplicate(call, text):
        detail = "You are not allowed to create a Tweet with duplicate content."
        return call.json(problem(403, "Forbidden", detail), 403)
    post = call.state.store_post(
        Post(
            id=str(1_800_000_000_000_000_000 + call.state.next_seq()),
            account_id=call.token.subject,
            text=text,
            created_at=call.box.clock.now(),
            client_ref=client_ref(request),
            media=tuple(media_ids),
        )
    )
    uploads = _extras(call.state).media
    for media_id in media_ids:  # attached: no longer expires
        uploads[media_id].expires_at = float("inf")
    data = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    return await call.answer(call.json({"data": data}, 201))


@router.get("/2/tweets/{tweet_id}")
async def get_tweet(tweet_id: str, request: Request) -> Response:
    call = await _begin(request, "tweets.lookup")
    if isinstance(call, JSONResponse):
        return call
    post = call.state.live_post(tweet_id)
    if post is None:
        return await call.answer(call.json({"errors": [_not_found("tweet", tweet_id)]}))
    data = _tweet(call.state, post, _tweet_fields(request))
    body: dict[str, Any] = {"data": data}
    expansions = request.query_params.get("expansions", "").split(",")
    if "attachments.media_keys" in expansions and post.media:
        uploads = _extras(call.state).media
        body["includes"] = {"media": [_media_object(uploads[m]) for m in post.media]}
    return await call.answer(call.json(body))


@router.get("/2/tweets")
async def get_tweets(request: Request) -> Response:
    """Posts lookup by ids: ``data`` for the ones found, ``errors`` for the others."""
    call = await _begin(request, "tweets.lookup")
    if isinstance(call, JSONResponse):
        return call
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        message = "The `ids` query parameter can not be empty"
        return call.json(_invalid(INVALID, "ids", message), 400)
    if len(ids) > MAX_LOOKUP_IDS or not all(i.isdigit() for i in ids):
        message = f"The `ids` query parameter value must be 1 to {MAX_LOOKUP_IDS} numeric ids"
        return call.json(_invalid(INVALID, "ids", message), 400)
    fields = _tweet_fields(request)
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for tweet_id in dict.fromkeys(ids):
        post = call.state.live_post(tweet_id)
        if post is None:
            errors.append(_not_found("tweet", tweet_id))
        else:
            data.append(_tweet(call.state, post, fields))
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return await call.answer(call.json(body))


def _media_object(media: _Media) -> dict[str, Any]:
    found: dict[str, Any] = {"media_key": media.key, "type": "photo"}
    if media.width is not None:
        found.update(width=media.width, height=media.height)
    if media.alt_text:
        found["alt_text"] = media.alt_text
    return found


@router.delete("/2/tweets/{tweet_id}")
async def delete_tweet(tweet_id: str, request: Request) -> Response:
    call = await _begin(request, "tweets.delete")
    if isinstance(call, JSONResponse):
        return call
    post = call.state.live_post(tweet_id)
    if post is None:
        detail = f"Could not find tweet with id: [{tweet_id}]."
        body = problem(404, "Not Found Error", detail, f"{PROBLEMS}/resource-not-found")
        return call.json(body, 404)
    if post.account_id != call.token.subject:
        detail = "You are not allowed to delete a Tweet that is not authored by you."
        return call.json(problem(403, "Forbidden", detail), 403)
    post.deleted_at = call.box.clock.now()
    return await call.answer(call.json({"data": {"deleted": True}}))


def _page_token(offset: int) -> str:
    return base64.b32encode(f"sbx:{offset}".encode()).decode().rstrip("=").lower()


def _page_offset(token: str) -> int | None:
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        raw = base64.b32decode(padded).decode()
    except (binascii.Error, ValueError):
        return None
    prefix, _, number = raw.partition(":")
    return int(number) if prefix == "sbx" and number.isdigit() else None


@router.get("/2/users/{user_id}/tweets")
async def user_tweets(user_id: str, request: Request) -> Response:
    call = await _begin(request, "users.tweets")
    if isinstance(call, JSONResponse):
        return call
    q = request.query_params
    bounds: dict[str, float] = {}
    for name in ("start_time", "end_time"):
        if name in q:
            at = _parse_time(q[name])
            if at is None:
                message = f"Invalid '{name}':'{q[name]}'. '{name}' must be an RFC 3339 timestamp."
                return call.json(_invalid(INVALID, name, message), 400)
            bounds[name] = at
    try:
        size = int(q.get("max_results", "10"))
    except ValueError:
        size = -1
    if not 5 <= size <= MAX_TIMELINE_RESULTS:
        message = (
            f"The `max_results` query parameter value [{q.get('max_results')}] is not between "
            f"5 and {MAX_TIMELINE_RESULTS}"
        )
        return call.json(_invalid(INVALID, "max_results", message), 400)
    offset = 0
    if "pagination_token" in q:
        found = _page_offset(q["pagination_token"])
        if found is None:
            message = "The `pagination_token` query parameter value is not valid"
            return call.json(_invalid(INVALID, "pagination_token", message), 400)
        offset = found
    user = call.state.accounts.get(user_id)
    if user is None:
        error = _not_found("user", user_id)
        return await call.answer(call.json({"errors": [error]}))
    lo, hi = bounds.get("start_time", float("-inf")), bounds.get("end_time", float("inf"))
    posts = sorted(
        (
            p
            for p in call.state.posts.values()
            if p.account_id == user_id and p.deleted_at is None and lo <= p.created_at <= hi
        ),
        key=lambda p: (p.created_at, int(p.id)),
        reverse=True,
    )
    page = posts[offset : offset + size]
    fields = _tweet_fields(request)
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
    if offset + size < len(posts):
        meta["next_token"] = _page_token(offset + size)
    if offset:
        meta["previous_token"] = _page_token(max(offset - size, 0))
    body: dict[str, Any] = {"meta": meta}
    if page:
        body["data"] = [_tweet(call.state, p, fields) for p in page]
    return await call.answer(call.json(body))


def _image_type(blob: bytes) -> str | None:
    for magic, kind in IMAGE_TYPES.items():
        if blob.startswith(magic):
            return kind
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return "image/webp"
    return None


def _png_size(blob: bytes) -> tuple[int, int] | None:
    if blob.startswith(b"\x89PNG\r\n\x1a\n") and blob[12:16] == b"IHDR":
        width, height = struct.unpack(">II", blob[16:24])
        return width, height
    return None


async def _upload_parts(request: Request) -> tuple[bytes | None, str | None]:
    """The media bytes and category, from a multipart form or a JSON body (base64)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return None, None
        if not isinstance(body, dict) or not isinstance(body.get("media"), str):
            return None, None
        try:
            blob = base64.b64decode(body["media"], validate=True)
        except (binascii.Error, ValueError):
            return None, None
        category = body.get("media_category")
        return blob, category if isinstance(category, str) else None
    async with request.form() as form:  # closes the spooled upload files
        part = form.get("media")
        raw_category = form.get("media_category")
        category = raw_category if isinstance(raw_category, str) else None
        if part is None:
            return None, category
        if isinstance(part, str):
            return part.encode("latin-1", errors="replace"), category
        return await part.read(), category


@router.post("/2/media/upload")
async def media_upload(request: Request) -> Response:
    call = await _begin(request, "media.upload")
    if isinstance(call, JSONResponse):
        return call
    blob, category = await _upload_parts(request)
    if not blob:
        return call.json(_invalid(INVALID, "media", "$.media: is missing but it is required"), 400)
    if category not in (None, "tweet_image"):
        message = f"media_category {category} needs the chunked upload (INIT, APPEND, FINALIZE)"
        return call.json(_invalid(INVALID, "media_category", message), 400)
    kind = _image_type(blob)
    if kind is None:
        message = "media type unrecognized; images must be JPEG, PNG, GIF or WEBP"
        return call.json(_invalid(INVALID, "media", message), 400)
    if len(blob) > MAX_IMAGE_BYTES:
        message = f"File size exceeds {MAX_IMAGE_BYTES} bytes."
        return call.json(_invalid(INVALID, "media", message), 400)
    got = await media_check.receive_bytes(PLATFORM, "post", blob, kind)
    call.state.received_media.append(got)
    if got.facts is not None and not got.accepted:
        message = "; ".join(got.problems)
        return call.json(_invalid(INVALID, "media", message), 400)
    media = _Media(
        id=str(1_900_000_000_000_000_000 + call.state.next_seq()),
        owner_id=call.token.subject,
        media_type=kind,
        size=len(blob),
        expires_at=call.box.clock.now() + MEDIA_EXPIRES_S,
    )
    dims = _png_size(blob)
    if dims is not None:
        media.width, media.height = dims
    _extras(call.state).media[media.id] = media
    image: dict[str, Any] = {"image_type": kind}
    if dims is not None:
        image.update(w=dims[0], h=dims[1])
    data = {
        "id": media.id,
        "media_key": media.key,
        "size": media.size,
        "expires_after_secs": MEDIA_EXPIRES_S,
        "image": image,
    }
    return await call.answer(call.json({"data": data}))


@router.post("/2/media/metadata")
async def media_metadata(request: Request) -> Response:
    """Alt text for an upload: ``{"id", "metadata": {"alt_text": {"text"}}}``."""
    call = await _begin(request, "media.metadata")
    if isinstance(call, JSONResponse):
        return call
    try:
        body = await request.json()
    except ValueError:
        body = None
    media_id = body.get("id") if isinstance(body, dict) else None
    meta = body.get("metadata") if isinstance(body, dict) else None
    alt = meta.get("alt_text") if isinstance(meta, dict) else None
    text = alt.get("text") if isinstance(alt, dict) else None
    if not isinstance(media_id, str) or not isinstance(text, str):
        message = "$.id and $.metadata.alt_text.text are required"
        return call.json(_invalid(INVALID, "metadata", message), 400)
    if len(text) > MAX_ALT_TEXT:
        message = f"alt_text.text must be at most {MAX_ALT_TEXT} characters"
        return call.json(_invalid(INVALID, "metadata.alt_text.text", message), 400)
    media = _extras(call.state).media.get(media_id)
    if media is None or media.owner_id != call.token.subject:
        return call.json(_invalid(INVALID, "id", f"media {media_id} was not found"), 400)
    media.alt_text = text
    data = {"id": media.id, "associated_metadata": {"alt_text": {"text": text}}}
    return await call.answer(call.json({"data": data}))


# --- Sandbox-only -------------------------------------------------------------------------------


def sample_png(width: int = 2, height: int = 2) -> bytes:
    """A valid, tiny RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xe0\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@router.get("/_sandbox/media/{name}")
async def sample_media(name: str, request: Request) -> Response:
    """A customer's image, for tests that download media: a PNG padded to ``?bytes=N``."""
    blob = sample_png()
    try:
        wanted = int(request.query_params.get("bytes", "0"))
    except ValueError:
        wanted = 0
    if wanted > len(blob):
        blob += b"\x00" * min(wanted - len(blob), 64 * 1024 * 1024)
    return Response(blob, media_type="image/png")
