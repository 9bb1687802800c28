"""Which locations of a campaign's audience have no connected, healthy account on one of its
channels: the fan-out skips their posts ("no connected account"), so the launch says so
beforehand, or refuses when asked to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.campaigns import audience
from shared.campaigns.models import Campaign
from shared.campaigns.schemas import MAX_LAUNCH_WARNINGS
from shared.posts import readiness
from shared.posts.schemas import AccountWarning


@dataclass(frozen=True, slots=True)
class Missing:
    count: int
    """Every audience location × channel without a connected account."""
    first: list[AccountWarning]
    """The first of them, by location name, then channel in the campaign's order."""


async def missing_accounts(
    session: AsyncSession, campaign: Campaign, *, limit: int = MAX_LAUNCH_WARNINGS
) -> Missing:
    """One statement over the audience (as the fan-out will read it): its active locations ×
    the channels, without an account whose status is ``connected``, the fan-out's own test."""
    sql = audience.audience_sql(campaign.agency_id, campaign.brand_id, campaign.audience)
    n = len(sql.params)
    query = (
        "SELECT l.id, l.name, c.platform, s.status, count(*) OVER () AS total "  # noqa: S608
        f"FROM location l CROSS JOIN unnest(${n + 1}::text[]) WITH ORDINALITY AS c(platform, o) "
        "LEFT JOIN social_account s ON s.agency_id = l.agency_id AND s.location_id = l.id "
        "AND s.platform = c.platform "
        f"WHERE {sql.where} AND s.status IS DISTINCT FROM 'connected' "
        f"ORDER BY l.name, l.id, c.o LIMIT ${n + 2}"
    )
    conn = await audience.driver(session)
    rows = await conn.fetch(query, *sql.params, list(campaign.channels), limit)
    first = []
    for row in rows:
        code = readiness.problem_of(row["status"]) or "no_connected_account"
        first.append(readiness.warning(row["id"], row["name"], row["platform"], code))
    return Missing(count=int(rows[0]["total"]) if rows else 0, first=first)
