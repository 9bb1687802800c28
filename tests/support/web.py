"""The web app for browser tests: the whole Chorus ASGI app (API and web) under uvicorn on a
free local port, in a background thread, against the test database and Redis; the system
Chromium driven by Playwright; screenshots and axe-core checks per page.

Playwright cannot download browsers here: it drives the Debian ``chromium`` package
(``CHORUS_CHROMIUM`` points elsewhere). Without it the browser tests are skipped with one
message naming the command that installs it."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from axe_playwright_python.async_playwright import Axe
from fastapi import FastAPI
from playwright.async_api import Page
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD
from tests.support.sandbox_server import free_port

INSTALL_CHROMIUM = "apt-get install -y chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".data" / "artifacts" / "web"
WIDTHS = (375, 1440)


def chromium_path() -> str | None:
    wanted = os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium")
    if os.path.isfile(wanted) and os.access(wanted, os.X_OK):
        return wanted
    return shutil.which("chromium")


MISSING_CHROMIUM = (
    "browser tests skipped: Chromium is not installed (looked for /usr/bin/chromium and "
    f"`chromium` on PATH); install it with: {INSTALL_CHROMIUM}"
)


class WebServer:
    """The application under uvicorn, its lifespan run (database pool, Redis)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


async def check_page(page: Page, name: str) -> None:
    """What every page of the web app must pass: a screenshot at phone and desktop width
    (under .data/artifacts/web/, git-ignored), no horizontal scrolling at either, and axe-core
    with zero serious or critical violations at each."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
        results = await Axe().run(page)
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{name} at {width}px: " + "; ".join(bad)


class StatementCounter:
    """Counts the SQL statements the app runs (for N+1 tests): ``with counter:`` around
    requests; ``counter.count``, ``counter.statements``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.statements: list[str] = []
        self._on = False

    def _seen(self, *args: Any) -> None:
        if self._on:
            self.statements.append(str(args[2]))

    def __enter__(self) -> StatementCounter:
        self.statements.clear()
        self._on = True
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        self._on = False
        event.remove(self.engine, "before_cursor_execute", self._seen)

    @property
    def count(self) -> int:
        return len(self.statements)


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


async def sign_in(web: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Signs in through the form, as a browser does (``web`` keeps cookies)."""
    form = await web.get("/login")
    token = hidden_value(form.text, "csrf_token")
    return await web.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )


async def sign_in_browser(page: Page, email: str, password: str = PASSWORD) -> None:
    """Signs the browser in through the sign-in page; it lands on the home page."""
    await page.goto("/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url("**/")
