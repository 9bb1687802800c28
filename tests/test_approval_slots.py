"""Confirming a campaign post with the template's open slots filled: the post is rendered
again with the campaign's variables and checked like a new post before it is approved."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web_approvals import ask_to_confirm, confirm_world


async def test_approve_with_slot_values_renders_checks_and_schedules(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
) -> None:
    w = await confirm_world(client, admin_engine)
    [post] = await ask_to_confirm(client, w, worker_ctx)
    assert post["text"] == "Pizza in Athens:  (large)  #SliceWeek"
    url = f"/v1/posts/{post['id']}/approve"

    refused = await client.post(
        url,
        json={"slot_values": {"offer": "x" * 41, "size": "huge", "mystery": "?"}},
        headers=w.h(w.manager),
    )
    assert refused.status_code == 422, refused.text
    fields = {e["field"]: e["code"] for e in refused.json()["errors"]}
    assert fields == {
        "body.slot_values.offer": "slot_too_long",
        "body.slot_values.size": "slot_not_allowed",
        "body.slot_values.mystery": "slot_unknown",
    }
    missing = await client.post(url, json={"slot_values": {}}, headers=w.h(w.manager))
    assert missing.status_code == 422
    assert [e["code"] for e in missing.json()["errors"]] == ["slot_required"]
    unchanged = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert (unchanged["status"], unchanged["text"]) == ("needs_approval", post["text"])

    # Staff may read the post but not confirm it, with or without slots.
    staff = await client.post(
        url, json={"slot_values": {"offer": "Free soda"}}, headers=w.h(w.staff)
    )
    assert staff.status_code == 403

    approved = await client.post(
        url,
        json={"slot_values": {"offer": "Δύο σε μία 🍕", "size": "small"}},
        headers=w.h(w.manager),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "scheduled"
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert seen["text"] == "Pizza in Athens: Δύο σε μία 🍕 (small)  #SliceWeek"
    assert seen["slot_values"] == {"offer": "Δύο σε μία 🍕", "size": "small"}
    async with admin_engine.connect() as conn:
        actions = (
            await conn.execute(
                text(
                    "SELECT action FROM audit_event WHERE object_id = :p "
                    "AND action IN ('post.edit', 'post.approve') ORDER BY occurred_at, id"
                ),
                {"p": post["id"]},
            )
        ).scalars()
        assert list(actions) == ["post.edit", "post.approve"]


async def test_approve_without_slot_values_keeps_the_text(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
) -> None:
    w = await confirm_world(client, admin_engine)
    [post] = await ask_to_confirm(client, w, worker_ctx)
    approved = await client.post(
        f"/v1/posts/{post['id']}/approve", json={"comment": "ok"}, headers=w.h(w.manager)
    )
    assert approved.status_code == 200, approved.text
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert (seen["status"], seen["text"]) == ("scheduled", post["text"])
