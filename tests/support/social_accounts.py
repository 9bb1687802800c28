"""Connect a location to a sandbox social platform through the real OAuth flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx


async def start(
    client: httpx.AsyncClient, headers: dict[str, str], location_id: str, platform: str
) -> httpx.Response:
    return await client.post(
        f"/v1/locations/{location_id}/social-accounts/{platform}/connect", headers=headers
    )


async def consent_and_come_back(
    client: httpx.AsyncClient, authorize_url: str, **params: str
) -> httpx.Response:
    """The browser: open the platform's consent page, follow its redirect to Chorus."""
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(httpx.URL(authorize_url).copy_merge_params(params))
    assert page.status_code in (302, 303), page.text
    back = urlsplit(page.headers["location"])
    assert back.path == "/v1/social-accounts/oauth/callback"
    return await client.get(f"{back.path}?{back.query}")


async def connect(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    location_id: str,
    platform: str,
    pick: int = 0,
    **consent: str,
) -> dict[str, Any]:
    """Connect through the whole flow; the account as the API shows it. ``consent`` goes to
    the platform's consent page (``sandbox_user=<id>``: sign in again as that user)."""
    started = await start(client, headers, location_id, platform)
    assert started.status_code == 200, started.text
    assert started.json()["test_mode"] is True
    came_back = await consent_and_come_back(client, started.json()["authorize_url"], **consent)
    assert came_back.status_code == 200, came_back.text
    result = came_back.json()
    if result["status"] == "connected":
        return dict(result["account"])
    assert result["status"] == "choose"
    assert result["location_id"] == location_id
    chosen = await client.post(
        f"/v1/locations/{location_id}/social-accounts/{platform}/choose",
        json={
            "selection_id": result["selection_id"],
            "external_id": result["choices"][pick]["external_id"],
        },
        headers=headers,
    )
    assert chosen.status_code == 201, chosen.text
    return dict(chosen.json())
