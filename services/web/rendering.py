"""``render()``: one template, the request's language, the CSRF token and the page headers.

Every page of the web app answers through ``render`` (or ``redirect``), so every one carries
the security headers and its forms their CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.web import i18n, security
from shared.config import Settings

TEMPLATE_DIR = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
# New-style gettext (variables escaped, ``%(name)s`` placeholders); the callables themselves
# come per render, in the request's language (``Translator.template_gettext``).
environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def translator(request: Request) -> i18n.Translator:
    """The request's language, chosen once per request: the user's setting (put on
    ``request.state.language`` by the signed-in dependency) else ``Accept-Language``."""
    found: i18n.Translator | None = getattr(request.state, "translator", None)
    if found is None:
        preferred = getattr(request.state, "language", None)
        found = i18n.Translator(i18n.negotiate(request.headers.get("accept-language"), preferred))
        request.state.translator = found
    return found


def _csrf(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The CSRF token for this page's forms, and a new pre-session cookie when the browser
    has no cookie to bind it to yet."""
    binding = security.csrf_binding(request)
    fresh = None
    if binding is None:
        binding = fresh = getattr(request.state, "pre_session", None) or security.new_pre_session()
        request.state.pre_session = fresh
    return security.csrf_token(settings, binding), fresh


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    t = translator(request)
    token, fresh_binding = _csrf(request, settings)
    values: dict[str, Any] = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "lang": t.language,
        "t": t,
        "_": t.template_gettext,
        "gettext": t.template_gettext,
        "ngettext": t.template_ngettext,
        "csrf_token": token,
        "csrf_field": Markup(  # noqa: S704 - the token is hex
            f'<input type="hidden" name="{security.CSRF_FIELD}" value="{escape(token)}">'
        ),
        "flash": None,
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    if fresh_binding is not None:
        security.set_cookie(response, settings, security.PRE_SESSION_COOKIE, fresh_binding)
    security.add_headers(response)
    return response


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    """Post/redirect/get. Only paths of our own (``safe_next`` for user-given ones)."""
    response = RedirectResponse(url, status_code=status_code)
    security.add_headers(response)
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to return to after sign-in; anything else (``//evil``, ``https:``,
    a backslash trick) goes home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\r\n\\"):
        return default
    return target
