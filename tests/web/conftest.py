"""Browser tests: a real server, the system Chromium (tests/support/web.py).

Without Chromium the browser tests (those using the ``page`` or ``browser`` fixture) are
left out at collection and the run ends with one line saying so and naming the command that
installs it; the HTTP-level tests of tests/web still run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from _pytest.terminal import TerminalReporter
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from services.api.app import create_app
from shared.config import Settings
from tests.support.web import MISSING_CHROMIUM, WebServer, chromium_path

_LEFT_OUT = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_path() is not None:
        return
    browser = [i for i in items if {"page", "browser"} & set(getattr(i, "fixturenames", ()))]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [i for i in items if i not in browser]
        config.stash[_LEFT_OUT] = len(browser)


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    left_out = config.stash.get(_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"{left_out} {MISSING_CHROMIUM}", yellow=True, bold=True)


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
