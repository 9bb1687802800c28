"""The brand's location pages in Chromium: every page checked at phone and desktop widths
(screenshots, no sideways scroll, axe-core), a location found with the filters, opened and
edited with the keyboard alone, a whole page of locations added to a group by keyboard, and
a file with three bad lines previewed (each line shown with its field), fixed, previewed
again and imported."""

from __future__ import annotations

import httpx
from playwright.async_api import FilePayload, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_group
from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_locations import (
    add_account,
    brand_world,
    csv_of,
    import_csv,
    locations_of,
    member,
    store_lines,
)


def csv_file(lines: list[str]) -> FilePayload:
    return FilePayload(name="stores.csv", mimeType="text/csv", buffer=csv_of(lines))


async def test_find_open_and_edit_a_location_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await brand_world(client, "Slice & Co")
    lines = store_lines(60)
    lines.append(
        "ATH-1,Καφέ Σύνταγμα με ένα πολύ μακρύ όνομα καταστήματος,Athens,GR,Europe/Athens,active,"
        "Athens Centre;Greece"
    )
    await import_csv(client, world.owner, world.brand["id"], csv_of(lines))
    athens = (await locations_of(client, world, country="GR"))[0]
    await add_account(admin_engine, world, athens["id"], "instagram", "needs_reconnect")
    await add_account(admin_engine, world, athens["id"], "facebook")
    manager = await member(client, admin_engine, world, "brand_manager")
    await sign_in_browser(page, manager)

    await page.goto("/")
    await page.get_by_role("link", name="Locations", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Locations of Slice & Co")
    await check_page(page, "brand-locations")

    await page.focus("#country")
    await page.keyboard.press("ArrowDown")  # the first country: Greece
    await page.focus("#health")
    await page.keyboard.press("ArrowDown")  # accounts that need reconnecting
    await page.focus("form[role=search] button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/locations?*health=needs_reconnect*")
    link = page.get_by_role("link", name="Καφέ Σύνταγμα με ένα πολύ μακρύ όνομα καταστήματος")
    await expect(link).to_have_count(1)
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Καφέ Σύνταγμα με ένα πολύ μακρύ όνομα καταστήματος"
    )
    await expect(page.get_by_text("Needs reconnecting")).to_be_visible()
    await check_page(page, "brand-location")

    await page.get_by_role("link", name="Edit the location").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#name")).to_be_visible()
    await check_page(page, "brand-location-edit")
    await page.focus("#phone")
    await page.keyboard.type("12")  # not a Greek number
    await page.keyboard.press("Enter")
    await expect(page.locator("#phone-problem")).to_be_visible()
    await check_page(page, "brand-location-edit-problem")
    await page.focus("#phone")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("+30 21 0123 4567")
    await page.focus("#name")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Syntagma")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Syntagma")
    await expect(page.get_by_role("status")).to_have_text("The location is saved.")
    stored = (await locations_of(client, world, country="GR"))[0]
    assert (stored["name"], stored["phone"]) == ("Syntagma", "+302101234567")


async def test_groups_pages_at_both_widths(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await brand_world(client, "Slice & Co")
    await import_csv(client, world.owner, world.brand["id"], csv_of(store_lines(5, groups="North")))
    await create_group(client, world.owner, world.brand["id"], "South")
    await sign_in_browser(page, world.owner.email)
    await page.goto("/brand/groups")
    await check_page(page, "brand-groups")
    await page.get_by_role("link", name="North").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Group North")
    await check_page(page, "brand-group")

    await page.goto("/brand/locations")
    await page.get_by_role("checkbox", name="Choose all on this page").focus()
    await page.keyboard.press("Space")
    await expect(page.locator("input[name=location_id]:checked")).to_have_count(5)
    await page.focus("#group_id")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")  # South
    await page.get_by_role("button", name="Add to the group").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_have_text(
        "The chosen locations are in the group."
    )
    await page.goto("/brand/groups")
    await expect(page.get_by_role("listitem").filter(has_text="South")).to_contain_text(
        "5 locations"
    )

    viewer = await member(client, admin_engine, world, "brand_viewer")
    await page.context.clear_cookies()
    await sign_in_browser(page, viewer)
    await page.goto("/brand/locations")
    await expect(page.get_by_role("checkbox")).to_have_count(0)
    await expect(page.get_by_role("button", name="Add to the group")).to_have_count(0)
    await check_page(page, "brand-locations-viewer")


async def test_import_shows_the_three_bad_lines_then_imports_the_fixed_file(
    client: httpx.AsyncClient, page: Page
) -> None:
    world = await brand_world(client, "Slice & Co")
    await sign_in_browser(page, world.owner.email)
    lines = store_lines(40)
    good = list(lines)
    lines[9] = "S00010,Store 00010,Springfield,USA,America/Chicago,active,"  # line 11
    lines[19] = "S00020,,Springfield,US,America/Chicago,active,"  # line 21
    lines[29] = "S00030,Store 00030,Springfield,US,America/Chicago,open,"  # line 31

    await page.goto("/brand/locations")
    await page.get_by_role("link", name="Import locations").click()
    await check_page(page, "brand-locations-import")
    await page.set_input_files("#file", files=[csv_file(lines)])
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_text("3 lines are refused")).to_be_visible()
    rows = page.locator("table.imp-problems tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0)).to_contain_text("11")
    await expect(rows.nth(0)).to_contain_text("country")
    await expect(rows.nth(1)).to_contain_text("name")
    await expect(rows.nth(2)).to_contain_text("status")
    await check_page(page, "brand-locations-import-preview")
    assert await locations_of(client, world) == []  # nothing written yet

    await page.set_input_files("#file", files=[csv_file(good)])
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_text("40 locations will be created")).to_be_visible()
    await page.get_by_role("button", name="Import 40 locations").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text("40 locations created")
    await check_page(page, "brand-locations-imported")
    assert len(await locations_of(client, world)) == 40
