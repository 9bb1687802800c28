"""Helpers for tests about members and roles: invite a member and read a bearer header."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, Tenant
from tests.support.mailbox import invitation_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def invite_and_accept(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    inviter: Tenant,
    email: str,
    role: str,
    **scope: str,
) -> dict[str, Any]:
    invited = await client.post(
        "/v1/invitations", json={"email": email, "role": role, **scope}, headers=inviter.headers
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "pending"
    token = await invitation_token(engine, email)
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": token, "password": PASSWORD, "full_name": email.split("@")[0]},
    )
    assert accepted.status_code == 200, accepted.text
    return dict(accepted.json())
