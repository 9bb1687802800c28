"""Facebook Pages through the Graph API (``/v21.0``): OAuth dialog and code exchange, the user's
pages with page tokens, page feed posts (publish, fetch, delete).

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
  ``POST /_sandbox/tokens/facebook/revoke`` revokes it for good.
"""

import json
import math
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox.deps import bearer, client_ref, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.ratelimit import WindowStatus
from services.sandbox.state import (
    Account,
    AuthCode,
    PlatformState,
    Post,
    Sandbox,
    Token,
    TokenKind,
    TokenProblem,
    new_code,
)

PLATFORM = "facebook"
VERSION = "v21.0"
MAX_MESSAGE_LENGTH = 63_206
PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]

router = APIRouter(prefix=f"/{VERSION}", tags=["facebook"])


def graph_error(
    status: int,
    message: str,
    code: int,
    *,
    subcode: int | None = None,
    transient: bool = False,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _usage_headers(page_id: str, status: WindowStatus, now: float) -> dict[str, str]:
    pct = min(100, math.floor(100 * status.used / status.limit)) if status.limit else 100
    regain = 0 if status.remaining else max(1, math.ceil((status.reset_at - now) / 60))
    app = {"call_count": pct, "total_cputime": pct, "total_time": pct}
    buc = {
        page_id: [
            {
                "type": "pages",
                "call_count": pct,
                "total_cputime": pct,
                "total_time": pct,
                "estimated_time_to_regain_access": regain,
            }
        ]
    }
    return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method in ("POST", "DELETE"):
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await request.json()
            if isinstance(body, dict):
                params.update({k: str(v) for k, v in body.items() if v is not None})
        elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _token_error(problem: TokenProblem) -> JSONResponse:
    if problem is TokenProblem.EXPIRED:
        return graph_error(
            400, "Error validating access token: Session has expired.", 190, subcode=463
        )
    if problem is TokenProblem.REVOKED:
        return _revoked()
    return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)


def _revoked() -> JSONResponse:
    return graph_error(
        400,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        190,
        subcode=460,
    )


class _Call:
    """An authenticated Graph call that passed the token check, the faults and the window."""

    def __init__(
        self,
        request: Request,
        box: Sandbox,
        state: PlatformState,
        token: Token,
        fault: FaultKind | None,
    ) -> None:
        self.request = request
        self.box, self.state, self.token, self.fault = box, state, token, fault
        self.headers: dict[str, str] = {}

    def json(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=self.headers)

    async def answer(self, response: Response) -> Response:
        if self.fault is FaultKind.ACCEPT_THEN_TIMEOUT:
            await self.box.faults.hold(PLATFORM, self.request)
        return response


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
        return _token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    window = box.config.facebook_page_window
    key = checked.subject
    if fault is FaultKind.RATE_LIMITED:
        status = state.windows.exhaust(key, window, now)
    else:
        status = state.windows.hit(key, window, now)
    headers = _usage_headers(key, status, now)
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
        return _revoked()
    call = _Call(request, box, state, checked, fault)
    call.headers = headers
    return call


def _no_object(object_id: str) -> JSONResponse:
    return graph_error(
        400,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        100,
        subcode=33,
    )


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
    code = state.issue_code(
        AuthCode(
            code=new_code(),
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user.id,
            expires_at=box.clock.now() + box.config.auth_code_ttl_s,
            scopes=scopes,
        )
    )
    back["code"] = code.code
    return RedirectResponse(with_query(redirect_uri, back), status_code=302)


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
            return _token_error(checked)
        if fault is FaultKind.AUTH_REVOKED:
            return _revoked()
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
            return _revoked()
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
        return _no_object(page_id)
    if call.token.kind is not TokenKind.PAGE or call.token.subject != page_id:
        return graph_error(
            403,
            "(#200) If posting to a page, requires both pages_read_engagement and "
            "pages_manage_posts as an admin with sufficient administrative permission",
            200,
        )
    message, link = params.get("message", ""), params.get("link") or None
    if not message and not link:
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
        )
    )
    return await call.answer(call.json({"id": post.id}))


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
        return _no_object(post_id)
    page_id, _, story = post.id.partition("_")
    created = _graph_time(post.created_at)
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


@router.delete("/{post_id}")
async def delete_post(post_id: str, request: Request) -> Response:
    call = await _begin(request, await _params(request), (TokenKind.PAGE,))
    if isinstance(call, JSONResponse):
        return call
    post = _owned_post(call, post_id)
    if post is None:
        return _no_object(post_id)
    post.deleted_at = call.box.clock.now()
    return await call.answer(call.json({"success": True}))


def _graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
