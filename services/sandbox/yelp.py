"""Yelp Fusion's read-only business API, as Chorus reads it.

- ``GET /v3/businesses/{id}``: the business (any id of letters, digits, ``-`` and ``_``
  exists, except ones starting with ``unknown``, which answer ``BUSINESS_NOT_FOUND``);
- ``GET /v3/businesses/{id}/reviews?limit=&offset=&sort_by=newest``: the business's reviews
  (the same history ``activity`` gives every platform), newest first, ``time_created`` in
  Pacific time as Yelp writes it.

Auth is the app's API key as a Bearer token (any non-empty key). Faults: ``rate_limited`` →
429 ``TOO_MANY_REQUESTS_PER_SECOND``, ``server_error`` → 500 ``INTERNAL_ERROR``,
``auth_revoked`` → 401 ``TOKEN_INVALID``. 5000 calls per key per 24 h, then
``ACCESS_LIMIT_REACHED``. Where it departs from Yelp: the real API returns at most 3 reviews
per business on most plans; this one pages through them all.

Mount it with :func:`install` (it also lets ``/_sandbox/reviews/yelp/...`` add and edit
reviews).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services.sandbox import activity
from services.sandbox.config import Window
from services.sandbox.deps import bearer, sandbox
from services.sandbox.faults import FaultKind

PLATFORM = "yelp"
DAILY = Window(5000, 24 * 3600)
MAX_LIMIT = 50
_ID = re.compile(r"^[A-Za-z0-9_-]{3,120}$")
_PACIFIC = ZoneInfo("America/Los_Angeles")

router = APIRouter(tags=["yelp"])


def install(app: FastAPI) -> None:
    """Serve Yelp under ``/yelp`` and let the admin API manage its reviews."""
    if PLATFORM in app.state.platforms:
        return
    app.include_router(router, prefix=f"/{PLATFORM}")
    app.state.platforms = frozenset({*app.state.platforms, PLATFORM})


def _error(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"error": {"code": code, "description": description}}, status_code=status, headers=headers
    )


async def _begin(request: Request, business_id: str) -> Response | None:
    """Checks every call passes: the key, the business, faults and the daily window."""
    box = sandbox(request)
    state = box.platform(PLATFORM)
    key = bearer(request)
    if not key:
        return _error(400, "TOKEN_MISSING", "An access token must be supplied.")
    fault = await box.faults.before_call(PLATFORM)
    now = box.clock.now()
    if fault is FaultKind.RATE_LIMITED:
        retry = str(max(1, int(state.windows.fault_retry_after_s)))
        return _error(
            429,
            "TOO_MANY_REQUESTS_PER_SECOND",
            "You have exceeded the queries-per-second limit for this endpoint.",
            {"Retry-After": retry},
        )
    if fault is FaultKind.SERVER_ERROR:
        return _error(500, "INTERNAL_ERROR", "Something went wrong internally, try again.")
    if fault is FaultKind.AUTH_REVOKED:
        return _error(401, "TOKEN_INVALID", "Invalid access token or authorization header.")
    status = state.windows.hit(f"{key}:daily", DAILY, now)
    if not status.allowed:
        return _error(
            429,
            "ACCESS_LIMIT_REACHED",
            "You've reached the access limit for this client.",
            {"Retry-After": str(max(1, int(status.reset_at - now)))},
        )
    if not _ID.match(business_id) or business_id.startswith("unknown"):
        return _error(404, "BUSINESS_NOT_FOUND", "The requested business could not be found.")
    return None


@router.get("/v3/businesses/{business_id}")
async def business(business_id: str, request: Request) -> Response:
    refused = await _begin(request, business_id)
    if refused is not None:
        return refused
    return JSONResponse(
        {
            "id": business_id,
            "alias": business_id.lower(),
            "name": f"Yelp business {business_id}",
            "url": f"https://www.yelp.com/biz/{business_id.lower()}",
            "rating": 4.0,
            "location": {"city": "Springfield", "country": "US"},
        }
    )


def _pacific(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(_PACIFIC).strftime("%Y-%m-%d %H:%M:%S")


def _review(business_id: str, review: activity.Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "url": f"https://www.yelp.com/biz/{business_id.lower()}?hrid={review.id}",
        "text": review.text,
        "rating": review.rating,
        "time_created": _pacific(review.created_at),
        "user": {
            "id": f"u{abs(hash(review.author)) % 10**9}",
            "profile_url": "https://www.yelp.com/user_details?userid=sandbox",
            "image_url": None,
            "name": review.author,
        },
    }


@router.get("/v3/businesses/{business_id}/reviews")
async def reviews(business_id: str, request: Request) -> Response:
    refused = await _begin(request, business_id)
    if refused is not None:
        return refused
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
        offset = int(q.get("offset", "0"))
    except ValueError:
        return _error(400, "VALIDATION_ERROR", "limit and offset must be integers")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        return _error(400, "VALIDATION_ERROR", f"limit must be 1..{MAX_LIMIT}, offset >= 0")
    if q.get("sort_by", "yelp_sort") not in ("yelp_sort", "newest"):
        return _error(400, "VALIDATION_ERROR", "sort_by must be yelp_sort or newest")
    box = sandbox(request)
    found = activity.reviews(box.platform(PLATFORM), business_id, box.clock.now())
    found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return JSONResponse(
        {
            "reviews": [_review(business_id, r) for r in found[offset : offset + limit]],
            "total": len(found),
            "possible_languages": ["en"],
        }
    )
