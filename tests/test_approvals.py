"""Approvals: the brand's and the location's queues, decisions one by one and in bulk, the
emailed single-use links, the digest mail, and the deadline that skips what nobody decided."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.approvals import links
from shared.approvals import service as approval_service
from shared.config import Settings
from shared.db import Database
from shared.posts.models import Post
from tests.factories import create_brand, create_location, sign_up
from tests.support.approvals import approval_world, pending_posts

LINK = re.compile(r"/approval-link\?token=(\S+)")


async def _sql(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        return list(result.all()) if result.returns_rows else []


async def _as_location_confirmation(engine: AsyncEngine, *post_ids: str) -> None:
    """Campaign posts that the location must confirm (fan-out writes these)."""
    await _sql(
        engine,
        "UPDATE post SET approval_kind = 'location' WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=list(post_ids),
    )


async def _history(engine: AsyncEngine, post_id: str) -> list[tuple[Any, ...]]:
    rows = await _sql(
        engine,
        "SELECT from_status, to_status, actor_type, reason FROM post_status_change "
        "WHERE post_id = :p ORDER BY changed_at, id",
        p=post_id,
    )
    return [tuple(r) for r in rows]


# Queues ------------------------------------------------------------------------------------


async def test_brand_queue_lists_waiting_posts_soonest_first_with_filters(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    soon = datetime.now(UTC) + timedelta(hours=2)
    later = datetime.now(UTC) + timedelta(days=3)
    late_posts = await pending_posts(client, w, platforms=("facebook", "x"), at=later)
    soon_post = (await pending_posts(client, w, location=w.boston, at=soon, offer="Free soda"))[0]
    confirm = (await pending_posts(client, w, at=soon))[0]
    await _as_location_confirmation(admin_engine, confirm["id"])

    url = f"/v1/brands/{w.brand['id']}/approvals"
    listed = await client.get(url, headers=w.h(w.brand_manager))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    # The location's confirmations are not the brand's to approve.
    assert [i["post_id"] for i in items] == [soon_post["id"]] + [p["id"] for p in late_posts]
    first = items[0]
    assert first["text"] == "Fresh pizza in Boston! Free soda"
    assert first["location_name"] == "Boston Slice"
    assert first["platform"] == "facebook"
    assert first["deadline"] == first["scheduled_at"]
    assert abs(datetime.fromisoformat(first["scheduled_at"]) - soon) < timedelta(seconds=1)

    only_x = await client.get(url, params={"platform": "x"}, headers=w.h(w.brand_manager))
    assert [i["post_id"] for i in only_x.json()["items"]] == [late_posts[1]["id"]]
    only_boston = await client.get(
        url, params={"location_id": w.boston["id"]}, headers=w.h(w.brand_manager)
    )
    assert [i["post_id"] for i in only_boston.json()["items"]] == [soon_post["id"]]
    no_campaign = await client.get(
        url, params={"campaign_id": str(uuid.uuid4())}, headers=w.h(w.brand_manager)
    )
    assert no_campaign.json()["items"] == []
    unknown = await client.get(url, params={"platform": "myspace"}, headers=w.h(w.brand_manager))
    assert unknown.status_code == 422

    # Cursor pages walk the same order without repeats.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params, headers=w.owner.headers)).json()
        seen += [i["post_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["post_id"] for i in items]


async def test_location_queue_shows_its_confirmations_only(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    nyc_posts = await pending_posts(client, w, platforms=("facebook", "linkedin"))
    boston_post = (await pending_posts(client, w, location=w.boston))[0]
    brand_post = (await pending_posts(client, w))[0]
    await _as_location_confirmation(admin_engine, *(p["id"] for p in nyc_posts), boston_post["id"])
    url = f"/v1/locations/{w.nyc['id']}/approvals"
    listed = await client.get(url, headers=w.h(w.manager))
    assert listed.status_code == 200, listed.text
    ids = [i["post_id"] for i in listed.json()["items"]]
    assert sorted(ids) == sorted(p["id"] for p in nyc_posts)
    assert brand_post["id"] not in ids
    assert all(i["approval_kind"] == "location" for i in listed.json()["items"])
    insta = await client.get(url, params={"platform": "linkedin"}, headers=w.h(w.manager))
    assert [i["post_id"] for i in insta.json()["items"]] == [nyc_posts[1]["id"]]
    # Staff reads the location but may not confirm; the brand manager's role has no
    # post.confirm either.
    for who in (w.staff, w.brand_manager):
        refused = await client.get(url, headers=w.h(who))
        assert refused.status_code == 403
        assert refused.json()["missing_permission"] == "post.confirm"
    other = await client.get(f"/v1/locations/{w.boston['id']}/approvals", headers=w.h(w.manager))
    assert other.status_code == 404
    outsider = await client.get(url, headers=w.outsider.headers)
    assert outsider.status_code == 404


# Decisions ---------------------------------------------------------------------------------


async def test_approve_schedules_the_post_at_its_time(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    approved = await client.post(
        f"/v1/posts/{post['id']}/approve",
        json={"comment": "Looks great"},
        headers=w.h(w.brand_manager),
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "scheduled"
    assert body["decided_by"] == w.brand_manager["user_id"]
    assert body["decision_comment"] == "Looks great"
    (due_at, scheduled_at) = (
        await _sql(
            admin_engine, "SELECT due_at, scheduled_at FROM post WHERE id = :p", p=post["id"]
        )
    )[0]
    assert due_at == scheduled_at
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert (seen["status"], seen["decision_comment"]) == ("scheduled", "Looks great")
    assert seen["decided_at"] is not None
    assert (await _history(admin_engine, post["id"]))[-1][:3] == (
        "needs_approval",
        "scheduled",
        "user",
    )
    audit = await _sql(
        admin_engine,
        "SELECT action, actor_id FROM audit_event WHERE object_id = :p AND action = 'post.approve'",
        p=post["id"],
    )
    assert [(a, str(b)) for a, b in audit] == [("post.approve", w.brand_manager["user_id"])]
    # Gone from the queue; a second decision is refused.
    queue = await client.get(f"/v1/brands/{w.brand['id']}/approvals", headers=w.h(w.brand_manager))
    assert queue.json()["items"] == []
    again = await client.post(
        f"/v1/posts/{post['id']}/reject", json={"comment": "no"}, headers=w.owner.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "not_pending"


async def test_approving_after_the_time_skips_the_post(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    await _sql(
        admin_engine,
        "UPDATE post SET scheduled_at = now() - interval '5 minutes' WHERE id = :p",
        p=post["id"],
    )
    late = await client.post(f"/v1/posts/{post['id']}/approve", headers=w.owner.headers)
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "skipped"
    assert late.json()["status_reason"] == "approved after its scheduled time"
    (due_at,) = (await _sql(admin_engine, "SELECT due_at FROM post WHERE id = :p", p=post["id"]))[0]
    assert due_at is None
    events = await _sql(
        admin_engine, "SELECT type FROM outbox_event WHERE subject_id = :p", p=post["id"]
    )
    assert ("post.skipped",) in [tuple(e) for e in events]


async def test_reject_needs_a_comment_and_the_location_reads_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    url = f"/v1/posts/{post['id']}/reject"
    for body in ({}, {"comment": "   "}):
        refused = await client.post(url, json=body, headers=w.h(w.brand_manager))
        assert refused.status_code == 422
        assert any("comment" in e["field"] for e in refused.json()["errors"])
    assert (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()[
        "status"
    ] == "needs_approval"
    rejected = await client.post(
        url, json={"comment": "Use the winter offer instead"}, headers=w.h(w.brand_manager)
    )
    assert rejected.status_code == 200, rejected.text
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert seen["status"] == "cancelled"
    assert seen["decision_comment"] == "Use the winter offer instead"
    assert "Use the winter offer instead" in seen["status_reason"]
    assert (await _history(admin_engine, post["id"]))[-1][:2] == ("needs_approval", "cancelled")


async def test_who_may_decide(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> None:
    w = await approval_world(client, admin_engine)
    brand_post, confirm_post = await pending_posts(client, w, platforms=("facebook", "x"))
    await _as_location_confirmation(admin_engine, confirm_post["id"])
    # A location manager cannot approve the brand's approvals.
    refused = await client.post(f"/v1/posts/{brand_post['id']}/approve", headers=w.h(w.manager))
    assert refused.status_code == 403
    assert refused.json()["missing_permission"] == "post.approve"
    # Staff cannot confirm; neither can the brand manager (no post.confirm in that role).
    for who in (w.staff, w.brand_manager):
        no = await client.post(f"/v1/posts/{confirm_post['id']}/approve", headers=w.h(who))
        assert no.status_code == 403
        assert no.json()["missing_permission"] == "post.confirm"
    # Another agency does not see it at all.
    hidden = await client.post(f"/v1/posts/{brand_post['id']}/approve", headers=w.outsider.headers)
    assert hidden.status_code == 404
    statuses = await _sql(
        admin_engine,
        "SELECT DISTINCT status FROM post WHERE id IN (:a, :b)",
        a=brand_post["id"],
        b=confirm_post["id"],
    )
    assert [tuple(s) for s in statuses] == [("needs_approval",)]
    # The location manager confirms its own location's post.
    ok = await client.post(f"/v1/posts/{confirm_post['id']}/approve", headers=w.h(w.manager))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "scheduled"


async def test_bulk_decision_answers_per_post(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    a, b = await pending_posts(client, w, platforms=("facebook", "x"))
    decided_before = (await pending_posts(client, w, location=w.boston))[0]
    await client.post(f"/v1/posts/{decided_before['id']}/approve", headers=w.owner.headers)
    confirm = (await pending_posts(client, w, platforms=("linkedin",)))[0]
    await _as_location_confirmation(admin_engine, confirm["id"])
    foreign_brand = await create_brand(client, w.owner)
    foreign_location = await create_location(client, w.owner, foreign_brand["id"])
    await client.put(
        f"/v1/brands/{foreign_brand['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=w.owner.headers,
    )
    # A post of another brand of the agency: out of the brand manager's reach.
    template = await client.post(
        "/v1/templates",
        json={"brand_id": foreign_brand["id"], "name": "T", "bodies": {"default": "Hi"}},
        headers=w.owner.headers,
    )
    tid = template.json()["template_id"]
    await client.post(f"/v1/templates/{tid}/versions/1/publish", headers=w.owner.headers)
    other = await client.post(
        f"/v1/locations/{foreign_location['id']}/posts",
        json={"template_id": tid, "version": 1, "platforms": ["facebook"]},
        headers=w.owner.headers,
    )
    other_post = other.json()[0]
    missing = str(uuid.uuid4())

    no_comment = await client.post(
        "/v1/approvals/decide",
        json={"post_ids": [a["id"]], "decision": "reject"},
        headers=w.h(w.brand_manager),
    )
    assert no_comment.status_code == 422
    too_many = await client.post(
        "/v1/approvals/decide",
        json={"post_ids": [str(uuid.uuid4()) for _ in range(501)], "decision": "approve"},
        headers=w.h(w.brand_manager),
    )
    assert too_many.status_code == 422

    ids = [a["id"], b["id"], decided_before["id"], confirm["id"], other_post["id"], missing]
    answer = await client.post(
        "/v1/approvals/decide",
        json={"post_ids": ids, "decision": "reject", "comment": "Off-brand photo"},
        headers=w.h(w.brand_manager),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["decided"] == 2
    outcomes = {r["post_id"]: (r["outcome"], r["status"]) for r in body["results"]}
    assert outcomes == {
        a["id"]: ("decided", "cancelled"),
        b["id"]: ("decided", "cancelled"),
        decided_before["id"]: ("not_pending", "scheduled"),
        confirm["id"]: ("not_allowed", "needs_approval"),
        other_post["id"]: ("not_found", None),
        missing: ("not_found", None),
    }
    assert [r["post_id"] for r in body["results"]] == ids
    rows = await _sql(
        admin_engine,
        "SELECT id::text, status, decision_comment FROM post WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=[a["id"], b["id"], confirm["id"], other_post["id"]],
    )
    states = {r[0]: (r[1], r[2]) for r in rows}
    assert states[a["id"]] == ("cancelled", "Off-brand photo")
    assert states[confirm["id"]] == ("needs_approval", None)
    assert states[other_post["id"]] == ("needs_approval", None)
    assert len(await _history(admin_engine, a["id"])) == 2


# Links -------------------------------------------------------------------------------------


async def test_link_preview_changes_nothing_and_use_works_once_without_login(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    token = await _mint(app_db, settings, post["id"], "approve", w.brand_manager["user_id"])

    for _ in range(2):  # a mail scanner, then the person
        seen = await client.get("/v1/approval-links", params={"token": token})
        assert seen.status_code == 200, seen.text
    preview = seen.json()
    assert preview["decision"] == "approve"
    assert preview["usable"] is True
    assert preview["location"]["name"] == "NYC Slice"
    assert preview["text"] == "Fresh pizza in New York! 2 for 1"
    assert preview["post_status"] == "needs_approval"
    assert len(await _history(admin_engine, post["id"])) == 1

    used = await client.post("/v1/approval-links/use", json={"token": token})
    assert used.status_code == 200, used.text
    assert used.json()["status"] == "scheduled"
    assert used.json()["decided_by"] == w.brand_manager["user_id"]
    again = await client.post("/v1/approval-links/use", json={"token": token})
    assert again.status_code == 409
    assert again.json()["code"] == "link_already_used"
    after = (await client.get("/v1/approval-links", params={"token": token})).json()
    assert after["usable"] is False
    audit = await _sql(
        admin_engine,
        "SELECT actor_id::text FROM audit_event WHERE object_id = :p AND action = 'post.approve'",
        p=post["id"],
    )
    assert [tuple(r) for r in audit] == [(w.brand_manager["user_id"],)]


async def test_the_emailed_link_opens_a_page_that_decides_without_login(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    """What the franchisee who only reads email sees: the page shows, its button decides."""
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    token = await _mint(app_db, settings, post["id"], "reject", w.brand_manager["user_id"])
    page = await client.get("/approval-link", params={"token": token})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # the signed token is in the URL: it must not leak as a referrer, nor the page be framed
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert "Reject this post?" in page.text
    assert "Fresh pizza in New York! 2 for 1" in page.text
    assert "NYC Slice" in page.text
    assert len(await _history(admin_engine, post["id"])) == 1  # showing changed nothing
    empty = await client.post("/approval-link", data={"token": token, "comment": "  "})
    assert empty.status_code == 422  # a rejection says why
    assert "comment" in empty.text
    done = await client.post(
        "/approval-link", data={"token": token, "comment": "Wrong <b>price</b>"}
    )
    assert done.status_code == 200, done.text
    assert "Rejected" in done.text
    shown = await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)
    assert shown.json()["status"] == "cancelled"
    assert shown.json()["decision_comment"] == "Wrong <b>price</b>"
    again = await client.post("/approval-link", data={"token": token, "comment": "x"})
    assert again.status_code == 409
    assert "already used" in again.text
    forged = await client.get("/approval-link", params={"token": token[:-4] + "AAAA"})
    assert forged.status_code == 400
    assert "<b>" not in forged.text.split("<h1>")[1]  # nothing echoed unescaped


async def test_a_decided_post_cannot_be_decided_again_by_another_link(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    reject = await _mint(app_db, settings, post["id"], "reject", w.brand_manager["user_id"])
    approve = await _mint(app_db, settings, post["id"], "approve", w.brand_manager["user_id"])
    needs_comment = await client.post("/v1/approval-links/use", json={"token": reject})
    assert needs_comment.status_code == 422
    rejected = await client.post(
        "/v1/approval-links/use", json={"token": reject, "comment": "Wrong city photo"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["decision_comment"] == "Wrong city photo"
    late = await client.post("/v1/approval-links/use", json={"token": approve})
    assert late.status_code == 409
    assert late.json()["code"] == "not_pending"
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert seen["status"] == "cancelled"


async def test_forged_and_expired_links_are_refused(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    token = await _mint(app_db, settings, post["id"], "approve", w.brand_manager["user_id"])
    payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    forged_tokens = [f"{flipped}.{signature}", token[:-4], "capl_nonsense", "hello"]
    for forged in forged_tokens:
        for response in (
            await client.get("/v1/approval-links", params={"token": forged}),
            await client.post("/v1/approval-links/use", json={"token": forged}),
        ):
            assert response.status_code == 400, (forged, response.text)
            assert response.json()["code"] == "invalid_approval_link"
    other_secret = settings.model_copy(update={"secret_key": SecretStr("x" * 48)})
    foreign = await _mint(app_db, other_secret, post["id"], "approve", w.brand_manager["user_id"])
    refused = await client.post("/v1/approval-links/use", json={"token": foreign})
    assert refused.status_code == 400
    expired = await _mint(
        app_db, settings, post["id"], "approve", w.brand_manager["user_id"], seconds=-5
    )
    gone = await client.post("/v1/approval-links/use", json={"token": expired})
    assert gone.status_code == 400
    assert gone.json()["code"] == "approval_link_expired"
    assert (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()[
        "status"
    ] == "needs_approval"


async def test_a_recipient_who_lost_access_is_refused(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    token = await _mint(app_db, settings, post["id"], "approve", w.brand_manager["user_id"])
    await _sql(
        admin_engine,
        "DELETE FROM membership WHERE user_id = :u",
        u=w.brand_manager["user_id"],
    )
    preview = (await client.get("/v1/approval-links", params={"token": token})).json()
    assert preview["usable"] is False
    refused = await client.post("/v1/approval-links/use", json={"token": token})
    assert refused.status_code == 403
    assert refused.json()["code"] == "link_recipient_not_allowed"
    # A link minted for someone who never could decide it is refused the same way.
    staff_token = await _mint(app_db, settings, post["id"], "approve", w.staff["user_id"])
    assert (
        await client.post("/v1/approval-links/use", json={"token": staff_token})
    ).status_code == 403
    assert (await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)).json()[
        "status"
    ] == "needs_approval"


async def _mint(
    db: Database,
    settings: Settings,
    post_id: str,
    decision: links.Decision,
    user_id: str,
    *,
    seconds: int = 3600,
) -> str:
    post = Post(id=uuid.UUID(post_id), agency_id=await _agency_of(db, post_id))
    return links.mint(settings, post, decision, uuid.UUID(user_id), timedelta(seconds=seconds))


async def _agency_of(db: Database, post_id: str) -> uuid.UUID:
    async with db.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('app.scan', 'post_dispatch', true)"))
        agency = (
            await session.execute(text("SELECT agency_id FROM post WHERE id = :p"), {"p": post_id})
        ).scalar_one()
    return uuid.UUID(str(agency))


# Mail --------------------------------------------------------------------------------------


async def test_digest_mail_one_per_recipient_with_working_links(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    redis: Redis,
) -> None:
    w = await approval_world(client, admin_engine)
    brand_posts = await pending_posts(client, w, platforms=("facebook", "x"))
    boston_confirm = (await pending_posts(client, w, location=w.boston))[0]
    nyc_confirm = (await pending_posts(client, w, platforms=("linkedin",)))[0]
    await _as_location_confirmation(admin_engine, boston_confirm["id"], nyc_confirm["id"])
    ids = [uuid.UUID(p["id"]) for p in [*brand_posts, boston_confirm, nyc_confirm]]
    async with app_db.sessionmaker() as session, session.begin():
        sent = await approval_service.notify_pending(session, settings, w.owner.agency_id, ids)
    # The brand manager (brand approvals) and NYC's manager (its confirmation); Boston has
    # nobody who may confirm, and the owner is not bothered while the brand has a manager.
    assert sent == 2
    mails = await _sql(
        admin_engine,
        "SELECT to_address, subject, body, kind FROM outbound_email "
        "WHERE kind = 'approval_digest' ORDER BY to_address",
    )
    assert [m[0] for m in mails] == ["bm@agency.example", "lm@agency.example"]
    bm_mail, lm_mail = mails
    assert bm_mail[1] == "2 posts wait for your approval"
    assert bm_mail[2].count("Fresh pizza in New York! 2 for 1") == 2
    assert "NYC Slice · facebook" in bm_mail[2]
    assert "NYC Slice · x" in bm_mail[2]
    assert lm_mail[1] == "1 post waits for your approval"
    assert "NYC Slice · linkedin" in lm_mail[2]
    tokens = LINK.findall(bm_mail[2])
    assert len(tokens) == 4  # approve and reject per post
    # The first link approves the first post, as the brand manager, without logging in.
    preview = (await client.get("/v1/approval-links", params={"token": tokens[0]})).json()
    assert (preview["post_id"], preview["decision"]) == (brand_posts[0]["id"], "approve")
    used = await client.post("/v1/approval-links/use", json={"token": tokens[0]})
    assert used.status_code == 200, used.text
    assert used.json()["status"] == "scheduled"
    lm_tokens = LINK.findall(lm_mail[2])
    confirmed = await client.post(
        "/v1/approval-links/use", json={"token": lm_tokens[1], "comment": "Not this week"}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "cancelled"

    # Posts that no longer wait are not mailed again.
    async with app_db.sessionmaker() as session, session.begin():
        assert (
            await approval_service.notify_pending(
                session, settings, w.owner.agency_id, [ids[0], ids[3]]
            )
            == 0
        )


async def test_owner_gets_the_mail_when_the_brand_has_no_manager(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    await _sql(
        admin_engine, "DELETE FROM membership WHERE user_id = :u", u=w.brand_manager["user_id"]
    )
    async with app_db.sessionmaker() as session, session.begin():
        sent = await approval_service.notify_pending(
            session, settings, w.owner.agency_id, [uuid.UUID(post["id"])]
        )
    assert sent == 1
    mails = await _sql(
        admin_engine, "SELECT to_address FROM outbound_email WHERE kind = 'approval_digest'"
    )
    assert [m[0] for m in mails] == [w.owner.email]


# Deadlines ---------------------------------------------------------------------------------


async def test_skip_overdue_skips_what_nobody_decided_in_every_agency(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    overdue, on_time = await pending_posts(client, w, platforms=("facebook", "x"))
    approved = (await pending_posts(client, w, location=w.boston))[0]
    await client.post(f"/v1/posts/{approved['id']}/approve", headers=w.owner.headers)
    # Another agency's waiting post, also overdue.
    w2 = await _world_b(client, admin_engine)
    await _sql(
        admin_engine,
        "UPDATE post SET scheduled_at = now() - interval '1 minute' "
        "WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=[overdue["id"], approved["id"], w2],
    )
    async with app_db.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('app.scan', 'post_dispatch', true)"))
        skipped = await approval_service.skip_overdue(session, datetime.now(UTC))
    assert skipped == 2
    rows = await _sql(
        admin_engine,
        "SELECT id::text, status, status_reason FROM post WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=[overdue["id"], on_time["id"], approved["id"], w2],
    )
    states = {r[0]: (r[1], r[2]) for r in rows}
    assert states[overdue["id"]] == ("skipped", "not approved before its scheduled time")
    assert states[w2] == ("skipped", "not approved before its scheduled time")
    assert states[on_time["id"]][0] == "needs_approval"
    assert states[approved["id"]][0] == "scheduled"
    history = await _sql(
        admin_engine,
        "SELECT agency_id, actor_type FROM post_status_change "
        "WHERE post_id = ANY(CAST(:ids AS uuid[])) AND to_status = 'skipped'",
        ids=[overdue["id"], w2],
    )
    assert len(history) == 2
    assert {h[1] for h in history} == {"system"}
    events = await _sql(
        admin_engine,
        "SELECT count(*) FROM outbox_event WHERE type = 'post.skipped' "
        "AND subject_id = ANY(CAST(:ids AS uuid[]))",
        ids=[overdue["id"], w2],
    )
    assert events[0][0] == 2
    # The location reads why.
    seen = (await client.get(f"/v1/posts/{overdue['id']}", headers=w.h(w.manager))).json()
    assert seen["status_reason"] == "not approved before its scheduled time"
    # Nothing left to skip.
    async with app_db.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('app.scan', 'post_dispatch', true)"))
        assert await approval_service.skip_overdue(session, datetime.now(UTC)) == 0


async def _world_b(client: httpx.AsyncClient, engine: AsyncEngine) -> str:
    """A second agency with one post waiting for approval; returns its id."""
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=owner.headers,
    )
    template = await client.post(
        "/v1/templates",
        json={"brand_id": brand["id"], "name": "T", "bodies": {"default": "Hi"}},
        headers=owner.headers,
    )
    tid = template.json()["template_id"]
    await client.post(f"/v1/templates/{tid}/versions/1/publish", headers=owner.headers)
    created = await client.post(
        f"/v1/locations/{location['id']}/posts",
        json={
            "template_id": tid,
            "version": 1,
            "platforms": ["facebook"],
            "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()[0]["id"])


async def test_two_clicks_at_once_decide_once(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, app_db: Database
) -> None:
    w = await approval_world(client, admin_engine)
    post = (await pending_posts(client, w))[0]
    token = await _mint(app_db, settings, post["id"], "approve", w.brand_manager["user_id"])
    first, second = await asyncio.gather(
        client.post("/v1/approval-links/use", json={"token": token}),
        client.post("/v1/approval-links/use", json={"token": token}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    history = await _history(admin_engine, post["id"])
    assert [h[1] for h in history] == ["needs_approval", "scheduled"]
