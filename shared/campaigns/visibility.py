"""What of a campaign's audience a reader may see. Brand-level readers (and agency-wide ones)
see it whole. A location's people read their brand's campaigns through their location grant:
they see whether a campaign is meant for their own location(s), never the ids of the others
(nor ids of groups their locations are not in), which would name the brand's other
locations to a franchisee."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import reach
from shared.access.principal import Principal
from shared.campaigns.models import Campaign
from shared.locations.models import LocationGroupMember


def _group_ids(audience: dict[str, Any]) -> list[str]:
    if audience.get("kind") == "groups":
        return [str(g) for g in audience.get("group_ids") or ()]
    if audience.get("kind") == "filter" and (audience.get("filter") or {}).get("group_id"):
        return [str(audience["filter"]["group_id"])]
    return []


def _narrowed(
    audience: dict[str, Any], own: frozenset[uuid.UUID], own_groups: set[uuid.UUID]
) -> dict[str, Any]:
    kind = audience.get("kind")
    if kind == "locations":
        ids = [i for i in audience.get("location_ids") or () if uuid.UUID(str(i)) in own]
        return {**audience, "location_ids": ids}
    if kind == "groups":
        ids = [g for g in audience.get("group_ids") or () if uuid.UUID(str(g)) in own_groups]
        return {**audience, "group_ids": ids}
    if kind == "filter":
        f = dict(audience.get("filter") or {})
        if f.get("group_id") and uuid.UUID(str(f["group_id"])) not in own_groups:
            f["group_id"] = None
        return {**audience, "filter": f}
    return dict(audience)


async def audiences(
    session: AsyncSession, principal: Principal, campaigns: Sequence[Campaign]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each campaign's audience as ``principal`` may see it (one query for any number)."""
    r = reach(principal, "campaign.read")
    narrowed = [c for c in campaigns if not (r.everything or c.brand_id in r.brand_ids)]
    seen = {c.id: c.audience for c in campaigns}
    if not narrowed:
        return seen
    wanted = {uuid.UUID(g) for c in narrowed for g in _group_ids(c.audience)}
    own_groups: set[uuid.UUID] = set()
    if wanted and r.location_ids:
        own_groups = set(
            (
                await session.execute(
                    select(LocationGroupMember.group_id)
                    .where(
                        LocationGroupMember.agency_id == principal.agency_id,
                        LocationGroupMember.group_id.in_(wanted),
                        LocationGroupMember.location_id.in_(r.location_ids),
                    )
                    .distinct()
                )
            ).scalars()
        )
    for c in narrowed:
        seen[c.id] = _narrowed(c.audience, r.location_ids, own_groups)
    return seen
