"""Post from a template (/posts/new) over HTTP, cookies kept like a browser: the brand's
published templates, the slots, the platforms the brand allows with a warning where no
account is connected, the preview, a time in the location's zone or now, and what must be
refused (problems next to their field, nothing written; no CSRF token; another brand's
template; a role that may not post; a double submit)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_approvals import ConfirmWorld, confirm_world, publish

ATHENS = ZoneInfo("Europe/Athens")


async def _posts(engine: AsyncEngine, location_id: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT platform, status, text, scheduled_at FROM post WHERE location_id = :l "
                "ORDER BY platform"
            ),
            {"l": location_id},
        )
        return [tuple(r) for r in found.all()]


async def _world(client: httpx.AsyncClient, engine: AsyncEngine) -> ConfirmWorld:
    """Facebook connected at Athens, X not; the brand allows those two and Instagram."""
    w = await confirm_world(client, engine, platforms=("facebook",))
    rules = await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "x", "instagram"]},
        headers=w.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    return w


async def _form(web: httpx.AsyncClient, w: ConfirmWorld) -> tuple[str, str, str]:
    """The compose page of the template: its CSRF token and form key, and its text."""
    page = await web.get(f"/posts/new?template_id={w.template_id}")
    assert page.status_code == 200, page.text
    return hidden_value(page.text, "csrf_token"), hidden_value(page.text, "form_key"), page.text


def _problem(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}-problem">([^<]*)</p>', page)
    assert match, f"no problem next to {element_id}"
    return html.unescape(match.group(1))


def _tomorrow() -> str:
    return (datetime.now(ATHENS).date() + timedelta(days=1)).isoformat()


async def test_page_offers_published_templates_allowed_platforms_and_warnings(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await _world(client, admin_engine)
    draft = await client.post(
        "/v1/templates",
        json={"brand_id": w.brand["id"], "name": "Unfinished", "bodies": {"default": "x"}},
        headers=w.owner.headers,
    )
    assert draft.status_code == 201
    await sign_in(browser_client, w.manager_email)
    chooser = await browser_client.get("/posts/new")
    assert chooser.status_code == 200
    assert "Daily offer" in chooser.text
    assert "Unfinished" not in chooser.text
    _, _, body = await _form(browser_client, w)
    body = html.unescape(body)
    assert "Today's offer" in body
    assert "At most 40 characters." in body
    # The brand's platforms only, Facebook ticked; X and Instagram warn (no account there).
    assert re.search(r'id="platform-facebook" name="platforms" value="facebook" checked', body)
    assert re.search(r'id="platform-x" name="platforms" value="x" aria-describedby', body)
    assert 'id="platform-linkedin"' not in body
    assert body.count("No connected account: this post would be skipped at its time.") == 2
    assert "When (Europe/Athens time)" in body
    assert f'value="{_tomorrow()}"' in body
    assert "<h3>Facebook</h3>" in body


async def test_preview_then_post_two_platforms_at_a_local_time(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await _world(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    token, key, _ = await _form(browser_client, w)
    form = {
        "csrf_token": token,
        "form_key": key,
        "template_id": w.template_id,
        "slot.offer": "Δύο σε μία 🍕",
        "slot.size": "small",
        "platforms": ["facebook", "x"],
        "when": "at",
        "day": _tomorrow(),
        "hour": "18:30",
    }
    previewed = await browser_client.post("/posts/new", data={**form, "action": "preview"})
    assert previewed.status_code == 200
    assert "Pizza in Athens: Δύο σε μία 🍕 (small)  #" in html.unescape(previewed.text)
    assert "<h3>X</h3>" in previewed.text
    assert await _posts(admin_engine, w.athens["id"]) == []

    made = await browser_client.post("/posts/new", data={**form, "action": "create"})
    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"/calendar?date={_tomorrow()}"
    posts = await _posts(admin_engine, w.athens["id"])
    assert [(p[0], p[1]) for p in posts] == [("facebook", "scheduled"), ("x", "scheduled")]
    local = datetime.combine(
        datetime.fromisoformat(_tomorrow()).date(), datetime.min.time(), ATHENS
    ).replace(hour=18, minute=30)
    assert {p[3] for p in posts} == {local.astimezone(UTC)}

    # The same form sent again (a double click, a reload) makes nothing more.
    again = await browser_client.post("/posts/new", data={**form, "action": "create"})
    assert again.status_code == 303
    assert again.headers["location"] == made.headers["location"]
    assert len(await _posts(admin_engine, w.athens["id"])) == 2


async def test_post_now_on_one_platform_goes_to_the_post(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await _world(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    token, key, _ = await _form(browser_client, w)
    made = await browser_client.post(
        "/posts/new",
        data={
            "csrf_token": token,
            "form_key": key,
            "template_id": w.template_id,
            "slot.offer": "Free soda שלום",
            "platforms": "facebook",
            "when": "now",
            "day": "",
            "hour": "",
        },
    )
    assert made.status_code == 303, made.text
    [post] = await _posts(admin_engine, w.athens["id"])
    assert made.headers["location"].startswith("/posts/")
    assert post[1] == "scheduled"
    assert abs(post[3] - datetime.now(UTC)) < timedelta(minutes=1)


async def test_problems_next_to_their_fields_and_nothing_written(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await _world(client, admin_engine)
    await sign_in(browser_client, w.manager_email)
    token, key, _ = await _form(browser_client, w)
    base = {"csrf_token": token, "form_key": key, "template_id": w.template_id}
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"slot.offer": "ok", "day": _tomorrow(), "hour": "10:00"},
            "platforms",
            "Choose at least one platform.",
        ),
        (
            {"slot.offer": "x" * 41, "platforms": "facebook", "day": _tomorrow(), "hour": "10:00"},
            "slot-offer",
            "Use at most 40 characters.",
        ),
        (
            {"platforms": "facebook", "day": _tomorrow(), "hour": "10:00"},
            "slot-offer",
            "Fill this in: the template needs it.",
        ),
        (
            {"slot.offer": "a\x00b", "platforms": "facebook", "day": _tomorrow(), "hour": "10:00"},
            "slot-offer",
            "Remove the invisible NUL character from this text.",
        ),
        (
            {"slot.offer": "ok", "platforms": "facebook", "day": "2020-01-01", "hour": "10:00"},
            "day",
            "This time has passed: choose a later one, or post now.",
        ),
        (
            {"slot.offer": "ok", "platforms": "facebook", "day": "99999999-01-01", "hour": "10:00"},
            "day",
            "Give a date, like 2030-06-03.",
        ),
        (
            {"slot.offer": "ok", "platforms": "facebook", "day": _tomorrow(), "hour": "25:99"},
            "hour",
            "Give a time, like 09:30.",
        ),
        (
            {"slot.offer": "ok", "platforms": ["myspace"], "day": _tomorrow(), "hour": "10:00"},
            "platforms",
            "Choose at least one platform.",
        ),
        (
            {
                "slot.offer": "ok",
                "slot.size": "huge",
                "platforms": "facebook",
                "day": _tomorrow(),
                "hour": "10:00",
            },
            "slot-size",
            "Choose one of: small, large.",
        ),
    ]
    for fields, element, message in cases:
        refused = await browser_client.post("/posts/new", data={**base, **fields, "when": "at"})
        assert refused.status_code == 422, (fields, refused.text[:300])
        assert _problem(refused.text, element) == message
    huge = await browser_client.post(
        "/posts/new",
        data={
            **base,
            "slot.offer": "ok",
            "slot.note": "n" * 10_000,
            "platforms": "facebook",
            "when": "now",
        },
    )
    assert huge.status_code == 422
    assert _problem(huge.text, "slot-note") == "Use at most 5000 characters."
    assert await _posts(admin_engine, w.athens["id"]) == []


async def test_refusals_csrf_other_brand_and_staff(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    app: FastAPI,
) -> None:
    w = await _world(client, admin_engine)
    other_brand = await create_brand(client, w.owner)
    foreign = await publish(client, w.owner, other_brand["id"], "Another brand's")
    await sign_in(browser_client, w.manager_email)
    token, key, _ = await _form(browser_client, w)
    form = {
        "form_key": key,
        "template_id": w.template_id,
        "slot.offer": "ok",
        "platforms": "facebook",
        "when": "now",
    }
    assert (await browser_client.post("/posts/new", data=form)).status_code == 403
    assert (await browser_client.get(f"/posts/new?template_id={foreign}")).status_code == 404
    assert (await browser_client.get("/posts/new?template_id=nonsense")).status_code == 404
    elsewhere = await browser_client.post(
        "/posts/new", data={**form, "csrf_token": token, "template_id": foreign}
    )
    assert elsewhere.status_code == 404
    script = await browser_client.post(
        "/preview",
        data={"template_id": w.template_id, "slot.offer": "y" * 41, "platforms": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert script.status_code == 200
    assert script.json()["problems"] == {"offer": "Use at most 40 characters."}
    assert "<h3>X</h3>" in script.json()["html"]
    assert await _posts(admin_engine, w.athens["id"]) == []

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.12", 40000)),
        base_url="https://chorus.test",
    ) as staff:
        await sign_in(staff, w.staff_email)
        assert (await staff.get("/posts/new")).status_code == 403


async def test_template_choice_runs_the_same_statements_for_2_or_12_templates(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    app: FastAPI,
) -> None:
    w = await _world(client, admin_engine)
    await publish(client, w.owner, w.brand["id"], "Second")
    await sign_in(browser_client, w.manager_email)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/posts/new")).status_code == 200
    for n in range(10):
        await publish(client, w.owner, w.brand["id"], f"More {n:02d}")
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/posts/new")
    assert page.text.count("<option value=") == 12 + 1  # and "(choose a template)"
    assert many.count == few.count, many.statements


async def test_odd_times_brand_rules_and_a_reused_form(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await _world(client, admin_engine)
    rules = await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "x"], "banned_words": ["cheap"]},
        headers=w.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    await sign_in(browser_client, w.manager_email)
    token, key, _ = await _form(browser_client, w)
    base = {"csrf_token": token, "form_key": key, "template_id": w.template_id, "when": "at"}
    # 03:30 on the night Athens moves its clocks forward (03:00 becomes 04:00) never happens.
    gap = await browser_client.post(
        "/posts/new",
        data={
            **base,
            "slot.offer": "ok",
            "platforms": "facebook",
            "day": "2030-03-31",
            "hour": "03:30",
        },
    )
    assert gap.status_code == 422
    assert _problem(gap.text, "hour") == (
        "This time does not exist on that day in Europe/Athens (the clocks change); choose another."
    )
    # A word the brand bans: the problem under each platform, not next to a slot.
    banned = await browser_client.post(
        "/posts/new",
        data={
            **base,
            "slot.offer": "Cheap pizza",
            "platforms": ["facebook", "x"],
            "day": _tomorrow(),
            "hour": "10:00",
        },
    )
    assert banned.status_code == 422
    assert html.unescape(banned.text).count("The text uses a word the brand does not allow.") == 2
    assert 'id="slot-offer-problem" hidden' in banned.text
    assert await _posts(admin_engine, w.athens["id"]) == []

    # The form's key is spent by the first post; the same form changed afterwards (a page
    # kept open, then edited) is refused, nothing more is made, and the page still shows.
    made = await browser_client.post(
        "/posts/new",
        data={
            **base,
            "slot.offer": "First",
            "platforms": "facebook",
            "day": _tomorrow(),
            "hour": "10:00",
        },
    )
    assert made.status_code == 303
    reused = await browser_client.post(
        "/posts/new",
        data={
            **base,
            "slot.offer": "Second",
            "platforms": "facebook",
            "day": _tomorrow(),
            "hour": "10:00",
        },
    )
    assert reused.status_code == 422
    assert "Nothing was saved:" in reused.text
    assert "When (Europe/Athens time)" in reused.text
    assert len(await _posts(admin_engine, w.athens["id"])) == 1
