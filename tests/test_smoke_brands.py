from __future__ import annotations

import httpx

from tests.factories import create_brand, sign_up


async def test_brand_created_is_listed_for_its_agency_only(client: httpx.AsyncClient) -> None:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a, "Slice & Co")

    listed = await client.get("/v1/brands", headers=a.headers)
    assert [x["name"] for x in listed.json()["items"]] == ["Slice & Co"]

    other = await client.get("/v1/brands", headers=b.headers)
    assert other.json()["items"] == []
    assert (await client.get(f"/v1/brands/{brand['id']}", headers=b.headers)).status_code == 404
