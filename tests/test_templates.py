from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Tenant, create_brand, create_location, sign_up

BODY = (
    'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }} '
    "Call {{ location.phone }}. #SliceAndCo"
)
SLOTS = {"offer": {"label": "Offer", "max_length": 40}}


async def _template(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": "Friday",
            "bodies": {"default": BODY},
            "slots": SLOTS,
            **extra,
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_template_lifecycle_draft_publish_immutable_new_version(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    v1 = await _template(client, owner, brand["id"])
    tid = v1["template_id"]
    assert (v1["version"], v1["status"]) == (1, "draft")
    assert v1["variables"] == ["location.city", "location.phone", "slot.offer"]

    edited = await client.put(
        f"/v1/templates/{tid}/versions/1",
        json={
            "bodies": {"default": BODY, "x": "Pizza in {{ location.city }} #SliceAndCo"},
            "slots": SLOTS,
        },
        headers=owner.headers,
    )
    assert edited.status_code == 200
    published = await client.post(f"/v1/templates/{tid}/versions/1/publish", headers=owner.headers)
    assert published.json()["status"] == "published"
    frozen = await client.put(
        f"/v1/templates/{tid}/versions/1",
        json={"bodies": {"default": "changed"}},
        headers=owner.headers,
    )
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "version_published"

    v2 = await client.post(f"/v1/templates/{tid}/versions", json={}, headers=owner.headers)
    assert v2.status_code == 201
    assert (v2.json()["version"], v2.json()["status"]) == (2, "draft")
    assert v2.json()["bodies"] == published.json()["bodies"]
    summary = (await client.get(f"/v1/templates/{tid}", headers=owner.headers)).json()
    assert (summary["latest_version"], summary["published_version"]) == (2, 1)

    assert (await client.get(f"/v1/templates/{tid}", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/templates", headers=other.headers)).json()["items"] == []


async def test_unsafe_or_broken_templates_are_refused_with_positions(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    response = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand["id"],
            "name": "Evil",
            "bodies": {
                "default": "Hi {{ ''.__class__ }}",
                "x": "ok\n{{ os.system }}",
                "facebook": "{{ slot.missing }}",
            },
            "slots": {"offer": {"label": "Offer"}},
        },
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "template_invalid"
    fields = {(e["field"], e["line"]) for e in response.json()["errors"]}
    assert ("body.bodies.default", 1) in fields
    assert ("body.bodies.x", 2) in fields
    assert ("body.bodies.facebook", 1) in fields
    x_error = next(e for e in response.json()["errors"] if e["field"] == "body.bodies.x")
    assert "line 2, column" in x_error["message"]
    assert "'os'" in x_error["message"]
    assert (await client.get("/v1/templates", headers=owner.headers)).json()["items"] == []


async def test_preview_renders_every_platform_and_reports_every_problem(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    other_brand = await create_brand(client, owner)
    loc = await create_location(
        client,
        owner,
        brand["id"],
        city="Brooklyn",
        phone="+1 718 555 0142",
        custom_fields={"manager": "Jo"},
    )
    stranger = await create_location(client, owner, other_brand["id"])
    rules = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={
            "allowed_platforms": ["x", "instagram", "facebook"],
            "banned_words": ["cheap", "free pizza"],
            "required_hashtags": ["SliceAndCo"],
            "required_disclaimer": "While stocks last.",
            "platform_overrides": {"facebook": {"required_disclaimer": ""}},
        },
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    v1 = await _template(
        client,
        owner,
        brand["id"],
        bodies={
            "default": BODY + " While stocks last.",
            "x": "{{ slot.offer }} in {{ location.city }}! " + "x" * 270 + " #SliceAndCo",
        },
    )
    tid = v1["template_id"]
    preview = await client.post(
        f"/v1/templates/{tid}/versions/1/preview",
        json={"location_id": loc["id"], "slot_values": {"offer": "Chéap FREE Pizza today"}},
        headers=owner.headers,
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["ok"] is False
    by_platform = {p["platform"]: p for p in body["platforms"]}
    assert list(by_platform) == ["x", "instagram", "facebook"]
    facebook = by_platform["facebook"]
    assert facebook["text"].startswith(
        "Fresh pizza in Brooklyn! Chéap FREE Pizza today Call +17185550142."
    )
    assert {p["code"] for p in facebook["problems"]} == {"banned_word"}
    banned = " ".join(p["message"] for p in facebook["problems"])
    assert "'cheap'" in banned
    assert "'free pizza'" in banned
    codes_x = {p["code"] for p in by_platform["x"]["problems"]}
    assert {"text_too_long", "banned_word", "missing_disclaimer"} <= codes_x
    too_long = next(p for p in by_platform["x"]["problems"] if p["code"] == "text_too_long")
    assert (too_long["limit"], too_long["actual"]) == (280, by_platform["x"]["characters"])
    assert "media_required" in {p["code"] for p in by_platform["instagram"]["problems"]}

    # Slot constraints are reported before anything is scheduled.
    long_offer = await client.post(
        f"/v1/templates/{tid}/versions/1/preview",
        json={
            "location_id": loc["id"],
            "slot_values": {"offer": "y" * 41},
            "platforms": ["facebook"],
        },
        headers=owner.headers,
    )
    (slot_problem,) = long_offer.json()["slot_problems"]
    assert slot_problem["message"] == "template slot 'offer' is longer than 40 characters (41)"

    clean = await client.post(
        f"/v1/templates/{tid}/versions/1/preview",
        json={
            "location_id": loc["id"],
            "slot_values": {"offer": "2 for 1"},
            "platforms": ["facebook"],
        },
        headers=owner.headers,
    )
    assert clean.json()["ok"] is True

    wrong_brand = await client.post(
        f"/v1/templates/{tid}/versions/1/preview",
        json={"location_id": stranger["id"]},
        headers=owner.headers,
    )
    assert wrong_brand.status_code == 422
    assert (
        await client.post(
            f"/v1/templates/{tid}/versions/1/preview",
            json={"location_id": loc["id"]},
            headers=other.headers,
        )
    ).status_code == 404


async def test_brand_rules_defaults_and_validation(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    empty = await client.get(f"/v1/brands/{brand['id']}/rules", headers=owner.headers)
    assert empty.json()["banned_words"] == []
    assert empty.json()["allowed_platforms"] is None
    bad = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"allowed_platforms": ["myspace"]},
        headers=owner.headers,
    )
    assert bad.status_code == 422
    assert "myspace" in bad.json()["errors"][0]["message"]
    assert (
        await client.get(f"/v1/brands/{brand['id']}/rules", headers=other.headers)
    ).status_code == 404
