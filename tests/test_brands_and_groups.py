from __future__ import annotations

import uuid

import httpx

from tests.factories import create_brand, create_group, create_location, sign_up


async def test_brand_crud_and_isolation(client: httpx.AsyncClient) -> None:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a, "Slice & Co")

    dup = await client.post("/v1/brands", json={"name": "slice & co"}, headers=a.headers)
    assert dup.status_code == 409
    assert dup.json()["code"] == "brand_name_taken"
    # Another agency may use the same name.
    await create_brand(client, b, "Slice & Co")

    renamed = await client.patch(
        f"/v1/brands/{brand['id']}", json={"name": "Slice & Co Pizza"}, headers=a.headers
    )
    assert renamed.json()["name"] == "Slice & Co Pizza"
    assert (
        await client.patch(f"/v1/brands/{brand['id']}", json={"name": "x"}, headers=b.headers)
    ).status_code == 404

    await create_location(client, a, brand["id"])
    blocked = await client.delete(f"/v1/brands/{brand['id']}", headers=a.headers)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "brand_not_empty"
    assert (await client.delete(f"/v1/brands/{brand['id']}", headers=b.headers)).status_code == 404

    empty = await create_brand(client, a, "Empty")
    assert (await client.delete(f"/v1/brands/{empty['id']}", headers=a.headers)).status_code == 204
    names = [x["name"] for x in (await client.get("/v1/brands", headers=a.headers)).json()["items"]]
    assert names == ["Slice & Co Pizza"]


async def test_brand_list_pages_by_name(client: httpx.AsyncClient) -> None:
    a = await sign_up(client)
    for name in ["Charlie", "Alpha", "Bravo"]:
        await create_brand(client, a, name)
    first = (await client.get("/v1/brands?limit=2", headers=a.headers)).json()
    assert [x["name"] for x in first["items"]] == ["Alpha", "Bravo"]
    second = (
        await client.get(f"/v1/brands?limit=2&cursor={first['next_cursor']}", headers=a.headers)
    ).json()
    assert [x["name"] for x in second["items"]] == ["Charlie"]
    assert second["next_cursor"] is None


async def test_group_membership_add_remove(client: httpx.AsyncClient) -> None:
    a = await sign_up(client)
    b = await sign_up(client)
    brand = await create_brand(client, a)
    other_brand = await create_brand(client, a)
    locs = [await create_location(client, a, brand["id"]) for _ in range(3)]
    foreign = await create_location(client, a, other_brand["id"])
    group = await create_group(client, a, brand["id"], "North")

    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [locs[0]["id"], locs[1]["id"]]},
        headers=a.headers,
    )
    assert added.json() == {"group_id": group["id"], "changed": 2, "member_count": 2}
    again = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [locs[1]["id"], locs[2]["id"]]},
        headers=a.headers,
    )
    assert again.json()["changed"] == 1
    assert again.json()["member_count"] == 3

    wrong = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [locs[0]["id"], foreign["id"], str(uuid.uuid4())]},
        headers=a.headers,
    )
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == [
        "body.location_ids.1",
        "body.location_ids.2",
    ]

    removed = await client.post(
        f"/v1/location-groups/{group['id']}/members/remove",
        json={"location_ids": [locs[0]["id"]]},
        headers=a.headers,
    )
    assert removed.json()["member_count"] == 2
    listed = await client.get(f"/v1/locations?group_id={group['id']}", headers=a.headers)
    assert {x["id"] for x in listed.json()["items"]} == {locs[1]["id"], locs[2]["id"]}

    # The other agency can neither see nor change the group.
    assert (
        await client.get(f"/v1/location-groups/{group['id']}", headers=b.headers)
    ).status_code == 404
    assert (
        await client.post(
            f"/v1/location-groups/{group['id']}/members/remove",
            json={"location_ids": [locs[1]["id"]]},
            headers=b.headers,
        )
    ).status_code == 404
    assert (await client.get("/v1/location-groups", headers=b.headers)).json()["items"] == []


async def test_group_names_unique_per_brand_and_delete_keeps_locations(
    client: httpx.AsyncClient,
) -> None:
    a = await sign_up(client)
    brand = await create_brand(client, a)
    loc = await create_location(client, a, brand["id"])
    group = await create_group(client, a, brand["id"], "North")
    dup = await client.post(
        "/v1/location-groups", json={"brand_id": brand["id"], "name": "north"}, headers=a.headers
    )
    assert dup.status_code == 409
    await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [loc["id"]]},
        headers=a.headers,
    )
    renamed = await client.patch(
        f"/v1/location-groups/{group['id']}", json={"name": "Northeast"}, headers=a.headers
    )
    assert renamed.json()["name"] == "Northeast"
    assert (
        await client.delete(f"/v1/location-groups/{group['id']}", headers=a.headers)
    ).status_code == 204
    assert (await client.get(f"/v1/locations/{loc['id']}", headers=a.headers)).status_code == 200
    by_brand = await client.get(f"/v1/location-groups?brand_id={brand['id']}", headers=a.headers)
    assert by_brand.json()["items"] == []
