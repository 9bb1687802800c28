"""What the journeys of tests/web/test_brand_journeys.py (issue #16) share: a browser context
on the journeys' own server, moving the focus with Tab, the link of a mail delivered over SMTP,
signing in with the keyboard, the file of a brand's 2,000 stores and the controls of a page that
would write something."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page

from shared.config import Settings
from tests.support.smtp_server import Handler, SmtpServer, run_worker, smtp_settings
from tests.support.web import ARTIFACTS, WebServer

STORES_HEADER = "external_ref,name,city,country,time_zone,status,groups"


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
    """The one link to ``path`` mailed to ``address``, as the path and query to open."""
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


def stores_csv(count: int, special: dict[int, str] | None = None) -> bytes:
    """A CSV of ``count`` stores (line 1 is the header, store ``n`` is on line ``n + 1``), with
    ``special`` lines (by store number) written as given."""
    zones = [
        ("Springfield", "US", "America/Chicago"),
        ("Lyon", "FR", "Europe/Paris"),
        ("Patras", "GR", "Europe/Athens"),
    ]
    lines = [STORES_HEADER]
    for n in range(1, count + 1):
        city, country, zone = zones[n % len(zones)]
        line = f"S{n:05d},Store {n:05d},{city},{country},{zone},active,"
        lines.append((special or {}).get(n, line))
    return ("\n".join(lines) + "\n").encode()


WRITE_CONTROLS = """() => {
  const found = [];
  for (const form of document.querySelectorAll("form")) {
    const method = (form.getAttribute("method") || "get").toLowerCase();
    if (method === "post" && !form.closest("header")) {
      found.push("form " + form.getAttribute("action"));
    }
  }
  for (const b of document.querySelectorAll("main button, main input[type=submit]")) {
    const form = b.form;
    const reads = form && (form.getAttribute("method") || "get").toLowerCase() === "get";
    if (!reads) {
      found.push("button " + (b.textContent || b.value || "").trim());
    }
  }
  return found;
}"""
"""Every form that posts outside the header (the switchers and the sign-out are the header's)
and every button of the page that does not belong to a form that only reads (a search)."""


async def write_controls(page: Page) -> list[str]:
    return list(await page.evaluate(WRITE_CONTROLS))


def keep_timings(name: str, seconds: dict[str, float]) -> None:
    """Writes how long the steps of a journey took to ``.data/artifacts/web/<name>.json`` (a
    record to read, not a limit: performance is measured in bench/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rounded = {step: round(value, 2) for step, value in seconds.items()}
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(rounded, indent=2) + "\n")
