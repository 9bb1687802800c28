"""The account pages: the ones the mails link to (accept an invitation, forgot and reset the
password; ``GET`` only shows, since mail scanners open links, ``POST`` acts) and the signed-in
person's own (change password, where you're signed in).

The same service functions, input models and rate limits as the API's routes
(``/v1/invitations/accept``, ``/v1/auth/password/forgot`` and ``/reset``, ``/v1/auth/password``,
``/v1/auth/sessions``). The mailed token travels in the URL of the link (the only tokens in a
URL) and then in the form's hidden field; no page shows it otherwise, and a form with a problem
comes back with the message next to its field, never with the passwords typed in it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import delete, select, update

from services.api.deps import Client, Limiter, Redis, Session, SettingsDep, forget_sessions
from services.api.routes import auth as api_auth
from services.web import security
from services.web import sessions as web_sessions
from services.web.deps import SignedIn
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, translator
from services.web.routes.auth import two_factor_page
from services.web.routing import web_router
from shared.access import invitations
from shared.access.roles import Role
from shared.access.schemas import InvitationAccept
from shared.errors import AppError, BadRequest
from shared.identity import password_reset, passwords
from shared.identity import service as identity_service
from shared.identity import sessions as identity_sessions
from shared.identity.models import User, WebSession
from shared.identity.schemas import ChangePasswordIn, ForgotPasswordIn, TokenPair

router = web_router()

NO_REFERRER = {"Referrer-Policy": "no-referrer"}
"""Pages opened from a mailed link: the token is in their URL, so no Referer leaves them."""

RESET_MINUTES = int(password_reset.RESET_TTL.total_seconds() // 60)

ROLE_NAMES = {
    Role.OWNER: N_("owner"),
    Role.ADMIN: N_("administrator"),
    Role.BRAND_MANAGER: N_("brand manager"),
    Role.BRAND_VIEWER: N_("brand viewer"),
    Role.LOCATION_MANAGER: N_("location manager"),
    Role.LOCATION_STAFF: N_("location staff"),
}

_RESET_LINK = {
    "reset_token_expired": (
        410,
        N_("This link has expired: a password-reset link works for %(minutes)s minutes."),
    ),
    "invalid_reset_token": (
        400,
        N_(
            "This link is not valid: it was already used, or a newer password-reset mail "
            "replaced it."
        ),
    ),
}
_BAD_RESET_LINK = (400, N_("This link is not a valid password-reset link."))

_INVITATION = {
    "invitation_expired": (410, N_("This invitation has expired.")),
    "invitation_revoked": (
        410,
        N_(
            "This invitation was withdrawn, or a newer invitation to the same address "
            "replaced it (if a newer mail came, use its link)."
        ),
    ),
    "invitation_accepted": (
        410,
        N_(
            "This invitation was already accepted. If you accepted it, sign in with your "
            "email address and password."
        ),
    ),
}
_BAD_INVITATION = (
    400,
    N_("This invitation link is not valid (a mail program may have cut it short)."),
)


def password_problem(t: Translator, password: str, email: str) -> str | None:
    """``shared.identity.passwords.password_problem`` in the reader's language."""
    if not password:
        return t.gettext(
            "Enter a password of at least %(min)s characters.", min=passwords.MIN_PASSWORD_LENGTH
        )
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        return t.gettext(
            "Use at least %(min)s characters (this one has %(n)s).",
            min=passwords.MIN_PASSWORD_LENGTH,
            n=len(password),
        )
    if len(password) > passwords.MAX_PASSWORD_LENGTH:
        return t.gettext("Use at most %(max)s characters.", max=passwords.MAX_PASSWORD_LENGTH)
    if password.strip().lower() == email.strip().lower():
        return t.gettext("The password must not be your email address.")
    return None


# Forgot and reset the password -------------------------------------------------------------


def _forgot_page(
    request: Request, email: str = "", problems: dict[str, str] | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "account/forgot.html",
        {"email": email, "problems": problems or {}},
        status_code=status,
    )


def _reset_link_unusable(request: Request, code: str) -> Response:
    status, message = _RESET_LINK.get(code, _BAD_RESET_LINK)
    return render(
        request,
        "account/reset_unusable.html",
        {"message": message, "minutes": RESET_MINUTES, "email": "", "problems": {}},
        status_code=status,
        headers=NO_REFERRER,
    )


def _reset_page(request: Request, token: str, problems: dict[str, str] | None = None) -> Response:
    return render(
        request,
        "account/reset.html",
        {"token": token, "problems": problems or {}, "min": passwords.MIN_PASSWORD_LENGTH},
        status_code=422 if problems else 200,
        headers=NO_REFERRER,
    )


@router.get("/forgot-password")
async def forgot_form(request: Request) -> Response:
    return _forgot_page(request)


@router.post("/forgot-password")
async def forgot(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    redis: Redis,
    email: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """The same page whatever the address, as ``POST /v1/auth/password/forgot`` answers."""
    t = translator(request)
    try:
        data = ForgotPasswordIn(email=email.strip())
    except ValidationError:
        problem = t.gettext("Enter the email address you sign in with, like name@example.com.")
        return _forgot_page(request, email, {"email": problem}, 422)
    address = identity_service.normalize_email(str(data.email))
    limits = api_auth.rate_limits(settings)  # the API route's own limits: one count for both
    await limiter.hit(limits["reset_address"], client.ip or "unknown")
    await limiter.hit(limits["reset_account"], address)
    await password_reset.request_reset(session, settings, redis, address, client.ip)
    return render(request, "account/forgot_sent.html", {"minutes": RESET_MINUTES})


@router.get("/reset-password")
async def reset_form(
    request: Request, session: Session, token: Annotated[str, Query()] = ""
) -> Response:
    """Only shows: the link is checked, not spent."""
    if not token:
        return _reset_link_unusable(request, "")
    try:
        await password_reset.check_link(session, token)
    except AppError as exc:
        return _reset_link_unusable(request, exc.error_code)
    return _reset_page(request, token)


@router.post("/reset-password")
async def reset(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    token: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password_again: Annotated[str, Form()] = "",
) -> Response:
    t = translator(request)
    await limiter.hit(api_auth.rate_limits(settings)["reset_address"], client.ip or "unknown")
    if not token:
        return _reset_link_unusable(request, "")
    try:
        await password_reset.check_link(session, token)
    except AppError as exc:
        return _reset_link_unusable(request, exc.error_code)
    problem = password_problem(t, new_password, "")
    if problem:
        return _reset_page(request, token, {"new_password": problem})
    if new_password != new_password_again:
        problem = t.gettext("The two differ: type the same new password twice.")
        return _reset_page(request, token, {"new_password_again": problem})
    try:
        ended = await password_reset.reset(session, token, new_password)
    except AppError as exc:
        await session.rollback()  # nothing of a refused reset is kept
        if exc.errors:  # lengths were checked above: what is left is the email address
            problem = t.gettext("The password must not be your email address.")
            return _reset_page(request, token, {"new_password": problem})
        return _reset_link_unusable(request, exc.error_code)
    forget_sessions(request, ended)
    response = render(request, "account/reset_done.html")
    security.clear_cookie(response, settings, security.SESSION_COOKIE)
    return response


# Accept an invitation ----------------------------------------------------------------------


def _invitation_unusable(request: Request, code: str) -> Response:
    status, message = _INVITATION.get(code, _BAD_INVITATION)
    return render(
        request,
        "account/invitation_unusable.html",
        {"message": message},
        status_code=status,
        headers=NO_REFERRER,
    )


def _accept_page(
    request: Request,
    token: str,
    view: invitations.InvitationPreview,
    full_name: str = "",
    problems: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "account/invitation.html",
        {
            "token": token,
            "view": view,
            "role_name": ROLE_NAMES[view.role],
            "scope": view.scope_type.value,
            "full_name": full_name,
            "problems": problems or {},
            "min": passwords.MIN_PASSWORD_LENGTH,
        },
        status_code=422 if problems else 200,
        headers=NO_REFERRER,
    )


@router.get("/accept-invitation")
async def invitation(
    request: Request, session: Session, settings: SettingsDep, token: Annotated[str, Query()] = ""
) -> Response:
    """Only shows: the invitation is checked, not spent."""
    if not token:
        return _invitation_unusable(request, "")
    try:
        view = await invitations.preview(session, settings, token)
    except AppError as exc:
        await session.rollback()
        return _invitation_unusable(request, exc.error_code)
    return _accept_page(request, token, view)


@router.post("/accept-invitation")
async def accept(
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    token: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    """Accepts, then signs the person in (a new browser session) and lands on the home
    page; with a second factor to give, on its step first."""
    t = translator(request)
    if not token:
        return _invitation_unusable(request, "")
    await api_auth.hit_invitation_limits(limiter, settings, client.ip, token)
    try:
        view = await invitations.preview(session, settings, token)
    except AppError as exc:
        await session.rollback()
        return _invitation_unusable(request, exc.error_code)
    if not view.has_account and not full_name.strip():
        return _accept_page(
            request, token, view, full_name, {"full_name": t.gettext("Enter your full name.")}
        )
    if view.has_account:
        weak = None if password else t.gettext("Enter your password.")
    else:
        weak = password_problem(t, password, view.email)
    if weak:
        return _accept_page(request, token, view, full_name, {"password": weak})
    if not view.has_account and password != password_again:
        differ = t.gettext("The two differ: type the same password twice.")
        return _accept_page(request, token, view, full_name, {"password_again": differ})
    try:
        data = InvitationAccept(
            token=token, password=password, full_name=None if view.has_account else full_name
        )
        answer = await invitations.accept(session, settings, data, client)
    except ValidationError:
        return _invitation_unusable(request, "")
    except AppError as exc:
        await session.rollback()  # nothing of a refused acceptance is kept
        if exc.error_code == "invalid_credentials":
            problem = t.gettext(
                "This is not the password of the account %(email)s; try again.", email=view.email
            )
            return _accept_page(request, token, view, full_name, {"password": problem})
        return _invitation_unusable(request, exc.error_code)
    if isinstance(answer, TokenPair):
        previous = request.cookies.get(security.SESSION_COOKIE)
        if previous:
            await web_sessions.end_by_token(session, previous)
        cookie = await web_sessions.open_for_refresh_token(session, answer.refresh_token)
        response = redirect("/")
        security.set_cookie(response, settings, security.SESSION_COOKIE, cookie)
        return response
    return two_factor_page(request, answer, "/")  # the second factor, as at sign-in


# The signed-in person's own account ---------------------------------------------------------


def _password_page(
    request: Request, problems: dict[str, str] | None = None, done: bool = False
) -> Response:
    return render(
        request,
        "account/password.html",
        {"problems": problems or {}, "done": done, "min": passwords.MIN_PASSWORD_LENGTH},
        status_code=422 if problems else 200,
    )


@router.get("/account/password")
async def password_form(request: Request, viewer: SignedIn) -> Response:
    return _password_page(request)


@router.post("/account/password")
async def change_password(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password_again: Annotated[str, Form()] = "",
) -> Response:
    """Every other session of the person ends (web and API, every agency); this one stays."""
    t = translator(request)
    user_id = viewer.principal.user_id
    assert user_id is not None
    await limiter.hit(api_auth.rate_limits(settings)["login_account"], f"user:{user_id}")
    problems: dict[str, str] = {}
    if not current_password:
        problems["current_password"] = t.gettext("Enter your current password.")
    problem = password_problem(t, new_password, viewer.session.email)
    if problem:
        problems["new_password"] = problem
    elif new_password != new_password_again:
        problems["new_password_again"] = t.gettext(
            "The two differ: type the same new password twice."
        )
    elif new_password == current_password:
        problems["new_password"] = t.gettext("The new password must differ from the current one.")
    if problems:
        return _password_page(request, problems)
    try:
        ended = await identity_service.change_password(
            session,
            agency_id=viewer.principal.agency_id,
            user_id=user_id,
            current_session=viewer.session.family_id,
            data=ChangePasswordIn(current_password=current_password, new_password=new_password),
        )
    except AppError as exc:
        await (session.commit() if exc.keep_changes else session.rollback())
        if exc.error_code == "wrong_password":
            problem = t.gettext("The current password is wrong; the password was not changed.")
            return _password_page(request, {"current_password": problem})
        return _password_page(request, {"new_password": exc.message})
    forget_sessions(request, ended)
    return _password_page(request, done=True)


@router.get("/account/sessions")
async def sessions_list(request: Request, viewer: SignedIn, session: Session) -> Response:
    user_id = viewer.principal.user_id
    assert user_id is not None
    live = await identity_sessions.list_sessions(session, user_id, viewer.session.family_id)
    browser_families = set(
        (
            await session.execute(select(WebSession.family_id).where(WebSession.user_id == user_id))
        ).scalars()
    )
    return render(
        request,
        "account/sessions.html",
        {"sessions": live, "browser_families": browser_families},
    )


@router.post("/account/sessions/{session_id}/end")
async def end_session(
    request: Request,
    session_id: uuid.UUID,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
) -> Response:
    """Signs out one session of the person's own (another's is the 404 page); this one too."""
    user_id = viewer.principal.user_id
    assert user_id is not None
    await identity_sessions.end(session, user_id, session_id)
    await session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.family_id == session_id)
    )
    forget_sessions(request, [session_id])
    if session_id == viewer.session.family_id:
        response = redirect("/login")
        security.clear_cookie(response, settings, security.SESSION_COOKIE)
        return response
    return redirect("/account/sessions")


LANGUAGE_NAMES = {"en": "English", "el": "Ελληνικά"}
"""Each language by its own name, as language pickers show them (not translated)."""


@router.get("/account/language")
async def language_form(request: Request, viewer: SignedIn) -> Response:
    return render(
        request,
        "account/language.html",
        {"chosen": viewer.session.language or "", "names": LANGUAGE_NAMES},
    )


@router.post("/account/language")
async def choose_language(
    viewer: SignedIn,
    session: Session,
    language: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """The web app's language for this person everywhere; empty: follow the browser."""
    if language and language not in LANGUAGE_NAMES:
        raise BadRequest("choose one of the languages listed", code="unknown_language")
    await session.execute(
        update(User).where(User.id == viewer.principal.user_id).values(language=language or None)
    )
    return redirect("/account/language")
