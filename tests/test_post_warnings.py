"""A post that cannot go out is said at once (issue #13): a local post or a campaign launch
on a platform a location has no connected account on answers a warning naming both (or is
refused when asked to be), and the location's needs list shows it until the account is
connected."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.social_accounts import connect

BODY = "Fresh pizza in {{ location.city }}! #SliceAndCo"


async def _sql(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        return list(result.all()) if result.returns_rows else []


async def approval_world(client: httpx.AsyncClient, engine: AsyncEngine) -> dict[str, Any]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    nyc = await create_location(client, owner, brand["id"], city="New York", name="NYC Slice")
    boston = await create_location(client, owner, brand["id"], city="Boston", name="Boston Slice")
    manager = await invite_and_accept(
        client,
        engine,
        owner,
        f"lm-{uuid.uuid4().hex[:6]}@franchise.example",
        "location_manager",
        location_id=nyc["id"],
    )
    template_id = await publish_template(client, owner, brand["id"], body=BODY)
    return {
        "owner": owner,
        "brand": brand,
        "nyc": nyc,
        "boston": boston,
        "lm": bearer(manager["access_token"]),
        "template_id": template_id,
    }


async def _post(
    client: httpx.AsyncClient,
    w: dict[str, Any],
    platforms: list[str],
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/locations/{w['nyc']['id']}/posts",
        json={"template_id": w["template_id"], "version": 1, "platforms": platforms, **extra},
        headers=headers or w["lm"],
    )


async def _needs(
    client: httpx.AsyncClient, location_id: str, headers: dict[str, str]
) -> dict[tuple[str, str | None], dict[str, Any]]:
    got = await client.get(f"/v1/locations/{location_id}/needs", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["location_id"] == location_id
    return {(i["kind"], i["platform"]): i for i in got.json()["items"]}


async def _post_count(engine: AsyncEngine, location_id: str) -> int:
    rows = await _sql(engine, "SELECT count(*) FROM post WHERE location_id = :l", l=location_id)
    return int(rows[0][0])


async def test_a_post_without_a_connected_account_is_said_at_once_until_connected(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> None:
    w = await approval_world(client, admin_engine)
    nyc = w["nyc"]["id"]
    made = await _post(client, w, ["facebook", "x"])
    assert made.status_code == 201, made.text
    for post in made.json():
        (warning,) = post["warnings"]
        assert warning["code"] == "no_connected_account"
        assert (warning["location_id"], warning["platform"]) == (nyc, post["platform"])
        assert f"no connected {post['platform']} account" in warning["detail"]
        assert "NYC Slice" in warning["detail"]
        assert (
            f"/v1/locations/{nyc}/social-accounts/{post['platform']}/connect" in (warning["detail"])
        )
    # The location's people see it in its needs, with what to do.
    needs = await _needs(client, nyc, w["lm"])
    assert set(needs) == {("connect_account", "facebook"), ("connect_account", "x")}
    facebook = needs[("connect_account", "facebook")]
    assert facebook["count"] == 1
    assert "skipped" in facebook["detail"]
    assert facebook["action"] == {
        "label": "connect the location's facebook account",
        "method": "POST",
        "path": f"/v1/locations/{nyc}/social-accounts/facebook/connect",
    }
    # A sibling location has nothing to do.
    assert await _needs(client, w["boston"]["id"], w["owner"].headers) == {}

    await connect(client, w["lm"], nyc, "facebook")
    again = await _post(client, w, ["facebook", "x"])
    assert again.status_code == 201
    by_platform = {p["platform"]: p["warnings"] for p in again.json()}
    assert by_platform["facebook"] == []
    assert [x["code"] for x in by_platform["x"]] == ["no_connected_account"]
    needs = await _needs(client, nyc, w["lm"])
    assert set(needs) == {("connect_account", "x")}
    assert needs[("connect_account", "x")]["count"] == 2

    # Cancelling the posts that wanted X leaves nothing to connect it for.
    for post in [*made.json(), *again.json()]:
        if post["platform"] == "x":
            cancelled = await client.post(f"/v1/posts/{post['id']}/cancel", headers=w["lm"])
            assert cancelled.status_code == 200, cancelled.text
    assert await _needs(client, nyc, w["lm"]) == {}


async def test_required_connected_accounts_refuse_and_write_nothing(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> None:
    w = await approval_world(client, admin_engine)
    nyc = w["nyc"]["id"]
    await connect(client, w["owner"].headers, nyc, "facebook")
    refused = await _post(client, w, ["facebook", "x"], require_connected_accounts=True)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "account_not_connected"
    assert "no connected x account" in problem["detail"]
    assert "nothing was saved" in problem["detail"]
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("body.platforms.1", "no_connected_account")
    ]
    assert [(m["location_id"], m["platform"]) for m in problem["missing"]] == [(nyc, "x")]
    assert await _post_count(admin_engine, nyc) == 0
    audited = await _sql(
        admin_engine,
        "SELECT count(*) FROM audit_event WHERE agency_id = :a AND action = 'post.create'",
        a=str(w["owner"].agency_id),
    )
    assert audited[0][0] == 0

    # With every platform connected the same request goes through, without warnings.
    made = await _post(client, w, ["facebook"], require_connected_accounts=True)
    assert made.status_code == 201, made.text
    assert [p["warnings"] for p in made.json()] == [[]]
    assert await _post_count(admin_engine, nyc) == 1


async def test_an_account_to_reconnect_warns_and_shows_in_needs(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> None:
    w = await approval_world(client, admin_engine)
    nyc = w["nyc"]["id"]
    account = await connect(client, w["owner"].headers, nyc, "facebook")
    await _sql(
        admin_engine,
        "UPDATE social_account SET status = 'needs_reconnect' WHERE id = :id",
        id=account["id"],
    )
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    made = await _post(client, w, ["facebook"], scheduled_at=later)
    assert made.status_code == 201
    (warning,) = made.json()[0]["warnings"]
    assert (warning["code"], warning["platform"]) == ("account_needs_reconnect", "facebook")
    assert "needs reconnecting" in warning["detail"]
    strict = await _post(client, w, ["facebook"], require_connected_accounts=True)
    assert strict.status_code == 409
    assert strict.json()["errors"][0]["code"] == "account_needs_reconnect"

    needs = await _needs(client, nyc, w["lm"])
    assert set(needs) == {("reconnect_account", "facebook")}
    assert needs[("reconnect_account", "facebook")]["count"] == 1
    assert "will fail" in needs[("reconnect_account", "facebook")]["detail"]

    await connect(client, w["lm"], nyc, "facebook")  # reconnecting updates the account
    assert await _needs(client, nyc, w["lm"]) == {}


async def test_needs_count_confirmations_and_reviews_to_answer(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> None:
    w = await approval_world(client, admin_engine)
    nyc = w["nyc"]["id"]
    await connect(client, w["owner"].headers, nyc, "facebook")
    await client.put(
        f"/v1/brands/{w['brand']['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=w["owner"].headers,
    )
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    made = await _post(client, w, ["facebook"], headers=w["owner"].headers, scheduled_at=later)
    assert made.status_code == 201
    post_id = made.json()[0]["id"]
    await _sql(
        admin_engine, "UPDATE post SET approval_kind = 'location' WHERE id = :id", id=post_id
    )
    agency, brand = str(w["owner"].agency_id), w["brand"]["id"]
    source = str(uuid.uuid4())
    await _sql(
        admin_engine,
        "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, external_id) "
        "VALUES (:a, :id, :b, :l, 'yelp', :ext)",
        a=agency,
        id=source,
        b=brand,
        l=nyc,
        ext=f"yelp-{source}",
    )
    for n, attention in enumerate((True, True, False)):
        await _sql(
            admin_engine,
            "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, source, "
            "external_id, rating, created_at, updated_at, sentiment_score, sentiment_label, "
            "needs_attention) VALUES (:a, :id, :b, :l, :s, 'yelp', :ext, :r, now(), now(), "
            "0, 'neutral', :att)",
            a=agency,
            id=str(uuid.uuid4()),
            b=brand,
            l=nyc,
            s=source,
            ext=f"r-{source}-{n}",
            r=1 if attention else 5,
            att=attention,
        )
    needs = await _needs(client, nyc, w["lm"])
    assert set(needs) == {("confirm_posts", None), ("answer_reviews", None)}
    assert needs[("confirm_posts", None)]["count"] == 1
    assert needs[("confirm_posts", None)]["action"]["path"] == f"/v1/locations/{nyc}/approvals"
    assert needs[("answer_reviews", None)]["count"] == 2
    assert needs[("answer_reviews", None)]["action"]["path"] == (
        f"/v1/locations/{nyc}/reviews/needs-attention"
    )
    confirmed = await client.post(f"/v1/posts/{post_id}/approve", headers=w["lm"])
    assert confirmed.status_code == 200, confirmed.text
    await _sql(
        admin_engine,
        "UPDATE review SET reply_status = 'sent', reply_text = 'Sorry' WHERE location_id = :l",
        l=nyc,
    )
    assert await _needs(client, nyc, w["lm"]) == {}


async def test_needs_are_the_location_people_s_own(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    made = await _post(client, w, ["facebook"])
    assert made.status_code == 201
    # The NYC manager cannot read Boston's needs; another agency reads no one's.
    sibling = await client.get(f"/v1/locations/{w['boston']['id']}/needs", headers=w["lm"])
    assert sibling.status_code == 404
    outsider = await sign_up(client)
    foreign = await client.get(f"/v1/locations/{w['nyc']['id']}/needs", headers=outsider.headers)
    assert foreign.status_code == 404
    assert "facebook" not in foreign.text
    foreign_post = await _post(client, w, ["facebook"], headers=outsider.headers)
    assert foreign_post.status_code == 404
    # The brand's people see the same needs as the location's.
    owner_view = await _needs(client, w["nyc"]["id"], w["owner"].headers)
    assert owner_view == await _needs(client, w["nyc"]["id"], w["lm"])
    assert set(owner_view) == {("connect_account", "facebook")}


# Campaign launch --------------------------------------------------------------------------


async def _campaign_world(client: httpx.AsyncClient, owner: Tenant) -> dict[str, Any]:
    """A brand with NYC (Facebook connected), Boston and Chicago (nothing connected)."""
    brand = await create_brand(client, owner)
    nyc = await create_location(client, owner, brand["id"], name="A NYC")
    boston = await create_location(client, owner, brand["id"], name="B Boston")
    chicago = await create_location(client, owner, brand["id"], name="C Chicago")
    await connect(client, owner.headers, nyc["id"], "facebook")
    template_id = await publish_template(client, owner, brand["id"])
    return {"brand": brand, "nyc": nyc, "boston": boston, "chicago": chicago, "tid": template_id}


async def test_launch_names_the_locations_without_accounts_or_refuses(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    redis: Redis,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    c = await _campaign_world(client, owner)
    campaign = await create_campaign(
        client, owner.headers, campaign_body(c["brand"]["id"], c["tid"])
    )
    path = f"/v1/campaigns/{campaign['id']}/launch"

    refused = await client.post(
        path, json={"require_connected_accounts": True}, headers=owner.headers
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "account_not_connected"
    assert problem["missing_count"] == 5
    assert problem["detail"].startswith("5 location(s)")
    assert "not launched" in problem["detail"]
    # Nothing changed: still a draft, no posts, no fan-out job.
    got = await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)
    assert got.json()["status"] == "draft"
    assert got.json()["posts_by_status"] == {}
    assert not await redis.exists(f"arq:job:fanout:{campaign['id']}")

    launched = await client.post(path, headers=owner.headers)
    assert launched.status_code == 202, launched.text
    answer = launched.json()
    assert answer["status"] == "launching"
    assert answer["warning_count"] == 5
    expected = [
        (c["nyc"]["id"], "x"),
        (c["boston"]["id"], "facebook"),
        (c["boston"]["id"], "x"),
        (c["chicago"]["id"], "facebook"),
        (c["chicago"]["id"], "x"),
    ]
    assert [(x["location_id"], x["platform"]) for x in answer["warnings"]] == expected
    assert {x["code"] for x in answer["warnings"]} == {"no_connected_account"}
    assert "B Boston has no connected facebook account" in answer["warnings"][1]["detail"]


async def test_launch_warnings_are_bounded_and_counted(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    c = await _campaign_world(client, owner)
    brand_id = c["brand"]["id"]
    # 60 more locations without accounts: 3 + 60 = 63 locations, 2 channels, NYC has Facebook.
    rows = [
        {"a": str(owner.agency_id), "id": str(uuid.uuid4()), "b": brand_id, "n": f"Z {i:03d}"}
        for i in range(60)
    ]
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO location (agency_id, id, brand_id, name, country, time_zone, status) "
                "VALUES (:a, :id, :b, :n, 'US', 'America/Chicago', 'active')"
            ),
            rows,
        )
    campaign = await create_campaign(client, owner.headers, campaign_body(brand_id, c["tid"]))
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.status_code == 202, launched.text
    assert launched.json()["warning_count"] == 63 * 2 - 1
    assert len(launched.json()["warnings"]) == 100
    # Launching again answers the same while the fan-out is still to come.
    again = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert again.json()["warning_count"] == 63 * 2 - 1
