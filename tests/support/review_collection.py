"""Read collected reviews and the sandbox ids they came from."""

from __future__ import annotations

from typing import Any

import httpx


def sandbox_id(account: dict[str, Any]) -> str:
    """The sandbox keys an account's reviews by its page or business location id."""
    return str(account["external_id"]).rsplit("/", 1)[-1]


async def reviews_of(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/reviews", params=query, headers=headers)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found
