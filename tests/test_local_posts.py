"""Localization: a location fills a published template's slots and gets one checked post per
platform, waiting for approval when the brand asks for it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept

BODY = 'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }} #SliceAndCo'


async def _published(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str, publish: bool = True
) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": "Friday",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 30}},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["template_id"])
    if publish:
        published = await client.post(
            f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
        )
        assert published.status_code == 200
    return template_id


async def approval_world(client: httpx.AsyncClient, engine: AsyncEngine) -> dict[str, Any]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    nyc = await create_location(client, owner, brand["id"], city="New York")
    boston = await create_location(client, owner, brand["id"], city="Boston")
    manager = await invite_and_accept(
        client, engine, owner, "lm@agency.example", "location_manager", location_id=nyc["id"]
    )
    return {"owner": owner, "brand": brand, "nyc": nyc, "boston": boston, "manager": manager}


async def test_location_manager_posts_from_a_published_template(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    template_id = await _published(client, w["owner"], w["brand"]["id"])
    created = await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts",
        json={
            "template_id": template_id,
            "version": 1,
            "platforms": ["facebook", "x"],
            "slot_values": {"offer": "2 for 1 tonight"},
        },
        headers=bearer(w["manager"]["access_token"]),
    )
    assert created.status_code == 201, created.text
    posts = created.json()
    assert [(p["platform"], p["status"]) for p in posts] == [
        ("facebook", "scheduled"),
        ("x", "scheduled"),
    ]
    assert posts[0]["text"] == "Fresh pizza in New York! 2 for 1 tonight #SliceAndCo"
    listed = await client.get(
        f"/v1/locations/{w['nyc']['id']}/posts", headers=bearer(w["manager"]["access_token"])
    )
    assert [p["id"] for p in listed.json()["items"]] == [p["id"] for p in posts]
    # A sibling location's posts are out of the manager's reach.
    sibling = await client.get(
        f"/v1/locations/{w['boston']['id']}/posts", headers=bearer(w["manager"]["access_token"])
    )
    assert sibling.status_code == 404


async def test_brand_approval_rule_sends_posts_to_needs_approval(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await client.put(
        f"/v1/brands/{w['brand']['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=w["owner"].headers,
    )
    template_id = await _published(client, w["owner"], w["brand"]["id"])
    created = await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts",
        json={"template_id": template_id, "version": 1, "platforms": ["facebook"]},
        headers=bearer(w["manager"]["access_token"]),
    )
    (post,) = created.json()
    assert post["status"] == "needs_approval"
    got = await client.get(f"/v1/posts/{post['id']}", headers=w["owner"].headers)
    assert got.json()["status"] == "needs_approval"
    async with admin_engine.connect() as conn:
        history = (
            await conn.execute(
                text(
                    "SELECT from_status, to_status, reason FROM post_status_change "
                    "WHERE post_id = :p"
                ),
                {"p": post["id"]},
            )
        ).all()
    assert [(h[0], h[1]) for h in history] == [(None, "needs_approval")]
    assert "approval" in history[0][2]


async def test_every_problem_is_reported_and_nothing_is_saved(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await client.put(
        f"/v1/brands/{w['brand']['id']}/rules",
        json={"banned_words": ["cheap"], "allowed_platforms": ["facebook", "x"]},
        headers=w["owner"].headers,
    )
    template_id = await _published(client, w["owner"], w["brand"]["id"])
    rejected = await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts",
        json={
            "template_id": template_id,
            "version": 1,
            "platforms": ["facebook", "instagram"],
            "slot_values": {"offer": "Cheap slices all day long, every day"},
        },
        headers=bearer(w["manager"]["access_token"]),
    )
    assert rejected.status_code == 422
    assert rejected.json()["code"] == "post_invalid"
    found = {(e["field"], e["code"]) for e in rejected.json()["errors"]}
    assert ("body.slot_values.offer", "slot_too_long") in found
    assert ("body.platforms.facebook.text", "banned_word") in found
    assert ("body.platforms.instagram.platform", "platform_not_allowed") in found
    assert ("body.platforms.instagram.media", "media_required") in found
    listed = await client.get(f"/v1/locations/{w['nyc']['id']}/posts", headers=w["owner"].headers)
    assert listed.json()["items"] == []


async def test_who_may_post_and_from_what(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    other = await sign_up(client)
    draft_id = await _published(client, w["owner"], w["brand"]["id"], publish=False)
    body = {"template_id": draft_id, "version": 1, "platforms": ["facebook"]}
    draft = await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts", json=body, headers=w["owner"].headers
    )
    assert draft.status_code == 409
    assert draft.json()["code"] == "version_not_published"

    staff = await invite_and_accept(
        client,
        admin_engine,
        w["owner"],
        "staff@agency.example",
        "location_staff",
        location_id=w["nyc"]["id"],
    )
    denied = await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts", json=body, headers=bearer(staff["access_token"])
    )
    assert denied.status_code == 403
    assert denied.json()["missing_permission"] == "post.create"
    assert (
        await client.post(
            f"/v1/locations/{w['boston']['id']}/posts",
            json=body,
            headers=bearer(w["manager"]["access_token"]),
        )
    ).status_code == 404
    assert (
        await client.post(f"/v1/locations/{w['nyc']['id']}/posts", json=body, headers=other.headers)
    ).status_code == 404


async def test_deleting_a_location_removes_its_posts_and_history(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    template_id = await _published(client, w["owner"], w["brand"]["id"])
    await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts",
        json={"template_id": template_id, "version": 1, "platforms": ["facebook"]},
        headers=w["owner"].headers,
    )
    deleted = await client.delete(f"/v1/locations/{w['nyc']['id']}", headers=w["owner"].headers)
    assert deleted.status_code == 204
    async with admin_engine.connect() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM post_status_change"))).scalar_one()
    assert left == 0
