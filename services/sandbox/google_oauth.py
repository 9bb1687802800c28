"""Google's OAuth 2.0 endpoints and API error shapes, shared by the Google platforms (Business
Profile, YouTube). Each platform prefix serves its own copy of the endpoints:

- ``GET /o/oauth2/v2/auth`` (accounts.google.com): consents at once with a 302 to
  ``redirect_uri`` carrying ``code`` and ``state``; ``sandbox_deny=1`` redirects with
  ``error=access_denied`` instead. Creates a fresh user and lets the platform create its
  accounts (locations, a channel). PKCE ``S256`` and ``plain`` are accepted, as Google does.
- ``POST /token`` (oauth2.googleapis.com): form body; ``authorization_code`` (with
  ``code_verifier`` when the consent carried a challenge) and ``refresh_token``. Access tokens
  live 3,599 s; the refresh token is issued once, at consent with ``access_type=offline``, and
  never rotates (a refresh answer has no ``refresh_token``). Errors are
  ``{"error", "error_description"}``: ``invalid_grant`` for a bad, used or expired code, a
  wrong verifier, or a revoked refresh token; ``invalid_client`` (401) without client
  credentials.
- ``POST /revoke?token=…`` (also a form ``token``): revoking either token revokes the whole
  grant (the refresh token and every access token of that user and client), as Google does.

API errors follow Google's JSON error format: ``{"error": {"code", "message", "status",
"errors": [{"message", "domain", "reason"}]}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.sandbox.call import PlatformCall
from services.sandbox.deps import bearer, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.state import (
    Account,
    AuthCode,
    PlatformState,
    Sandbox,
    Token,
    TokenKind,
    TokenProblem,
    new_code,
)

ACCESS_TOKEN_TTL_S = 3599
"""Google access tokens: ``expires_in`` 3599."""

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

CreateAccounts = Callable[[Sandbox, PlatformState, Account], None]


def google_error(
    code: int,
    message: str,
    reason: str,
    *,
    status: str | None = None,
    domain: str = "global",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Google's JSON error body, with the legacy ``errors`` array the v3/v4 APIs still send."""
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason, **extra}
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": status or STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }
    return JSONResponse(body, status_code=code, headers=headers)


def unauthenticated() -> JSONResponse:
    return google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError",
        location="Authorization",
        locationType="header",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def insufficient_scope() -> JSONResponse:
    return google_error(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        status="PERMISSION_DENIED",
    )


def unavailable() -> JSONResponse:
    return google_error(503, "The service is currently unavailable.", "backendError")


def not_found(
    message: str = "Requested entity was not found.", reason: str = "notFound"
) -> JSONResponse:
    return google_error(404, message, reason)


def invalid_argument(message: str, reason: str = "badRequest") -> JSONResponse:
    return google_error(400, message, reason, status="INVALID_ARGUMENT")


class Call(PlatformCall):
    """An authenticated call that passed the token check and the faults (of the Google
    platform named by ``platform``: both Google platforms share this module)."""

    def __init__(
        self,
        platform: str,
        request: Request,
        box: Sandbox,
        state: PlatformState,
        token: Token,
        fault: FaultKind | None,
    ) -> None:
        self.platform = platform
        super().__init__(request, box, state, token, fault)


async def begin(
    request: Request,
    platform: str,
    scopes: frozenset[str],
    *,
    rate_limited: Callable[[], JSONResponse],
) -> Call | JSONResponse:
    """Token check (401 for unknown/expired/revoked, 403 for a missing scope), then the fault
    roll: ``server_error`` → 503, ``rate_limited`` → the platform's own answer,
    ``auth_revoked`` → 401 (without revoking the token)."""
    box = sandbox(request)
    state = box.platform(platform)
    checked = state.check_token(bearer(request) or "", box.clock.now(), (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return unauthenticated()
    if scopes and not scopes.intersection(checked.scopes):
        return insufficient_scope()
    fault = await box.faults.before_call(platform)
    if fault is FaultKind.SERVER_ERROR:
        return unavailable()
    if fault is FaultKind.RATE_LIMITED:
        return rate_limited()
    if fault is FaultKind.AUTH_REVOKED:
        return unauthenticated()
    return Call(platform, request, box, state, checked, fault)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """``client_id``/``client_secret`` from the form, or HTTP Basic (both are accepted)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            cid, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        return cid or None, secret or None
    return form.get("client_id") or None, form.get("client_secret") or None


async def _form(request: Request) -> dict[str, str]:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    for k, v in request.query_params.items():
        form.setdefault(k, v)
    return form


def add_oauth_routes(
    router: APIRouter, platform: str, create_accounts: CreateAccounts, user_id: Callable[[int], str]
) -> None:
    """Register the authorize, token and revoke endpoints for ``platform`` on ``router``."""

    async def authorize(request: Request) -> Response:
        box = sandbox(request)
        state = box.platform(platform)
        q = dict(request.query_params)
        redirect_uri, client_id = q.get("redirect_uri"), q.get("client_id")
        if not redirect_uri or not client_id:
            # Google shows its own error page; it never redirects without a valid client.
            return HTMLResponse(
                "<h1>Error 400: invalid_request</h1><p>Missing required parameter: "
                f"{'client_id' if not client_id else 'redirect_uri'}</p>",
                status_code=400,
            )
        back = {"state": q["state"]} if "state" in q else {}
        problem = None
        if q.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif not q.get("scope"):
            problem = "invalid_scope"  # "Missing required parameter: scope"
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method", "plain")
        if challenge and method not in ("S256", "plain"):
            problem = "invalid_request"
        if problem:
            return RedirectResponse(with_query(redirect_uri, {**back, "error": problem}), 302)
        if q.get("sandbox_deny") == "1":
            back["error"] = "access_denied"
            return RedirectResponse(with_query(redirect_uri, back), status_code=302)
        n = state.next_seq()
        user = Account(id=user_id(n), name=f"Sandbox User {n}", kind="user")
        state.accounts[user.id] = user
        create_accounts(box, state, user)
        scopes = tuple(q["scope"].split())
        offline = q.get("access_type") == "offline"
        code = state.issue_code(
            AuthCode(
                code="4/0" + new_code(),
                client_id=client_id,
                redirect_uri=redirect_uri,
                user_id=user.id,
                expires_at=box.clock.now() + box.config.auth_code_ttl_s,
                scopes=scopes + (("offline",) if offline else ()),
                code_challenge=challenge,
                code_challenge_method=method if challenge else None,
            )
        )
        back.update(code=code.code, scope=" ".join(scopes))
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)

    async def token(request: Request) -> Response:
        box = sandbox(request)
        state = box.platform(platform)
        form = await _form(request)
        now = box.clock.now()
        client_id, secret = _client(request, form)
        if client_id is None or secret is None:
            return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
        fault = await box.faults.before_call(platform)
        if fault is FaultKind.SERVER_ERROR:
            return _oauth_error("internal_failure", "Backend Error", 503)
        if fault is FaultKind.RATE_LIMITED:
            return _oauth_error("rate_limit_exceeded", "Rate limit exceeded", 429)
        grant = form.get("grant_type")
        issue_refresh = False
        if grant == "authorization_code":
            code = state.take_code(form.get("code", ""), now)
            if code is None or code.client_id != client_id:
                return _oauth_error("invalid_grant", "Malformed auth code.")
            if code.redirect_uri != form.get("redirect_uri"):
                return _oauth_error("redirect_uri_mismatch", "Bad Request")
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                if not verifier:
                    return _oauth_error(
                        "invalid_request", "code_verifier or verifier is not provided."
                    )
                got = _s256(verifier) if code.code_challenge_method == "S256" else verifier
                if not hmac.compare_digest(got, code.code_challenge):
                    return _oauth_error("invalid_grant", "Invalid code verifier.")
            user_id_, scopes = code.user_id, tuple(s for s in code.scopes if s != "offline")
            issue_refresh = "offline" in code.scopes
        elif grant == "refresh_token":
            old = state.check_token(form.get("refresh_token", ""), now, (TokenKind.REFRESH,))
            if isinstance(old, TokenProblem) or old.client_id != client_id:
                return _oauth_error("invalid_grant", "Token has been expired or revoked.")
            user_id_, scopes = old.subject, old.scopes
        else:
            return _oauth_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        if fault is FaultKind.AUTH_REVOKED:
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        access = state.issue_token(
            TokenKind.USER, user_id_, client_id, now + ACCESS_TOKEN_TTL_S, scopes, prefix="ya29."
        )
        body: dict[str, Any] = {
            "access_token": access.value,
            "expires_in": ACCESS_TOKEN_TTL_S,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if issue_refresh:
            refresh = state.issue_token(
                TokenKind.REFRESH, user_id_, client_id, None, scopes, prefix="1//"
            )
            body["refresh_token"] = refresh.value
        if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
            await box.faults.hold(platform, request)
        return JSONResponse(body)

    async def revoke(request: Request) -> Response:
        state = sandbox(request).platform(platform)
        form = await _form(request)
        found = state.tokens.get(form.get("token", ""))
        if found is None or found.revoked:
            return _oauth_error("invalid_token", "Token expired or revoked")
        for other in state.tokens.values():
            if other.subject == found.subject and other.client_id == found.client_id:
                other.revoked = True
        return JSONResponse({})

    router.add_api_route("/o/oauth2/v2/auth", authorize, methods=["GET"])
    router.add_api_route("/token", token, methods=["POST"])
    router.add_api_route("/revoke", revoke, methods=["POST"])
