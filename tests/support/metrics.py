"""Store post metrics for a connected account."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared.db import Database
from shared.metrics import service
from shared.platforms.types import DailyMetrics
from shared.social_accounts.models import SocialAccount


async def load_social_account(db: Database, agency_id: uuid.UUID, account_id: str) -> SocialAccount:
    async with db.transaction(agency_id) as session:
        return (
            await session.execute(
                select(SocialAccount).where(SocialAccount.id == uuid.UUID(account_id))
            )
        ).scalar_one()


async def store_metrics(
    db: Database, agency_id: uuid.UUID, account_id: str, rows: list[DailyMetrics]
) -> int:
    account = await load_social_account(db, agency_id, account_id)
    async with db.transaction(agency_id) as session:
        return await service.upsert_days(session, account, rows)
