"""The browser harness catches what it is for: axe-core's serious violations and a page
wider than the phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.web import check_page


async def test_check_page_fails_on_an_inaccessible_page(page: Page) -> None:
    await page.set_content(
        "<!doctype html><html lang=en><title>x</title><main>"
        "<button></button><input type=text></main></html>"
    )
    with pytest.raises(AssertionError, match="button-name"):
        await check_page(page, "harness-inaccessible")


async def test_check_page_fails_on_a_page_wider_than_a_phone(page: Page) -> None:
    await page.set_content(
        "<!doctype html><html lang=en><title>x</title><main><h1>x</h1>"
        "<div style='width:900px'>wide</div></main></html>"
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        await check_page(page, "harness-wide")
