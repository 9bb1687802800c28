from __future__ import annotations

import httpx

from tests.factories import Tenant, create_brand, create_group, create_location, sign_up


async def _setup(client: httpx.AsyncClient) -> tuple[Tenant, Tenant, dict[str, object]]:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a, "Slice & Co")
    return a, b, brand


async def test_create_normalizes_and_get_returns_it(client: httpx.AsyncClient) -> None:
    a, b, brand = await _setup(client)
    created = await create_location(
        client,
        a,
        str(brand["id"]),
        name="  Slice & Co Brooklyn  ",
        country="us",
        time_zone="america/new_york",
        phone="(718) 555-0142",
        website="slice.example/brooklyn",
        external_ref="store-7",
        custom_fields={"manager": "Jo", "seats": 40, "delivery": True},
    )
    assert created["name"] == "Slice & Co Brooklyn"
    assert created["country"] == "US"
    assert created["time_zone"] == "America/New_York"
    assert created["phone"] == "+17185550142"
    assert created["website"] == "https://slice.example/brooklyn"
    assert created["status"] == "active"

    got = await client.get(f"/v1/locations/{created['id']}", headers=a.headers)
    assert got.json() == created
    assert (
        await client.get(f"/v1/locations/{created['id']}", headers=b.headers)
    ).status_code == 404


async def test_invalid_fields_are_all_named(client: httpx.AsyncClient) -> None:
    a, _, brand = await _setup(client)
    response = await client.post(
        "/v1/locations",
        json={
            "brand_id": brand["id"],
            "name": "",
            "country": "Narnia",
            "time_zone": "Mars/Olympus_Mons",
            "status": "closed",
            "custom_fields": {"Bad Key": 1},
        },
        headers=a.headers,
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "body.name",
        "body.country",
        "body.time_zone",
        "body.status",
        "body.custom_fields",
    }
    tz_error = next(e for e in response.json()["errors"] if e["field"] == "body.time_zone")
    assert "America/New_York" in tz_error["message"]
    listed = await client.get("/v1/locations", headers=a.headers)
    assert listed.json()["items"] == []


async def test_bad_phone_for_country_is_explained(client: httpx.AsyncClient) -> None:
    a, _, brand = await _setup(client)
    response = await client.post(
        "/v1/locations",
        json={
            "brand_id": brand["id"],
            "name": "X",
            "country": "DE",
            "time_zone": "Europe/Berlin",
            "phone": "12",
        },
        headers=a.headers,
    )
    assert response.status_code == 422
    assert "not a valid phone number for DE" in response.json()["detail"]


async def test_patch_changes_only_sent_fields(client: httpx.AsyncClient) -> None:
    a, b, brand = await _setup(client)
    loc = await create_location(client, a, str(brand["id"]), city="Austin", phone="+1 512 555 0100")
    patched = await client.patch(
        f"/v1/locations/{loc['id']}",
        json={"status": "paused", "city": "Round Rock"},
        headers=a.headers,
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["status"], body["city"], body["phone"]) == ("paused", "Round Rock", "+15125550100")

    # Changing the country re-checks the stored phone number against it.
    moved = await client.patch(
        f"/v1/locations/{loc['id']}",
        json={"country": "DE", "time_zone": "Europe/Berlin"},
        headers=a.headers,
    )
    assert moved.status_code == 200
    assert moved.json()["phone"] == "+15125550100"

    other = await client.patch(
        f"/v1/locations/{loc['id']}", json={"status": "archived"}, headers=b.headers
    )
    assert other.status_code == 404
    assert (await client.get(f"/v1/locations/{loc['id']}", headers=a.headers)).json()[
        "status"
    ] == "paused"


async def test_external_ref_is_unique_per_brand(client: httpx.AsyncClient) -> None:
    a, _, brand = await _setup(client)
    other_brand = await create_brand(client, a, "Burger Bros")
    await create_location(client, a, str(brand["id"]), external_ref="S-1")
    dup = await client.post(
        "/v1/locations",
        json={
            "brand_id": brand["id"],
            "name": "Dup",
            "country": "US",
            "time_zone": "UTC",
            "external_ref": "S-1",
        },
        headers=a.headers,
    )
    assert dup.status_code == 409
    assert dup.json()["code"] == "external_ref_taken"
    # Same store number in another brand is fine.
    await create_location(client, a, str(other_brand["id"]), external_ref="S-1")


async def test_delete_location(client: httpx.AsyncClient) -> None:
    a, b, brand = await _setup(client)
    loc = await create_location(client, a, str(brand["id"]))
    assert (await client.delete(f"/v1/locations/{loc['id']}", headers=b.headers)).status_code == 404
    assert (await client.delete(f"/v1/locations/{loc['id']}", headers=a.headers)).status_code == 204
    assert (await client.get(f"/v1/locations/{loc['id']}", headers=a.headers)).status_code == 404


async def test_cannot_create_in_another_agencys_brand(client: httpx.AsyncClient) -> None:
    a, b, brand = await _setup(client)
    response = await client.post(
        "/v1/locations",
        json={"brand_id": brand["id"], "name": "Intruder", "country": "US", "time_zone": "UTC"},
        headers=b.headers,
    )
    assert response.status_code == 404
    listed = await client.get("/v1/locations", headers=a.headers)
    assert listed.json()["items"] == []


async def _all_pages(
    client: httpx.AsyncClient, tenant: Tenant, query: str
) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    pages = 0
    while True:
        url = f"/v1/locations?{query}" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=tenant.headers)).json()
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


async def test_cursor_pagination_visits_every_location_once_in_order(
    client: httpx.AsyncClient,
) -> None:
    a, b, brand = await _setup(client)
    names = ["delta", "alpha", "echo", "charlie", "bravo", "alpha"]
    created = [await create_location(client, a, str(brand["id"]), name=n) for n in names]
    await create_location(client, b, str((await create_brand(client, b))["id"]), name="other")

    by_created = await _all_pages(client, a, "limit=2")
    assert [x["id"] for x in by_created] == [x["id"] for x in created]

    by_name = await _all_pages(client, a, "limit=4&sort=name")
    assert [x["name"] for x in by_name] == sorted(names)
    assert len({x["id"] for x in by_name}) == len(names)

    # A location added mid-way shows up later in creation order, never twice.
    first = (await client.get("/v1/locations?limit=3", headers=a.headers)).json()
    await create_location(client, a, str(brand["id"]), name="foxtrot")
    rest = await client.get(
        f"/v1/locations?limit=50&cursor={first['next_cursor']}", headers=a.headers
    )
    ids = [x["id"] for x in first["items"]] + [x["id"] for x in rest.json()["items"]]
    assert len(ids) == len(set(ids)) == 7


async def test_limit_and_cursor_are_validated(client: httpx.AsyncClient) -> None:
    a, _, _ = await _setup(client)
    too_big = await client.get("/v1/locations?limit=201", headers=a.headers)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "query.limit"
    bad_cursor = await client.get("/v1/locations?cursor=garbage!", headers=a.headers)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "invalid_cursor"
    name_cursor = (await client.get("/v1/brands?limit=1", headers=a.headers)).json()
    assert name_cursor["next_cursor"] is None


async def test_filters(client: httpx.AsyncClient) -> None:
    a, _, brand = await _setup(client)
    other_brand = await create_brand(client, a, "Burger Bros")
    bid = str(brand["id"])
    await create_location(client, a, bid, name="Downtown Slice", city="Austin")
    paused = await create_location(client, a, bid, name="Uptown", city="austin", status="paused")
    berlin = await create_location(
        client, a, bid, name="Mitte 100%", city="Berlin", country="DE", time_zone="Europe/Berlin"
    )
    await create_location(client, a, str(other_brand["id"]), name="Burger Austin", city="Austin")
    group = await create_group(client, a, bid, "Europe")
    await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [berlin["id"]]},
        headers=a.headers,
    )

    async def names(query: str) -> set[str]:
        response = await client.get(f"/v1/locations?{query}", headers=a.headers)
        assert response.status_code == 200, response.text
        return {x["name"] for x in response.json()["items"]}

    assert await names(f"brand_id={bid}") == {"Downtown Slice", "Uptown", "Mitte 100%"}
    assert await names("city=AUSTIN") == {"Downtown Slice", "Uptown", "Burger Austin"}
    assert await names("status=paused") == {paused["name"]}
    assert await names("country=de") == {"Mitte 100%"}
    assert await names("q=slice") == {"Downtown Slice"}
    assert await names("q=100%25") == {"Mitte 100%"}
    assert await names("q=%25") == {"Mitte 100%"}
    assert await names(f"group_id={group['id']}") == {"Mitte 100%"}
    assert await names(f"brand_id={bid}&city=austin&status=active") == {"Downtown Slice"}


async def test_forged_cursor_with_a_bad_id_is_400(client: httpx.AsyncClient) -> None:
    import base64
    import json

    a, _, _ = await _setup(client)
    forged = base64.urlsafe_b64encode(json.dumps({"s": "created", "v": ["not-a-uuid"]}).encode())
    response = await client.get(
        f"/v1/locations?cursor={forged.decode().rstrip('=')}", headers=a.headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
