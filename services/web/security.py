"""The browser's protections: the session and pre-session cookies, CSRF tokens, and the
headers every page carries.

CSRF: a synchronizer token, ``HMAC(secret, "csrf" | binding)``, in a hidden field of every
form (or the ``X-CSRF-Token`` header for script). The binding is the session cookie's token
when signed in (so a new session, at every login, makes the old pages' tokens worthless),
else a random pre-session cookie set with the first form shown. Every unsafe request to the
web app is checked before its route runs (``check_csrf``, on every web router); a missing or
wrong token answers the 403 page and nothing is written.

No scripts inline: ``script-src 'self'`` (our own files under /static), styles from our
stylesheet only, nothing framed, nothing posted elsewhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from shared.config import Settings
from shared.errors import Forbidden

SESSION_COOKIE = "chorus_session"
PRE_SESSION_COOKIE = "chorus_presession"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class CsrfFailed(Forbidden):
    """Answered with the web app's 403 page (services/web/errors.py)."""


def secure_cookies(settings: Settings) -> bool:
    return settings.env != "development"


def set_cookie(response: Response, settings: Settings, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings)
    )


def csrf_binding(request: Request) -> str | None:
    """What this browser's forms are bound to: its session token, else its pre-session one
    (None: neither yet; ``render`` then sets a pre-session cookie)."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)


def csrf_token(settings: Settings, binding: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf|" + binding.encode(), hashlib.sha256).hexdigest()


def new_pre_session() -> str:
    return secrets.token_urlsafe(32)


async def check_csrf(request: Request) -> None:
    """A router dependency of every web router: unsafe methods need the form's token."""
    if request.method not in UNSAFE_METHODS:
        return
    binding = csrf_binding(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)  # cached: the route reads it again
            sent = value if isinstance(value, str) else None
    settings: Settings = request.app.state.settings
    if not binding or not sent or not hmac.compare_digest(sent, csrf_token(settings, binding)):
        raise CsrfFailed(
            "this form has expired or did not come from Chorus; nothing was saved",
            code="csrf_failed",
        )


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
