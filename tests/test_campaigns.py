"""Campaigns end to end: create (every field checked), launch, fan-out into one post per
location × channel with the right status and reason, launching twice, pause, resume, cancel,
reschedule, Idempotency-Key, and who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from services.worker.jobs import campaigns as campaign_jobs
from services.worker.registry import job
from shared.config import Settings
from shared.db import Database
from shared.jobs import QUEUE_NAME
from tests.factories import Tenant, create_brand, create_group, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import (
    AT,
    all_posts,
    campaign_body,
    create_campaign,
    launch_and_fan_out,
    publish_template,
)


async def test_launch_writes_one_post_per_location_and_channel(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    redis: Any,
    worker_ctx: dict[str, Any],
    chain: dict[str, Any],
) -> None:
    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client, owner.headers, campaign_body(chain["brand"]["id"], chain["template_id"])
    )
    assert campaign["status"] == "draft"
    assert campaign["progress"] == {"done": 0, "total": 0}
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.status_code == 202, launched.text
    # The fan-out job is on the queue, under the campaign's job id, once committed.
    assert await redis.exists(f"arq:job:fanout:{campaign['id']}")

    result = await campaign_jobs.fan_out(worker_ctx, str(owner.agency_id), campaign["id"])
    assert result == {"status": "running", "written": 6, "locations": 3}

    detail = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).json()
    assert detail["status"] == "running"
    assert detail["progress"] == {"done": 3, "total": 3}
    assert detail["posts_by_status"] == {"scheduled": 3, "skipped": 3}
    assert detail["skipped_by_reason"] == {"no connected account": 3}

    posts = await all_posts(client, owner.headers, campaign["id"])
    by_key = {(p["location_id"], p["platform"]): p for p in posts}
    assert len(posts) == 6  # the paused location gets nothing
    at = datetime.fromisoformat(AT)
    for (location_id, platform), account in chain["accounts"].items():
        post = by_key[(location_id, platform)]
        assert post["status"] == "scheduled"
        assert post["account_id"] == account["id"]
        assert datetime.fromisoformat(post["scheduled_at"]) == at
        assert datetime.fromisoformat(post["publish_deadline"]) == at + timedelta(hours=1)
    nyc_fb = by_key[(chain["nyc"]["id"], "facebook")]
    assert nyc_fb["text"] == "Pizza week in New York: 2 for 1 #SliceAndCo"
    assert nyc_fb["campaign_id"] == campaign["id"]

    # The location sees why its post will not go out.
    chicago = await client.get(
        f"/v1/locations/{chain['chicago']['id']}/posts", headers=owner.headers
    )
    assert {(p["platform"], p["status"], p["status_reason"]) for p in chicago.json()["items"]} == {
        ("facebook", "skipped", "no connected account"),
        ("x", "skipped", "no connected account"),
    }
    boston_x = by_key[(chain["boston"]["id"], "x")]
    assert (boston_x["status"], boston_x["status_reason"]) == ("skipped", "no connected account")

    async with admin_engine.connect() as conn:
        history = (
            await conn.execute(
                text(
                    "SELECT h.to_status, count(*) FROM post_status_change h JOIN post p "
                    "ON p.id = h.post_id WHERE p.campaign_id = :c GROUP BY h.to_status"
                ),
                {"c": campaign["id"]},
            )
        ).all()
        skipped_events = await conn.scalar(
            text("SELECT count(*) FROM outbox_event WHERE type = 'post.skipped'")
        )
        due = (
            await conn.execute(
                text("SELECT due_at FROM post WHERE campaign_id = :c AND status = 'scheduled'"),
                {"c": campaign["id"]},
            )
        ).scalars()
    assert dict(history) == {"scheduled": 3, "skipped": 3}  # type: ignore[arg-type]
    assert skipped_events == 3
    assert set(due) == {at}

    # Launching again and running the job again create nothing twice.
    again = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert again.status_code == 202
    assert again.json()["status"] == "running"
    assert again.json()["progress"] == {"done": 3, "total": 3}
    rerun = await campaign_jobs.fan_out(worker_ctx, str(owner.agency_id), campaign["id"])
    assert rerun["written"] == 0
    assert len(await all_posts(client, owner.headers, campaign["id"])) == 6
    filtered = await all_posts(
        client, owner.headers, campaign["id"], status="skipped", platform="x"
    )
    assert {p["location_id"] for p in filtered} == {chain["boston"]["id"], chain["chicago"]["id"]}


async def test_an_interrupted_fan_out_resumes_without_duplicates(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    app_db: Database,
    chain: dict[str, Any],
) -> None:
    from shared.campaigns import fanout

    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client, owner.headers, campaign_body(chain["brand"]["id"], chain["template_id"])
    )
    await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    campaign_id = uuid.UUID(campaign["id"])
    # One batch of one location written, then the worker "dies": status still launching.
    first = await fanout.run(app_db, owner.agency_id, campaign_id, batch_size=1)
    assert first.status == "running"
    async with admin_engine.begin() as conn:
        written_ids = (
            (
                await conn.execute(
                    text(
                        "SELECT location_id FROM post WHERE campaign_id = :c ORDER BY location_id"
                    ),
                    {"c": campaign["id"]},
                )
            )
            .scalars()
            .all()
        )
        last = max(written_ids)
        await conn.execute(
            text("DELETE FROM post WHERE campaign_id = :c AND location_id = :l"),
            {"c": campaign["id"], "l": last},
        )
        await conn.execute(
            text("UPDATE campaign SET status = 'launching', fanout_done = 2 WHERE id = :c"),
            {"c": campaign["id"]},
        )
    again = await campaign_jobs.fan_out(worker_ctx, str(owner.agency_id), campaign["id"])
    assert again == {"status": "running", "written": 2, "locations": 3}
    detail = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).json()
    assert detail["progress"] == {"done": 3, "total": 3}
    assert sum(detail["posts_by_status"].values()) == 6


async def test_every_problem_is_named_and_nothing_is_saved(
    client: httpx.AsyncClient, chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    brand_id = chain["brand"]["id"]
    rules = await client.put(
        f"/v1/brands/{brand_id}/rules",
        json={"allowed_platforms": ["facebook", "x"]},
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    other_brand = await create_brand(client, owner)
    foreign_group = await create_group(client, owner, other_brand["id"])
    draft = await client.post(
        "/v1/templates",
        json={"brand_id": brand_id, "name": "Draft", "bodies": {"default": "Hi"}},
        headers=owner.headers,
    )
    bad = await client.post(
        "/v1/campaigns",
        json=campaign_body(
            brand_id,
            chain["template_id"],
            channels=["facebook", "instagram"],
            audience={"kind": "groups", "group_ids": [foreign_group["id"]]},
            schedule={"kind": "absolute", "at": "2020-01-01T09:00:00Z"},
            variables={},
        ),
        headers=owner.headers,
    )
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e["code"] for e in bad.json()["errors"]}
    assert fields == {
        "body.channels.1": "platform_not_allowed",
        "body.audience.group_ids.0": "not_found",
        "body.schedule.at": "in_past",
        "body.variables.offer": "variable_missing",
    }
    unpublished = await client.post(
        "/v1/campaigns",
        json=campaign_body(brand_id, draft.json()["template_id"], variables={}),
        headers=owner.headers,
    )
    assert unpublished.status_code == 422
    assert [e["field"] for e in unpublished.json()["errors"]] == ["body.version"]
    passed = await client.post(
        "/v1/campaigns",
        json=campaign_body(
            brand_id,
            chain["template_id"],
            schedule={"kind": "local", "date": "2021-05-01", "time": "09:00"},
        ),
        headers=owner.headers,
    )
    assert [e["field"] for e in passed.json()["errors"]] == ["body.schedule.date"]
    malformed = await client.post(
        "/v1/campaigns",
        json=campaign_body(brand_id, chain["template_id"], audience={"kind": "everyone"}),
        headers=owner.headers,
    )
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"].startswith("body.audience")
    listed = await client.get("/v1/campaigns", headers=owner.headers)
    assert listed.json()["items"] == []


async def test_drafts_are_edited_and_listed(
    client: httpx.AsyncClient, worker_ctx: dict[str, Any], chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    brand_id = chain["brand"]["id"]
    first = await create_campaign(
        client, owner.headers, campaign_body(brand_id, chain["template_id"])
    )
    second = await create_campaign(
        client, owner.headers, campaign_body(brand_id, chain["template_id"], name="Second")
    )
    edited = await client.patch(
        f"/v1/campaigns/{first['id']}",
        json={"name": "Renamed", "channels": ["facebook"]},
        headers=owner.headers,
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["channels"]) == ("Renamed", ["facebook"])
    refused = await client.patch(
        f"/v1/campaigns/{first['id']}", json={"variables": {}}, headers=owner.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.variables.offer"
    await launch_and_fan_out(client, owner.headers, second, worker_ctx, owner.agency_id)
    late_edit = await client.patch(
        f"/v1/campaigns/{second['id']}", json={"name": "Too late"}, headers=owner.headers
    )
    assert late_edit.status_code == 409
    page = await client.get("/v1/campaigns", params={"limit": 1}, headers=owner.headers)
    assert [c["id"] for c in page.json()["items"]] == [first["id"]]
    rest = await client.get(
        "/v1/campaigns",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=owner.headers,
    )
    assert [c["id"] for c in rest.json()["items"]] == [second["id"]]
    running = await client.get(
        "/v1/campaigns", params={"status": "running", "brand_id": brand_id}, headers=owner.headers
    )
    assert [c["name"] for c in running.json()["items"]] == ["Second"]


async def test_audiences_groups_ids_and_filters(
    client: httpx.AsyncClient, worker_ctx: dict[str, Any], chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    brand_id = chain["brand"]["id"]
    group = await create_group(client, owner, brand_id)
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [chain["boston"]["id"], chain["paused"]["id"]]},
        headers=owner.headers,
    )
    assert added.status_code in (200, 204), added.text
    cases = {
        "groups": ({"kind": "groups", "group_ids": [group["id"]]}, {chain["boston"]["id"]}),
        "locations": (
            {"kind": "locations", "location_ids": [chain["nyc"]["id"], chain["paused"]["id"]]},
            {chain["nyc"]["id"]},
        ),
        "filter": (
            {"kind": "filter", "filter": {"city": "chicago", "country": "us"}},
            {chain["chicago"]["id"]},
        ),
    }
    for name, (audience, expected) in cases.items():
        campaign = await create_campaign(
            client,
            owner.headers,
            campaign_body(brand_id, chain["template_id"], name=name, audience=audience),
        )
        await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
        posts = await all_posts(client, owner.headers, campaign["id"])
        assert {p["location_id"] for p in posts} == expected, name


async def test_approval_policies(
    client: httpx.AsyncClient, worker_ctx: dict[str, Any], chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    brand_id = chain["brand"]["id"]
    with_slot = await publish_template(
        client,
        owner,
        brand_id,
        body='Hello {{ location.city }} {{ slot.offer | default("Come by") }}',
        slots={"offer": {"label": "Offer", "max_length": 40}},
    )
    no_slot = await publish_template(client, owner, brand_id, body="Hello {{ location.city }}")
    expectations = [
        ("location_confirm", no_slot, ("needs_approval", "location")),
        ("brand_approval", with_slot, ("needs_approval", "brand")),
        ("brand_approval", no_slot, ("scheduled", None)),
    ]
    for policy, template_id, expected in expectations:
        campaign = await create_campaign(
            client,
            owner.headers,
            campaign_body(
                brand_id,
                template_id,
                name=f"{policy} {template_id}",
                approval_policy=policy,
                variables={},
                audience={"kind": "locations", "location_ids": [chain["nyc"]["id"]]},
                channels=["facebook"],
            ),
        )
        await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
        [post] = await all_posts(client, owner.headers, campaign["id"])
        assert (post["status"], post["approval_kind"]) == expected, policy


async def _db_posts(engine: AsyncEngine, campaign_id: str) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, location_id, platform, status, status_reason, scheduled_at, "
                    "due_at, publish_deadline FROM post WHERE campaign_id = :c"
                ),
                {"c": campaign_id},
            )
        ).mappings()
        return {str(r["id"]): dict(r) for r in rows}


async def test_pause_resume_reschedule_cancel(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    chain: dict[str, Any],
) -> None:
    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client,
        owner.headers,
        campaign_body(chain["brand"]["id"], chain["template_id"], channels=["facebook"]),
    )
    cid = campaign["id"]
    early = await client.post(f"/v1/campaigns/{cid}/pause", headers=owner.headers)
    assert early.status_code == 409  # a draft is not running
    await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
    posts = await _db_posts(admin_engine, cid)
    scheduled = [p for p in posts.values() if p["status"] == "scheduled"]
    assert len(scheduled) == 2  # New York and Boston have Facebook

    paused = await client.post(f"/v1/campaigns/{cid}/pause", headers=owner.headers)
    assert paused.status_code == 200, paused.text
    assert paused.json()["campaign"]["status"] == "paused"
    assert paused.json()["changed"] == 2
    assert all(p["due_at"] is None for p in (await _db_posts(admin_engine, cid)).values())

    # While paused: one post's time passes (still within its hour), another's deadline too.
    now = datetime.now(UTC)
    late, lost = scheduled[0]["id"], scheduled[1]["id"]
    async with admin_engine.begin() as conn:
        for post_id, at in ((late, now - timedelta(minutes=10)), (lost, now - timedelta(hours=2))):
            await conn.execute(
                text(
                    "UPDATE post SET scheduled_at = :at, "
                    "publish_deadline = CAST(:at AS timestamptz) + interval '1 hour' WHERE id = :id"
                ),
                {"at": at, "id": post_id},
            )
    resumed = await client.post(f"/v1/campaigns/{cid}/resume", headers=owner.headers)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["campaign"]["status"] == "running"
    after = await _db_posts(admin_engine, cid)
    assert after[str(late)]["status"] == "scheduled"
    assert now - timedelta(minutes=1) < after[str(late)]["due_at"] <= datetime.now(UTC)
    assert after[str(lost)]["status"] == "skipped"
    assert after[str(lost)]["status_reason"] == (
        "its publish deadline passed while the campaign was paused"
    )

    moved = await client.post(
        f"/v1/campaigns/{cid}/reschedule",
        json={"schedule": {"kind": "absolute", "at": "2031-01-02T10:00:00Z"}},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["changed"] == 1
    new_at = datetime(2031, 1, 2, 10, tzinfo=UTC)
    rescheduled = (await _db_posts(admin_engine, cid))[str(late)]
    assert (rescheduled["scheduled_at"], rescheduled["due_at"]) == (new_at, new_at)
    assert rescheduled["publish_deadline"] == new_at + timedelta(hours=1)

    # One post already handed to a platform: cancel leaves it to finish and says so.
    async with admin_engine.begin() as conn:
        await conn.execute(text("UPDATE post SET status = 'queued' WHERE id = :id"), {"id": late})
        await conn.execute(
            text(
                "UPDATE post SET status = 'scheduled' WHERE campaign_id = :c AND id <> :id "
                "AND platform = 'facebook' AND status = 'skipped' AND status_reason LIKE 'its%'"
            ),
            {"c": cid, "id": late},
        )
    cancelled = await client.post(f"/v1/campaigns/{cid}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["campaign"]["status"] == "cancelled"
    assert (body["changed"], body["left_to_finish"]) == (1, 1)
    assert "left to finish" in body["detail"]
    final = await _db_posts(admin_engine, cid)
    assert final[str(late)]["status"] == "queued"
    assert final[str(lost)]["status"] == "cancelled"
    assert final[str(lost)]["status_reason"] == "the campaign was cancelled"
    again = await client.post(f"/v1/campaigns/{cid}/resume", headers=owner.headers)
    assert again.status_code == 409


async def test_idempotency_key_replays_and_refuses_another_body(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    body = campaign_body(chain["brand"]["id"], chain["template_id"])
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/campaigns", json=body, headers={**owner.headers, **key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # Same key, same body (other key order): the first answer again, nothing created.
    reordered = dict(reversed(list(body.items())))
    second = await client.post("/v1/campaigns", json=reordered, headers={**owner.headers, **key})
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    listed = await client.get("/v1/campaigns", headers=owner.headers)
    assert len(listed.json()["items"]) == 1
    # Same key, another body: refused, naming the header.
    other = await client.post(
        "/v1/campaigns", json={**body, "name": "Other"}, headers={**owner.headers, **key}
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
    # Launch under a key: the replay answers the same 202.
    launch_key = {"Idempotency-Key": "launch-1"}
    url = f"/v1/campaigns/{first.json()['id']}/launch"
    launched = await client.post(url, headers={**owner.headers, **launch_key})
    replay = await client.post(url, headers={**owner.headers, **launch_key})
    assert (launched.status_code, replay.status_code) == (202, 202)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == launched.json()
    # A failed request keeps no key: fixing it and retrying with the same key works.
    failing_key = {"Idempotency-Key": "retry-me"}
    failed = await client.post(
        "/v1/campaigns", json={**body, "variables": {}}, headers={**owner.headers, **failing_key}
    )
    assert failed.status_code == 422
    retried = await client.post(
        "/v1/campaigns", json={**body, "variables": {}}, headers={**owner.headers, **failing_key}
    )
    assert retried.status_code == 422
    assert retried.json()["code"] == "campaign_invalid"
    # Keys expire after 24 hours: then the same key runs the request again.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotent_request SET created_at = now() - interval '25 hours'")
        )
    expired = await client.post("/v1/campaigns", json=body, headers={**owner.headers, **key})
    assert expired.status_code == 201
    assert "idempotent-replayed" not in expired.headers
    assert expired.json()["id"] != first.json()["id"]


async def test_who_may_run_campaigns(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    chain: dict[str, Any],
) -> None:
    owner: Tenant = chain["owner"]
    manager = await invite_and_accept(
        client,
        admin_engine,
        owner,
        f"lm-{uuid.uuid4().hex[:6]}@franchise.example",
        "location_manager",
        location_id=chain["nyc"]["id"],
    )
    lm = bearer(manager["access_token"])
    body = campaign_body(chain["brand"]["id"], chain["template_id"])
    refused = await client.post("/v1/campaigns", json=body, headers=lm)
    assert refused.status_code == 403
    assert refused.json()["missing_permission"] == "campaign.create"
    campaign = await create_campaign(client, owner.headers, body)
    await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
    # The location manager reads the campaign and only its own location's posts.
    seen = await all_posts(client, lm, campaign["id"])
    assert {p["location_id"] for p in seen} == {chain["nyc"]["id"]}
    assert (
        await client.post(f"/v1/campaigns/{campaign['id']}/cancel", headers=lm)
    ).status_code == 403
    # Another agency sees nothing of it.
    outsider = await sign_up(client)
    for method, path in (
        ("GET", f"/v1/campaigns/{campaign['id']}"),
        ("GET", f"/v1/campaigns/{campaign['id']}/posts"),
        ("POST", f"/v1/campaigns/{campaign['id']}/launch"),
        ("POST", f"/v1/campaigns/{campaign['id']}/cancel"),
    ):
        response = await client.request(method, path, headers=outsider.headers)
        assert response.status_code == 404, (method, path)
        assert campaign["id"] not in response.text.replace(path, "")
    foreign = await client.post("/v1/campaigns", json=body, headers=outsider.headers)
    assert foreign.status_code == 404
    assert (await client.get("/v1/campaigns", headers=outsider.headers)).json()["items"] == []


async def test_a_worker_runs_the_fan_out_from_the_queue(
    client: httpx.AsyncClient, settings: Settings, chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client, owner.headers, campaign_body(chain["brand"]["id"], chain["template_id"])
    )
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await redis.delete(QUEUE_NAME)  # connecting the accounts queued their metrics backfills
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.status_code == 202
    db = Database(settings.app_db_url, pool_size=2)

    async def startup(ctx: dict[str, Any]) -> None:
        WorkerContext(settings=settings, db=db, redis=ctx["redis"]).install(ctx)

    worker = Worker(
        functions=[job(campaign_jobs.FAN_OUT_JOB, campaign_jobs.fan_out)],
        redis_pool=redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await db.dispose()
        await redis.aclose()
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    detail = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).json()
    assert detail["status"] == "running"
    assert detail["posts_by_status"] == {"scheduled": 3, "skipped": 3}


async def test_cancelling_while_launching_stops_the_fan_out(
    client: httpx.AsyncClient, worker_ctx: dict[str, Any], chain: dict[str, Any]
) -> None:
    owner: Tenant = chain["owner"]
    campaign = await create_campaign(
        client, owner.headers, campaign_body(chain["brand"]["id"], chain["template_id"])
    )
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.json()["status"] == "launching"
    cancelled = await client.post(f"/v1/campaigns/{campaign['id']}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["campaign"]["status"] == "cancelled"
    result = await campaign_jobs.fan_out(worker_ctx, str(owner.agency_id), campaign["id"])
    assert result == {"status": "cancelled", "written": 0, "locations": 0}
    assert await all_posts(client, owner.headers, campaign["id"]) == []
    relaunch = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert relaunch.status_code == 409
