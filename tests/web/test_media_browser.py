"""The media library in Chromium on a phone: a location manager picks a phone photo from the
file chooser, the page's script sends it in pieces and opens its page, which shows it being
prepared and then, once the worker's processing has run (in this process, on the server's
storage), the photo itself; a click on the photo sets the focal point, tags are added, and
the library finds it by tag. A brand viewer is offered no upload. Every page checked at
phone and desktop widths (screenshots, no sideways scroll, axe-core)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import FilePayload, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from tests.support.web import check_page, sign_in_browser
from tests.support.web_media import media_rows, media_world, person, phone_photo, process_waiting

PHONE = {"width": 375, "height": 800}


async def test_a_location_manager_uploads_from_the_phone_sets_the_crop_and_finds_it_by_tag(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    page: Page,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await page.set_viewport_size(PHONE)
    await sign_in_browser(page, manager)

    await page.get_by_role("link", name="Media", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Media library")
    await check_page(page, "media-library-empty")
    await page.set_viewport_size(PHONE)
    photo = FilePayload(name="IMG_0001.jpg", mimeType="image/jpeg", buffer=phone_photo(tmp_path))
    await page.set_input_files("#file", [photo])
    await page.get_by_role("button", name="Upload", exact=True).click()

    await page.wait_for_url("**/media/*?done=uploaded")
    await expect(page.get_by_role("heading", level=1)).to_have_text("IMG_0001.jpg")
    await expect(page.get_by_text("Being prepared")).to_be_visible()
    (row,) = await media_rows(admin_engine, world.agency_id)
    assert row["status"] == "processing"

    assert await process_waiting(settings, app_db, admin_engine, world.agency_id) == 1
    preview = page.locator("#media-preview")
    await expect(preview).to_be_visible(timeout=15_000)  # the page notices by itself
    await expect(page.get_by_text("Being prepared")).to_have_count(0)
    await check_page(page, "media-page")
    await page.set_viewport_size(PHONE)

    box = await preview.bounding_box()
    assert box is not None
    await preview.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    assert abs(float(await page.input_value("#focal_x")) - 25) < 1.5
    assert abs(float(await page.input_value("#focal_y")) - 75) < 1.5
    await page.fill("#tags", "Terrace, summer")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text("The changes are saved.")).to_be_visible()
    (row,) = await media_rows(admin_engine, world.agency_id)
    assert row["tags"] == ["terrace", "summer"]
    assert abs(row["focal_x"] - 0.25) < 0.015
    assert abs(row["focal_y"] - 0.75) < 0.015

    await page.get_by_role("link", name="Media library").first.click()
    await page.fill("#tag", "terrace")
    await page.get_by_role("button", name="Find", exact=True).click()
    await page.wait_for_url("**/media?*tag=terrace*")
    card = page.locator(".media-card")
    await expect(card).to_have_count(1)
    await expect(card.locator(".media-name")).to_have_text("IMG_0001.jpg")
    await expect(card.locator("img")).to_be_visible()
    await check_page(page, "media-library")
    await page.set_viewport_size(PHONE)
    await page.fill("#tag", "winter")
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(page.locator(".media-card")).to_have_count(0)


async def test_a_brand_viewer_is_offered_no_upload(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await media_world(client)
    viewer = await person(client, admin_engine, world, "brand_viewer")
    await sign_in_browser(page, viewer)
    await page.get_by_role("link", name="Media", exact=True).click()
    await page.wait_for_url("**/brand/media")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Media library")
    await expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    await expect(page.locator("input[type=file]")).to_have_count(0)
    await check_page(page, "brand-media-viewer")
