from __future__ import annotations

import httpx
from arq.connections import ArqRedis
from fastapi import FastAPI

from shared.jobs import HEARTBEAT_KEY, JOB_COUNTS_KEY
from tests.factories import create_brand, sign_up


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert body["code"] == "not_found"
    assert body["instance"] == "/v1/nothing-here"
    assert body["request_id"] == missing.headers["x-request-id"]

    wrong_method = await client.put("/v1/brands")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_malformed_json_names_the_problem(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    response = await client.post(
        "/v1/brands",
        content=b'{"name": ',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "json_invalid"

    unknown_field = await client.post(
        "/v1/brands", json={"name": "X", "colour": "red"}, headers=tenant.headers
    )
    assert unknown_field.status_code == 422
    assert unknown_field.json()["errors"][0]["field"] == "body.colour"


async def test_oversized_body_is_413_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    tenant = await sign_up(client)
    limit = app.state.settings.max_request_bytes
    huge = b'{"name": "' + b"x" * (limit + 10) + b'"}'
    response = await client.post(
        "/v1/brands", content=huge, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"

    async def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = await client.post(
        "/v1/brands",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert (await client.get("/v1/brands", headers=tenant.headers)).json()["items"] == []


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\nInjected: yes"})
    assert hostile.headers["x-request-id"] != "bad id\nInjected: yes"
    assert len(hostile.headers["x-request-id"]) == 32


async def test_metrics_count_requests_by_route_template_and_jobs(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    tenant = await sign_up(client)
    brand = await create_brand(client, tenant)
    await client.get(f"/v1/brands/{brand['id']}", headers=tenant.headers)
    redis: ArqRedis = app.state.redis
    await redis.hincrby(JOB_COUNTS_KEY, "system.heartbeat:ok", 3)

    text = (await client.get("/metrics")).text
    assert (
        'chorus_http_requests_total{method="GET",route="/v1/brands/{brand_id}",status="200"}'
        in text
    )
    assert str(brand["id"]) not in text
    assert 'chorus_jobs{job="system.heartbeat",outcome="ok"} 3.0' in text
    assert "chorus_http_request_duration_seconds_bucket" in text


PUBLIC = {
    "/v1/social-accounts/oauth/callback",
    "/v1/approval-links",
    "/v1/approval-links/use",
}
"""Routes without a login: a signed state or link is the credential."""
PUBLIC_OPERATIONS = {("options", "/v1/media/uploads")}
"""tus discovery: a client asks what the server speaks before it sends credentials."""


async def test_openapi_documents_every_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            public = path in PUBLIC or (method, path) in PUBLIC_OPERATIONS
            if path.startswith("/v1/") and not path.startswith("/v1/auth") and not public:
                codes = set(operation["responses"])
                assert "401" in codes, f"{method.upper()} {path} does not document 401"
    assert (await client.get("/docs")).status_code == 200


async def test_heartbeat_key_is_not_written_by_api(app: FastAPI) -> None:
    # The key belongs to workers; a fresh Redis has none until a worker beats.
    assert await app.state.redis.exists(HEARTBEAT_KEY) == 0
