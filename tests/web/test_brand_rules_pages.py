"""The brand's rules as its head office uses them (issue #16): the form with the rules as
stored, save (the page then names each published template the new rules break, and why),
check what typed rules would break without saving, per-platform overrides, each problem next
to its field with nothing saved; a brand viewer reads the rules without a form."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_templates import Office, create_template, head_office


def problem_next_to(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="problem" id="{field_id}-problem">([^<]*)</p>', page)
    assert found, f"no problem next to {field_id}"
    return unescape(found.group(1))


async def stored_rules(client: httpx.AsyncClient, w: Office) -> dict[str, Any]:
    got = await client.get(f"/v1/brands/{w.brand['id']}/rules", headers=w.owner.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


def breaks_section(page: str) -> str:
    found = re.search(r'<section class="card rules-breaks".*?</section>', page, re.S)
    assert found, "no section about the published templates"
    return unescape(found.group(0))


async def office_with_templates(client: httpx.AsyncClient, engine: AsyncEngine) -> Office:
    w = await head_office(client, engine)
    await create_template(client, w.owner, w.brand["id"], "Friday offer", publish=True)
    await create_template(
        client,
        w.owner,
        w.brand["id"],
        "Plain news",
        {"default": "News from {{ location.city }}", "x": "News #pizza"},
        publish=True,
        slots={},
    )
    await create_template(client, w.owner, w.brand["id"], "Draft only")  # not published
    return w


async def test_saving_rules_names_the_published_templates_they_break_and_why(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await office_with_templates(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get("/brand/rules")
    assert page.status_code == 200
    assert '<a href="/brand/rules" aria-current="page">Rules</a>' in page.text
    assert "All 2 published templates keep these rules." in breaks_section(page.text)

    token = hidden_value(page.text, "csrf_token")
    saved = await browser_client.post(
        "/brand/rules",
        data={
            "csrf_token": token,
            "platforms": ["x", "facebook"],
            "banned_words": "Pizza\ncheap",
            "required_hashtags": "#luigis",
            "links": "any",
            "max_hashtags": "3",
            "approval": "on",
            "o.x.banned_words": "slice",
            "action": "save",
        },
    )
    assert saved.status_code == 303
    rules = await stored_rules(client, w)
    assert rules["allowed_platforms"] == ["x", "facebook"]
    assert rules["banned_words"] == ["Pizza", "cheap"]
    assert rules["required_hashtags"] == ["luigis"]
    assert rules["max_hashtags"] == 3
    assert rules["location_edits_need_approval"] is True
    assert rules["platform_overrides"]["x"]["banned_words"] == ["slice"]

    after = await browser_client.get(saved.headers["location"])
    assert "Saved. The new rules apply to every post from now on." in after.text
    section = breaks_section(after.text)
    assert "2 published templates break these rules:" in section
    assert "Friday offer" in section
    assert "Draft only" not in section
    # Facebook: the brand-wide words; X: its own list, which lets "pizza" through.
    assert "Facebook: The text uses a word the brand does not allow." in section
    assert "'pizza'" in section
    assert "The text lacks a hashtag the brand requires." in section
    assert "#luigis" in section
    assert "written for Luigi's Shelbyville" in section
    assert 'value="slice"' not in after.text  # a textarea, not an input
    assert ">slice</textarea>" in after.text


async def test_check_shows_what_typed_rules_would_break_and_saves_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await office_with_templates(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    token = hidden_value((await browser_client.get("/brand/rules")).text, "csrf_token")
    checked = await browser_client.post(
        "/brand/rules",
        data={
            "csrf_token": token,
            "platforms": ["x"],
            "links": "any",
            "required_disclaimer": "Prices vary.",
            "action": "check",
        },
    )
    assert checked.status_code == 200
    section = breaks_section(checked.text)
    assert "What these rules would break" in section
    assert "2 published templates break these rules:" in section
    assert "X: The text lacks the disclaimer the brand requires." in section
    assert ">Prices vary.</textarea>" in checked.text  # the form keeps what was typed
    assert (await stored_rules(client, w))["required_disclaimer"] == ""


async def test_problems_are_shown_next_to_their_fields_and_nothing_is_saved(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    token = hidden_value((await browser_client.get("/brand/rules")).text, "csrf_token")
    bad = await browser_client.post(
        "/brand/rules",
        data={
            "csrf_token": token,
            "banned_words": "cheap",
            "links": "only",
            "link_domains": "luigis.example\nnot a domain",
            "max_hashtags": "many",
            "o.instagram.max_hashtags": "500",
            "action": "save",
        },
    )
    assert bad.status_code == 422
    assert problem_next_to(bad.text, "platforms") == "Choose at least one platform."
    assert "“not a domain” is not a domain" in problem_next_to(bad.text, "link_domains")
    assert "A whole number from 0 to 100" in problem_next_to(bad.text, "max_hashtags")
    assert "A whole number from 0 to 100" in problem_next_to(bad.text, "o-instagram-max_hashtags")
    assert ">cheap</textarea>" in bad.text
    rules = await stored_rules(client, w)
    assert rules["banned_words"] == []  # nothing half written
    assert rules["allowed_link_domains"] is None


async def test_a_brand_viewer_reads_the_rules_without_a_form_and_cannot_post(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    put = await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"banned_words": ["cheap"], "allowed_link_domains": ["luigis.example"]},
        headers=w.owner.headers,
    )
    assert put.status_code == 200
    await sign_in(browser_client, w.viewer_email)
    page = await browser_client.get("/brand/rules")
    assert page.status_code == 200
    assert "<dd>cheap</dd>" in page.text
    assert "Only links to: luigis.example" in page.text
    assert 'action="/brand/rules"' not in page.text
    token = hidden_value(page.text, "csrf_token")
    refused = await browser_client.post(
        "/brand/rules",
        data={"csrf_token": token, "platforms": ["x"], "links": "any", "action": "save"},
    )
    assert refused.status_code == 403
    refused = await browser_client.post(
        "/brand/rules", data={"csrf_token": token, "links": "any", "action": "save"}
    )
    assert refused.status_code == 403  # refused before being told what was wrong
    assert (await stored_rules(client, w))["banned_words"] == ["cheap"]

    no_token = await browser_client.post("/brand/rules", data={"platforms": ["x"]})
    assert no_token.status_code == 403


async def test_the_rules_page_speaks_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get("/brand/rules", headers={"Accept-Language": "el"})
    assert "<h1>Κανόνες μάρκας</h1>" in page.text
    assert "Αποθήκευση κανόνων" in page.text


async def test_checking_many_published_templates_runs_the_same_statements_as_few(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    w = await head_office(client, admin_engine)
    await create_template(client, w.owner, w.brand["id"], "One", publish=True)
    await sign_in(browser_client, w.manager_email)
    await browser_client.get("/brand/rules")
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/brand/rules")).status_code == 200
    for n in range(8):
        await create_template(client, w.owner, w.brand["id"], f"Many {n}", publish=True)
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/brand/rules")
    assert "All 9 published templates keep these rules." in page.text
    assert many.count == few.count
