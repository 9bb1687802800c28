"""Mounts the web app in the API's ASGI app: its routers, its static files, its error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.web import errors, i18n
from services.web.routes import auth, calendar, home, posts_view

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """After the API's routers and handlers: the web app's pages answer every path the API
    does not (``errors.is_web_path``)."""
    i18n.load_all()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth.router)
    app.include_router(home.router)
    app.include_router(calendar.router)
    app.include_router(posts_view.router)
    errors.install(app)
