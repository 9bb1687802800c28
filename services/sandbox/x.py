"""X through API v2: OAuth 2.0 with PKCE, ``/2/users/me``, posts (create, lookup, delete).

Shapes follow X: the token endpoint takes a form body and answers OAuth errors
``{"error", "error_description"}``; API errors are problem objects ``{"title", "detail",
"type", "status"}``; every answer to an authenticated call carries ``x-rate-limit-limit``,
``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (epoch seconds) for that endpoint.

Sandbox choices:
- the authorize page consents at once (``sandbox_deny=1`` refuses) and creates a fresh user;
- PKCE: ``S256`` and ``plain``; a refresh token comes only with the ``offline.access`` scope, as
  on X, and rotates on every refresh (the old one stops working; old access tokens live on);
- rate windows are per user and endpoint (``SandboxConfig.x_windows``; POST /2/tweets 100 per
  15 min), so a refreshed token doesn't get a fresh window;
- a post lookup of an unknown or deleted id answers 200 with an ``errors`` array, as X does;
- like Facebook's, the ``auth_revoked`` fault answers 401 without revoking the token.
"""

import base64
import hashlib
import hmac
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
from shared.content.xtext import MAX_WEIGHTED_LENGTH, weighted_length

PLATFORM = "x"
PROBLEMS = "https://api.twitter.com/2/problems"

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


class _Call:
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
        return _json(body, status, self.headers)

    async def answer(self, response: Response) -> Response:
        if self.fault is FaultKind.ACCEPT_THEN_TIMEOUT:
            await self.box.faults.hold(PLATFORM, self.request)
        return response


async def _begin(request: Request, endpoint: str) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    now = box.clock.now()
    checked = state.check_token(bearer(request) or "", now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return _unauthorized()
    fault = await box.faults.before_call(PLATFORM)
    window = box.config.x_windows[endpoint]
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
    n = state.next_seq()
    user = Account(
        id=str(1_500_000_000_000_000_000 + n),
        name=f"Sandbox User {n}",
        kind="user",
        username=f"sandbox_user_{n}",
    )
    state.accounts[user.id] = user
    code = state.issue_code(
        AuthCode(
            code=new_code(),
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user.id,
            expires_at=box.clock.now() + box.config.auth_code_ttl_s,
            scopes=tuple(q.get("scope", "").split()),
            code_challenge=q["code_challenge"],
            code_challenge_method=method,
        )
    )
    back["code"] = code.code
    return RedirectResponse(with_query(redirect_uri, back), status_code=302)


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


@router.get("/2/users/me")
async def users_me(request: Request) -> Response:
    call = await _begin(request, "users.me")
    if isinstance(call, JSONResponse):
        return call
    user = call.state.accounts[call.token.subject]
    data = {"id": user.id, "name": user.name, "username": user.username}
    return await call.answer(call.json({"data": data}))


def _invalid(detail: str, parameter: str, message: str) -> dict[str, Any]:
    return problem(
        400,
        "Invalid Request",
        detail,
        f"{PROBLEMS}/invalid-request",
        errors=[{"parameters": {parameter: []}, "message": message}],
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
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        detail = "One or more parameters to your request was invalid."
        return call.json(_invalid(detail, "text", "$.text: is missing but it is required"), 400)
    if weighted_length(text) > MAX_WEIGHTED_LENGTH:
        detail = "Your Tweet text is too long."
        message = f"text must be at most {MAX_WEIGHTED_LENGTH} weighted characters"
        return call.json(_invalid(detail, "text", message), 400)
    post = call.state.store_post(
        Post(
            id=str(1_800_000_000_000_000_000 + call.state.next_seq()),
            account_id=call.token.subject,
            text=text,
            created_at=call.box.clock.now(),
            client_ref=client_ref(request),
        )
    )
    data = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    return await call.answer(call.json({"data": data}, 201))


@router.get("/2/tweets/{tweet_id}")
async def get_tweet(tweet_id: str, request: Request) -> Response:
    call = await _begin(request, "tweets.lookup")
    if isinstance(call, JSONResponse):
        return call
    post = call.state.live_post(tweet_id)
    if post is None:
        error = {
            "value": tweet_id,
            "detail": f"Could not find tweet with id: [{tweet_id}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "id",
            "resource_id": tweet_id,
            "type": f"{PROBLEMS}/resource-not-found",
        }
        return await call.answer(call.json({"errors": [error]}))
    data = {
        "id": post.id,
        "text": post.text,
        "author_id": post.account_id,
        "edit_history_tweet_ids": [post.id],
    }
    return await call.answer(call.json({"data": data}))


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
