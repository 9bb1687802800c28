"""A query parameter an operation does not take is a 400 naming it (and the ones it takes),
on every GET route of the app, read from the app's own routes so a new one is covered."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services.api.app import create_app
from services.api.validation import FREE_FORM_QUERY
from shared.config import Settings
from tests.factories import create_brand, sign_up

_APP = create_app(Settings(env="test", log_level="WARNING", log_json=True))
SPEC: dict[str, Any] = _APP.openapi()
ROUTES: list[str] = sorted(
    {
        str(c.path)
        for c in iter_route_contexts(_APP.routes)
        if isinstance(c.original_route, APIRoute)
        and "GET" in (c.methods or ())
        and ("GET", c.path) not in FREE_FORM_QUERY
    }
)


def _path_value(schema: dict[str, Any]) -> str:
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return "1"
    return "x"


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref_or_schema:
        name = ref_or_schema["$ref"].rsplit("/", 1)[-1]
        return dict(SPEC["components"]["schemas"][name])
    return ref_or_schema


def _operation_query(path: str) -> tuple[str, set[str]]:
    parameters = SPEC["paths"][path]["get"].get("parameters", [])
    url = path
    for p in parameters:
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", _path_value(_schema(p["schema"])))
    return url, {p["name"] for p in parameters if p["in"] == "query"}


def test_every_get_route_is_covered() -> None:
    assert {"/v1/brands", "/v1/locations", "/v1/templates", "/v1/audit-events"} <= set(ROUTES)
    assert len(ROUTES) > 30


@pytest.mark.parametrize("path", ROUTES)
async def test_unknown_query_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, path: str
) -> None:
    owner = await sign_up(client)
    url, declared = _operation_query(path)
    known = {"limit": "5"} if "limit" in declared else {}
    response = await client.get(url, params={**known, "sort_by": "x"}, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unknown_query_parameter"
    assert [e["field"] for e in body["errors"]] == ["query.sort_by"]
    assert "sort_by" in body["detail"]
    # the ones it takes are named, and are those its OpenAPI operation documents
    assert set(body["accepted"]) == declared
    for name in declared:
        assert f"`{name}`" in body["detail"]
    if declared:
        assert "400" in SPEC["paths"][path]["get"]["responses"]


async def test_the_parameters_an_operation_takes_pass(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    for url in (
        f"/v1/locations?brand_id={brand['id']}&limit=5&sort=name&status=active",
        "/v1/brands?limit=1",
        f"/v1/templates?brand_id={brand['id']}",
    ):
        assert (await client.get(url, headers=owner.headers)).status_code == 200, url


async def test_several_unknown_parameters_are_all_named(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    response = await client.get(
        "/v1/brands?limit=2&brandid=1&Limit=3&brandid=2", headers=owner.headers
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["query.brandid", "query.Limit"]


async def test_the_oauth_callback_takes_what_the_platform_adds(client: httpx.AsyncClient) -> None:
    """Platforms add their own parameters to the redirect: they do not make it a 400 of ours
    (the state is what is checked)."""
    response = await client.get(
        "/v1/social-accounts/oauth/callback",
        params={"state": "not-a-state", "code": "c", "scope": "a b", "authuser": "0"},
    )
    assert response.json()["code"] != "unknown_query_parameter"
    operations = {
        (method, c.path) for c in iter_route_contexts(_APP.routes) for method in c.methods or ()
    }
    assert set(FREE_FORM_QUERY) <= operations  # the exemptions name real operations


async def test_a_write_with_an_unknown_parameter_writes_nothing(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    refused = await client.post(
        "/v1/brands?dry_run=1", json={"name": "Harbour"}, headers=owner.headers
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "query.dry_run"
    assert "takes no query parameters" in refused.json()["detail"]
    listed = (await client.get("/v1/brands", headers=owner.headers)).json()
    assert listed["items"] == []
