"""Facebook Pages through the Graph API (``/v21.0``): OAuth dialog and code exchange, the user's
pages with page tokens, page feed posts (publish, fetch, delete), recommendations (ratings)
and the page's reply to one: a comment on its story, edited with ``POST /{comment-id}`` and
removed with ``DELETE /{comment-id}``.

Shapes follow Graph: parameters in the query, a form body or JSON; the token as
``Authorization: Bearer`` or ``access_token``; errors as ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`` with HTTP 400 (403 for permissions, 500 for transient ones).
Every authenticated answer carries ``X-App-Usage`` and ``X-Business-Use-Case-Usage``.

Sandbox choices, where Graph can't be modelled exactly:
- the OAuth dialog consents at once (``sandbox_deny=1`` makes it refuse) and creates a fresh user
  with ``facebook_pages_per_user`` pages; the code exchange returns the long-lived (60-day) user
  token straight away (``grant_type=fb_exchange_token`` is accepted as well);
- the rate limit is the Pages Business Use Case window per page (4800 calls / 24 h), and
  exhausting it — or the ``rate_limited`` fault — answers **429** with code 32 and both usage
  headers at 100 (``estimated_time_to_regain_access`` in minutes), where Graph itself uses 400;
- the ``auth_revoked`` fault answers code 190 / subcode 460 without revoking the token;
  ``POST /_sandbox/tokens/facebook/revoke`` revokes it for good;
- a recommendation shows one page reply: a second comment replaces the first;
- Post Insights (``GET /{post-id}/insights``, lifetime) are derived from the post id and grow
  with the post's age in whole days for its first ``POST_GROWTH_DAYS`` (stable within a day).
"""

import base64
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox import activity, media_check
from services.sandbox.call import PlatformCall
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
    Post,
    TokenKind,
    TokenProblem,
)

PLATFORM = "facebook"
VERSION = "v21.0"
MAX_MESSAGE_LENGTH = 63_206
PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]

router = APIRouter(prefix=f"/{VERSION}", tags=["facebook"])


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method in ("POST", "DELETE"):
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await request.json()
            if isinstance(body, dict):
                params.update(
                    {
                        k: v if isinstance(v, str) else json.dumps(v)
                        for k, v in body.items()
                        if v is not None
                    }
                )
        elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


class _Call(PlatformCall):
    """An authenticated Graph call that passed the token check, the faults and the window."""

    platform = PLATFORM


async def _begin(
    request: Request, params: dict[str, str], kinds: tuple[TokenKind, ...]
) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    value = bearer(request) or params.get("access_token")
    if not value:
        return graph_error(400, "An access token is required to request this resource.", 104)
    now = box.clock.now()
    checked = state.check_token(value, now, kinds)
    if isinstance(checked, TokenProblem):
        return token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    window = box.config.facebook_page_window
    key = checked.subject
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, window, now)
    else:
        status = state.windows.hit(key, window, now)
    headers = usage_headers(key, status, now, "pages")
    if fault is FaultKind.RATE_LIMITED or not status.allowed:
        return graph_error(429, "(#32) Page request limit reached", 32, headers=headers)
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
    call = _Call(request, box, state, checked, fault)
    call.headers = headers
    return call


# --- OAuth ------------------------------------------------------------------------------------


@router.get("/dialog/oauth")
async def oauth_dialog(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    params = dict(request.query_params)
    client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
    if not client_id or not redirect_uri:
        return graph_error(400, "Missing client_id or redirect_uri parameter.", 100)
    back: dict[str, str] = {}
    if params.get("state") is not None:
        back["state"] = params["state"]
    if params.get("sandbox_deny") == "1":
        back.update(
            error="access_denied",
            error_code="200",
            error_description="Permissions error",
            error_reason="user_denied",
        )
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    n = state.next_seq()
    user = Account(id=str(10_000_000_000 + n), name=f"Sandbox User {n}", kind="user")
    state.accounts[user.id] = user
    for i in range(1, box.config.facebook_pages_per_user + 1):
        page_id = str(100_000_000_000_000 + n * 100 + i)
        state.accounts[page_id] = Account(
            id=page_id, name=f"Sandbox Page {n}.{i}", kind="page", owner_id=user.id
        )
    scopes = tuple(s for s in params.get("scope", "").replace(" ", ",").split(",") if s)
    return consent_redirect(
        box,
        state,
        back,
        client_id=client_id,
        redirect_uri=redirect_uri,
        user_id=user.id,
        scopes=scopes,
    )


@router.api_route("/oauth/access_token", methods=["GET", "POST"])
async def oauth_access_token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    params = await _params(request)
    now = box.clock.now()
    client_id = params.get("client_id")
    if not client_id:
        return graph_error(400, "Missing client_id parameter.", 101)
    if not params.get("client_secret"):
        return graph_error(400, "Missing client_secret parameter.", 1)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return graph_error(500, "An unexpected error has occurred.", 2, transient=True)
    if fault is FaultKind.RATE_LIMITED:
        return graph_error(429, "(#4) Application request limit reached", 4)
    if params.get("grant_type") == "fb_exchange_token":
        checked = state.check_token(params.get("fb_exchange_token", ""), now, (TokenKind.USER,))
        if isinstance(checked, TokenProblem):
            return token_error(checked)
        if fault is FaultKind.AUTH_REVOKED:
            return revoked()
        user_id, scopes = checked.subject, checked.scopes
    else:
        code = state.take_code(params.get("code", ""), now)
        if code is None or code.client_id != client_id:
            return graph_error(
                400, "This authorization code has been used or has expired.", 100, subcode=36009
            )
        if code.redirect_uri != params.get("redirect_uri"):
            return graph_error(
                400,
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                100,
                subcode=36008,
            )
        if fault is FaultKind.AUTH_REVOKED:
            return revoked()
        user_id, scopes = code.user_id, code.scopes
    ttl = box.config.facebook_user_token_ttl_s
    token = state.issue_token(TokenKind.USER, user_id, client_id, now + ttl, scopes, prefix="EAA")
    body = {"access_token": token.value, "token_type": "bearer", "expires_in": ttl}
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


# --- Graph API --------------------------------------------------------------------------------


@router.get("/me")
async def me(request: Request) -> Response:
    call = await _begin(request, await _params(request), (TokenKind.USER, TokenKind.PAGE))
    if isinstance(call, JSONResponse):
        return call
    account = call.state.accounts[call.token.subject]
    return await call.answer(call.json({"id": account.id, "name": account.name}))


@router.get("/me/accounts")
async def me_accounts(request: Request) -> Response:
    call = await _begin(request, await _params(request), (TokenKind.USER,))
    if isinstance(call, JSONResponse):
        return call
    user_id = call.token.subject
    pages = [a for a in call.state.accounts.values() if a.kind == "page" and a.owner_id == user_id]
    data = []
    for page in pages:
        token = next(
            (
                t
                for t in call.state.tokens.values()
                if t.kind is TokenKind.PAGE
                and t.subject == page.id
                and t.client_id == call.token.client_id
                and not t.revoked
            ),
            None,
        ) or call.state.issue_token(
            TokenKind.PAGE, page.id, call.token.client_id, None, call.token.scopes, prefix="EAA"
        )
        data.append(
            {
                "access_token": token.value,
                "category": "Local business",
                "name": page.name,
                "id": page.id,
                "tasks": PAGE_TASKS,
            }
        )
    cursors = {"before": data[0]["id"], "after": data[-1]["id"]} if data else {}
    return await call.answer(call.json({"data": data, "paging": {"cursors": cursors}}))


@router.post("/{page_id}/feed")
async def publish(page_id: str, request: Request) -> Response:
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE, TokenKind.USER))
    if isinstance(call, JSONResponse):
        return call
    page = call.state.accounts.get(page_id)
    if page is None or page.kind != "page":
        return no_object(page_id)
    if call.token.kind is not TokenKind.PAGE or call.token.subject != page_id:
        return graph_error(
            403,
            "(#200) If posting to a page, requires both pages_read_engagement and "
            "pages_manage_posts as an admin with sufficient administrative permission",
            200,
        )
    message, link = params.get("message", ""), params.get("link") or None
    attached = _attached_media(params)
    if attached is None:
        return graph_error(400, "(#100) param attached_media must be an array of objects", 100)
    unknown = [fbid for fbid in attached if fbid not in call.state.photos]
    if unknown:
        return no_object(unknown[0])
    if not message and not link and not attached:
        return graph_error(400, "(#100) Missing message or attachment", 100)
    if len(message) > MAX_MESSAGE_LENGTH:
        return graph_error(
            400,
            f"(#100) Param message must be at most {MAX_MESSAGE_LENGTH} characters long",
            100,
        )
    post = call.state.store_post(
        Post(
            id=f"{page_id}_{call.state.next_seq() + 1_000_000_000}",
            account_id=page_id,
            text=message,
            link=link,
            created_at=call.box.clock.now(),
            client_ref=client_ref(request),
            media=tuple(call.state.photos.pop(fbid) for fbid in attached),
        )
    )
    return await call.answer(call.json({"id": post.id}))


def _attached_media(params: dict[str, str]) -> list[str] | None:
    """``attached_media`` as a JSON array, or form fields ``attached_media[0]`` …, each
    ``{"media_fbid": "…"}``; ``None`` when malformed."""
    raw = [params["attached_media"]] if "attached_media" in params else []
    raw += [v for k, v in sorted(params.items()) if k.startswith("attached_media[")]
    ids: list[str] = []
    for item in raw:
        try:
            value = json.loads(item)
        except ValueError:
            return None
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, dict) or not entry.get("media_fbid"):
                return None
            ids.append(str(entry["media_fbid"]))
    return ids


def _owned_post(call: _Call, post_id: str) -> Post | None:
    post = call.state.live_post(post_id)
    if post is None:
        return None
    page = call.state.accounts[post.account_id]
    subject = call.token.subject
    return post if subject in (page.id, page.owner_id) else None


@router.get("/{post_id}")
async def get_post(post_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request), (TokenKind.PAGE, TokenKind.USER))
    if isinstance(call, JSONResponse):
        return call
    post = _owned_post(call, post_id)
    if post is None:
        return no_object(post_id)
    page_id, _, story = post.id.partition("_")
    created = graph_time(post.created_at)
    body: dict[str, Any] = {
        "id": post.id,
        "message": post.text,
        "created_time": created,
        "permalink_url": f"https://www.facebook.com/{page_id}/posts/{story}",
    }
    if post.link:
        body["link"] = post.link
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if fields:
        body = {k: v for k, v in body.items() if k in fields or k == "id"}
    return await call.answer(call.json(body))


@router.delete("/me/permissions")
async def revoke_login(request: Request) -> Response:
    """Revokes the app's login: the token used (and, for a page token, only it) stops
    working for good."""
    call = await _begin(request, await _params(request), (TokenKind.USER, TokenKind.PAGE))
    if isinstance(call, JSONResponse):
        return call
    call.token.revoked = True
    return await call.answer(call.json({"success": True}))


@router.delete("/{post_id}")
async def delete_post(post_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request), (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    review = _reply(call, post_id) if "-r" in post_id else None
    if review is not None:  # a comment: the page's reply to a recommendation
        review.set_reply(None, call.box.clock.now())
        return await call.answer(call.json({"success": True}))
    post = _owned_post(call, post_id)
    if post is None:
        return no_object(post_id)
    post.deleted_at = call.box.clock.now()
    return await call.answer(call.json({"success": True}))


# --- Photos, listing, ratings, insights ------------------------------------------------------
# Declared after the routes above on purpose: ``/me/accounts`` must match before
# ``/{page_id}/{edge}``.


def _page_call(call: _Call, page_id: str) -> JSONResponse | None:
    """The page must exist and the token must be that page's own token."""
    page = call.state.accounts.get(page_id)
    if page is None or page.kind != "page":
        return no_object(page_id)
    if call.token.kind is not TokenKind.PAGE or call.token.subject != page_id:
        return graph_error(403, "(#200) The page access token of this page is required", 200)
    return None


@router.post("/{page_id}/photos")
async def publish_photo(page_id: str, request: Request) -> Response:
    """A photo by URL: published at once as a post (``post_id``), or with ``published=false``
    kept for a multi-photo post (``attached_media`` on ``/feed``)."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE, TokenKind.USER))
    if isinstance(call, JSONResponse):
        return call
    refused = _page_call(call, page_id)
    if refused is not None:
        return refused
    url = params.get("url", "")
    if not url.startswith(("http://", "https://")):
        return graph_error(400, "(#324) Requires upload file", 324)
    got = await media_check.receive_link(PLATFORM, "feed", url)
    if got is not None:
        call.state.received_media.append(got)
        if not got.accepted:
            # Graph's answer to a photo it cannot use: "(#324) Missing or invalid image file".
            return graph_error(
                400, f"(#324) Missing or invalid image file: {'; '.join(got.problems)}", 324
            )
    photo_id = str(2_000_000_000_000 + call.state.next_seq())
    call.state.photos[photo_id] = url
    if params.get("published", "true").lower() == "false":
        return await call.answer(call.json({"id": photo_id}))
    caption = params.get("caption") or params.get("message", "")
    post = call.state.store_post(
        Post(
            id=f"{page_id}_{call.state.next_seq() + 1_000_000_000}",
            account_id=page_id,
            text=caption,
            created_at=call.box.clock.now(),
            client_ref=client_ref(request),
            media=(url,),
        )
    )
    return await call.answer(call.json({"id": photo_id, "post_id": post.id}))


def _post_fields(post: Post) -> dict[str, Any]:
    page_id, _, story = post.id.partition("_")
    body: dict[str, Any] = {
        "id": post.id,
        "message": post.text,
        "created_time": graph_time(post.created_at),
        "permalink_url": f"https://www.facebook.com/{page_id}/posts/{story}",
    }
    if post.link:
        body["link"] = post.link
    return body


@router.get("/{page_id}/published_posts")
async def published_posts(page_id: str, request: Request) -> Response:
    """The page's posts, newest first; ``since`` (epoch seconds), ``limit``, ``after``."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    refused = _page_call(call, page_id)
    if refused is not None:
        return refused
    since = float(params.get("since") or 0)
    limit = max(1, min(int(params.get("limit") or 25), 100))
    posts = sorted(
        (
            p
            for p in call.state.posts.values()
            if p.account_id == page_id and p.deleted_at is None and p.created_at >= since
        ),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    return await call.answer(call.json(_paged([_post_fields(p) for p in posts], params, limit)))


def _paged(items: list[dict[str, Any]], params: dict[str, str], limit: int) -> dict[str, Any]:
    """Graph cursor paging: ``after`` is an opaque offset here."""
    start = int(_b64d(params["after"])) if params.get("after") else 0
    page = items[start : start + limit]
    body: dict[str, Any] = {"data": page}
    if page:
        cursors = {"before": _b64e(str(start)), "after": _b64e(str(start + len(page)))}
        body["paging"] = {"cursors": cursors}
        if start + len(page) < len(items):
            body["paging"]["next"] = f"https://graph.facebook.com/{VERSION}/next"
    return body


def _b64e(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _b64d(text: str) -> str:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except ValueError:
        return "0"


@router.get("/{page_id}/ratings")
async def ratings(page_id: str, request: Request) -> Response:
    """Recommendations (reviews) on the page, newest first. A 1–5 rating maps onto
    ``recommendation_type`` (4–5 positive, else negative) and is kept in ``rating``, which
    older pages still carry."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    refused = _page_call(call, page_id)
    if refused is not None:
        return refused
    limit = max(1, min(int(params.get("limit") or 25), 100))
    found = activity.reviews(call.state, page_id, call.box.clock.now())
    items = []
    for review in sorted(found, key=lambda r: (r.created_at, r.id), reverse=True):
        item: dict[str, Any] = {
            "created_time": graph_time(review.created_at),
            "recommendation_type": "positive" if review.rating >= 4 else "negative",
            "rating": review.rating,
            "review_text": review.text,
            "has_review": True,
            "has_rating": True,
            "reviewer": {"name": review.author, "id": f"u{abs(hash(review.author)) % 10**9}"},
            "open_graph_story": {"id": review.id},
        }
        if review.reply_text is not None and review.reply_updated_at is not None:
            item["replies"] = {
                "data": [
                    {
                        "id": review.reply_id,
                        "message": review.reply_text,
                        "created_time": graph_time(review.reply_updated_at),
                        "from": {"id": page_id},
                    }
                ]
            }
        items.append(item)
    return await call.answer(call.json(_paged(items, params, limit)))


@router.post("/{object_id}/comments")
async def comment(object_id: str, request: Request) -> Response:
    """A page's comment on a recommendation (its ``open_graph_story``): the review reply."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    page_id = object_id.rsplit("-r", 1)[0]
    now = call.box.clock.now()
    review = activity.find_review(call.state, page_id, object_id, now)
    if review is None or call.token.subject != page_id:
        return no_object(object_id)
    message = params.get("message", "").strip()
    if not message:
        return graph_error(400, "(#100) Missing message", 100)
    reply_id = f"{object_id}_{call.state.next_seq()}"
    review.set_reply(message, now, reply_id)
    return await call.answer(call.json({"id": reply_id}))


def _reply(call: _Call, comment_id: str) -> activity.Review | None:
    """The recommendation whose page reply is ``comment_id``, if the token's page owns it."""
    review_id = comment_id.rpartition("_")[0]
    page_id = review_id.rsplit("-r", 1)[0]
    if not review_id or call.token.subject != page_id:
        return None
    review = activity.find_review(call.state, page_id, review_id, call.box.clock.now())
    return review if review is not None and review.reply_id == comment_id else None


@router.post("/{comment_id}")
async def edit_comment(comment_id: str, request: Request) -> Response:
    """Updating a comment: a new ``message`` for the page's reply to a recommendation."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    review = _reply(call, comment_id)
    if review is None:
        return no_object(comment_id)
    message = params.get("message", "").strip()
    if not message:
        return graph_error(400, "(#100) Missing message", 100)
    review.set_reply(message, call.box.clock.now(), comment_id)
    return await call.answer(call.json({"success": True}))


INSIGHT_METRICS = {
    "page_follows": "followers",
    "page_impressions": "impressions",
    "page_impressions_unique": "reach",
    "page_post_engagements": "engagements",
    "page_total_actions": "clicks",
}


@router.get("/{page_id}/insights")
async def insights(page_id: str, request: Request) -> Response:
    """Page Insights by day: ``metric`` (comma-separated), ``period=day``, ``since``/``until``
    (dates or epoch seconds). Each value's ``end_time`` is the end of its day. A post id
    (``{page}_{story}``) gets its Post Insights instead."""
    if "_" in page_id:
        return await _post_insights(page_id, request)
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    refused = _page_call(call, page_id)
    if refused is not None:
        return refused
    names = [m for m in params.get("metric", "").split(",") if m]
    unknown = [m for m in names if m not in INSIGHT_METRICS]
    if not names or unknown:
        return graph_error(
            400, f"(#100) The value must be a valid insights metric: {','.join(unknown)}", 100
        )
    if params.get("period", "day") != "day":
        return graph_error(400, "(#100) Only period=day is served by the sandbox", 100)
    today = activity.utc_day(call.box.clock.now())
    since = _day_param(params.get("since")) or today - timedelta(days=2)
    until = _day_param(params.get("until")) or today
    if (until - since).days > 93:
        return graph_error(
            400, "(#100) There cannot be more than 93 days (8035200 s) between since and until", 100
        )
    days = activity.days(since, until - timedelta(days=1)) if until > since else []
    rows = [activity.daily_metrics(call.state, page_id, d) for d in days]
    data = [
        {
            "name": name,
            "period": "day",
            "values": [
                {
                    "value": getattr(row, INSIGHT_METRICS[name]),
                    "end_time": graph_time(
                        datetime.combine(row.day + timedelta(days=1), time(8), UTC).timestamp()
                    ),
                }
                for row in rows
            ],
            "id": f"{page_id}/insights/{name}/day",
        }
        for name in names
    ]
    return await call.answer(call.json({"data": data}))


POST_INSIGHT_METRICS = (
    "post_impressions",
    "post_impressions_unique",
    "post_clicks",
    "post_reactions_by_type_total",
)
POST_GROWTH_DAYS = 7
REACTION_TYPES = ("like", "love", "wow", "haha", "sorry", "anger")


def post_insights(post: Post, now: float) -> dict[str, Any]:
    """A post's lifetime Post Insights: stable per post id, growing by day of age."""
    rng, share = activity.post_numbers("facebook-post", post, now, POST_GROWTH_DAYS)
    impressions = int(rng.randint(200, 8000) * share)
    reach = int(impressions * rng.uniform(0.6, 0.9))
    weights = [rng.uniform(0.0, 1.0) for _ in REACTION_TYPES]
    weights[0] += 3.0  # most reactions are likes
    reactions_total = int(reach * rng.uniform(0.01, 0.06))
    reactions = {
        t: int(reactions_total * w / sum(weights))
        for t, w in zip(REACTION_TYPES, weights, strict=True)
    }
    return {
        "post_impressions": impressions,
        "post_impressions_unique": reach,
        "post_clicks": int(reach * rng.uniform(0.005, 0.04)),
        "post_reactions_by_type_total": {t: n for t, n in reactions.items() if n},
    }


async def _post_insights(post_id: str, request: Request) -> Response:
    """Post Insights, ``period=lifetime``: ``metric`` is required (comma-separated)."""
    params = await _params(request)
    call = await _begin(request, params, (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    post = _owned_post(call, post_id)
    if post is None:
        return no_object(post_id)
    names = [m for m in params.get("metric", "").split(",") if m]
    unknown = [m for m in names if m not in POST_INSIGHT_METRICS]
    if not names or unknown:
        return graph_error(
            400, f"(#100) The value must be a valid insights metric: {','.join(unknown)}", 100
        )
    values = post_insights(post, call.box.clock.now())
    data = [
        {
            "name": name,
            "period": "lifetime",
            "values": [{"value": values[name]}],
            "id": f"{post_id}/insights/{name}/lifetime",
        }
        for name in names
    ]
    return await call.answer(call.json({"data": data}))


def _day_param(raw: str | None) -> date | None:
    """Graph's ``since``/``until``: a date, or epoch seconds. ``until`` is exclusive."""
    if not raw:
        return None
    if raw.isdigit():
        return activity.utc_day(float(raw))
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None
