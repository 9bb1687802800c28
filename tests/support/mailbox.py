"""Reads invitation mail from the outbox table, as a user would read their inbox."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_TOKEN = re.compile(r"Invitation token: (\S+)")


async def last_mail_to(engine: AsyncEngine, address: str) -> str:
    async with engine.connect() as conn:
        body = (
            await conn.execute(
                text(
                    "SELECT body FROM outbound_email WHERE to_address = :a "
                    "ORDER BY created_at DESC, id DESC LIMIT 1"
                ),
                {"a": address.lower()},
            )
        ).scalar_one()
    return str(body)


async def invitation_token(engine: AsyncEngine, address: str) -> str:
    match = _TOKEN.search(await last_mail_to(engine, address))
    assert match, "no invitation token in the mail"
    return match.group(1)
