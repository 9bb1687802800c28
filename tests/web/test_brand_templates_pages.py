"""The brand's templates as its head office uses them (issue #16), through the forms a browser
posts: the list and a new template, the editor of a draft (texts per platform, slots, media)
with its preview for a location on every platform, save, publish, duplicate, the reference;
a brand viewer reads without a button that writes; another agency's template is the 404
page; a form with problems shows each next to its field and saves nothing."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.routes import brand_templates
from tests.factories import create_brand, create_location
from tests.support.access import invite_and_accept
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_brand_templates import BODY, Office, create_template, head_office

LONG_X = "Fresh pizza in {{ location.city }}! " + "Best slice in town. " * 16


def problem_next_to(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="problem" id="{field_id}-problem">([^<]*)</p>', page)
    assert found, f"no problem next to {field_id}"
    return unescape(found.group(1))


async def version(
    client: httpx.AsyncClient, w: Office, template_id: str, number: int
) -> dict[str, Any]:
    got = await client.get(
        f"/v1/templates/{template_id}/versions/{number}", headers=w.owner.headers
    )
    assert got.status_code == 200, got.text
    return dict(got.json())


def editor_form(page: str, **changes: str) -> dict[str, str]:
    """The editor's fields as the page shows them (what a browser would post), changed."""
    form: dict[str, str] = {}
    block = page[page.index('id="template-editor"') :]
    block = block[: block.index("</form>")]
    for name, value in re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', block):
        form[name] = unescape(value)
    for name, value in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)</textarea>', block):
        form[name] = unescape(value)
    for name, options in re.findall(
        r'<select[^>]* name="([^"]+)"[^>]*>(.*?)</select>', block, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        form[name] = unescape(chosen.group(1)) if chosen else ""
    for name in re.findall(r'<input type="checkbox"[^>]* name="([^"]+)" checked>', block):
        form[name] = "on"
    form.update(changes)
    return form


# The list and a new template ------------------------------------------------------------------


async def test_the_list_shows_each_template_with_its_version_status_and_platforms(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await create_template(client, w.owner, w.brand["id"], "Friday offer", publish=True)
    await create_template(
        client,
        w.owner,
        w.brand["id"],
        "Short news",
        {"default": BODY, "x": "Short {{ location.city }}"},
    )
    await sign_in(browser_client, w.manager_email)

    page = await browser_client.get("/brand/templates")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td><a href=\"/brand/templates/[^\"]+\">([^<]+)</a>.*?</tr>", page.text, re.S
    )
    assert rows == ["Friday offer", "Short news"]
    assert "Published" in page.text
    assert "Draft" in page.text
    assert "Shared text; a text of their own: X" in page.text
    assert '<a href="/brand/templates" aria-current="page">Templates</a>' in page.text
    assert 'href="/brand/templates/reference"' in page.text
    assert "Theirs" not in page.text  # another agency's


async def test_a_new_template_opens_its_editor_and_problems_save_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.manager_email)
    token = hidden_value((await browser_client.get("/brand/templates")).text, "csrf_token")

    bad = await browser_client.post(
        "/brand/templates",
        data={"name": " ", "body": "Hello {{ location.town }}", "csrf_token": token},
    )
    assert bad.status_code == 422
    assert problem_next_to(bad.text, "name") == "Give the template a name."
    assert "location.town" in problem_next_to(bad.text, "body")
    taken = await browser_client.post(
        "/brand/templates",
        data={"name": "friday OFFER", "body": "Hi", "csrf_token": token},
    )
    assert taken.status_code == 422
    assert "already has a template with this name" in problem_next_to(taken.text, "name")
    listed = await client.get(f"/v1/templates?brand_id={w.brand['id']}", headers=w.owner.headers)
    assert [t["name"] for t in listed.json()["items"]] == ["Friday offer"]  # nothing half written

    made = await browser_client.post(
        "/brand/templates",
        data={"name": "Weekend", "description": "Saturdays", "body": BODY, "csrf_token": token},
    )
    assert made.status_code == 303
    editor = await browser_client.get(made.headers["location"])
    assert "<h1>Weekend</h1>" in editor.text
    assert "Version 1" in editor.text
    assert 'name="body.default"' in editor.text


# The editor -----------------------------------------------------------------------------------


async def test_the_editor_previews_every_platform_for_a_location_and_saves_and_publishes(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.manager_email)
    path = f"/brand/templates/{tid}"
    page = await browser_client.get(path)
    assert page.status_code == 200
    assert "Fresh pizza in Shelbyville! Two for one #pizza" in page.text  # first location by name

    # The "Preview" button without script: what was typed, for Springfield, nothing saved.
    form = editor_form(
        page.text,
        **{"body.x": LONG_X, "location_id": w.springfield["id"], "action": "preview"},
    )
    shown = await browser_client.post(f"{path}/versions/1", data=form)
    assert shown.status_code == 200
    assert "Fresh pizza in Springfield!" in shown.text
    assert re.search(r"The text is \d+ characters long; X takes 280\.", shown.text)
    assert "X takes 280." in problem_next_to(shown.text, "body-x")  # next to X's own text
    assert "x" not in (await version(client, w, tid, 1))["bodies"]

    # Save with a bad slot and a bad media row: each problem next to its field, nothing saved.
    form = editor_form(
        page.text,
        **{
            "body.x": "Short {{ slot.dish }}",
            "slot-1-name": "Dish!",
            "slot-1-label": "Dish",
            "media-instagram-0-url": "http://insecure.example/a.jpg",
            "action": "save",
        },
    )
    bad = await browser_client.post(f"{path}/versions/1", data=form)
    assert bad.status_code == 422
    assert "Small letters, digits and _" in problem_next_to(bad.text, "slot-1-name")
    assert problem_next_to(bad.text, "media-instagram-0-url") == "An https:// address of the file."
    assert (await version(client, w, tid, 1))["bodies"] == {"default": BODY}

    # A template language mistake: next to the text it is in.
    form = editor_form(page.text, **{"body.x": "{{ location.town }}", "action": "save"})
    bad = await browser_client.post(f"{path}/versions/1", data=form)
    assert bad.status_code == 422
    assert "location.town" in problem_next_to(bad.text, "body-x")

    form = editor_form(
        page.text,
        **{
            "body.x": "Short {{ slot.dish }} in {{ location.city }}",
            "title.pinterest": "Pizza {{ location.city }}",
            "slot-1-name": "dish",
            "slot-1-label": "Dish of the day",
            "slot-1-allowed_values": "margherita\nmarinara",
            "slot-1-default": "margherita",
            "media-instagram-0-kind": "image",
            "media-instagram-0-url": "https://cdn.example/pizza.jpg",
            "action": "save",
        },
    )
    saved = await browser_client.post(f"{path}/versions/1", data=form)
    assert saved.status_code == 303
    stored = await version(client, w, tid, 1)
    assert stored["bodies"]["x"] == "Short {{ slot.dish }} in {{ location.city }}"
    assert stored["titles"] == {"pinterest": "Pizza {{ location.city }}"}
    assert stored["slots"]["dish"]["allowed_values"] == ["margherita", "marinara"]
    assert stored["media"]["instagram"][0]["url"] == "https://cdn.example/pizza.jpg"
    after = await browser_client.get(saved.headers["location"])
    assert "Saved." in after.text
    assert "Short margherita in Shelbyville" in after.text

    publish = editor_form(after.text, action="publish")
    done = await browser_client.post(f"{path}/versions/1", data=publish)
    assert done.status_code == 303
    assert (await version(client, w, tid, 1))["status"] == "published"
    published = await browser_client.get(done.headers["location"])
    assert "Published. This version can no longer change." in published.text
    assert 'name="action" value="save"' not in published.text  # read-only now
    token = hidden_value(published.text, "csrf_token")
    again = await browser_client.post(
        f"{path}/versions/1",
        data={**editor_form(page.text, action="save"), "csrf_token": token},
    )
    assert again.status_code == 409
    assert "is published and cannot change" in again.text

    copy = await browser_client.post(f"{path}/versions", data={"from": "1", "csrf_token": token})
    assert copy.status_code == 303
    assert copy.headers["location"].endswith("?version=2")
    draft = await version(client, w, tid, 2)
    assert draft["status"] == "draft"
    assert draft["bodies"] == stored["bodies"]
    two = await browser_client.get(copy.headers["location"])
    assert 'name="action" value="save"' in two.text
    assert f'href="{path}?version=1"' in two.text


async def test_the_live_preview_answers_what_was_typed_with_each_problem_where_it_is(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.manager_email)
    page = await browser_client.get(f"/brand/templates/{tid}")
    token = hidden_value(page.text, "csrf_token")
    form = editor_form(page.text, **{"body.x": LONG_X, "slot.offer": "x" * 41})
    answer = await browser_client.post(
        f"/brand/templates/{tid}/preview", data=form, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert re.search(r"The text is \d+ characters long; X takes 280\.", body["html"])
    assert body["problems"]["offer"] == "Use at most 40 characters."
    assert re.fullmatch(
        r"The text is \d+ characters long; X takes 280\.", body["problems"]["body.x"]
    )
    assert set(body["problems"]) == {"offer", "body.x"}  # also next to X's own text

    form = editor_form(page.text, **{"body.default": "{% if %}"})
    answer = await browser_client.post(
        f"/brand/templates/{tid}/preview", data=form, headers={"X-CSRF-Token": token}
    )
    assert "body.default" in answer.json()["problems"]
    assert "1 problem to fix in the template" in answer.json()["html"]

    del form["csrf_token"]
    refused = await browser_client.post(f"/brand/templates/{tid}/preview", data=form)
    assert refused.status_code == 403  # no CSRF token


# Who may do what ------------------------------------------------------------------------------


async def test_a_brand_viewer_reads_templates_without_any_button_that_writes(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.viewer_email)

    listed = await browser_client.get("/brand/templates")
    assert "Friday offer" in listed.text
    assert 'action="/brand/templates"' not in listed.text
    editor = await browser_client.get(f"/brand/templates/{tid}")
    assert editor.status_code == 200
    assert "Fresh pizza in Shelbyville!" in editor.text  # the preview, for reading
    assert 'method="post"' not in editor.text.split("<main", 1)[1]
    token = hidden_value(editor.text, "csrf_token")
    refused = await browser_client.post(
        f"/brand/templates/{tid}/versions/1",
        data={"body.default": "Changed", "action": "save", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert (await version(client, w, tid, 1))["bodies"] == {"default": BODY}
    refused = await browser_client.post(
        "/brand/templates", data={"name": "Mine", "body": "Hi", "csrf_token": token}
    )
    assert refused.status_code == 403


async def test_another_agencys_template_is_the_404_page_and_a_form_without_token_writes_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.manager_email)
    theirs = await browser_client.get(f"/brand/templates/{w.other_template_id}")
    assert theirs.status_code == 404
    assert "Theirs" not in theirs.text
    token = hidden_value(theirs.text, "csrf_token")
    moved = await browser_client.post(
        f"/brand/templates/{w.other_template_id}/versions/1/publish", data={"csrf_token": token}
    )
    assert moved.status_code == 404
    assert (await browser_client.get("/brand/templates/not-an-id")).status_code == 404

    no_token = await browser_client.post(
        f"/brand/templates/{tid}/versions/1", data={"body.default": "Changed", "action": "save"}
    )
    assert no_token.status_code == 403
    assert (await version(client, w, tid, 1))["bodies"] == {"default": BODY}


# Language, reference, queries -----------------------------------------------------------------


async def test_the_pages_speak_greek_and_the_reference_runs_every_filter(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in(browser_client, w.manager_email)
    greek = {"Accept-Language": "el"}
    listed = await browser_client.get("/brand/templates", headers=greek)
    assert "<h1>Πρότυπα</h1>" in listed.text
    editor = await browser_client.get(f"/brand/templates/{tid}", headers=greek)
    assert "Αποθήκευση πρόχειρου" in editor.text

    ref = await browser_client.get("/brand/templates/reference")
    assert ref.status_code == 200
    for usage in ("upper", "default(&#34;text&#34;)", "truncate(40)", "replace("):
        assert usage in ref.text
    assert "<samp>SPRINGFIELD</samp>" in ref.text  # run by the real compiler
    assert "<samp>Come by!</samp>" in ref.text
    assert "<samp>Visit us.</samp>" in ref.text
    assert "location.time_zone" in ref.text


async def test_the_list_runs_the_same_statements_for_few_templates_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    w = await head_office(client, admin_engine)
    for n in range(2):
        await create_template(client, w.owner, w.brand["id"], f"Few {n}", publish=True)
    await sign_in(browser_client, w.manager_email)
    await browser_client.get("/brand/templates")
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/brand/templates")).status_code == 200
    for n in range(12):
        await create_template(
            client, w.owner, w.brand["id"], f"Many {n:02d}", {"default": BODY, "x": "x"}
        )
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/brand/templates")
    assert "Many 11" in page.text
    assert many.count == few.count


async def test_any_location_of_the_brand_can_be_previewed_and_no_other(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(brand_templates, "LOCATION_CHOICES", 1)  # the chooser lists one
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    other_brand = await create_brand(client, w.owner, "Other brand")
    elsewhere = await create_location(client, w.owner, other_brand["id"], city="Capital City")
    theirs = await create_location(
        client,
        w.other,
        (await client.get("/v1/brands", headers=w.other.headers)).json()["items"][0]["id"],
        city="Ogdenville",
    )
    await sign_in(browser_client, w.manager_email)
    path = f"/brand/templates/{tid}"

    page = await browser_client.get(f"{path}?location_id={w.springfield['id']}")
    assert "Fresh pizza in Springfield!" in page.text  # not in the chooser's first one
    assert f'<option value="{w.springfield["id"]}" selected>' in page.text
    for foreign in (elsewhere, theirs):
        page = await browser_client.get(f"{path}?location_id={foreign['id']}")
        assert page.status_code == 200
        assert "Fresh pizza in Shelbyville!" in page.text  # the first, not theirs
        assert foreign["city"] not in page.text


async def test_a_location_manager_has_no_brand_screens_and_their_urls_are_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    email = f"lm-{w.manager_email}"
    await invite_and_accept(
        client, admin_engine, w.owner, email, "location_manager", location_id=w.springfield["id"]
    )
    await sign_in(browser_client, email)
    home = await browser_client.get("/")
    assert 'href="/brand/templates"' not in home.text
    assert 'href="/brand/rules"' not in home.text
    for path in ("/brand/templates", f"/brand/templates/{tid}", "/brand/rules"):
        assert (await browser_client.get(path)).status_code == 404, path


async def test_the_editor_runs_the_same_statements_for_few_versions_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    w = await head_office(client, admin_engine)
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer", publish=True)
    await sign_in(browser_client, w.manager_email)
    path = f"/brand/templates/{tid}?version=1"
    await browser_client.get(path)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get(path)).status_code == 200
    for _ in range(10):
        made = await client.post(f"/v1/templates/{tid}/versions", headers=w.owner.headers)
        assert made.status_code == 201, made.text
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get(path)
    assert "Version 11" in page.text
    assert many.count == few.count
