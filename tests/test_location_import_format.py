"""The CSV import's format, stated once (docs/location-import.md, linked from the README and
the route's description), its groups cell, and what a re-import's answer counts."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from shared.locations import csv_format
from tests.conftest import ROOT
from tests.factories import Tenant, create_brand, create_group, sign_up

DOC = ROOT / "docs" / "location-import.md"
GROUPED = "external_ref,name,country,time_zone,groups"


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


async def _import(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, body: bytes, **params: str
) -> httpx.Response:
    return await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content=body,
        params=params,
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )


async def _groups_of(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str
) -> dict[str, set[str]]:
    """Group name → the external_refs of its members, as the API lists them."""
    groups = await client.get(
        "/v1/location-groups", params={"brand_id": brand_id, "limit": "200"}, headers=tenant.headers
    )
    out: dict[str, set[str]] = {}
    for group in groups.json()["items"]:
        members = await client.get(
            "/v1/locations",
            params={"group_id": group["id"], "limit": "200"},
            headers=tenant.headers,
        )
        out[group["name"]] = {m["external_ref"] for m in members.json()["items"]}
    return out


def test_the_doc_states_the_columns_the_code_reads() -> None:
    text = DOC.read_text()
    block = re.search(r"<!-- columns:[^>]*-->\n(.*?)<!-- /columns -->", text, re.S)
    assert block is not None, "docs/location-import.md lost its generated column table"
    assert block.group(1) == csv_format.reference_table(), (
        "the column table in docs/location-import.md differs from the code; replace it with "
        "the output of shared.locations.csv_format.reference_table()"
    )
    for column in csv_format.STANDARD_COLUMNS:
        assert f"`{column}`" in block.group(1)
    for status in ("active", "paused", "archived"):
        assert f"`{status}`" in block.group(1)
    assert f"separated by `{csv_format.GROUP_SEPARATOR}`" in text
    assert csv_format.lookalike_list() in text


async def test_the_readme_and_the_import_route_point_at_the_doc(app: FastAPI) -> None:
    assert "docs/location-import.md" in (ROOT / "README.md").read_text()
    route = app.openapi()["paths"]["/v1/brands/{brand_id}/locations/import"]["post"]
    assert "docs/location-import.md" in route["description"]
    assert csv_format.reference_table() in route["description"]
    answer = app.openapi()["components"]["schemas"]["LocationImportOut"]["properties"]
    assert {"memberships_added", "memberships_removed", "unchanged", "updated"} <= set(answer)


@pytest.mark.parametrize(
    ("cell", "separator", "suggestion"),
    [
        ("North, South", "','", "North; South"),
        ("North/South", "'/'", "North; South"),
        ("North | South", "'|'", "North; South"),
        ("North\tSouth", "a tab", "North; South"),
    ],
)
async def test_a_groups_cell_in_another_separator_is_a_row_problem(
    client: httpx.AsyncClient, cell: str, separator: str, suggestion: str
) -> None:
    a = await sign_up(client)
    brand_id = str((await create_brand(client, a))["id"])
    body = _csv(GROUPED, "s1,One,US,UTC,North", f's2,Two,US,UTC,"{cell}"')
    response = await _import(client, a, brand_id, body)
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert (problem["line"], problem["field"], problem["code"]) == (3, "groups", "group_separator")
    assert f"separated by {separator}" in problem["message"]
    assert f"e.g. '{suggestion}'" in problem["message"]
    assert "POST /v1/location-groups" in problem["message"]
    listed = await client.get("/v1/locations", params={"brand_id": brand_id}, headers=a.headers)
    assert listed.json()["items"] == []  # nothing half written
    assert await _groups_of(client, a, brand_id) == {}

    # valid_only writes the good row, reports the bad one, and creates no "North, South" group.
    partial = (await _import(client, a, brand_id, body, mode="valid_only")).json()
    assert (partial["created"], partial["invalid"]) == (1, 1)
    assert [e["line"] for e in partial["errors"]] == [3]
    assert await _groups_of(client, a, brand_id) == {"North": {"s1"}}


async def test_a_group_that_really_has_such_a_name_is_accepted_once_it_exists(
    client: httpx.AsyncClient,
) -> None:
    a = await sign_up(client)
    other = await sign_up(client)
    brand_id = str((await create_brand(client, a))["id"])
    # The same name in another agency's brand does not count.
    other_brand = str((await create_brand(client, other))["id"])
    await create_group(client, other, other_brand, "Bars / Pubs")
    body = _csv(GROUPED, 's1,One,US,UTC,"bars / pubs; North"')
    refused = await _import(client, a, brand_id, body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "group_separator"

    await create_group(client, a, brand_id, "Bars / Pubs")
    accepted = await _import(client, a, brand_id, body)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["groups_created"], accepted.json()["memberships_added"]) == (1, 2)
    assert await _groups_of(client, a, brand_id) == {"Bars / Pubs": {"s1"}, "North": {"s1"}}


async def test_a_reimport_counts_the_memberships_it_adds_and_removes(
    client: httpx.AsyncClient,
) -> None:
    a = await sign_up(client)
    brand_id = str((await create_brand(client, a))["id"])
    first = _csv(
        GROUPED,
        "s1,One,US,UTC,North; Acme",
        "s2,Two,US,UTC,North",
        "s3,Three,US,UTC,Acme",
    )
    result = (await _import(client, a, brand_id, first)).json()
    assert (result["created"], result["groups_created"]) == (3, 2)
    assert (result["memberships_added"], result["memberships_removed"]) == (4, 0)

    # s1 leaves Acme, s2 moves from North to South (and is renamed), s3 leaves every group.
    second = _csv(
        GROUPED,
        "s1,One,US,UTC,north",
        "s2,Two (renamed),US,UTC,South",
        "s3,Three,US,UTC,",
    )
    result = (await _import(client, a, brand_id, second)).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 2)
    assert (result["groups_created"], result["memberships_added"]) == (1, 1)
    assert result["memberships_removed"] == 3
    assert await _groups_of(client, a, brand_id) == {
        "North": {"s1"},
        "Acme": set(),
        "South": {"s2"},
    }

    # The same file again: nothing changes, and the answer says so.
    result = (await _import(client, a, brand_id, second)).json()
    assert (result["unchanged"], result["memberships_added"], result["memberships_removed"]) == (
        3,
        0,
        0,
    )

    # A file without a groups column leaves memberships alone.
    no_groups = _csv("external_ref,name,country,time_zone", "s1,One again,US,UTC")
    result = (await _import(client, a, brand_id, no_groups)).json()
    assert (result["updated"], result["memberships_removed"]) == (1, 0)
    assert (await _groups_of(client, a, brand_id))["North"] == {"s1"}


async def test_a_json_row_with_groups_sets_them_and_one_without_keeps_them(
    client: httpx.AsyncClient,
) -> None:
    a = await sign_up(client)
    brand_id = str((await create_brand(client, a))["id"])
    await _import(client, a, brand_id, _csv(GROUPED, "s1,One,US,UTC,North", "s2,Two,US,UTC,North"))
    rows = [
        # A list needs no separator: a name with a comma is one group.
        {"external_ref": "s1", "name": "One", "country": "US", "time_zone": "UTC",
         "groups": ["Acme Holdings, Inc."]},
        {"external_ref": "s2", "name": "Two", "country": "US", "time_zone": "UTC"},
    ]  # fmt: skip
    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import", json=rows, headers=a.headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["memberships_added"], result["memberships_removed"]) == (1, 1)
    assert await _groups_of(client, a, brand_id) == {
        "North": {"s2"},
        "Acme Holdings, Inc.": {"s1"},
    }


async def test_no_group_name_holds_the_separator(client: httpx.AsyncClient) -> None:
    """Else an export would write it as two names, and its re-import move the location."""
    a = await sign_up(client)
    brand_id = str((await create_brand(client, a))["id"])
    rows = [{"external_ref": "s1", "name": "One", "country": "US", "time_zone": "UTC",
             "groups": ["North;South"]}]  # fmt: skip
    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import", json=rows, headers=a.headers
    )
    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("rows[0].groups", "invalid_group")

    made = await client.post(
        "/v1/location-groups", json={"brand_id": brand_id, "name": "A;B"}, headers=a.headers
    )
    assert made.status_code == 422
    assert [e["field"] for e in made.json()["errors"]] == ["body.name"]
    group = await create_group(client, a, brand_id, "North")
    renamed = await client.patch(
        f"/v1/location-groups/{group['id']}", json={"name": "North; East"}, headers=a.headers
    )
    assert renamed.status_code == 422
    assert await _groups_of(client, a, brand_id) == {"North": set()}
