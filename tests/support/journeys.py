"""What the journeys in Chromium share (tests/web/test_journeys.py, issue #15, and
tests/web/test_brand_journeys.py, issue #16): a browser of one person's own on the journeys'
server, moving the focus with Tab, following a link with the keyboard, signing in with the
keyboard, and mail delivered by the worker over SMTP with the link it carries."""

from __future__ import annotations

import re

from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page

from shared.config import Settings
from tests.support.smtp_server import Handler, SmtpServer, run_worker, smtp_settings
from tests.support.web import WebServer


async def new_context(browser: Browser, server: WebServer, width: int = 1440) -> BrowserContext:
    """A browser of its own (its own cookies: one person's session)."""
    context = await browser.new_context(
        base_url=server.url, viewport={"width": width, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(15_000)
    return context


async def tab_to(page: Page, selector: str, limit: int = 150) -> None:
    """Presses Tab until the element matching ``selector`` has the focus (no mouse)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def follow(page: Page, href: str) -> None:
    """Tabs to the link to ``href`` and opens it with Enter."""
    await tab_to(page, f"a[href='{href}']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**{href}")


async def sign_in_with_keyboard(page: Page, email: str, password: str) -> None:
    """Fills the sign-in page and presses Enter (where it leads is the test's to check)."""
    await page.goto("/login")
    await tab_to(page, "#email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")


async def deliver_mail(app: FastAPI, settings: Settings) -> Handler:
    """Runs every queued job once (a burst worker) with the mail going over SMTP to a server of
    the test's own; what reached it."""
    handler = Handler()
    async with SmtpServer(handler) as smtp:
        await run_worker(app, smtp_settings(settings, smtp.port))
    return handler


def link_in(handler: Handler, address: str, path: str) -> str:
    """The one link to ``path`` mailed to ``address``, as the path and query to open on the
    journeys' server."""
    links = []
    for received in handler.received:
        body = received.message.get_body(("plain",))
        if address in received.rcpt_tos and body is not None:
            found = re.search(
                rf"https?://[^/\s]+({re.escape(path)}\?token=\S+)", body.get_content()
            )
            links += [found.group(1)] if found else []
    assert len(links) == 1, f"{len(links)} mails to {address} with a link to {path}"
    return links[0]


async def mailed_link(app: FastAPI, settings: Settings, address: str, path: str) -> str:
    """Delivers the queued mail, then the link to ``path`` in the mail that reached
    ``address``."""
    return link_in(await deliver_mail(app, settings), address, path)
