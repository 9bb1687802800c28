"""The pages the links Chorus mails open: choose a new password, accept an invitation.

Like the approval page, no login: the mailed one-time token is the credential, carried in a
hidden field of the form. ``GET`` only shows (mail scanners open every link they see, and
must not spend a token); ``POST`` acts, through the same service functions, input models and
rate limits as the API (``/v1/auth/password/forgot``, ``/v1/auth/password/reset``,
``/v1/invitations/accept``). A form with a problem comes back with the message next to its
field (422), never with the passwords typed in it.

No cookies and no scripts: the Content-Security-Policy allows inline style and forms posting
back here, nothing else. The token is in the URL, so no Referer leaves the page. No token
is ever written into a page other than the form's hidden field, and none into a URL.

Mailed links are opened with whatever a mail service's link tracking appends (``utm_*``),
as ``/approval-link`` is: the ``GET`` pages read ``token`` and ignore other parameters
(``services.api.validation.FREE_FORM_QUERY``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.api.deps import Client, Limiter, Redis, Session, SettingsDep, forget_sessions
from services.api.routes import auth as auth_routes
from shared.access import invitations
from shared.access.roles import ScopeType
from shared.access.schemas import InvitationAccept
from shared.errors import AppError, RateLimited
from shared.identity import password_reset, passwords
from shared.identity import service as identity_service
from shared.identity.schemas import (
    ForgotPasswordIn,
    ResetPasswordIn,
    TokenPair,
    TwoFactorChallenge,
)

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:1rem;"
    "line-height:1.5;max-width:32rem;margin:0 auto;padding:1rem;color:#1a1a1a;"
    "overflow-wrap:anywhere}"
    "h1{font-size:1.5rem;line-height:1.25}"
    "label{display:block;font-weight:600;margin-top:1rem}"
    "input{display:block;width:100%;font:inherit;padding:.6rem;margin-top:.25rem;"
    "border:1px solid #767676;border-radius:4px}"
    "input[aria-invalid=true]{border:2px solid #b00020}"
    ".problem{color:#b00020;font-weight:600;margin:.25rem 0 0}"
    "button{display:block;width:100%;font:inherit;font-weight:600;padding:.75rem;"
    "margin-top:1.5rem;border:0;border-radius:4px;background:#1a4d8f;color:#fff}"
    ".hint{display:block;color:#555;font-size:.9rem}"
    ".note{background:#f3f3f3;padding:.75rem;border-radius:4px}"
)
_MIN_PASSWORD = f"at least {passwords.MIN_PASSWORD_LENGTH} characters"
_RESET_MINUTES = int(password_reset.RESET_TTL.total_seconds() // 60)
_ASK_INVITER = "Ask whoever invited you to send a new invitation."


def _page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<meta name=robots content=noindex><title>{escape(title)} · Chorus</title>"
        f"<style>{_STYLE}</style><main><h1>{escape(title)}</h1>{body}</main></html>"
    )
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def _p(text: str, css: str = "") -> str:
    cls = f" class={css}" if css else ""
    return f"<p{cls}>{escape(text)}</p>"


def _slow_down(exc: RateLimited) -> HTMLResponse:
    wait = exc.headers.get("Retry-After", "60")
    return _page(
        "Too many attempts",
        _p(f"Wait {wait} seconds, then go back and try again."),
        exc.status_code,
        {"Retry-After": wait},
    )


@dataclass
class _Field:
    name: str
    label: str
    kind: str = "text"
    autocomplete: str = "off"
    value: str = ""
    hint: str = ""


@dataclass
class _Form:
    action: str
    button: str
    token: str | None
    fields: list[_Field]
    problems: dict[str, str] = field(default_factory=dict)

    def html(self) -> str:
        parts = [f"<form method=post action={self.action} novalidate>"]
        if self.token is not None:
            parts.append(f"<input type=hidden name=token value='{escape(self.token, quote=True)}'>")
        for f in self.fields:
            parts.append(_field_html(f, self.problems.get(f.name, "")))
        parts.append(f"<button type=submit>{escape(self.button)}</button></form>")
        return "".join(parts)


def _field_html(f: _Field, problem: str) -> str:
    ids = [f"{f.name}-hint"] if f.hint else []
    if problem:
        ids.append(f"{f.name}-problem")
    described = f" aria-describedby='{' '.join(ids)}'" if ids else ""
    invalid = " aria-invalid=true" if problem else ""
    value = f" value='{escape(f.value, quote=True)}'" if f.value and f.kind != "password" else ""
    hint = f"<span class=hint id={f.name}-hint>{escape(f.hint)}</span>" if f.hint else ""
    shown = f"<p class=problem id={f.name}-problem>{escape(problem)}</p>" if problem else ""
    return (
        f"<label for={f.name}>{escape(f.label)}</label>{hint}"
        f"<input id={f.name} name={f.name} type={f.kind} autocomplete={f.autocomplete}"
        f"{value}{described}{invalid} required>{shown}"
    )


def _problems(exc: ValidationError, names: dict[str, str]) -> dict[str, str]:
    """Each pydantic error under the page's name for its field (``names``: model field →
    form field); the first message per field."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = names.get(str(error["loc"][0]) if error["loc"] else "", "")
        found.setdefault(name, str(error["msg"]))
    return found


def _app_problems(exc: AppError, names: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in exc.errors:
        name = names.get(problem.field.removeprefix("body."), "")
        found.setdefault(name, problem.message)
    if not found:
        found[""] = exc.message
    return found


def _with_form_problem(form: _Form) -> str:
    """A problem that is no field's (the password of an existing account) goes above."""
    general = form.problems.get("", "")
    return (_p(general, "problem") if general else "") + form.html()


# Forgot and reset password -----------------------------------------------------------------

_RESET_LINK_PROBLEMS = {
    "reset_token_expired": (
        410,
        f"This link has expired: a password-reset link works for {_RESET_MINUTES} minutes.",
    ),
    "invalid_reset_token": (
        400,
        "This link is not valid: it was already used, or a newer password-reset mail replaced it.",
    ),
}


def _forgot_form(email: str = "", problems: dict[str, str] | None = None) -> _Form:
    return _Form(
        "/forgot-password",
        "Send me a link",
        None,
        [_Field("email", "Your email address", "email", "email", email)],
        problems or {},
    )


def _reset_link_unusable(code: str) -> HTMLResponse:
    status, what = _RESET_LINK_PROBLEMS.get(
        code, (400, "This link is not a valid password-reset link.")
    )
    body = (
        _p(what)
        + _p("Your password has not changed. Ask for a new link and use the newest mail:")
        + _forgot_form().html()
    )
    return _page("This link cannot be used", body, status)


def _reset_form(token: str, problems: dict[str, str] | None = None) -> _Form:
    return _Form(
        "/reset-password",
        "Set the new password",
        token,
        [
            _Field("new_password", "New password", "password", "new-password", hint=_MIN_PASSWORD),
            _Field("new_password_again", "New password again", "password", "new-password"),
        ],
        problems or {},
    )


def _reset_page(token: str, problems: dict[str, str] | None = None) -> HTMLResponse:
    form = _reset_form(token, problems)
    intro = _p(
        "Choose a new password for your Chorus account. Every session of the account "
        "ends: you will sign in again with the new password."
    )
    return _page(
        "Choose a new password", intro + _with_form_problem(form), 422 if problems else 200
    )


_SIGN_IN_HOW = (
    "<p class=note>Chorus's web app is not open yet: for now you sign in through the API, "
    "with <code>POST /v1/auth/login</code>. The <a href=/docs>API documentation</a> shows how."
    "</p>"
)


def _signed_out_page() -> HTMLResponse:
    body = (
        _p("You are signed out everywhere: every session of your account has ended.")
        + _p("Sign in with your email address and the new password.")
        + _SIGN_IN_HOW
    )
    return _page("Your password is changed", body)


@router.get("/forgot-password")
async def forgot_form() -> HTMLResponse:
    intro = _p("Enter the address you sign in with; we mail it a link to choose a new password.")
    return _page("Forgot your password?", intro + _forgot_form().html())


@router.post("/forgot-password")
async def forgot(
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    redis: Redis,
    email: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The same page whatever the address, as ``POST /v1/auth/password/forgot`` answers."""
    try:
        data = ForgotPasswordIn(email=email.strip())
    except ValidationError as exc:
        form = _forgot_form(email, _problems(exc, {"email": "email"}))
        return _page("Forgot your password?", form.html(), 422)
    address = identity_service.normalize_email(str(data.email))
    limits = auth_routes.rate_limits(settings)  # the API route's own limits: one count for both
    try:
        await limiter.hit(limits["reset_address"], client.ip or "unknown")
        await limiter.hit(limits["reset_account"], address)
    except RateLimited as exc:
        return _slow_down(exc)
    await password_reset.request_reset(session, settings, redis, address, client.ip)
    body = _p(
        "If an account has this address, a mail with a link to choose a new password is on "
        f"its way. The link works once, for {_RESET_MINUTES} minutes."
    ) + _p("No mail after a few minutes? Look in the spam folder, or ask again.")
    return _page("Check your mail", body)


@router.get("/reset-password")
async def reset_form(session: Session, token: Annotated[str, Query()] = "") -> HTMLResponse:
    """Only shows: the link is checked, not spent."""
    if not token:
        return _reset_link_unusable("")
    try:
        await password_reset.check_link(session, token)
    except AppError as exc:
        return _reset_link_unusable(exc.error_code)
    return _reset_page(token)


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
) -> HTMLResponse:
    try:
        limit = auth_routes.rate_limits(settings)["reset_address"]
        await limiter.hit(limit, client.ip or "unknown")
    except RateLimited as exc:
        return _slow_down(exc)
    if not token:
        return _reset_link_unusable("")
    try:
        await password_reset.check_link(session, token)
    except AppError as exc:
        return _reset_link_unusable(exc.error_code)
    if not new_password:
        return _reset_page(token, {"new_password": f"enter a new password, {_MIN_PASSWORD}"})
    if new_password != new_password_again:
        return _reset_page(
            token, {"new_password_again": "the two differ: type the same new password twice"}
        )
    try:
        data = ResetPasswordIn(token=token, new_password=new_password)
    except ValidationError as exc:
        problems = _problems(exc, {"new_password": "new_password"})
        return _reset_link_unusable("") if "" in problems else _reset_page(token, problems)
    try:
        ended = await password_reset.reset(session, data.token, data.new_password)
    except AppError as exc:
        await session.rollback()  # nothing of a refused reset is kept
        if exc.errors:
            return _reset_page(token, _app_problems(exc, {"new_password": "new_password"}))
        return _reset_link_unusable(exc.error_code)
    forget_sessions(request, ended)
    return _signed_out_page()


# Accept an invitation ----------------------------------------------------------------------

_INVITATION_PROBLEMS = {
    "invitation_expired": (410, "This invitation has expired."),
    "invitation_revoked": (
        410,
        "This invitation was withdrawn, or a newer invitation to the same address replaced "
        "it (if a newer mail came, use its link).",
    ),
    "invitation_accepted": (
        410,
        "This invitation was already accepted. If you accepted it, sign in with your email "
        "address and password.",
    ),
}


def _invitation_unusable(code: str) -> HTMLResponse:
    status, what = _INVITATION_PROBLEMS.get(
        code, (400, "This invitation link is not valid (a mail program may have cut it short).")
    )
    return _page("This invitation cannot be used", _p(what) + _p(_ASK_INVITER), status)


def _offer(view: invitations.InvitationPreview) -> str:
    """What the invitation gives, escaped: agency, role, and where."""
    role = escape(view.role.value.replace("_", " "))
    name = escape(view.scope_name or "")
    where = {
        ScopeType.AGENCY: "for the whole agency",
        ScopeType.BRAND: f"for the brand <b>{name}</b>",
        ScopeType.LOCATION: f"at the location <b>{name}</b>",
    }[view.scope_type]
    return f"<b>{escape(view.agency_name)}</b> as <b>{role}</b> {where}"


def _accept_form(
    token: str, view: invitations.InvitationPreview, full_name: str, problems: dict[str, str]
) -> _Form:
    if view.has_account:
        fields = [
            _Field(
                "password",
                "Your Chorus password",
                "password",
                "current-password",
                hint=f"You already have an account with {view.email}: its password accepts.",
            )
        ]
    else:
        fields = [
            _Field("full_name", "Your full name", "text", "name", full_name),
            _Field("password", "Choose a password", "password", "new-password", hint=_MIN_PASSWORD),
            _Field("password_again", "The password again", "password", "new-password"),
        ]
    return _Form("/accept-invitation", "Accept the invitation", token, fields, problems)


def _accept_page(
    token: str,
    view: invitations.InvitationPreview,
    full_name: str = "",
    problems: dict[str, str] | None = None,
) -> HTMLResponse:
    body = f"<p>You are invited to join {_offer(view)}.</p>" + _p(
        f"The invitation is for {view.email}."
    )
    if view.agency_requires_two_factor:
        body += _p(
            "This agency requires two-factor sign-in: after accepting, you sign in and set up "
            "an authenticator app (or use the one your account already has).",
            "note",
        )
    body += _with_form_problem(_accept_form(token, view, full_name, problems or {}))
    if view.has_account:
        body += "<p><a href=/forgot-password>Forgot your password?</a></p>"
    return _page(f"Join {view.agency_name}", body, 422 if problems else 200)


def _joined_page(
    view: invitations.InvitationPreview, answer: TokenPair | TwoFactorChallenge
) -> HTMLResponse:
    body = f"<p>You joined {_offer(view)}.</p>"
    if isinstance(answer, TokenPair):
        body += _p(f"Sign in with {view.email} and your password.") + _SIGN_IN_HOW
    elif answer.enrolment_required:
        body += (
            _p(
                "This agency requires two-factor sign-in, and your account does not have it yet. "
                "To finish: sign in with your email address and password; the answer asks you to "
                "set up an authenticator app (POST /v1/auth/login/two-factor/setup), then to "
                "confirm it with a code from the app (POST /v1/auth/login/two-factor/confirm).",
                "note",
            )
            + _SIGN_IN_HOW
        )
    else:
        body += (
            _p(
                "Your account has two-factor sign-in on. To finish: sign in with your email "
                "address and password, then give the code from your authenticator app "
                "(POST /v1/auth/login/two-factor).",
                "note",
            )
            + _SIGN_IN_HOW
        )
    return _page(f"Welcome to {view.agency_name}", body)


@router.get("/accept-invitation")
async def invitation(
    session: Session, settings: SettingsDep, token: Annotated[str, Query()] = ""
) -> HTMLResponse:
    """Only shows: the invitation is checked, not spent."""
    if not token:
        return _invitation_unusable("")
    try:
        view = await invitations.preview(session, settings, token)
    except AppError as exc:
        await session.rollback()
        return _invitation_unusable(exc.error_code)
    return _accept_page(token, view)


@router.post("/accept-invitation")
async def accept(
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    token: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> HTMLResponse:
    if not token:
        return _invitation_unusable("")
    try:
        await auth_routes.hit_invitation_limits(limiter, settings, client.ip, token)
    except RateLimited as exc:
        return _slow_down(exc)
    try:
        view = await invitations.preview(session, settings, token)
    except AppError as exc:
        await session.rollback()
        return _invitation_unusable(exc.error_code)
    names = {"full_name": "full_name", "password": "password", "token": ""}
    if not view.has_account and not full_name.strip():
        return _accept_page(token, view, full_name, {"full_name": "enter your full name"})
    if not password:
        wanted = "your password" if view.has_account else f"a password, {_MIN_PASSWORD}"
        return _accept_page(token, view, full_name, {"password": f"enter {wanted}"})
    if not view.has_account and password != password_again:
        problem = "the two differ: type the same password twice"
        return _accept_page(token, view, full_name, {"password_again": problem})
    try:
        data = InvitationAccept(
            token=token,
            password=password,
            full_name=None if view.has_account else full_name,
        )
    except ValidationError as exc:
        return _accept_page(token, view, full_name, _problems(exc, names))
    try:
        answer = await invitations.accept(session, settings, data, client)
    except AppError as exc:
        await session.rollback()  # nothing of a refused acceptance is kept
        if exc.error_code == "invalid_credentials":
            problem = f"this is not the password of the account {view.email}; try again"
            return _accept_page(token, view, full_name, {"password": problem})
        if not exc.errors:
            return _invitation_unusable(exc.error_code)
        return _accept_page(token, view, full_name, _app_problems(exc, names))
    if isinstance(answer, TokenPair):
        # The page hands no tokens out: the session accepting opened ends at once.
        await identity_service.log_out(session, answer.refresh_token)
    return _joined_page(view, answer)
