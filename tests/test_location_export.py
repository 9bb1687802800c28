"""CSV export through the HTTP API: the import's format, streamed, and re-importable as is."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from shared.locations import importer
from tests.factories import Tenant, create_brand, create_location, sign_up

IMPORT = "\r\n".join(
    [
        "external_ref,name,address_line1,address_line2,city,region,postal_code,country,"
        "time_zone,phone,website,status,groups,custom.manager,custom.seats",
        's-1,"Slice & Co, Brooklyn",120 Montague St,"Floor 2\nRear entrance",Brooklyn,NY,11201,'
        "US,America/New_York,+1 718 555 0142,slice.example/bk,active,North;Acme Holdings,Jo,40",
        "s-2,Slice & Co Berlin,Torstraße 1,,Berlin,,10119,DE,Europe/Berlin,030 901820,,"
        "paused,Acme Holdings,,",
        "s-3,Slice & Co Paris,,,Paris,,,FR,Europe/Paris,,,archived,,Amélie,",
    ]
)


async def _setup(client: httpx.AsyncClient) -> tuple[Tenant, Tenant, str]:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a, "Slice & Co")
    response = await client.post(
        f"/v1/brands/{brand['id']}/locations/import",
        content=IMPORT.encode(),
        headers={**a.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
    return a, b, str(brand["id"])


async def _export(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, **params: str
) -> httpx.Response:
    return await client.get(
        f"/v1/brands/{brand_id}/locations/export", params=params, headers=tenant.headers
    )


def _rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body, newline="")))


async def test_export_is_the_import_format_with_groups_and_custom_columns(
    client: httpx.AsyncClient,
) -> None:
    a, _, brand_id = await _setup(client)
    response = await _export(client, a, brand_id)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="locations-slice-co-')
    assert disposition.endswith('.csv"')

    header = response.text.split("\r\n", 1)[0]
    assert header == (
        "external_ref,name,address_line1,address_line2,city,region,postal_code,country,"
        "time_zone,phone,website,status,groups,custom.manager,custom.seats"
    )
    rows = {row["external_ref"]: row for row in _rows(response.text)}
    assert list(rows) == ["s-1", "s-2", "s-3"]  # creation order
    brooklyn = rows["s-1"]
    assert brooklyn["name"] == "Slice & Co, Brooklyn"
    assert brooklyn["address_line2"] == "Floor 2\nRear entrance"
    assert brooklyn["phone"] == "+17185550142"
    assert brooklyn["website"] == "https://slice.example/bk"
    assert brooklyn["groups"] == "Acme Holdings;North"
    assert (brooklyn["custom.manager"], brooklyn["custom.seats"]) == ("Jo", "40")
    assert rows["s-2"]["groups"] == "Acme Holdings"
    assert rows["s-3"]["custom.manager"] == "Amélie"
    assert rows["s-3"]["custom.seats"] == ""


async def test_reimporting_an_export_changes_nothing(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    before = await client.get("/v1/locations", params={"brand_id": brand_id}, headers=a.headers)
    exported = (await _export(client, a, brand_id)).content

    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        params={"mode": "all_or_nothing"},
        content=exported,
        headers={**a.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3)
    assert (result["groups_created"], result["memberships_added"]) == (0, 0)
    assert result["memberships_removed"] == 0
    after = await client.get("/v1/locations", params={"brand_id": brand_id}, headers=a.headers)
    assert after.json() == before.json()
    assert (await _export(client, a, brand_id)).content == exported


async def test_export_takes_the_list_filters(client: httpx.AsyncClient) -> None:
    a, _, brand_id = await _setup(client)
    paused = _rows((await _export(client, a, brand_id, status="paused")).text)
    assert [r["external_ref"] for r in paused] == ["s-2"]
    german = _rows((await _export(client, a, brand_id, country="de")).text)
    assert [r["external_ref"] for r in german] == ["s-2"]
    named = _rows((await _export(client, a, brand_id, q="paris")).text)
    assert [r["external_ref"] for r in named] == ["s-3"]

    groups = await client.get(
        "/v1/location-groups", params={"brand_id": brand_id}, headers=a.headers
    )
    north = next(g["id"] for g in groups.json()["items"] if g["name"] == "North")
    in_north = _rows((await _export(client, a, brand_id, group_id=north)).text)
    assert [r["external_ref"] for r in in_north] == ["s-1"]

    nothing = await _export(client, a, brand_id, city="Nowhere")
    assert nothing.text == (
        "external_ref,name,address_line1,address_line2,city,region,postal_code,country,"
        "time_zone,phone,website,status,groups\r\n"
    )


async def test_export_streams_in_keyset_batches(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, brand_id = await _setup(client)
    for n in range(4):
        await create_location(client, a, brand_id, name=f"Extra {n}")
    monkeypatch.setattr(importer, "EXPORT_BATCH_SIZE", 2)
    rows = _rows((await _export(client, a, brand_id)).text)
    assert len(rows) == 7
    assert [r["name"] for r in rows[3:]] == ["Extra 0", "Extra 1", "Extra 2", "Extra 3"]


async def test_another_agency_cannot_export_the_brand(client: httpx.AsyncClient) -> None:
    a, b, brand_id = await _setup(client)
    response = await _export(client, b, brand_id)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"

    own_brand = str((await create_brand(client, b, "Other"))["id"])
    own = await _export(client, b, own_brand)
    assert own.status_code == 200
    assert _rows(own.text) == []
    assert "Slice" not in own.text
