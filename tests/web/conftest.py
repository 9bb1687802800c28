"""Browser tests: a real server, the system Chromium (tests/support/web.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from services.api.app import create_app
from shared.config import Settings
from tests.support.web import MISSING_CHROMIUM, WebServer, chromium_path


@pytest.fixture(scope="session")
def web_server(settings: Settings) -> Iterator[WebServer]:
    server = WebServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(MISSING_CHROMIUM)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, web_server: WebServer) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=web_server.url, viewport={"width": 1440, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
async def browser_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies like a browser, over https (the cookies are Secure
    outside development)."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://chorus.test") as c:
        yield c
