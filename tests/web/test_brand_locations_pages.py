"""The brand's location pages as a brand's head office uses them, through the forms a browser
posts (``browser_client`` keeps cookies; every form carries its CSRF token): the list
(search on name, code and city; filters; totals; pages of 50), one location, its edit form
(the API's rules, each problem next to its field, nothing half written), groups (create,
rename, delete, add and remove members in bulk from the list), the import with its preview
(every refused line with its number, field and reason before anything is written) and the
export. Another agency's or brand's location is the 404 page; a brand viewer reads
everything and is offered nothing that writes."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_group, create_location, sign_up
from tests.support import post_world
from tests.support.access import invite_and_accept
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_locations import (
    add_account,
    brand_world,
    csv_of,
    import_csv,
    locations_of,
    member,
    store_lines,
)
from tests.support.web_reviews import write_reviews, yelp_place


def row_names(html: str) -> list[str]:
    return [
        unescape(n)
        for n in re.findall(r'<a href="/brand/locations/[0-9a-f-]{36}">([^<]+)</a>', html)
    ]


def totals(html: str) -> str:
    found = re.search(r'<p class="loc-totals" role="status">(.*?)</p>', html, re.S)
    assert found, "no totals"
    return " ".join(unescape(found.group(1)).split())


async def post_form(
    web: httpx.AsyncClient,
    page_path: str,
    action: str,
    data: dict[str, str] | list[tuple[str, str]],
) -> httpx.Response:
    """Posts a form of the page as the browser would: with the token the page carries (a
    name given more than once, as ticked checkboxes are, is sent once per value)."""
    token = hidden_value((await web.get(page_path)).text, "csrf_token")
    fields: dict[str, list[str]] = {}
    for name, value in data.items() if isinstance(data, dict) else data:
        fields.setdefault(name, []).append(value)
    fields["csrf_token"] = [token]
    return await web.post(action, data=fields)


# The list ---------------------------------------------------------------------------------------


async def test_the_list_searches_filters_counts_and_pages(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    world = await brand_world(client)
    brand_id = world.brand["id"]
    await import_csv(client, world.owner, brand_id, csv_of(store_lines(55)))
    await import_csv(
        client,
        world.owner,
        brand_id,
        csv_of(
            [
                "ATH1,Syntagma,Athens,GR,Europe/Athens,active,South",
                "ATH2,Kifisia,Athens,GR,Europe/Athens,paused,North",
                "SKG1,Ladadika,Thessaloniki,GR,Europe/Athens,archived,North",
            ]
        ),
    )
    kifisia = (await locations_of(client, world, q="Kifisia"))[0]
    await add_account(admin_engine, world, kifisia["id"], "instagram", "needs_reconnect")
    await add_account(admin_engine, world, kifisia["id"], "facebook", "connected")
    other = await sign_up(client)  # another agency's locations never show
    await import_csv(
        client, other, (await brand_world(client, owner=other)).brand["id"], csv_of(store_lines(3))
    )
    await sign_in(browser_client, world.owner.email)

    first = await browser_client.get("/brand/locations")
    assert first.status_code == 200
    assert totals(first.text) == "58 locations match, 56 of them active. Showing 1 to 50."
    assert len(row_names(first.text)) == 50
    assert row_names(first.text)[0] == "Kifisia"  # by name
    assert "Page 1 of 2" in first.text
    second = await browser_client.get("/brand/locations?page=2")
    assert len(row_names(second.text)) == 8
    past_the_end = await browser_client.get("/brand/locations?page=9")
    assert row_names(past_the_end.text) == row_names(second.text)  # the last page
    assert row_names(second.text)[-1] == "Syntagma"

    by_code = await browser_client.get("/brand/locations?q=skg1")
    assert row_names(by_code.text) == ["Ladadika"]
    by_city = await browser_client.get("/brand/locations?q=athens")
    assert row_names(by_city.text) == ["Kifisia", "Syntagma"]
    north = (await browser_client.get("/brand/locations")).text
    north_id = re.search(r'<option value="([0-9a-f-]{36})">North</option>', north)
    assert north_id
    grouped = await browser_client.get(f"/brand/locations?group={north_id.group(1)}")
    assert row_names(grouped.text) == ["Kifisia", "Ladadika"]
    assert totals(grouped.text).startswith("2 locations match, 0 of them active.")
    paused = await browser_client.get("/brand/locations?status=paused&country=GR")
    assert row_names(paused.text) == ["Kifisia"]
    city = await browser_client.get("/brand/locations?city=thessaloniki")
    assert row_names(city.text) == ["Ladadika"]
    health = await browser_client.get("/brand/locations?health=needs_reconnect")
    assert row_names(health.text) == ["Kifisia"]
    assert "1 needs reconnecting" in health.text
    assert "1 connected" in health.text
    unconnected = await browser_client.get("/brand/locations?health=no_account&country=GR")
    assert row_names(unconnected.text) == ["Ladadika", "Syntagma"]

    wrong = await browser_client.get("/brand/locations?status=closed&health=sometimes")
    assert wrong.status_code == 422
    assert 'id="status-problem">Choose active, paused or archived.' in wrong.text
    assert 'id="health-problem"' in wrong.text
    assert row_names(wrong.text) == []

    greek = await browser_client.get("/brand/locations?q=athens", headers={"Accept-Language": "el"})
    assert '<html lang="el"' in greek.text
    assert "Τοποθεσίες" in greek.text
    assert "Αναζήτηση" in greek.text


async def test_the_list_reads_the_same_statements_for_few_or_many_locations(
    app: FastAPI, client: httpx.AsyncClient, browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:  # fmt: skip
    world = await brand_world(client)
    brand_id = world.brand["id"]
    await import_csv(client, world.owner, brand_id, csv_of(store_lines(3, groups="North")))
    some = await locations_of(client, world)
    await add_account(admin_engine, world, some[0]["id"], "facebook", "needs_reconnect")
    await sign_in(browser_client, world.owner.email)
    await browser_client.get("/brand/locations")  # warm: compiled statements, caches

    with StatementCounter(app.state.db.engine) as few:
        page = await browser_client.get("/brand/locations")
    assert len(row_names(page.text)) == 3

    await import_csv(
        client, world.owner, brand_id, csv_of(store_lines(150, start=4, groups="North;South"))
    )
    for location in (await locations_of(client, world))[:40]:
        await add_account(admin_engine, world, location["id"], "instagram")
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/brand/locations")
    assert len(row_names(page.text)) == 50
    assert many.count == few.count, (few.statements, many.statements)


# One location and its edit form -----------------------------------------------------------------


async def test_a_location_page_shows_its_details_groups_and_accounts(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    world = await brand_world(client)
    group = await create_group(client, world.owner, world.brand["id"], "Coast")
    location = await create_location(
        client, world.owner, world.brand["id"], name="Harbour Road", external_ref="H-7",
        group_ids=[group["id"]], phone="+1 312 555 0142",
    )  # fmt: skip
    await add_account(admin_engine, world, location["id"], "instagram", "needs_reconnect")
    viewer = await member(client, admin_engine, world, "brand_viewer")
    await sign_in(browser_client, viewer)

    page = await browser_client.get(f"/brand/locations/{location['id']}")
    assert page.status_code == 200
    assert "<h1>Harbour Road</h1>" in page.text
    assert "H-7" in page.text
    assert "+13125550142" in page.text
    assert f'<a href="/brand/groups/{group["id"]}">Coast</a>' in page.text
    assert "Needs reconnecting" in page.text
    assert "No reviews yet." in page.text
    assert "Edit the location" not in page.text  # a viewer reads, and changes nothing
    listed = await browser_client.get("/brand/locations")
    assert 'type="checkbox"' not in listed.text
    assert "Import locations" not in listed.text
    assert "Export as CSV" in listed.text


async def test_another_agencys_or_brands_location_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    await create_location(client, world.owner, world.brand["id"], name="Ours")
    second_brand = await brand_world(client, "Zeta", owner=world.owner)
    theirs_in_agency = await create_location(
        client, world.owner, second_brand.brand["id"], name="Other Brand Shop"
    )
    other = await brand_world(client, "Theirs")
    theirs = await create_location(client, other.owner, other.brand["id"], name="Secret Shop")
    await sign_in(browser_client, world.owner.email)

    for location in (theirs, theirs_in_agency):
        for path in (
            f"/brand/locations/{location['id']}",
            f"/brand/locations/{location['id']}/edit",
        ):
            refused = await browser_client.get(path)
            assert refused.status_code == 404
            assert location["name"] not in refused.text
    assert (await browser_client.get("/brand/locations/not-an-id")).status_code == 404
    posted = await post_form(
        browser_client, "/brand/locations", f"/brand/locations/{theirs['id']}/edit",
        {"name": "Taken over", "country": "US", "time_zone": "UTC", "status": "active"},
    )  # fmt: skip
    assert posted.status_code == 404
    still = await client.get(f"/v1/locations/{theirs['id']}", headers=other.owner.headers)
    assert still.json()["name"] == "Secret Shop"


def edit_values(location: dict[str, str], **changes: str) -> dict[str, str]:
    fields = ("name", "external_ref", "address_line1", "address_line2", "city", "region",
              "postal_code", "country", "time_zone", "phone", "website", "status")  # fmt: skip
    values = {name: str(location.get(name) or "") for name in fields}
    values.update(changes)
    return values


async def test_edit_saves_with_the_apis_rules_and_writes_nothing_on_a_problem(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    location = await create_location(
        client, world.owner, world.brand["id"], name="Harbour Road", external_ref="H-7"
    )
    await create_location(client, world.owner, world.brand["id"], name="Hill", external_ref="H-8")
    await sign_in(browser_client, world.owner.email)
    edit_path = f"/brand/locations/{location['id']}/edit"
    form = await browser_client.get(edit_path)
    assert form.status_code == 200
    assert 'value="Harbour Road"' in form.text

    bad = await post_form(
        browser_client, edit_path, edit_path,
        edit_values(location, name="New Name", country="XX", phone="12", time_zone="Mars/Base"),
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'id="country-problem">Write a two-letter country code' in bad.text
    assert 'id="time_zone-problem">' in bad.text
    assert 'value="New Name"' in bad.text  # what was typed stays
    taken = await post_form(
        browser_client, edit_path, edit_path, edit_values(location, external_ref="H-8", name="X")
    )
    assert taken.status_code == 422
    assert (
        'id="external_ref-problem">Another location of this brand already has this code.'
        in taken.text
    )
    phone = await post_form(
        browser_client, edit_path, edit_path, edit_values(location, phone="12", name="Y")
    )
    assert phone.status_code == 422
    assert 'id="phone-problem">' in phone.text
    stored = (
        await client.get(f"/v1/locations/{location['id']}", headers=world.owner.headers)
    ).json()
    assert (stored["name"], stored["external_ref"], stored["phone"]) == ("Harbour Road", "H-7", "")

    no_token = await browser_client.post(edit_path, data=edit_values(location, name="Sneaky"))
    assert no_token.status_code == 403

    saved = await post_form(
        browser_client, edit_path, edit_path,
        edit_values(location, name="Harbour Road East", phone="+1 312 555 0142", status="paused",
                    time_zone="america/new_york"),
    )  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/brand/locations/{location['id']}?done=saved"
    stored = (
        await client.get(f"/v1/locations/{location['id']}", headers=world.owner.headers)
    ).json()
    assert (stored["name"], stored["phone"], stored["status"], stored["time_zone"]) == (
        "Harbour Road East", "+13125550142", "paused", "America/New_York",
    )  # fmt: skip
    shown = await browser_client.get(saved.headers["location"])
    assert "The location is saved." in shown.text


async def test_a_brand_viewer_cannot_edit_import_or_change_groups(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    world = await brand_world(client)
    location = await create_location(client, world.owner, world.brand["id"], name="Harbour Road")
    group = await create_group(client, world.owner, world.brand["id"], "Coast")
    viewer = await member(client, admin_engine, world, "brand_viewer")
    await sign_in(browser_client, viewer)

    assert (await browser_client.get(f"/brand/locations/{location['id']}/edit")).status_code == 403
    assert (await browser_client.get("/brand/locations/import")).status_code == 403
    groups = await browser_client.get("/brand/groups")
    assert groups.status_code == 200
    assert "Coast" in groups.text
    assert "New group" not in groups.text
    group_page = await browser_client.get(f"/brand/groups/{group['id']}")
    assert "Rename the group" not in group_page.text
    assert "Delete the group" not in group_page.text
    edited = await post_form(
        browser_client, "/brand/locations", f"/brand/locations/{location['id']}/edit",
        edit_values(location, name="Viewer was here"),
    )  # fmt: skip
    assert edited.status_code == 403
    bulk = await post_form(
        browser_client, "/brand/locations", "/brand/locations/bulk",
        [("location_id", location["id"]), ("group_id", group["id"]), ("action", "add")],
    )  # fmt: skip
    assert bulk.status_code == 403
    created = await post_form(browser_client, "/brand/groups", "/brand/groups", {"name": "Mine"})
    assert created.status_code == 403
    stored = (
        await client.get(f"/v1/locations/{location['id']}", headers=world.owner.headers)
    ).json()
    assert stored["name"] == "Harbour Road"
    export = await browser_client.get("/brand/locations/export")
    assert export.status_code == 200
    assert "Harbour Road" in export.text


# Groups -----------------------------------------------------------------------------------------


async def test_groups_are_created_renamed_filled_in_bulk_emptied_and_deleted(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    await import_csv(client, world.owner, world.brand["id"], csv_of(store_lines(4)))
    ids = [loc["id"] for loc in await locations_of(client, world, sort="name")]
    await sign_in(browser_client, world.owner.email)

    empty = await post_form(browser_client, "/brand/groups", "/brand/groups", {"name": "  "})
    assert empty.status_code == 422
    assert 'id="name-problem">Give the group a name' in empty.text
    semicolon = await post_form(browser_client, "/brand/groups", "/brand/groups", {"name": "A;B"})
    assert semicolon.status_code == 422
    created = await post_form(
        browser_client,
        "/brand/groups",
        "/brand/groups",
        {"name": "Coast", "description": "By the sea"},
    )
    assert created.status_code == 303
    again = await post_form(browser_client, "/brand/groups", "/brand/groups", {"name": "coast"})
    assert again.status_code == 422
    assert "already has a group of this name" in again.text
    listing = await browser_client.get("/brand/groups")
    found = re.search(
        r'<a href="/brand/groups/([0-9a-f-]{36})">Coast</a> · 0 locations', listing.text
    )
    assert found
    group_id = found.group(1)

    nothing = await post_form(
        browser_client, "/brand/locations", "/brand/locations/bulk",
        [("group_id", group_id), ("action", "add"), ("next", "/brand/locations?q=Store")],
    )  # fmt: skip
    assert nothing.status_code == 422
    assert "Tick the locations to change first." in nothing.text
    added = await post_form(
        browser_client, "/brand/locations", "/brand/locations/bulk",
        [("location_id", ids[0]), ("location_id", ids[1]), ("location_id", ids[2]),
         ("group_id", group_id), ("action", "add"), ("next", "/brand/locations?q=Store")],
    )  # fmt: skip
    assert added.status_code == 303
    assert added.headers["location"] == "/brand/locations?q=Store&done=added"
    page = await browser_client.get(f"/brand/groups/{group_id}")
    assert "3 locations" in page.text
    assert row_names(page.text) == ["Store 00001", "Store 00002", "Store 00003"]

    removed = await post_form(
        browser_client, "/brand/locations", "/brand/locations/bulk",
        [("location_id", ids[0]), ("group_id", group_id), ("action", "remove"),
         ("next", "https://evil.example/")],
    )  # fmt: skip
    assert removed.status_code == 303
    assert removed.headers["location"] == "/brand/locations?done=removed"
    taken_out = await post_form(
        browser_client, f"/brand/groups/{group_id}", f"/brand/groups/{group_id}/remove",
        [("location_id", ids[1])],
    )  # fmt: skip
    assert taken_out.status_code == 303
    assert row_names((await browser_client.get(f"/brand/groups/{group_id}")).text) == [
        "Store 00003"
    ]

    renamed = await post_form(
        browser_client,
        f"/brand/groups/{group_id}",
        f"/brand/groups/{group_id}/rename",
        {"name": "Seaside"},
    )
    assert renamed.status_code == 303
    assert "<h1>Group Seaside</h1>" in (await browser_client.get(f"/brand/groups/{group_id}")).text
    deleted = await post_form(
        browser_client, f"/brand/groups/{group_id}", f"/brand/groups/{group_id}/delete", {}
    )
    assert deleted.status_code == 303
    assert "Seaside" not in (await browser_client.get("/brand/groups")).text
    assert len(await locations_of(client, world)) == 4  # its locations stay


async def test_another_agencys_group_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    mine = await create_location(client, world.owner, world.brand["id"], name="Mine")
    other = await brand_world(client, "Theirs")
    theirs = await create_group(client, other.owner, other.brand["id"], "Secret Group")
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get(f"/brand/groups/{theirs['id']}")
    assert page.status_code == 404
    assert "Secret Group" not in page.text
    bulk = await post_form(
        browser_client, "/brand/locations", "/brand/locations/bulk",
        [("location_id", mine["id"]), ("group_id", theirs["id"]), ("action", "add")],
    )  # fmt: skip
    assert bulk.status_code == 404


# Import and export ------------------------------------------------------------------------------


async def upload(
    web: httpx.AsyncClient,
    name: str,
    data: bytes,
    content_type: str = "text/csv",
    *,
    greek: bool = False,
) -> httpx.Response:
    token = hidden_value((await web.get("/brand/locations/import")).text, "csrf_token")
    return await web.post(
        "/brand/locations/import",
        data={"csrf_token": token},
        files={"file": (name, data, content_type)},
        headers={"Accept-Language": "el"} if greek else {},
    )


def problem_rows(html: str) -> list[tuple[str, str, str]]:
    table = re.search(r'<table class="imp-problems">(.*?)</table>', html, re.S)
    assert table, "no problems table"
    return [
        (line, field, unescape(message))
        for line, field, message in re.findall(
            r'<tr><td>([^<]*)</td><td>([^<]*)</td><td class="loc-wrap">([^<]*)</td></tr>',
            table.group(1),
        )
    ]


async def test_import_previews_every_bad_line_then_imports_and_exports(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    await import_csv(client, world.owner, world.brand["id"], csv_of(store_lines(2)))
    await sign_in(browser_client, world.owner.email)
    lines = store_lines(8, start=1)
    lines[2] = "S00003,Store 00003,Springfield,XX,America/Chicago,active,"  # line 4: country
    lines[4] = "S00005,,Springfield,US,America/Chicago,active,"  # line 6: no name
    lines[6] = "S00007,Store 00007,Springfield,US,Mars/Base,active,"  # line 8: time zone
    lines[1] = "S00002,Store 00002 renamed,Springfield,US,America/Chicago,active,"

    preview = await upload(browser_client, "stores.csv", csv_of(lines))
    assert preview.status_code == 200
    text = " ".join(unescape(preview.text).split())
    assert "What stores.csv will do" in text
    assert "8 lines read" in text
    assert "3 locations will be created" in text
    assert "1 location will be updated" in text
    assert "3 lines are refused" in text
    assert [(line, field) for line, field, _ in problem_rows(preview.text)] == [
        ("4", "country"), ("6", "name"), ("8", "time_zone"),
    ]  # fmt: skip
    assert [message for _, _, message in problem_rows(preview.text)] == [
        "Write a two-letter country code, such as US, DE or GR.",
        "Give the location a name of at most 200 characters.",
        "Write a time zone name, such as Europe/Athens or America/New_York.",
    ]
    greek = await upload(browser_client, "stores.csv", csv_of(lines), greek=True)
    assert "Γράψτε κωδικό χώρας δύο γραμμάτων" in problem_rows(greek.text)[0][2]
    assert len(await locations_of(client, world)) == 2  # nothing written yet
    assert "Import 5 good lines, skip 3" in text

    lines[2] = "S00003,Store 00003,Springfield,US,America/Chicago,active,"
    lines[4] = "S00005,Store 00005,Springfield,US,America/Chicago,active,"
    lines[6] = "S00007,Store 00007,Springfield,US,America/Chicago,active,North"
    fixed = await upload(browser_client, "stores.csv", csv_of(lines))
    text = " ".join(unescape(fixed.text).split())
    assert "0 lines are refused" in text
    assert "1 group will be created" in text
    assert 'class="imp-problems"' not in fixed.text
    token = hidden_value(fixed.text, "token")
    applied = await browser_client.post(
        "/brand/locations/import/apply",
        data={"token": token, "csrf_token": hidden_value(fixed.text, "csrf_token")},
    )
    assert applied.status_code == 303
    done = await browser_client.get(applied.headers["location"])
    assert "6 locations created, 1 updated, 1 unchanged." in " ".join(done.text.split())
    stored = await locations_of(client, world, sort="name")
    assert [loc["name"] for loc in stored][:3] == [
        "Store 00001",
        "Store 00002 renamed",
        "Store 00003",
    ]
    assert len(stored) == 8
    replay = await browser_client.post(
        "/brand/locations/import/apply",
        data={"token": token, "csrf_token": hidden_value(fixed.text, "csrf_token")},
    )
    assert replay.status_code == 422  # the kept file is used once
    assert len(await locations_of(client, world)) == 8

    export = await browser_client.get("/brand/locations/export?group=")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    header = export.text.splitlines()[0]
    assert header.startswith("external_ref,name,address_line1")
    assert "groups" in header
    assert "S00007" in export.text
    assert "North" in export.text


async def test_import_skipping_the_bad_lines_and_unreadable_files(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    await sign_in(browser_client, world.owner.email)
    lines = store_lines(3)
    lines[1] = "S00002,Store 00002,Springfield,US,Nowhere/City,active,"
    preview = await upload(browser_client, "stores.csv", csv_of(lines))
    applied = await browser_client.post(
        "/brand/locations/import/apply",
        data={
            "token": hidden_value(preview.text, "token"),
            "mode": "valid_only",
            "csrf_token": hidden_value(preview.text, "csrf_token"),
        },
    )
    assert applied.status_code == 303
    done = " ".join((await browser_client.get(applied.headers["location"])).text.split())
    assert "2 locations created" in done
    assert "1 line skipped" in done
    assert sorted(loc["name"] for loc in await locations_of(client, world)) == [
        "Store 00001", "Store 00003",
    ]  # fmt: skip

    header_only = await upload(browser_client, "bad.csv", b"title,town\nx,y\n")
    assert header_only.status_code == 422
    assert "Nothing can be imported from this file" in header_only.text
    assert "unknown columns" in unescape(header_only.text)
    assert 'name="token"' not in header_only.text
    wrong_kind = await upload(browser_client, "photo.png", b"\x89PNG", "image/png")
    assert wrong_kind.status_code == 422
    assert 'id="file-problem">Choose a .csv or .json file (this one is neither).' in wrong_kind.text
    json_file = await upload(
        browser_client, "more.json",
        b'[{"external_ref": "J1", "name": "Json Shop", "country": "GR", '
        b'"time_zone": "Europe/Athens"}]',
        "application/json",
    )  # fmt: skip
    assert "1 location will be created" in " ".join(json_file.text.split())
    greek = await browser_client.get("/brand/locations/import", headers={"Accept-Language": "el"})
    assert "Εισαγωγή" in greek.text


async def test_a_location_page_shows_next_and_last_posts_reviews_and_rating(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    world = await post_world.build(client, admin_engine, uuid.uuid4().hex[:8])
    soon = datetime.now(UTC) + timedelta(days=3)
    made = await post_world.make_posts(client, world, ["facebook", "google_business"], at=soon)
    await post_world.force(
        admin_engine,
        "UPDATE post SET status = 'published', published_at = now() - interval '1 day' "
        "WHERE id = :id",
        id=made[1]["id"],
    )
    place = await yelp_place(client, admin_engine, world.owner, world.brand)
    await write_reviews(admin_engine, place, 4, rating=4)
    await write_reviews(admin_engine, place, 1, rating=2, author="Angry Ann")
    await sign_in(browser_client, world.owner.email)

    page = await browser_client.get(f"/brand/locations/{world.here['id']}")
    text = " ".join(unescape(page.text).split())
    assert page.status_code == 200
    assert f'<a href="/posts/{made[0]["id"]}">' in page.text  # next: the Facebook post
    assert f'<a href="/posts/{made[1]["id"]}">' in page.text  # last: the published one
    assert "Facebook · Scheduled" in text
    post = await browser_client.get(f"/posts/{made[0]['id']}")
    assert post.status_code == 200  # the brand's post opens from the brand screens

    reviewed = await browser_client.get(f"/brand/locations/{place.location['id']}")
    text = " ".join(unescape(reviewed.text).split())
    assert "Rated 3.6 out of 5 on average, 5 reviews" in text
    assert "Angry Ann" in text


async def test_groups_and_a_groups_members_read_the_same_statements_for_few_or_many(
    app: FastAPI, client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    world = await brand_world(client)
    await import_csv(client, world.owner, world.brand["id"], csv_of(store_lines(2, groups="A;B")))
    await sign_in(browser_client, world.owner.email)
    listing = await browser_client.get("/brand/groups")
    group_id = re.search(r'<a href="/brand/groups/([0-9a-f-]{36})">A</a>', listing.text)
    assert group_id
    members = f"/brand/groups/{group_id.group(1)}"
    await browser_client.get(members)

    with StatementCounter(app.state.db.engine) as few_groups:
        await browser_client.get("/brand/groups")
    with StatementCounter(app.state.db.engine) as few_members:
        await browser_client.get(members)

    names = ";".join(["A", *(f"G{i:02d}" for i in range(30))])
    await import_csv(
        client, world.owner, world.brand["id"], csv_of(store_lines(80, start=3, groups=names))
    )
    with StatementCounter(app.state.db.engine) as many_groups:
        groups_page = await browser_client.get("/brand/groups")
    with StatementCounter(app.state.db.engine) as many_members:
        members_page = await browser_client.get(members)
    assert "G29" in groups_page.text
    assert len(row_names(members_page.text)) == 50
    assert many_groups.count == few_groups.count
    assert many_members.count == few_members.count


async def test_a_location_manager_has_no_brand_locations_pages(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    world = await brand_world(client)
    location = await create_location(client, world.owner, world.brand["id"], name="Main Street")
    email = f"lm-{uuid.uuid4().hex[:8]}@example.com"
    await invite_and_accept(
        client, admin_engine, world.owner, email, "location_manager", location_id=location["id"]
    )
    await sign_in(browser_client, email)
    home = await browser_client.get("/")
    assert 'href="/brand/locations"' not in home.text
    for path in ("/brand/locations", f"/brand/locations/{location['id']}", "/brand/groups"):
        refused = await browser_client.get(path)
        assert refused.status_code == 404, path
