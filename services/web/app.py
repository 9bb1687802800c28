"""Mounts the web app in the API's ASGI app: its routers, its static files, its error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles

from services.api.validation import FREE_FORM_QUERY
from services.web import errors, i18n
from services.web.routes import (
    account,
    accounts,
    agency_accounts,
    agency_api_keys,
    agency_audit,
    agency_billing,
    agency_members,
    approvals,
    auth,
    brand_analytics,
    brand_approvals,
    brand_calendar,
    brand_campaigns,
    brand_locations,
    brand_reviews,
    brand_rules,
    brand_templates,
    calendar,
    compose,
    home,
    media_library,
    media_resumable,
    numbers,
    posts_view,
    preview,
    reviews,
    team,
)

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """After the API's routers and handlers: the web app's pages answer every path the API
    does not (``errors.is_web_path``)."""
    i18n.load_all()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth.router)
    app.include_router(home.router)
    app.include_router(account.router)
    app.include_router(reviews.router)
    app.include_router(numbers.router)
    app.include_router(accounts.router)
    app.include_router(team.router)
    app.include_router(calendar.router)
    app.include_router(compose.router)  # /posts/new before posts_view's /posts/{post_id}
    app.include_router(posts_view.router)
    app.include_router(approvals.router)
    app.include_router(preview.router)
    app.include_router(agency_members.router)
    app.include_router(brand_campaigns.router)
    app.include_router(brand_locations.router)  # /brand/locations/import before {id}
    app.include_router(agency_api_keys.router)
    app.include_router(brand_reviews.router)  # /brand/reviews/rules before {id}
    app.include_router(brand_calendar.router)
    app.include_router(brand_templates.router)  # /brand/templates/reference before {id}
    app.include_router(brand_rules.router)
    app.include_router(brand_analytics.router)
    app.include_router(agency_audit.router)
    app.include_router(brand_approvals.router)
    app.include_router(agency_accounts.router)
    app.include_router(agency_billing.router)
    app.include_router(media_resumable.router)  # /media/uploads before /media/{media_id}
    app.include_router(media_library.router)  # /media/picker before /media/{media_id}
    errors.install(app)
    _pages_take_any_query(app)


def _pages_take_any_query(app: FastAPI) -> None:
    """A page is opened from an address bar, a bookmark or a link someone tracked
    (``utm_*``): it reads the parameters it knows and ignores the rest, instead of the API's
    400 for an unknown one (``services.api.validation.FREE_FORM_QUERY``)."""
    for context in iter_route_contexts(app.routes):
        path = str(context.path or "")
        if errors.is_web_path(path) and "GET" in (context.methods or ()):
            FREE_FORM_QUERY.setdefault(("GET", path), "a page of the web app (services/web)")
