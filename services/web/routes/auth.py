"""Sign in (email and password, then the second factor when it is on) and sign out.

The API's own login runs underneath (``shared.identity.service``): the same rate limits
(one count for both edges: ``services.api.routes.auth.rate_limits``), the same audit events,
the same second factor. A successful sign-in opens a new browser session on the login's
session family (services/web/sessions.py) and replaces any session the browser had."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Client, Limiter, Session, SettingsDep
from services.api.routes import auth as api_auth
from services.web import security
from services.web import sessions as web_sessions
from services.web.deps import SignedIn
from services.web.i18n import N_
from services.web.rendering import redirect, render, safe_next, translator
from services.web.routing import web_router
from shared.config import Settings
from shared.errors import AppError
from shared.identity import service as identity_service
from shared.identity import two_factor
from shared.identity.schemas import (
    ChallengeConfirmIn,
    LoginIn,
    TokenPair,
    TwoFactorChallenge,
    TwoFactorLoginIn,
)
from shared.identity.service import ClientInfo
from shared.ratelimit import RateLimiter

router = web_router()

_REFUSED = {
    "invalid_credentials": N_("The email address or the password is wrong."),
    "account_disabled": N_("This account is deactivated. Ask your agency's administrator."),
    "not_a_member": N_("This account belongs to no agency any more."),
    "invalid_token": N_("The sign-in took too long. Start again."),
    "challenge_expired": N_("The sign-in took too long. Start again."),
    "invalid_two_factor_code": N_("That code is wrong or was already used. Try the newest code."),
}


def _login_page(
    request: Request,
    *,
    email: str = "",
    next_path: str = "",
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "auth/login.html",
        {"email": email, "next": next_path, "problems": problems or {}},
        status_code=status_code,
    )


def two_factor_page(
    request: Request,
    challenge: TwoFactorChallenge | str,
    next_path: str,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    token = challenge if isinstance(challenge, str) else challenge.challenge_token
    enrolment = not isinstance(challenge, str) and challenge.enrolment_required
    return render(
        request,
        "auth/two_factor.html",
        {
            "challenge_token": token,
            "enrolment_required": enrolment,
            "next": next_path,
            "problems": problems or {},
        },
        status_code=status_code,
    )


async def _signed_in(
    request: Request, session: Session, settings: Settings, pair: TokenPair, next_path: str
) -> Response:
    """Rotation: the browser's previous session (if any) ends, a new one begins."""
    previous = request.cookies.get(security.SESSION_COOKIE)
    if previous:
        await web_sessions.end_by_token(session, previous)
    token = await web_sessions.open_for_refresh_token(session, pair.refresh_token)
    response = redirect(safe_next(next_path))
    security.set_cookie(response, settings, security.SESSION_COOKIE, token)
    return response


def _refused(request: Request, exc: AppError) -> str:
    message = _REFUSED.get(exc.error_code, N_("Signing in did not work. Try again."))
    return translator(request).gettext(message)


@router.get("/login")
async def login_form(
    request: Request, next_query: Annotated[str, Query(alias="next", max_length=2000)] = ""
) -> Response:
    return _login_page(request, next_path=safe_next(next_query, ""))


@router.post("/login")
async def log_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next_form: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    t = translator(request)
    next_path = safe_next(next_form, "")
    problems: dict[str, str] = {}
    if not email.strip():
        problems["email"] = t.gettext("Enter your email address.")
    if not password:
        problems["password"] = t.gettext("Enter your password.")
    if problems:
        return _login_page(
            request, email=email, next_path=next_path, problems=problems, status_code=422
        )
    limits = api_auth.rate_limits(settings)
    await limiter.hit(limits["login_address"], client.ip or "unknown")
    await limiter.hit(limits["login_account"], identity_service.normalize_email(email))
    try:
        data = LoginIn(email=email.strip(), password=password)
    except ValidationError:
        problems["email"] = t.gettext("This is not an email address.")
        return _login_page(
            request, email=email, next_path=next_path, problems=problems, status_code=422
        )
    try:
        answer = await identity_service.log_in(session, settings, data, client)
    except AppError as exc:
        await (session.commit() if exc.keep_changes else session.rollback())
        problems[""] = _refused(request, exc)
        return _login_page(
            request, email=email, next_path=next_path, problems=problems, status_code=401
        )
    if isinstance(answer, TwoFactorChallenge):
        return two_factor_page(request, answer, next_path)
    return await _signed_in(request, session, settings, answer, next_path)


@router.post("/login/two-factor")
async def log_in_two_factor(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    challenge_token: Annotated[str, Form(max_length=2000)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    next_form: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    t = translator(request)
    next_path = safe_next(next_form, "")
    try:
        challenge = two_factor.read_challenge(settings, challenge_token)
    except AppError as exc:
        return _login_page(
            request, next_path=next_path, problems={"": _refused(request, exc)}, status_code=401
        )
    limits = api_auth.rate_limits(settings)
    await limiter.hit(limits["login_address"], client.ip or "unknown")
    await limiter.hit(limits["two_factor_account"], str(challenge.user_id))
    code = code.strip().replace(" ", "")
    if not code:
        problems = {"code": t.gettext("Enter the code from your authenticator app.")}
        return two_factor_page(request, challenge_token, next_path, problems, 422)
    recovery = "-" in code or len(code) > 8
    data = TwoFactorLoginIn(
        challenge_token=challenge_token,
        code=None if recovery else code,
        recovery_code=code if recovery else None,
    )
    try:
        pair = await identity_service.complete_two_factor_login(session, settings, data, client)
    except AppError as exc:
        await (session.commit() if exc.keep_changes else session.rollback())
        problems = {"code": _refused(request, exc)}
        return two_factor_page(request, challenge_token, next_path, problems, 401)
    return await _signed_in(request, session, settings, pair, next_path)


@router.post("/logout")
async def log_out(viewer: SignedIn, session: Session, settings: SettingsDep) -> Response:
    await web_sessions.end(session, viewer.session)
    response = redirect("/login")
    security.clear_cookie(response, settings, security.SESSION_COOKIE)
    return response


async def _second_step_gate(
    settings: Settings, client: ClientInfo, limiter: RateLimiter, token: str
) -> two_factor.Challenge:
    """The challenge, and the API's rate limits of a login's second step (one count)."""
    challenge = two_factor.read_challenge(settings, token)
    limits = api_auth.rate_limits(settings)
    await limiter.hit(limits["login_address"], client.ip or "unknown")
    await limiter.hit(limits["two_factor_account"], str(challenge.user_id))
    return challenge


@router.post("/login/two-factor/setup")
async def set_up_two_factor(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    challenge_token: Annotated[str, Form(max_length=2000)] = "",
    next_form: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """An agency requiring two-factor sign-in, a person without it: a new authenticator
    secret, shown once, to confirm with a first code."""
    next_path = safe_next(next_form, "")
    try:
        await _second_step_gate(settings, client, limiter, challenge_token)
        secret, uri = await identity_service.begin_enrolment_at_login(
            session, settings, challenge_token
        )
    except AppError as exc:
        await session.rollback()
        problems = {"": _refused(request, exc)}
        return _login_page(request, next_path=next_path, problems=problems, status_code=401)
    return _setup_page(request, challenge_token, next_path, secret, uri)


def _setup_page(
    request: Request,
    challenge_token: str,
    next_path: str,
    secret: str,
    uri: str,
    problems: dict[str, str] | None = None,
) -> Response:
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "auth/two_factor_setup.html",
        {
            "challenge_token": challenge_token,
            "next": next_path,
            "secret": grouped,
            "raw_secret": secret,
            "uri": uri,
            "problems": problems or {},
        },
        status_code=422 if problems else 200,
    )


@router.post("/login/two-factor/confirm")
async def confirm_two_factor(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    challenge_token: Annotated[str, Form(max_length=2000)] = "",
    secret: Annotated[str, Form(max_length=200)] = "",
    uri: Annotated[str, Form(max_length=2000)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    next_form: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """The first code turns two-factor on and signs in; the recovery codes are shown once."""
    t = translator(request)
    next_path = safe_next(next_form, "")
    code = code.strip().replace(" ", "")
    try:
        await _second_step_gate(settings, client, limiter, challenge_token)
    except AppError as exc:
        problems = {"": _refused(request, exc)}
        return _login_page(request, next_path=next_path, problems=problems, status_code=401)
    if not code:
        problems = {"code": t.gettext("Enter the code from your authenticator app.")}
        return _setup_page(request, challenge_token, next_path, secret, uri, problems)
    try:
        enrolled = await identity_service.confirm_enrolment_at_login(
            session,
            settings,
            ChallengeConfirmIn(challenge_token=challenge_token, code=code),
            client,
        )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        message = (
            _refused(request, exc)
            if isinstance(exc, AppError)
            else t.gettext("That code is wrong or was already used. Try the newest code.")
        )
        return _setup_page(request, challenge_token, next_path, secret, uri, {"code": message})
    previous = request.cookies.get(security.SESSION_COOKIE)
    if previous:
        await web_sessions.end_by_token(session, previous)
    token = await web_sessions.open_for_refresh_token(session, enrolled.refresh_token)
    response = render(
        request,
        "auth/recovery_codes.html",
        {"codes": enrolled.recovery_codes, "next": safe_next(next_path)},
    )
    security.set_cookie(response, settings, security.SESSION_COOKIE, token)
    return response
