"""Google Business Profile: Google OAuth, the account management and business information APIs
(accounts and their locations), v4 local posts and reviews, and the Performance API.

Served under ``/google_business`` (every Google host collapses onto it):
- OAuth (see ``google_oauth``): ``GET /o/oauth2/v2/auth``, ``POST /token``, ``POST /revoke``;
- ``GET /v1/accounts`` (mybusinessaccountmanagement);
- ``GET /v1/accounts/{a}/locations?readMask=…`` (mybusinessbusinessinformation);
- ``POST|GET /v4/accounts/{a}/locations/{l}/localPosts``,
  ``GET|DELETE /v4/accounts/{a}/locations/{l}/localPosts/{p}`` (mybusiness v4);
- ``GET /v4/accounts/{a}/locations/{l}/reviews``, ``PUT|DELETE …/reviews/{r}/reply``
  (updateReply creates or replaces the one reply; deleteReply removes it);
- ``GET /v1/locations/{l}:fetchMultiDailyMetricsTimeSeries`` (businessprofileperformance).

Sandbox choices:
- each consent creates a new user with one personal account and two or three locations;
- every API needs the ``business.manage`` scope (403 ``insufficientPermissions`` without it);
- quotas: the default 300 queries per minute per project (client id) and API, and at most 10
  edits (post, delete, reply) per minute per location; both answer 429 ``RESOURCE_EXHAUSTED``
  without a ``Retry-After`` header, as Google does; the ``rate_limited`` fault answers the same;
- local posts accept one ``PHOTO`` (video isn't supported through the API) and a summary of at
  most 1,500 characters; ``callToAction`` needs a ``url`` except for ``CALL``;
- a location the caller doesn't manage answers 403 ``PERMISSION_DENIED``; an unknown one 404.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.sandbox import activity
from services.sandbox.config import Window
from services.sandbox.deps import client_ref
from services.sandbox.google_oauth import (
    Call,
    add_oauth_routes,
    begin,
    google_error,
    invalid_argument,
    not_found,
)
from services.sandbox.state import Account, PlatformState, Post, Sandbox

PLATFORM = "google_business"
SCOPE = "https://www.googleapis.com/auth/business.manage"
SCOPES = frozenset({SCOPE, "https://www.googleapis.com/auth/plus.business.manage"})

MAX_SUMMARY_CHARS = 1500
MAX_REPLY_BYTES = 4096
MAX_REVIEWS_PAGE = 50
MAX_POSTS_PAGE = 100
DEFAULT_POSTS_PAGE = 20
PROJECT_QPM = Window(300, 60)  # default quota: 300 queries per minute per project, per API
LOCATION_EDITS = Window(10, 60)  # 10 edits per minute per location
CTA_TYPES = frozenset({"BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL"})
TOPIC_TYPES = frozenset({"STANDARD", "EVENT", "OFFER", "ALERT"})
IMPRESSIONS = (
    "BUSINESS_IMPRESSIONS_DESKTOP_MAPS",
    "BUSINESS_IMPRESSIONS_DESKTOP_SEARCH",
    "BUSINESS_IMPRESSIONS_MOBILE_MAPS",
    "BUSINESS_IMPRESSIONS_MOBILE_SEARCH",
)
CLICKS = ("WEBSITE_CLICKS", "CALL_CLICKS", "BUSINESS_DIRECTION_REQUESTS")
OTHER_METRICS = (
    "BUSINESS_CONVERSATIONS",
    "BUSINESS_BOOKINGS",
    "BUSINESS_FOOD_ORDERS",
    "BUSINESS_FOOD_MENU_CLICKS",
)
STARS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}
_CITIES = (
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Portland", "OR", "97204"),
    ("Raleigh", "NC", "27601"),
)
_EXTRAS = "google_business.local_posts"  # key in PlatformState.activity: post id -> extras

router = APIRouter(tags=[PLATFORM])


def _create_accounts(box: Sandbox, state: PlatformState, user: Account) -> None:
    n = int(user.id) % 1_000_000
    account = Account(
        id=str(100_000_000_000_000_000 + n),
        name=f"{user.name}",
        kind="account",
        owner_id=user.id,
    )
    state.accounts[account.id] = account
    for i in range(1, 2 + (n % 2) + 1):
        location_id = str(10_000_000_000_000_000 + n * 10 + i)
        state.accounts[location_id] = Account(
            id=location_id,
            name=f"Sandbox Pizza #{n}.{i}",
            kind="location",
            owner_id=account.id,
        )


add_oauth_routes(router, PLATFORM, _create_accounts, lambda n: str(110_000_000_000_000_000_000 + n))


def _rate_limited(service: str = "mybusiness.googleapis.com") -> JSONResponse:
    message = (
        "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service "
        f"'{service}' for consumer 'project_number:000000000000'."
    )
    response = google_error(429, message, "rateLimitExceeded")
    body = json.loads(bytes(response.body))
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {"service": service, "quota_limit": "RequestsPerMinutePerProject"},
        }
    ]
    return JSONResponse(body, status_code=429)


async def _begin(request: Request, service: str) -> Call | JSONResponse:
    call = await begin(request, PLATFORM, SCOPES, rate_limited=lambda: _rate_limited(service))
    if isinstance(call, JSONResponse):
        return call
    key = f"qpm:{call.token.client_id}:{service}"
    if not call.state.windows.hit(key, PROJECT_QPM, call.now).allowed:
        return _rate_limited(service)
    return call


def _edit_allowed(call: Call, location_id: str) -> bool:
    return call.state.windows.hit(f"edits:{location_id}", LOCATION_EDITS, call.now).allowed


def _edits_exhausted() -> JSONResponse:
    return google_error(
        429,
        "Too many edits to this location; try again in a minute.",
        "rateLimitExceeded",
    )


def _denied() -> JSONResponse:
    return google_error(403, "The caller does not have permission", "forbidden")


def _location(call: Call, account_id: str, location_id: str) -> Account | JSONResponse:
    """The caller's location, or Google's answer for one that isn't (404 unknown, 403 not
    theirs)."""
    account = call.state.accounts.get(account_id)
    location = call.state.accounts.get(location_id)
    if account is None or account.kind != "account" or location is None:
        return not_found()
    if location.kind != "location" or location.owner_id != account.id:
        return not_found()
    if account.owner_id != call.token.subject:
        return _denied()
    return location


def rfc3339(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


def _page_size(raw: str | None, default: int, cap: int) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        return None
    return None if size < 0 else min(size or default, cap)


# --- Account management / business information -------------------------------------------------


@router.get("/v1/accounts")
async def list_accounts(request: Request) -> Response:
    call = await _begin(request, "mybusinessaccountmanagement.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    accounts = [
        {
            "name": f"accounts/{a.id}",
            "accountName": a.name,
            "type": "PERSONAL",
            "verificationState": "UNVERIFIED",
            "vettedState": "NOT_VETTED",
        }
        for a in call.state.accounts.values()
        if a.kind == "account" and a.owner_id == call.token.subject
    ]
    return await call.answer(JSONResponse({"accounts": accounts}))


@router.get("/v1/accounts/{account_id}/locations")
async def list_locations(account_id: str, request: Request) -> Response:
    call = await _begin(request, "mybusinessbusinessinformation.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    mask = [f.strip() for f in request.query_params.get("readMask", "").split(",") if f.strip()]
    if not mask:
        return invalid_argument("Request contains an invalid argument.", "badRequest")
    account = call.state.accounts.get(account_id)
    if account is None or account.kind != "account":
        return not_found()
    if account.owner_id != call.token.subject:
        return _denied()
    size = _page_size(request.query_params.get("pageSize"), 10, 100)
    offset = _offset(request.query_params.get("pageToken"))
    if size is None or offset is None:
        return invalid_argument("Request contains an invalid argument.")
    found = [
        a for a in call.state.accounts.values() if a.kind == "location" and a.owner_id == account_id
    ]
    locations = []
    for loc in found[offset : offset + size]:
        city, region, postal = _CITIES[int(loc.id) % len(_CITIES)]
        full: dict[str, Any] = {
            "name": f"locations/{loc.id}",
            "title": loc.name,
            "storefrontAddress": {
                "regionCode": "US",
                "languageCode": "en",
                "postalCode": postal,
                "administrativeArea": region,
                "locality": city,
                "addressLines": [f"{100 + int(loc.id) % 900} Main St"],
            },
        }
        locations.append({k: v for k, v in full.items() if k in mask or k == "name"})
    body: dict[str, Any] = {"locations": locations, "totalSize": len(found)}
    if offset + size < len(found):
        body["nextPageToken"] = _page_token(offset + size)
    return await call.answer(JSONResponse(body))


# --- Local posts (v4) ---------------------------------------------------------------------------


def _extras(state: PlatformState) -> dict[str, dict[str, Any]]:
    found = state.activity.setdefault(_EXTRAS, {})
    assert isinstance(found, dict)
    return found


def _local_post(state: PlatformState, account_id: str, post: Post) -> dict[str, Any]:
    extra = _extras(state).get(post.id, {})
    name = f"accounts/{account_id}/locations/{post.account_id}/localPosts/{post.id}"
    body: dict[str, Any] = {
        "name": name,
        "languageCode": extra.get("languageCode", "en"),
        "summary": post.text,
        "state": "LIVE",
        "createTime": rfc3339(post.created_at),
        "updateTime": rfc3339(post.created_at),
        "topicType": extra.get("topicType", "STANDARD"),
        "searchUrl": f"https://local.google.com/place?id={post.account_id}&use=posts"
        f"&lpsid=CIHM0ogKEICAgI{post.id}",
    }
    if extra.get("callToAction"):
        body["callToAction"] = extra["callToAction"]
    if extra.get("media"):
        body["media"] = extra["media"]
    return body


def _post_problem(body: Any) -> str | None:
    """What Google would refuse in a new local post, or None."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    summary = body.get("summary", "")
    media = body.get("media") or []
    if not isinstance(summary, str) or not isinstance(media, list):
        return "Invalid value at 'local_post'."
    topic = body.get("topicType", "STANDARD")
    if topic not in TOPIC_TYPES:
        return f"Invalid value at 'local_post.topic_type' (type.googleapis.com/google.mybusiness.v4.LocalPostTopicType), \"{topic}\""  # noqa: E501
    if not summary.strip() and not media:
        return "Request contains an invalid argument: a post needs a summary or a photo."
    if len(summary) > MAX_SUMMARY_CHARS:
        return f"The summary exceeds the maximum length of {MAX_SUMMARY_CHARS} characters."
    if len(media) > 1:
        return "Request contains an invalid argument: a post takes at most one photo."
    for item in media:
        if not isinstance(item, dict) or not item.get("sourceUrl"):
            return "Request contains an invalid argument: media[].sourceUrl is required."
        if item.get("mediaFormat") != "PHOTO":
            return "Request contains an invalid argument: only PHOTO media is supported."
    cta = body.get("callToAction")
    if cta is not None:
        if not isinstance(cta, dict) or cta.get("actionType") not in CTA_TYPES:
            return "Invalid value at 'local_post.call_to_action.action_type'."
        if cta.get("actionType") != "CALL" and not cta.get("url"):
            return "Request contains an invalid argument: callToAction.url is required."
    return None


@router.post("/v4/accounts/{account_id}/locations/{location_id}/localPosts")
async def create_local_post(account_id: str, location_id: str, request: Request) -> Response:
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    try:
        body = await request.json()
    except ValueError:
        body = None
    problem = _post_problem(body)
    if problem:
        return invalid_argument(problem, "invalidArgument")
    if not _edit_allowed(call, location.id):
        return _edits_exhausted()
    assert isinstance(body, dict)
    post = call.state.store_post(
        Post(
            id=str(1_000_000_000_000_000_000 + call.state.next_seq()),
            account_id=location.id,
            text=body.get("summary", ""),
            link=(body.get("callToAction") or {}).get("url"),
            created_at=call.now,
            client_ref=client_ref(request),
        )
    )
    media = [
        {
            "name": f"accounts/{account_id}/locations/{location.id}/media/p{post.id}-{i}",
            "mediaFormat": "PHOTO",
            "sourceUrl": item["sourceUrl"],
            "googleUrl": f"https://lh3.googleusercontent.com/p/sandbox-{post.id}-{i}",
        }
        for i, item in enumerate(body.get("media") or [])
    ]
    _extras(call.state)[post.id] = {
        "languageCode": body.get("languageCode") or "en",
        "topicType": body.get("topicType", "STANDARD"),
        "callToAction": body.get("callToAction"),
        "media": media,
    }
    return await call.answer(JSONResponse(_local_post(call.state, account_id, post)))


@router.get("/v4/accounts/{account_id}/locations/{location_id}/localPosts")
async def list_local_posts(account_id: str, location_id: str, request: Request) -> Response:
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    size = _page_size(request.query_params.get("pageSize"), DEFAULT_POSTS_PAGE, MAX_POSTS_PAGE)
    offset = _offset(request.query_params.get("pageToken"))
    if size is None or offset is None:
        return invalid_argument("Request contains an invalid argument.")
    posts = sorted(
        (p for p in call.state.posts.values() if p.account_id == location.id and not p.deleted_at),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    body: dict[str, Any] = {
        "localPosts": [
            _local_post(call.state, account_id, p) for p in posts[offset : offset + size]
        ]
    }
    if offset + size < len(posts):
        body["nextPageToken"] = _page_token(offset + size)
    return await call.answer(JSONResponse(body))


def _owned_post(call: Call, location: Account, post_id: str) -> Post | None:
    post = call.state.live_post(post_id)
    return post if post is not None and post.account_id == location.id else None


async def _local_post_call(
    request: Request, account_id: str, location_id: str, post_id: str
) -> tuple[Call, Account, Post] | Response:
    """The call, the location and its live post; or the answer that ends the call."""
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    post = _owned_post(call, location, post_id)
    if post is None:
        return not_found()
    return call, location, post


@router.get("/v4/accounts/{account_id}/locations/{location_id}/localPosts/{post_id}")
async def get_local_post(
    account_id: str, location_id: str, post_id: str, request: Request
) -> Response:
    found = await _local_post_call(request, account_id, location_id, post_id)
    if isinstance(found, Response):
        return found
    call, _, post = found
    return await call.answer(JSONResponse(_local_post(call.state, account_id, post)))


@router.delete("/v4/accounts/{account_id}/locations/{location_id}/localPosts/{post_id}")
async def delete_local_post(
    account_id: str, location_id: str, post_id: str, request: Request
) -> Response:
    found = await _local_post_call(request, account_id, location_id, post_id)
    if isinstance(found, Response):
        return found
    call, location, post = found
    if not _edit_allowed(call, location.id):
        return _edits_exhausted()
    post.deleted_at = call.now
    return await call.answer(JSONResponse({}))


# --- Reviews (v4) --------------------------------------------------------------------------------


def _review(account_id: str, review: activity.Review) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reviewId": review.id,
        "reviewer": {
            "profilePhotoUrl": "https://lh3.googleusercontent.com/a/default-user",
            "displayName": review.author,
        },
        "starRating": STARS[review.rating],
        "comment": review.text,
        "createTime": rfc3339(review.created_at),
        "updateTime": rfc3339(review.updated_at),
        "name": f"accounts/{account_id}/locations/{review.account_id}/reviews/{review.id}",
    }
    if review.reply_text is not None and review.reply_updated_at is not None:
        body["reviewReply"] = {
            "comment": review.reply_text,
            "updateTime": rfc3339(review.reply_updated_at),
        }
    return body


@router.get("/v4/accounts/{account_id}/locations/{location_id}/reviews")
async def list_reviews(account_id: str, location_id: str, request: Request) -> Response:
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    q = request.query_params
    size = _page_size(q.get("pageSize"), MAX_REVIEWS_PAGE, MAX_REVIEWS_PAGE)
    offset = _offset(q.get("pageToken"))
    order = " ".join(q.get("orderBy", "updateTime desc").split())
    if size is None or offset is None or order not in ("updateTime desc", "rating", "rating desc"):
        return invalid_argument("Request contains an invalid argument.")
    found = activity.reviews(call.state, location.id, call.now)
    if order == "updateTime desc":
        found.sort(key=lambda r: (r.updated_at, r.id), reverse=True)
    else:
        found.sort(key=lambda r: (r.rating, r.updated_at), reverse=order == "rating desc")
    body: dict[str, Any] = {
        "reviews": [_review(account_id, r) for r in found[offset : offset + size]],
        "totalReviewCount": len(found),
    }
    if found:
        body["averageRating"] = round(sum(r.rating for r in found) / len(found), 1)
    if offset + size < len(found):
        body["nextPageToken"] = _page_token(offset + size)
    return await call.answer(JSONResponse(body))


@router.put("/v4/accounts/{account_id}/locations/{location_id}/reviews/{review_id}/reply")
async def reply_review(
    account_id: str, location_id: str, review_id: str, request: Request
) -> Response:
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    review = activity.find_review(call.state, location.id, review_id, call.now)
    if review is None:
        return not_found()
    try:
        body = await request.json()
    except ValueError:
        body = None
    comment = body.get("comment") if isinstance(body, dict) else None
    if not isinstance(comment, str) or not comment.strip():
        return invalid_argument("Request contains an invalid argument: comment is required.")
    if len(comment.encode()) > MAX_REPLY_BYTES:
        return invalid_argument(
            f"The reply exceeds the maximum length of {MAX_REPLY_BYTES} bytes.", "invalidArgument"
        )
    if not _edit_allowed(call, location.id):
        return _edits_exhausted()
    review.set_reply(comment, call.now)
    reply = {"comment": comment, "updateTime": rfc3339(call.now)}
    return await call.answer(JSONResponse(reply))


@router.delete("/v4/accounts/{account_id}/locations/{location_id}/reviews/{review_id}/reply")
async def delete_review_reply(
    account_id: str, location_id: str, review_id: str, request: Request
) -> Response:
    """reviews.deleteReply: an empty object; 404 when the review has no reply."""
    call = await _begin(request, "mybusiness.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = _location(call, account_id, location_id)
    if isinstance(location, JSONResponse):
        return location
    review = activity.find_review(call.state, location.id, review_id, call.now)
    if review is None or review.reply_text is None:
        return not_found()
    if not _edit_allowed(call, location.id):
        return _edits_exhausted()
    review.set_reply(None, call.now)
    return await call.answer(JSONResponse({}))


# --- Performance API -----------------------------------------------------------------------------


def _split(total: int, parts: int, seed: int) -> list[int]:
    """``total`` in ``parts`` shares that add up exactly, the same for the same seed."""
    weights = [1 + (seed >> (4 * i)) % 7 for i in range(parts)]
    shares = [total * w // sum(weights) for w in weights]
    shares[-1] += total - sum(shares)
    return shares


def _range_date(q: Any, which: str) -> date | None:
    """``dailyRange.startDate.year`` etc.; Google's transcoding takes snake or camel case."""
    values: dict[str, int] = {}
    for part in ("year", "month", "day"):
        raw = None
        for outer in ("dailyRange", "daily_range"):
            for inner in (f"{which}Date", f"{which}_date"):
                raw = raw or q.get(f"{outer}.{inner}.{part}")
        if raw is None:
            return None
        try:
            values[part] = int(raw)
        except ValueError:
            return None
    try:
        return date(values["year"], values["month"], values["day"])
    except ValueError:
        return None


@router.get("/v1/locations/{location_id}:fetchMultiDailyMetricsTimeSeries")
async def fetch_metrics(location_id: str, request: Request) -> Response:
    call = await _begin(request, "businessprofileperformance.googleapis.com")
    if isinstance(call, JSONResponse):
        return call
    location = call.state.accounts.get(location_id)
    if location is None or location.kind != "location":
        return not_found()
    owner = call.state.accounts.get(location.owner_id or "")
    if owner is None or owner.owner_id != call.token.subject:
        return _denied()
    q = request.query_params
    wanted = q.getlist("dailyMetrics") or q.getlist("daily_metrics")
    known = set(IMPRESSIONS) | set(CLICKS) | set(OTHER_METRICS)
    if not wanted:
        return invalid_argument("Request contains an invalid argument: dailyMetrics is required.")
    for i, metric in enumerate(wanted):
        if metric not in known:
            return invalid_argument(
                f"Invalid value at 'daily_metrics[{i}]' "
                f'(type.googleapis.com/google.type.DailyMetric), "{metric}"'
            )
    start, end = _range_date(q, "start"), _range_date(q, "end")
    if start is None or end is None or end < start:
        return invalid_argument("Request contains an invalid argument: invalid dailyRange.")
    today = activity.utc_day(call.now)
    by_metric: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    for day in activity.days(start, end):
        values: dict[str, int] = {}
        if day <= today:
            numbers = activity.daily_metrics(call.state, location.id, day)
            seed = day.toordinal() * 31 + int(location.id) % 1000
            values.update(zip(IMPRESSIONS, _split(numbers.impressions, 4, seed), strict=True))
            values.update(zip(CLICKS, _split(numbers.clicks, 3, seed), strict=True))
        for metric in wanted:
            point: dict[str, Any] = {"date": {"year": day.year, "month": day.month, "day": day.day}}
            if values.get(metric):  # int64 as a string; omitted when zero or not yet known
                point["value"] = str(values[metric])
            by_metric[metric].append(point)
    series = [
        {"dailyMetric": m, "timeSeries": {"datedValues": points}} for m, points in by_metric.items()
    ]
    body = {"multiDailyMetricTimeSeries": [{"dailyMetricTimeSeries": series}]}
    return await call.answer(JSONResponse(body))
