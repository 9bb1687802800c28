"""The web app's error pages. The API's handlers (services/api/problems.py) stay for the API's
paths; every other path (the web app's) gets an HTML page in the reader's language: 404, 403
(a CSRF failure says so), 400, 402, 429, 500 and 503. Not signed in: to the sign-in page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.api.problems import outage_of
from services.web.deps import SignInRequired
from services.web.i18n import N_
from services.web.rendering import redirect, render
from services.web.routes.agency_billing import upgrade_page
from services.web.security import CsrfFailed
from shared.errors import AppError

log = structlog.get_logger("chorus.web")

Handler = Callable[[Request, Exception], Awaitable[Response]]

API_PREFIXES = ("/v1/", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics")
API_PATHS = frozenset({"/v1", "/approval-link"})


def is_web_path(path: str) -> bool:
    """Everything but the API's own paths (and the approval-link page, which keeps its own
    pages) belongs to the web app."""
    return not (path.startswith(API_PREFIXES) or path in API_PATHS)


# (title, explanation) per status, marked here, translated where shown.
PAGES: dict[int, tuple[str, str]] = {
    400: (
        N_("Something in that request was wrong"),
        N_("Go back, check what you entered and try again."),
    ),
    402: (
        N_("Your agency's plan does not allow this"),
        N_("The agency can only read for now. Its owner can settle the plan under billing."),
    ),
    403: (
        N_("You may not do this"),
        N_("Your role does not allow this here. Ask your agency's administrator if you need it."),
    ),
    404: (N_("Page not found"), N_("There is nothing here, or it is not yours to see.")),
    405: (N_("Page not found"), N_("There is nothing here, or it is not yours to see.")),
    429: (N_("Too many attempts"), N_("Wait a minute, then try again.")),
    500: (N_("Something went wrong on our side"), N_("We have been told. Try again in a moment.")),
    503: (N_("Chorus is briefly unavailable"), N_("Try again in a moment.")),
}
CSRF_PAGE = (
    N_("This form has expired"),
    N_(
        "The page was open too long, or the form did not come from Chorus. Nothing was "
        "saved. Go back, reload the page and send it again."
    ),
)


def error_page(request: Request, status: int, page: tuple[str, str] | None = None) -> Response:
    title, explanation = page or PAGES.get(status, PAGES[400 if status < 500 else 500])
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "explanation": explanation},
        status_code=status,
    )


async def _web_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET" or target == "/":
            return redirect("/login")
        return redirect("/login?next=" + quote(target, safe="/"))
    if isinstance(exc, CsrfFailed):
        return error_page(request, 403, CSRF_PAGE)
    if isinstance(exc, AppError) and exc.status_code == 402:
        return upgrade_page(request, exc)  # what the plan lacks, and the way up (issue #16)
    if isinstance(exc, AppError):
        response = error_page(request, exc.status_code)
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400)
    if isinstance(exc, StarletteHTTPException):
        return error_page(request, exc.status_code)
    outage = outage_of(exc)
    if outage is not None:
        log.warning("web.unavailable", path=request.url.path, error=type(exc).__name__)
        return error_page(request, 503)
    log.exception("web.unexpected_error", path=request.url.path)
    return error_page(request, 500)


def _either(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_web_path(request.url.path):
            return await _web_error(request, exc)
        return await api_handler(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Wraps the API's exception handlers (installed first) so web paths answer pages."""
    for exc_class, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exc_class] = _either(handler)  # type: ignore[arg-type]
