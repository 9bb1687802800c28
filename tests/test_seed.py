from __future__ import annotations

import httpx

from shared.cli import DEMO_TEMPLATE, seed_demo
from shared.config import Settings
from shared.demo import DEMO_BRAND, DEMO_EMAIL
from shared.demo_connect import DEMO_PLATFORMS, connect_demo


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


async def test_the_demo_connects_its_locations_and_a_campaign_reaches_them(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    """What `make run` does once the sandbox is up, and what the README's demo campaign
    needs: every demo location connected, a published template to launch."""
    await seed_demo(settings, "demo-password")
    done = await connect_demo(settings)
    assert (done.locations, done.accounts) == (25, 25 * len(DEMO_PLATFORMS))
    login = await client.post(
        "/v1/auth/login", json={"email": DEMO_EMAIL, "password": "demo-password"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def platform_ids() -> dict[tuple[str, str], str]:
        connected = await client.get(
            "/v1/social-accounts", params={"status": "connected", "limit": 200}, headers=headers
        )
        items = connected.json()["items"]
        return {(a["location_id"], a["platform"]): a["external_id"] for a in items}

    first = await platform_ids()
    assert len(first) == 25 * len(DEMO_PLATFORMS)
    # make run's next start: the sandbox restarted empty; each location gets its own accounts
    # and places back, so what earlier runs collected (reviews, posts) still names them
    assert (await sandbox.post("/_sandbox/reset")).status_code == 200
    again = await connect_demo(settings)
    assert again.accounts == done.accounts
    assert await platform_ids() == first
    templates = (await client.get("/v1/templates", headers=headers)).json()["items"]
    assert [t["published_version"] for t in templates if t["name"] == DEMO_TEMPLATE] == [1]
