"""Bulk import through the HTTP API against real PostgreSQL (under row-level security)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from shared.locations import importer
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up

HEADER = "external_ref,name,city,country,time_zone,phone,status,groups,custom.manager"
CSV = {"Content-Type": "text/csv"}


async def _setup(client: httpx.AsyncClient) -> tuple[Tenant, Tenant, str]:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a, "Slice & Co")
    return a, b, str(brand["id"])


async def _import(
    client: httpx.AsyncClient,
    tenant: Tenant,
    brand_id: str,
    body: str | bytes,
    *,
    mode: str | None = None,
    content_type: str = "text/csv",
) -> httpx.Response:
    params = {"mode": mode} if mode else {}
    return await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content=body.encode() if isinstance(body, str) else body,
        params=params,
        headers={**tenant.headers, "Content-Type": content_type},
    )


async def _locations(
    client: httpx.AsyncClient, tenant: Tenant, **params: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/locations", params=query, headers=tenant.headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def _csv(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


async def test_csv_creates_locations_listed_for_the_brand_only_to_its_agency(
    client: httpx.AsyncClient,
) -> None:
    a, b, brand_id = await _setup(client)
    body = _csv(
        HEADER,
        "store-1,Slice & Co Brooklyn,Brooklyn,us,america/new_york,(718) 555-0142,,,Jo",
        'store-2,"Slice & Co, Berlin",Berlin,DE,Europe/Berlin,+49 30 901820,paused,,',
        ",Slice & Co Popup,Austin,US,America/Chicago,,,,",
    )
    response = await _import(client, a, brand_id, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result == {
        "mode": "all_or_nothing",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "errors": [],
        "groups_created": 0,
        "memberships_added": 0,
        "memberships_removed": 0,
    }

    listed = {loc["name"]: loc for loc in await _locations(client, a, brand_id=brand_id)}
    assert set(listed) == {"Slice & Co Brooklyn", "Slice & Co, Berlin", "Slice & Co Popup"}
    brooklyn = listed["Slice & Co Brooklyn"]
    assert brooklyn["country"] == "US"
    assert brooklyn["time_zone"] == "America/New_York"
    assert brooklyn["phone"] == "+17185550142"
    assert brooklyn["custom_fields"] == {"manager": "Jo"}
    assert brooklyn["status"] == "active"
    assert listed["Slice & Co, Berlin"]["status"] == "paused"
    assert listed["Slice & Co, Berlin"]["custom_fields"] == {}
    assert listed["Slice & Co Popup"]["external_ref"] is None
    for location in listed.values():  # the list writes exactly what GET /v1/locations/{id} does
        one = await client.get(f"/v1/locations/{location['id']}", headers=a.headers)
        assert one.json() == location

    assert await _locations(client, b) == []
    assert await _locations(client, b, brand_id=brand_id) == []


async def test_reimport_updates_by_external_ref_instead_of_duplicating(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    first = _csv(
        HEADER,
        "store-1,Brooklyn,Brooklyn,US,America/New_York,,,,Jo",
        "store-2,Berlin,Berlin,DE,Europe/Berlin,,,,",
        ",No ref,Austin,US,America/Chicago,,,,",
    )
    assert (await _import(client, a, brand_id, first)).json()["created"] == 3
    before = {loc["name"]: loc for loc in await _locations(client, a, brand_id=brand_id)}

    second = _csv(
        HEADER,
        "store-1,Brooklyn Heights,Brooklyn,US,America/New_York,,,,Sam",
        "store-2,Berlin,Berlin,DE,Europe/Berlin,,,,",
        "store-3,Munich,München,DE,Europe/Berlin,,,,",
        ",No ref,Austin,US,America/Chicago,,,,",
    )
    result = (await _import(client, a, brand_id, second)).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (2, 1, 1)

    listed = await _locations(client, a, brand_id=brand_id)
    names = sorted(loc["name"] for loc in listed)
    assert names == ["Berlin", "Brooklyn Heights", "Munich", "No ref", "No ref"]
    after = {loc["name"]: loc for loc in listed}
    heights = after["Brooklyn Heights"]
    assert heights["id"] == before["Brooklyn"]["id"]
    assert heights["custom_fields"] == {"manager": "Sam"}
    assert heights["updated_at"] > before["Brooklyn"]["updated_at"]
    assert after["Berlin"] == before["Berlin"]  # unchanged: not even updated_at moves


async def test_columns_left_out_keep_their_values_on_update(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    await _import(
        client,
        a,
        brand_id,
        _csv(HEADER, "store-1,Brooklyn,Brooklyn,US,America/New_York,+1 718 555 0142,paused,,Jo"),
    )
    result = await _import(
        client, a, brand_id, _csv("external_ref,name,country,time_zone", "store-1,B2,US,UTC")
    )
    assert result.json()["updated"] == 1
    [location] = await _locations(client, a, brand_id=brand_id)
    assert location["name"] == "B2"
    assert location["time_zone"] == "UTC"
    assert location["phone"] == "+17185550142"
    assert location["status"] == "paused"
    assert location["custom_fields"] == {"manager": "Jo"}


async def test_all_or_nothing_writes_nothing_and_lists_every_bad_line(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    body = _csv(
        "external_ref,name,address_line1,country,time_zone,phone,custom.floor",
        "s1,Good,1 Main St,US,America/New_York,,",
        's2,Bad zone,"Multi-line',
        'street",US,Mars/Base,,',
        "s3,,2 Main St,US,UTC,,",
        "s4,Bad phone,3 Main St,DE,Europe/Berlin,123,",
        "",
        "s5,Bad country,4 Main St,Narnia,UTC,," + "x" * 1001,
    )
    response = await _import(client, a, brand_id, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "import_invalid"
    assert problem["invalid"] == 4
    assert problem["rows"] == 5
    assert "mode=valid_only" in problem["detail"]
    by_line = {(e["line"], e["field"]) for e in problem["errors"]}
    assert by_line == {
        (3, "time_zone"),  # the row starts on line 3; its quoted address spans lines 3-4
        (5, "name"),
        (6, "phone"),
        (8, "country"),
        (8, "custom.floor"),
    }
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert "is not an IANA time zone" in messages["time_zone"]
    assert "not a valid phone number for DE" in messages["phone"]
    assert "longer than 1000 characters" in messages["custom.floor"]
    assert all(e["code"] for e in problem["errors"])
    assert await _locations(client, a) == []


async def test_messages_are_the_same_as_the_rest_api(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    api = await client.post(
        "/v1/locations",
        json={"brand_id": brand_id, "name": "X", "country": "US", "time_zone": "Mars/Base"},
        headers=a.headers,
    )
    imported = await _import(client, a, brand_id, _csv("name,country,time_zone", "X,US,Mars/Base"))
    [api_error] = api.json()["errors"]
    [import_error] = imported.json()["errors"]
    assert import_error["message"] == api_error["message"]
    assert import_error["code"] == api_error["code"]


async def test_valid_only_writes_good_rows_and_reports_bad_ones(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    body = _csv(
        "external_ref,name,country,time_zone",
        "s1,One,US,UTC",
        "s2,Two,XX,UTC",
        "s3,Three,DE,Europe/Berlin",
    )
    response = await _import(client, a, brand_id, body, mode="valid_only")
    assert response.status_code == 200
    result = response.json()
    assert (result["rows"], result["created"], result["invalid"]) == (3, 2, 1)
    assert [(e["line"], e["field"]) for e in result["errors"]] == [(3, "country")]
    names = sorted(loc["name"] for loc in await _locations(client, a, brand_id=brand_id))
    assert names == ["One", "Three"]


async def test_duplicate_external_ref_in_one_file_names_the_earlier_line(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    body = _csv(
        "external_ref,name,country,time_zone",
        "s1,One,US,UTC",
        "s2,Two,US,UTC",
        "s1,One again,US,UTC",
    )
    response = await _import(client, a, brand_id, body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["line"], error["field"], error["code"]) == (4, "external_ref", "duplicate")
    assert "line 2" in error["message"]

    partial = await _import(client, a, brand_id, body, mode="valid_only")
    assert (partial.json()["created"], partial.json()["invalid"]) == (2, 1)
    names = sorted(loc["name"] for loc in await _locations(client, a, brand_id=brand_id))
    assert names == ["One", "Two"]


async def test_unknown_and_missing_columns_are_one_clear_error_each(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    response = await _import(
        client, a, brand_id, _csv("name,country,timezone,colour", "X,US,UTC,red")
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["line"], e["code"]) for e in errors] == [
        (1, "unknown_column"),
        (1, "missing_column"),
    ]
    assert "'timezone', 'colour'" in errors[0]["message"]
    assert "time_zone" in errors[0]["message"]  # names the allowed columns
    assert "time_zone" in errors[1]["message"]

    # valid_only cannot rescue a file whose columns are not understood
    again = await _import(
        client, a, brand_id, _csv("name,country,timezone", "X,US,UTC"), mode="valid_only"
    )
    assert again.status_code == 422
    assert await _locations(client, a) == []


async def test_too_many_rows_is_refused_before_anything_is_written(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    rows = [f"Store {i},US,UTC" for i in range(10_001)]
    response = await _import(client, a, brand_id, _csv("name,country,time_zone", *rows))
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_rows"
    assert "10000" in response.json()["detail"]
    assert await _locations(client, a) == []


async def test_bom_blank_lines_and_encoding(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    body = "\ufeff" + _csv("name,country,time_zone,city", "", "Café,FR,Europe/Paris,Zürich", ",,,")
    response = await _import(client, a, brand_id, body.encode("utf-8"))
    assert response.json()["created"] == 1, response.text
    [location] = await _locations(client, a)
    assert (location["name"], location["city"]) == ("Café", "Zürich")

    latin1 = _csv("name,country,time_zone", "Ok,FR,UTC", "Café,FR,Europe/Paris").encode("latin-1")
    refused = await _import(client, a, brand_id, latin1)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["code"], error["line"]) == ("invalid_encoding", 3)
    assert "UTF-8" in error["message"]


async def test_json_body_as_array_or_object(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    rows = [
        {"external_ref": "j1", "name": "One", "country": "US", "time_zone": "UTC"},
        {"name": "Two", "country": "GB", "time_zone": "Europe/London", "groups": ["UK"]},
    ]
    body = b"\xef\xbb\xbf" + orjson.dumps(rows)  # as Windows editors save it
    response = await _import(client, a, brand_id, body, content_type="application/json")
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["groups_created"]) == (2, 1)

    bad = [
        {"external_ref": "j1", "name": "One", "country": "US", "time_zone": "UTC"},
        {"name": "Three", "country": "US", "time_zone": "Nowhere/Land", "custom_fields": {"A": 1}},
    ]
    response = await _import(
        client,
        a,
        brand_id,
        orjson.dumps({"locations": bad}),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 422
    assert {(e["line"], e["field"]) for e in response.json()["errors"]} == {
        (2, "rows[1].time_zone"),
        (2, "rows[1].custom_fields"),
    }
    assert len(await _locations(client, a)) == 2

    broken = await _import(client, a, brand_id, b"[{", content_type="application/json")
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["code"] == "invalid_json"


async def test_multipart_upload_of_a_csv_or_json_file(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    csv_file = _csv("external_ref,name,country,time_zone", "m1,From CSV,US,UTC").encode()
    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        files={"file": ("stores.csv", csv_file, "application/vnd.ms-excel")},
        headers=a.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1

    json_file = orjson.dumps([{"external_ref": "m1", "name": "From JSON", "country": "US",
                               "time_zone": "UTC"}])  # fmt: skip
    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        files={"file": ("stores.json", json_file, "application/octet-stream")},
        headers=a.headers,
    )
    assert response.json()["updated"] == 1
    assert [loc["name"] for loc in await _locations(client, a)] == ["From JSON"]

    missing = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        files={"upload": ("stores.csv", csv_file, "text/csv")},
        headers=a.headers,
    )
    assert missing.status_code == 422
    assert "`file`" in missing.json()["detail"]

    unsupported = await _import(client, a, brand_id, b"<xml/>", content_type="application/xml")
    assert unsupported.status_code == 415


async def test_groups_are_created_and_a_reimport_sets_each_locations_groups(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "REPLAN_AFTER_CREATED", 1)  # the big-import path, in small
    a, _, brand_id = await _setup(client)
    north = await create_group(client, a, brand_id, "North")
    body = _csv(
        "external_ref,name,country,time_zone,groups",
        "g1,One,US,UTC,north; Acme Holdings",
        "g2,Two,US,UTC,Acme holdings",
        "g3,Three,US,UTC,",
    )
    result = (await _import(client, a, brand_id, body)).json()
    assert result["groups_created"] == 1  # "North" existed (names match without case)
    assert result["memberships_added"] == 3

    groups = await client.get(
        "/v1/location-groups", params={"brand_id": brand_id}, headers=a.headers
    )
    by_name = {g["name"]: g["id"] for g in groups.json()["items"]}
    assert set(by_name) == {"North", "Acme Holdings"}
    assert by_name["North"] == north["id"]

    members = await _locations(client, a, group_id=by_name["Acme Holdings"])
    assert sorted(m["name"] for m in members) == ["One", "Two"]
    assert [m["name"] for m in await _locations(client, a, group_id=north["id"])] == ["One"]

    # Re-import moves g1 to "South": it joins South and leaves North and Acme.
    again = _csv("external_ref,name,country,time_zone,groups", "g1,One,US,UTC,South")
    result = (await _import(client, a, brand_id, again)).json()
    assert (result["unchanged"], result["groups_created"]) == (1, 1)
    assert (result["memberships_added"], result["memberships_removed"]) == (1, 2)
    assert await _locations(client, a, group_id=north["id"]) == []
    assert [m["name"] for m in await _locations(client, a, group_id=by_name["Acme Holdings"])] == [
        "Two"
    ]


async def test_another_agency_cannot_import_into_the_brand(client: httpx.AsyncClient) -> None:
    a, b, brand_id = await _setup(client)
    await create_location(client, a, brand_id, name="Existing", external_ref="s1")
    body = _csv("external_ref,name,country,time_zone,groups", "s1,Hijacked,US,UTC,Evil")
    response = await _import(client, b, brand_id, body)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert [loc["name"] for loc in await _locations(client, a)] == ["Existing"]
    assert await _locations(client, b) == []
    groups = await client.get("/v1/location-groups", headers=a.headers)
    assert groups.json()["items"] == []


async def test_same_external_ref_in_two_agencies_stays_apart(client: httpx.AsyncClient) -> None:
    a, b, brand_a = await _setup(client)
    brand_b = str((await create_brand(client, b, "Slice & Co"))["id"])
    body = _csv("external_ref,name,country,time_zone", "s1,Store,US,UTC")
    assert (await _import(client, a, brand_a, body)).json()["created"] == 1
    assert (await _import(client, b, brand_b, body)).json()["created"] == 1
    [in_a] = await _locations(client, a)
    [in_b] = await _locations(client, b)
    assert in_a["id"] != in_b["id"]
    assert in_a["brand_id"] == brand_a
    assert in_b["brand_id"] == brand_b
