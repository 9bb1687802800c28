from __future__ import annotations

import httpx

from shared.cli import seed_demo
from shared.config import Settings
from shared.demo import DEMO_BRAND, DEMO_EMAIL


async def test_demo_seed_is_idempotent_and_its_login_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await seed_demo(settings, "first-demo-password")
    principal = await seed_demo(settings, "second-demo-password")

    old = await client.post(
        "/v1/auth/login", json={"email": DEMO_EMAIL, "password": "first-demo-password"}
    )
    assert old.status_code == 401
    login = await client.post(
        "/v1/auth/login", json={"email": DEMO_EMAIL, "password": "second-demo-password"}
    )
    assert login.status_code == 200
    assert login.json()["agency_id"] == str(principal.agency_id)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    brands = (await client.get("/v1/brands", headers=headers)).json()["items"]
    assert [b["name"] for b in brands] == [DEMO_BRAND]
    locations = (await client.get("/v1/locations?limit=200", headers=headers)).json()["items"]
    assert len(locations) == 25
    assert len({loc["time_zone"] for loc in locations}) >= 8
    groups = (await client.get("/v1/location-groups", headers=headers)).json()["items"]
    assert {"North America", "Europe", "Asia-Pacific"} <= {g["name"] for g in groups}
    europe = next(g for g in groups if g["name"] == "Europe")
    in_europe = await client.get(f"/v1/locations?group_id={europe['id']}", headers=headers)
    assert {loc["country"] for loc in in_europe.json()["items"]} == {"GB", "DE", "FR", "ES"}
