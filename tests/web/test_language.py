"""The web app's language: the person's own setting first, else the browser's
Accept-Language, else English; dates through Babel in that language."""

from __future__ import annotations

import httpx

from services.web.i18n import Translator, negotiate
from tests.factories import sign_up
from tests.support.web import hidden_value, sign_in

GREEK = {"Accept-Language": "el-GR,el;q=0.9,en;q=0.8"}


def test_accept_language_is_read_by_quality() -> None:
    assert negotiate("el-GR,el;q=0.9,en;q=0.8") == "el"
    assert negotiate("fr-FR, en;q=0.5, el;q=0.9") == "el"
    assert negotiate("fr, de") == "en"
    assert negotiate("el;q=0, en") == "en"
    assert negotiate(None) == "en"
    assert negotiate("el", preferred="en") == "en"
    assert negotiate("en", preferred="xx") == "en"


def test_dates_are_formatted_for_the_language_in_the_zone() -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert Translator("en").format_date(when, "Europe/Athens") == "Mar 2, 2026"
    assert Translator("el").format_date(when, "Europe/Athens") == "2 Μαρ 2026"
    assert Translator("en").format_date(when, "America/Chicago") == "Mar 1, 2026"


async def test_the_persons_setting_wins_over_the_browser(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    await sign_in(browser_client, tenant.email)
    home = await browser_client.get("/", headers=GREEK)
    assert "Τι σας χρειάζεται τώρα" in home.text

    form = await browser_client.get("/account/language", headers=GREEK)
    token = hidden_value(form.text, "csrf_token")
    saved = await browser_client.post(
        "/account/language", data={"language": "en", "csrf_token": token}
    )
    assert saved.status_code == 303
    home = await browser_client.get("/", headers=GREEK)
    assert "What needs you now" in home.text
    assert '<html lang="en">' in home.text

    await browser_client.post("/account/language", data={"language": "", "csrf_token": token})
    assert "Τι σας χρειάζεται τώρα" in (await browser_client.get("/", headers=GREEK)).text

    refused = await browser_client.post(
        "/account/language", data={"language": "xx", "csrf_token": token}
    )
    assert refused.status_code == 400
