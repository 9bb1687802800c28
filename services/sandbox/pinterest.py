"""Pinterest through API v5: OAuth (``www.pinterest.com/oauth/`` and ``/v5/oauth/token``), the
user account and its boards, pins (create, get, delete, list a board's), account analytics.

Shapes follow Pinterest: the token endpoint takes HTTP Basic client credentials and a form
body; every error is ``{"code": <int>, "message": "…"}``; every authenticated answer carries
``x-ratelimit-limit``, ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds until the
window resets) for the endpoint's rate-limit category; lists are ``{"items": […],
"bookmark": …}``.

Sandbox choices:
- the authorize page consents at once (``sandbox_deny=1`` refuses with ``error=access_denied``)
  and creates a fresh business user with one board (``Sandbox Board``);
- refresh is Pinterest's *continuous refresh*, the default since September 2025: every refresh
  answers a new refresh token valid ``REFRESH_TOKEN_TTL_S`` (60 days) — the old one stays valid
  until its own expiry; access tokens live 30 days;
- windows are the Standard-access categories per user: ``org_write`` 100 / min, ``org_read``
  1000 / min, ``org_analytics`` 300 / min (the universal 100 calls / s is not modelled);
- ``media_source`` takes ``image_url`` and ``multiple_image_urls`` (2–5); the image itself is not
  downloaded, only its URL checked; video pins need the media-upload flow, not served here;
- analytics numbers come from ``activity.daily_metrics``: ``PIN_CLICK`` + ``OUTBOUND_CLICK`` add up
  to its clicks, ``SAVE`` is a share of its engagements;
- the ``auth_revoked`` fault answers 401 (code 2) without revoking the token;
- a pin's analytics (``GET /v5/pins/{pin_id}/analytics``) are numbers per day from the day it
  was created, derived from the pin id and the day (so its totals grow with its age).
"""

import base64
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

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

PLATFORM = "pinterest"

ACCESS_TOKEN_TTL_S = 30 * 24 * 3600
REFRESH_TOKEN_TTL_S = 60 * 24 * 3600  # continuous refresh; legacy refresh tokens lived 365 days
WINDOWS = {
    "org_write": Window(100, 60),
    "org_read": Window(1000, 60),
    "org_analytics": Window(300, 60),
}
MAX_TITLE = 100
MAX_DESCRIPTION = 500
MAX_ALT_TEXT = 500
MAX_LINK = 2048
MAX_CAROUSEL = 5
MAX_PAGE_SIZE = 250
ANALYTICS_MAX_DAYS_BACK = 90
ANALYTICS_MAX_SPAN_DAYS = 90
METRICS = ("IMPRESSION", "ENGAGEMENT", "PIN_CLICK", "OUTBOUND_CLICK", "SAVE")

router = APIRouter(tags=[PLATFORM])  # www.pinterest.com: the authorize page
api = APIRouter(prefix="/v5")  # api.pinterest.com/v5


def error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _invalid(message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return error(400, 1, f"Invalid request body: {message}", headers)


def _rate_headers(status: WindowStatus, now: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(status.limit),
        "x-ratelimit-remaining": str(status.remaining),
        "x-ratelimit-reset": str(max(0, math.ceil(status.reset_at - now))),
    }


@dataclass(slots=True)
class _PinExtra:
    board_id: str
    title: str
    alt_text: str | None


def _pins(state: PlatformState) -> dict[str, _PinExtra]:
    """Pin fields beyond ``state.Post``, in ``state.activity`` so a reset forgets them."""
    found = state.activity.get("pinterest:pins")
    if isinstance(found, dict):
        return found
    pins: dict[str, _PinExtra] = {}
    state.activity["pinterest:pins"] = pins
    return pins


class _Call(PlatformCall):
    platform = PLATFORM

    def error(self, status: int, code: int, message: str) -> JSONResponse:
        return error(status, code, message, self.headers)


async def _begin(request: Request, category: str, scope: str) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    now = box.clock.now()
    checked = state.check_token(bearer(request) or "", now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return error(401, 2, "Authentication failed.")
    if scope not in checked.scopes:
        return error(401, 3, f"Authorization failed. The token lacks the {scope} scope.")
    fault = await box.faults.before_call(PLATFORM)
    window = WINDOWS[category]
    key = f"{checked.subject}:{category}"
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, window, now)
    else:
        status = state.windows.hit(key, window, now)
    headers = _rate_headers(status, now)
    if fault is FaultKind.RATE_LIMITED or not status.allowed:
        return error(429, 8, "You have exceeded your rate limit. Try again later.", headers)
    if fault is FaultKind.SERVER_ERROR:
        return error(500, 0, "Internal server error. Please try again later.", headers)
    if fault is FaultKind.AUTH_REVOKED:
        return error(401, 2, "Authentication failed.")
    return _Call(request, box, state, checked, fault, headers)


def _client_id(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return client_id if client_id and secret else None


# --- OAuth ------------------------------------------------------------------------------------


@router.get("/oauth/")
async def authorize(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    q = dict(request.query_params)
    redirect_uri, client_id = q.get("redirect_uri"), q.get("client_id")
    if not redirect_uri or not client_id or q.get("response_type") != "code":
        return error(400, 1, "client_id, redirect_uri and response_type=code are required")
    back = {"state": q["state"]} if "state" in q else {}
    if q.get("sandbox_deny") == "1":
        back["error"] = "access_denied"
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    n = state.next_seq()
    user = Account(
        id=str(900_000_000_000_000 + n),
        name=f"Sandbox Business {n}",
        kind="user",
        username=f"sandbox_pinner_{n}",
    )
    state.accounts[user.id] = user
    board_id = str(700_000_000_000_000_000 + n)
    state.accounts[board_id] = Account(
        id=board_id, name="Sandbox Board", kind="board", owner_id=user.id
    )
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


@api.post("/oauth/token")
async def token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = box.clock.now()
    client_id = _client_id(request)
    if client_id is None:
        return error(401, 2, "Authentication failed: client credentials are required (Basic).")
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return error(500, 0, "Internal server error. Please try again later.")
    if fault is FaultKind.RATE_LIMITED:
        return error(429, 8, "You have exceeded your rate limit. Try again later.")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = state.take_code(form.get("code", ""), now)
        if code is None or code.client_id != client_id:
            return error(400, 1, "Invalid authorization code: it was used or has expired.")
        if code.redirect_uri != form.get("redirect_uri"):
            return error(400, 1, "Invalid redirect_uri: it must match the authorize request.")
        user_id, scopes, kind = code.user_id, code.scopes, "authorization_code"
    elif grant == "refresh_token":
        old = state.check_token(form.get("refresh_token", ""), now, (TokenKind.REFRESH,))
        if isinstance(old, TokenProblem) or old.client_id != client_id:
            return error(400, 1, "Invalid refresh token: it is unknown, revoked or expired.")
        user_id, scopes, kind = old.subject, old.scopes, "refresh_token"
    else:
        return error(400, 1, "Invalid grant_type: use authorization_code or refresh_token.")
    if fault is FaultKind.AUTH_REVOKED:
        return error(401, 2, "Authentication failed.")
    access = state.issue_token(
        TokenKind.USER, user_id, client_id, now + ACCESS_TOKEN_TTL_S, scopes, prefix="pina_"
    )
    refresh = state.issue_token(
        TokenKind.REFRESH, user_id, client_id, now + REFRESH_TOKEN_TTL_S, scopes, prefix="pinr_"
    )
    body = {
        "access_token": access.value,
        "refresh_token": refresh.value,
        "response_type": kind,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL_S,
        "refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
        "refresh_token_expires_at": int(now + REFRESH_TOKEN_TTL_S),
        "scope": " ".join(scopes),
    }
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


# --- Accounts ---------------------------------------------------------------------------------


def _boards(state: PlatformState, user_id: str) -> list[Account]:
    return [a for a in state.accounts.values() if a.kind == "board" and a.owner_id == user_id]


@api.get("/user_account")
async def user_account(request: Request) -> Response:
    call = await _begin(request, "org_read", "user_accounts:read")
    if isinstance(call, JSONResponse):
        return call
    user = call.state.accounts[call.token.subject]
    today = activity.daily_metrics(call.state, user.id, activity.utc_day(call.box.clock.now()))
    pins = sum(1 for p in call.state.posts.values() if p.account_id == user.id and not p.deleted_at)
    body = {
        "account_type": "BUSINESS",
        "id": user.id,
        "username": user.username,
        "business_name": user.name,
        "profile_image": f"https://i.pinimg.com/600x600_R/sandbox/{user.id}.jpg",
        "website_url": "https://example.com",
        "about": "",
        "board_count": len(_boards(call.state, user.id)),
        "pin_count": pins,
        "follower_count": today.followers,
        "following_count": 50 + int(user.id) % 200,
        "monthly_views": today.impressions * 30,
    }
    return await call.answer(call.json(body))


def _page(request: Request, items: list[Any]) -> tuple[list[Any], str | None] | str:
    """One page of ``items`` by ``page_size`` and ``bookmark`` (an opaque offset)."""
    q = request.query_params
    try:
        size = int(q.get("page_size", "25"))
    except ValueError:
        size = -1
    if not 1 <= size <= MAX_PAGE_SIZE:
        return f"page_size must be between 1 and {MAX_PAGE_SIZE}"
    offset = 0
    if q.get("bookmark"):
        try:
            offset = int(base64.urlsafe_b64decode(q["bookmark"].encode()).decode())
        except ValueError:
            return "bookmark is not valid"
    end = offset + size
    bookmark = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[offset:end], bookmark


def _board(board: Account, state: PlatformState) -> dict[str, Any]:
    owner = state.accounts[board.owner_id or ""]
    return {
        "id": board.id,
        "name": board.name,
        "description": "",
        "owner": {"username": owner.username},
        "privacy": "PUBLIC",
        "pin_count": sum(
            1
            for pin_id, extra in _pins(state).items()
            if extra.board_id == board.id and state.live_post(pin_id) is not None
        ),
        "created_at": "2024-01-01T00:00:00",
    }


@api.get("/boards")
async def boards(request: Request) -> Response:
    call = await _begin(request, "org_read", "boards:read")
    if isinstance(call, JSONResponse):
        return call
    paged = _page(request, _boards(call.state, call.token.subject))
    if isinstance(paged, str):
        return call.error(400, 1, f"Invalid parameters: {paged}")
    items, bookmark = paged
    body = {"items": [_board(b, call.state) for b in items], "bookmark": bookmark}
    return await call.answer(call.json(body))


# --- Pins -------------------------------------------------------------------------------------


def _pin_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _pin(state: PlatformState, post: Post) -> dict[str, Any]:
    extra = _pins(state)[post.id]
    owner = state.accounts[post.account_id]
    images = [{"url": url, "width": 1000, "height": 1500} for url in post.media]
    media: dict[str, Any] = (
        {"media_type": "image", "images": {"originals": images[0]}}
        if len(images) == 1
        else {"media_type": "multiple_images", "items": images}
    )
    return {
        "id": post.id,
        "created_at": _pin_time(post.created_at),
        "link": post.link,
        "title": extra.title,
        "description": post.text,
        "alt_text": extra.alt_text,
        "board_id": extra.board_id,
        "board_section_id": None,
        "board_owner": {"username": owner.username},
        "is_owner": True,
        "media": media,
        "parent_pin_id": None,
        "is_standard": True,
        "has_been_promoted": False,
        "note": "",
        "creative_type": "REGULAR" if len(images) == 1 else "CAROUSEL",
    }


def _http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_LINK:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _media_urls(source: Any) -> list[str] | str:
    if not isinstance(source, dict):
        return "media_source is required"
    kind = source.get("source_type")
    if kind == "image_url":
        url = source.get("url")
        return [str(url)] if _http_url(url) else "media_source.url must be an http(s) image URL"
    if kind == "multiple_image_urls":
        items = source.get("items")
        if not isinstance(items, list) or not 2 <= len(items) <= MAX_CAROUSEL:
            return f"media_source.items must hold 2 to {MAX_CAROUSEL} images"
        urls = [i.get("url") if isinstance(i, dict) else None for i in items]
        if not all(_http_url(u) for u in urls):
            return "media_source.items[].url must be http(s) image URLs"
        return [str(u) for u in urls]
    if kind in ("image_base64", "video_id", "multiple_image_base64", "pin_url"):
        return f"media_source.source_type {kind} is not available in the sandbox"
    return "media_source.source_type must be one of image_url, multiple_image_urls"


@api.post("/pins")
async def create_pin(request: Request) -> Response:
    call = await _begin(request, "org_write", "pins:write")
    if isinstance(call, JSONResponse):
        return call
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _invalid("a JSON object is required", call.headers)
    board_id = body.get("board_id")
    if not isinstance(board_id, str) or not board_id:
        return _invalid("board_id is required", call.headers)
    title = body.get("title") or ""
    description = body.get("description") or ""
    alt_text = body.get("alt_text")
    link = body.get("link")
    checks = (
        (
            isinstance(title, str) and len(title) <= MAX_TITLE,
            f"title: at most {MAX_TITLE} characters",
        ),
        (
            isinstance(description, str) and len(description) <= MAX_DESCRIPTION,
            f"description: at most {MAX_DESCRIPTION} characters",
        ),
        (
            alt_text is None or (isinstance(alt_text, str) and len(alt_text) <= MAX_ALT_TEXT),
            f"alt_text: at most {MAX_ALT_TEXT} characters",
        ),
        (link is None or _http_url(link), f"link: an http(s) URL of at most {MAX_LINK} characters"),
    )
    for ok, message in checks:
        if not ok:
            return _invalid(message, call.headers)
    urls = _media_urls(body.get("media_source"))
    if isinstance(urls, str):
        return _invalid(urls, call.headers)
    for url in urls:
        got = await media_check.receive_link(PLATFORM, "pin", url)
        if got is None:
            continue
        call.state.received_media.append(got)
        if not got.accepted:
            return _invalid(f"media_source: {'; '.join(got.problems)}", call.headers)
    board = call.state.accounts.get(board_id)
    if board is None or board.kind != "board":
        return call.error(404, 40, "Board not found.")
    if board.owner_id != call.token.subject:
        return call.error(403, 29, "You are not permitted to access that resource.")
    post = call.state.store_post(
        Post(
            id=str(1_000_000_000_000_000_000 + call.state.next_seq()),
            account_id=call.token.subject,
            text=str(description),
            link=link,
            created_at=call.box.clock.now(),
            client_ref=client_ref(request),
            media=tuple(urls),
        )
    )
    _pins(call.state)[post.id] = _PinExtra(board_id, str(title), alt_text)
    return await call.answer(call.json(_pin(call.state, post), 201))


def _own_pin(call: _Call, pin_id: str) -> Post | JSONResponse:
    post = call.state.live_post(pin_id)
    if post is None or pin_id not in _pins(call.state):
        return call.error(404, 50, "Pin not found.")
    if post.account_id != call.token.subject:
        return call.error(403, 29, "You are not permitted to access that resource.")
    return post


@api.get("/pins/{pin_id}")
async def get_pin(pin_id: str, request: Request) -> Response:
    call = await _begin(request, "org_read", "pins:read")
    if isinstance(call, JSONResponse):
        return call
    post = _own_pin(call, pin_id)
    if isinstance(post, JSONResponse):
        return post
    return await call.answer(call.json(_pin(call.state, post)))


@api.delete("/pins/{pin_id}")
async def delete_pin(pin_id: str, request: Request) -> Response:
    call = await _begin(request, "org_write", "pins:write")
    if isinstance(call, JSONResponse):
        return call
    post = _own_pin(call, pin_id)
    if isinstance(post, JSONResponse):
        return post
    post.deleted_at = call.box.clock.now()
    return await call.answer(Response(status_code=204, headers=call.headers))


@api.get("/boards/{board_id}/pins")
async def board_pins(board_id: str, request: Request) -> Response:
    call = await _begin(request, "org_read", "pins:read")
    if isinstance(call, JSONResponse):
        return call
    board = call.state.accounts.get(board_id)
    if board is None or board.kind != "board":
        return call.error(404, 40, "Board not found.")
    if board.owner_id != call.token.subject:
        return call.error(403, 29, "You are not permitted to access that resource.")
    extras = _pins(call.state)
    posts = sorted(
        (
            p
            for p in call.state.posts.values()
            if p.deleted_at is None and p.id in extras and extras[p.id].board_id == board_id
        ),
        key=lambda p: (p.created_at, int(p.id)),
        reverse=True,
    )
    paged = _page(request, posts)
    if isinstance(paged, str):
        return call.error(400, 1, f"Invalid parameters: {paged}")
    items, bookmark = paged
    body = {"items": [_pin(call.state, p) for p in items], "bookmark": bookmark}
    return await call.answer(call.json(body))


# --- Analytics --------------------------------------------------------------------------------


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return None


def _metrics(state: PlatformState, user_id: str, day: date) -> dict[str, int]:
    numbers = activity.daily_metrics(state, user_id, day)
    outbound = numbers.clicks // 3
    return {
        "IMPRESSION": numbers.impressions,
        "ENGAGEMENT": numbers.engagements,
        "PIN_CLICK": numbers.clicks - outbound,
        "OUTBOUND_CLICK": outbound,
        "SAVE": numbers.engagements // 4,
    }


@api.get("/user_account/analytics")
async def analytics(request: Request) -> Response:
    call = await _begin(request, "org_analytics", "user_accounts:read")
    if isinstance(call, JSONResponse):
        return call
    q = request.query_params
    start, end = _day(q.get("start_date")), _day(q.get("end_date"))
    if start is None or end is None:
        return call.error(
            400, 1, "Invalid parameters: start_date and end_date (YYYY-MM-DD) are required"
        )
    today = activity.utc_day(call.box.clock.now())
    if start < today - timedelta(days=ANALYTICS_MAX_DAYS_BACK):
        return call.error(
            400,
            1,
            f"Invalid parameters: start_date cannot be more than {ANALYTICS_MAX_DAYS_BACK} days "
            "back from today",
        )
    if end < start or (end - start).days > ANALYTICS_MAX_SPAN_DAYS:
        return call.error(
            400,
            1,
            f"Invalid parameters: end_date must be on or after start_date and at most "
            f"{ANALYTICS_MAX_SPAN_DAYS} days after it",
        )
    wanted = [m for m in q.get("metric_types", ",".join(METRICS)).split(",") if m]
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        return call.error(400, 1, f"Invalid parameters: unknown metric_types {','.join(unknown)}")
    daily = []
    summary = dict.fromkeys(wanted, 0)
    for day in activity.days(start, min(end, today)):
        values = _metrics(call.state, call.token.subject, day)
        picked = {m: values[m] for m in wanted}
        for m, v in picked.items():
            summary[m] += v
        status = "READY" if day < today else "ESTIMATE"
        daily.append({"date": day.isoformat(), "data_status": status, "metrics": picked})
    body = {"all": {"daily_metrics": daily, "summary_metrics": summary}}
    return await call.answer(call.json(body))


def pin_metrics(post: Post, day: date) -> dict[str, int]:
    """One pin's numbers for one day of its life (none before the day it was created), fading
    as it ages; stable per pin and day."""
    if day < activity.utc_day(post.created_at):
        return dict.fromkeys(METRICS, 0)
    digest = hashlib.sha256(f"pinterest-pin\x00{post.id}\x00{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    age = (day - activity.utc_day(post.created_at)).days
    impressions = int(rng.randint(20, 900) / (1 + age / 7))
    engagement = int(impressions * rng.uniform(0.02, 0.1))
    outbound = int(engagement * rng.uniform(0.1, 0.3))
    saves = int(engagement * rng.uniform(0.1, 0.3))
    return {
        "IMPRESSION": impressions,
        "ENGAGEMENT": engagement,
        "PIN_CLICK": int(engagement * rng.uniform(0.2, 0.4)),
        "OUTBOUND_CLICK": outbound,
        "SAVE": saves,
    }


@api.get("/pins/{pin_id}/analytics")
async def pin_analytics(pin_id: str, request: Request) -> Response:
    """A pin's numbers by day and summed over ``start_date``..``end_date`` (both within the
    last 90 days), as the account analytics answer them."""
    call = await _begin(request, "org_analytics", "pins:read")
    if isinstance(call, JSONResponse):
        return call
    post = _own_pin(call, pin_id)
    if isinstance(post, JSONResponse):
        return post
    q = request.query_params
    start, end = _day(q.get("start_date")), _day(q.get("end_date"))
    if start is None or end is None or not q.get("metric_types"):
        return call.error(
            400,
            1,
            "Invalid parameters: start_date, end_date (YYYY-MM-DD) and metric_types are required",
        )
    today = activity.utc_day(call.box.clock.now())
    if start < today - timedelta(days=ANALYTICS_MAX_DAYS_BACK) or end < start:
        return call.error(
            400,
            1,
            f"Invalid parameters: start_date cannot be more than {ANALYTICS_MAX_DAYS_BACK} days "
            "back from today, and end_date must be on or after it",
        )
    wanted = [m for m in q["metric_types"].split(",") if m]
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        return call.error(400, 1, f"Invalid parameters: unknown metric_types {','.join(unknown)}")
    daily = []
    summary = dict.fromkeys(wanted, 0)
    for day in activity.days(start, min(end, today)):
        values = pin_metrics(post, day)
        picked = {m: values[m] for m in wanted}
        for m, v in picked.items():
            summary[m] += v
        status = "READY" if day < today else "ESTIMATE"
        daily.append({"date": day.isoformat(), "data_status": status, "metrics": picked})
    body = {"all": {"daily_metrics": daily, "summary_metrics": summary}}
    return await call.answer(call.json(body))


router.include_router(api)  # after every route of ``api`` is declared
