"""The approval pages over HTTP (in process, cookies kept like a browser): the location's
queue, one campaign request with its open slots and the preview on every platform,
confirming with the slots filled, rejecting with a reason, the script's preview route, and
what must be refused (no CSRF token, another location's or agency's post, a role that may
not confirm, odd input, a double submit, two tabs)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.web.security import CSP
from tests.factories import sign_up
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_approvals import ConfirmWorld, ask_to_confirm, confirm_world

BOTH = ("facebook", "x")


async def _rows(engine: AsyncEngine, post_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT id, status, text, slot_values, decision_comment FROM post "
                "WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": post_ids},
        )
        return {str(r[0]): tuple(r[1:]) for r in found.all()}


async def _world(
    client: httpx.AsyncClient, engine: AsyncEngine, worker_ctx: dict[str, Any]
) -> tuple[ConfirmWorld, list[dict[str, Any]]]:
    w = await confirm_world(client, engine, platforms=BOTH)
    posts = await ask_to_confirm(client, w, worker_ctx, channels=BOTH, name="Summer slices")
    return w, posts


async def _signed_in(web: httpx.AsyncClient, email: str) -> str:
    """Signs in; the CSRF token of the signed-in pages."""
    landed = await sign_in(web, email)
    assert landed.status_code == 303, landed.text
    return hidden_value((await web.get("/approvals")).text, "csrf_token")


def _problem(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}-problem">([^<]*)</p>', page)
    assert match, f"no problem next to {element_id}"
    return html.unescape(match.group(1))


def _athens_posts(posts: list[dict[str, Any]], w: ConfirmWorld) -> list[str]:
    return [p["id"] for p in posts if p["location_id"] == w.athens["id"]]


async def test_queue_lists_the_campaign_request_with_its_deadline_in_local_time(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
) -> None:
    w, posts = await _world(client, admin_engine, worker_ctx)
    later = await ask_to_confirm(
        client, w, worker_ctx, at="2030-07-01T06:00:00+00:00", name="July deals"
    )
    await _signed_in(browser_client, w.manager_email)
    page = await browser_client.get("/approvals")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    body = page.text
    # One row per campaign (its platforms together), the soonest first, in Athens time.
    assert body.index("Summer slices") < body.index("July deals")
    assert "X, Facebook" in body
    assert "Jun 3, 2030, 7:00:00\u202fPM" in body  # 16:00 UTC is 19:00 in Athens (EEST)
    first = min(p["id"] for p in posts if p["platform"] == "facebook")
    assert f'href="/approvals/{first}"' in body or f'href="/approvals/{posts[0]["id"]}"' in body
    assert f'href="/approvals/{later[0]["id"]}"' in body
    greek = await browser_client.get("/approvals", headers={"Accept-Language": "el"})
    assert "Ιουν 2030" in greek.text or "Ιουνίου 2030" in greek.text


async def test_request_page_shows_slots_and_every_platform_then_confirms_with_the_slots(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
) -> None:
    w, posts = await _world(client, admin_engine, worker_ctx)
    ids = _athens_posts(posts, w)
    token = await _signed_in(browser_client, w.manager_email)
    url = f"/approvals/{ids[0]}"
    page = await browser_client.get(url)
    assert page.status_code == 200, page.text
    body = html.unescape(page.text)
    assert "Today's offer" in body
    assert "What the location offers today" in body
    assert "At most 40 characters." in body
    assert '<option value="small"' in body
    assert '<option value="large" selected>' in body
    assert "Left empty: “large”." in body
    assert "<h3>Facebook</h3>" in body
    assert "<h3>X</h3>" in body
    assert "Pizza in Athens:  (large)  #SliceWeek" in body

    # Preview without script: the page again with the typed slots, nothing written.
    previewed = await browser_client.post(
        f"{url}/approve",
        data={
            "csrf_token": token,
            "action": "preview",
            "slot.offer": "Two for one",
            "slot.size": "small",
        },
    )
    assert previewed.status_code == 200
    assert "Pizza in Athens: Two for one (small)  #SliceWeek" in previewed.text
    assert {r[0] for r in (await _rows(admin_engine, ids)).values()} == {"needs_approval"}

    # Problems next to their slot; nothing written.
    refused = await browser_client.post(
        f"{url}/approve",
        data={"csrf_token": token, "slot.offer": "x" * 41, "slot.size": "huge"},
    )
    assert refused.status_code == 422
    assert _problem(refused.text, "slot-offer") == "Use at most 40 characters."
    assert _problem(refused.text, "slot-size") == "Choose one of: small, large."
    empty = await browser_client.post(f"{url}/approve", data={"csrf_token": token})
    assert empty.status_code == 422
    assert _problem(empty.text, "slot-offer") == "Fill this in: the template needs it."
    assert {r[0] for r in (await _rows(admin_engine, ids)).values()} == {"needs_approval"}

    confirmed = await browser_client.post(
        f"{url}/approve",
        data={
            "csrf_token": token,
            "slot.offer": "Δύο σε μία 🍕 שלום",
            "slot.size": "small",
            "comment": "Ready",
        },
    )
    assert confirmed.status_code == 303, confirmed.text
    assert confirmed.headers["location"] == "/approvals?decided=approved"
    rows = await _rows(admin_engine, ids)
    assert {r[0] for r in rows.values()} == {"scheduled"}
    assert {r[1] for r in rows.values()} == {
        "Pizza in Athens: Δύο σε μία 🍕 שלום (small)  #SliceWeek"
    }
    assert {r[3] for r in rows.values()} == {"Ready"}
    after = await browser_client.get("/approvals?decided=approved")
    assert "Confirmed: the posts are scheduled." in after.text
    assert "Summer slices" not in after.text

    # A second submit (double click, another tab) finds nothing waiting.
    again = await browser_client.post(
        f"{url}/approve", data={"csrf_token": token, "slot.offer": "Late"}
    )
    assert again.status_code == 409
    assert "no longer waits for a decision" in again.text
    assert {r[1] for r in (await _rows(admin_engine, ids)).values()} == {
        "Pizza in Athens: Δύο σε μία 🍕 שלום (small)  #SliceWeek"
    }


async def test_platform_problems_show_under_their_platform_and_block_confirming(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
) -> None:
    w, posts = await _world(client, admin_engine, worker_ctx)
    ids = _athens_posts(posts, w)
    token = await _signed_in(browser_client, w.manager_email)
    # The note slot takes 200 characters; X takes 280 weighted (CJK counts 2): too long there.
    note = "字" * 200  # X counts each as 2
    refused = await browser_client.post(
        f"/approvals/{ids[0]}/approve",
        data={"csrf_token": token, "slot.offer": "Two for one", "slot.note": note},
    )
    assert refused.status_code == 422
    x_card = refused.text.split("<h3>X</h3>", 1)[1].split("</li>\n", 1)[0]
    assert "X takes 280" in html.unescape(x_card)
    fb_card = refused.text.split("<h3>Facebook</h3>", 1)[1].split("<h3>", 1)[0]
    assert 'class="problem"' not in fb_card
    assert "Fix the problems shown under the platforms" in refused.text
    assert {r[0] for r in (await _rows(admin_engine, ids)).values()} == {"needs_approval"}


async def test_reject_needs_a_reason_of_bounded_length(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
) -> None:
    w, posts = await _world(client, admin_engine, worker_ctx)
    ids = _athens_posts(posts, w)
    token = await _signed_in(browser_client, w.manager_email)
    url = f"/approvals/{ids[0]}/reject"
    blank = await browser_client.post(url, data={"csrf_token": token, "reason": "   "})
    assert blank.status_code == 422
    assert _problem(blank.text, "reason") == "Say why: the brand reads this."
    long = await browser_client.post(url, data={"csrf_token": token, "reason": "a" * 10_000})
    assert long.status_code == 422
    assert _problem(long.text, "reason") == "Use at most 2000 characters (this has 10000)."
    nul = await browser_client.post(url, data={"csrf_token": token, "reason": "no\x00pe"})
    assert nul.status_code == 422
    assert {r[0] for r in (await _rows(admin_engine, ids)).values()} == {"needs_approval"}

    rejected = await browser_client.post(
        url, data={"csrf_token": token, "reason": "Δεν έχουμε φούρνο αυτή την εβδομάδα"}
    )
    assert rejected.status_code == 303
    assert rejected.headers["location"] == "/approvals?decided=rejected"
    rows = await _rows(admin_engine, ids)
    assert {r[0] for r in rows.values()} == {"cancelled"}
    assert {r[3] for r in rows.values()} == {"Δεν έχουμε φούρνο αυτή την εβδομάδα"}
    # The other tab, still open on the request, cannot confirm it now.
    other_tab = await browser_client.post(
        f"/approvals/{ids[0]}/approve", data={"csrf_token": token, "slot.offer": "x"}
    )
    assert other_tab.status_code == 409


async def test_refusals_csrf_other_location_other_agency_and_staff(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
    app: FastAPI,
) -> None:
    w = await confirm_world(client, admin_engine)
    posts = await ask_to_confirm(client, w, worker_ctx, locations=(w.athens, w.patras))
    mine = next(p["id"] for p in posts if p["location_id"] == w.athens["id"])
    theirs = next(p["id"] for p in posts if p["location_id"] == w.patras["id"])
    token = await _signed_in(browser_client, w.manager_email)

    no_token = await browser_client.post(
        f"/approvals/{mine}/approve", data={"slot.offer": "Free soda"}
    )
    assert no_token.status_code == 403
    wrong_token = await browser_client.post(
        f"/approvals/{mine}/reject", data={"csrf_token": "0" * 64, "reason": "no"}
    )
    assert wrong_token.status_code == 403
    for path in (f"/approvals/{theirs}", "/approvals/00000000-0000-0000-0000-000000000000"):
        missing = await browser_client.get(path)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
    patras_post = await browser_client.post(
        f"/approvals/{theirs}/approve", data={"csrf_token": token, "slot.offer": "x"}
    )
    assert patras_post.status_code == 404
    assert (await browser_client.get("/approvals/not-a-uuid")).status_code == 404
    assert {r[0] for r in (await _rows(admin_engine, [mine, theirs])).values()} == {
        "needs_approval"
    }

    # Another agency's person sees the 404 page for this agency's post.
    outsider = await sign_up(client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.10", 40000)),
        base_url="https://chorus.test",
    ) as other:
        await sign_in(other, outsider.email)
        assert (await other.get(f"/approvals/{mine}")).status_code == 404

    # Staff may not confirm: the queue and the request answer the 403 page.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.11", 40000)),
        base_url="https://chorus.test",
    ) as staff:
        await sign_in(staff, w.staff_email)
        assert (await staff.get("/approvals")).status_code == 403
        assert (await staff.get(f"/approvals/{mine}")).status_code == 403


async def test_preview_route_answers_the_fragment_and_slot_problems_without_writing(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
) -> None:
    w, posts = await _world(client, admin_engine, worker_ctx)
    ids = _athens_posts(posts, w)
    token = await _signed_in(browser_client, w.manager_email)
    answer = await browser_client.post(
        "/preview",
        data={"post_id": ids[0], "slot.offer": "y" * 50, "slot.size": "small"},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["problems"] == {"offer": "Use at most 40 characters."}
    assert "<h3>Facebook</h3>" in found["html"]
    assert "<h3>X</h3>" in found["html"]
    assert f"Pizza in Athens: {'y' * 50} (small)" in found["html"]
    escaped = await browser_client.post(
        "/preview",
        data={"post_id": ids[0], "slot.offer": "<script>x</script>"},
        headers={"X-CSRF-Token": token},
    )
    assert "<script>x" not in escaped.json()["html"]
    assert "&lt;script&gt;x" in escaped.json()["html"]
    literal = await browser_client.post(
        "/preview",
        data={"post_id": ids[0], "slot.offer": "{{ brand.name }} {% if x %}"},
        headers={"X-CSRF-Token": token},
    )
    assert "Pizza in Athens: {{ brand.name }} {% if x %} (large)" in html.unescape(
        literal.json()["html"]
    )
    nul = await browser_client.post(
        "/preview",
        data={"post_id": ids[0], "slot.offer": "a\x00b", "slot.note": "z" * 10_000},
        headers={"X-CSRF-Token": token},
    )
    assert set(nul.json()["problems"]) == {"offer", "note"}
    no_header = await browser_client.post("/preview", data={"post_id": ids[0], "slot.offer": "x"})
    assert no_header.status_code == 403
    bad_id = await browser_client.post(
        "/preview", data={"post_id": "nope"}, headers={"X-CSRF-Token": token}
    )
    assert bad_id.status_code == 404
    assert {r[0] for r in (await _rows(admin_engine, ids)).values()} == {"needs_approval"}


async def test_queue_runs_the_same_statements_for_2_or_12_campaigns(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser_client: httpx.AsyncClient,
    app: FastAPI,
) -> None:
    w = await confirm_world(client, admin_engine, platforms=BOTH)
    for n in range(2):
        await ask_to_confirm(client, w, worker_ctx, channels=BOTH, name=f"Few {n}")
    await _signed_in(browser_client, w.manager_email)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/approvals")).status_code == 200
    for n in range(10):
        await ask_to_confirm(client, w, worker_ctx, channels=BOTH, name=f"Many {n}")
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/approvals")
    assert page.text.count('class="card approval"') == 12
    assert many.count == few.count, many.statements


async def test_a_cursor_of_another_listing_goes_back_to_the_first_page(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
) -> None:
    w = await confirm_world(client, admin_engine)
    await _signed_in(browser_client, w.manager_email)
    odd = await browser_client.get("/approvals", params={"cursor": "not-a-cursor"})
    assert odd.status_code == 303
    assert odd.headers["location"] == "/approvals"
    empty = await browser_client.get("/approvals")
    assert "Nothing waits for you" in empty.text
