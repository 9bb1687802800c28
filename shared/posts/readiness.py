"""Will a location's posts on a platform go out? The publisher skips a post whose location has
no connected account on its platform and fails one whose account needs reconnecting. Saying
so when the post is made (and in the location's needs) beats a ``skipped`` nobody sees."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, FieldProblem
from shared.locations.models import Location
from shared.posts.schemas import AccountWarning, AccountWarningCode
from shared.social_accounts.models import SocialAccount

NOT_CONNECTED_CODE = "account_not_connected"
"""The problem code of a request that asked for connected accounts and met none."""


def connect_path(location_id: uuid.UUID, platform: str) -> str:
    return f"/v1/locations/{location_id}/social-accounts/{platform}/connect"


def problem_of(account_status: str | None) -> AccountWarningCode | None:
    """What keeps posts from going out with an account in this status (None: no account)."""
    if account_status is None or account_status == "revoked":
        return "no_connected_account"
    if account_status == "needs_reconnect":
        return "account_needs_reconnect"
    return None


def warning(
    location_id: uuid.UUID, location_name: str, platform: str, code: AccountWarningCode
) -> AccountWarning:
    path = connect_path(location_id, platform)
    if code == "no_connected_account":
        detail = (
            f"{location_name} has no connected {platform} account, so its {platform} posts "
            f"are skipped at their time; connect one before then (POST {path})"
        )
    else:
        detail = (
            f"the {platform} account of {location_name} needs reconnecting, so its {platform} "
            f"posts fail at their time; reconnect it before then (POST {path})"
        )
    return AccountWarning(code=code, location_id=location_id, platform=platform, detail=detail)


async def account_statuses(
    session: AsyncSession, location: Location, platforms: Sequence[str]
) -> dict[str, str]:
    """The status of the location's account on each of ``platforms`` that has one."""
    rows = await session.execute(
        select(SocialAccount.platform, SocialAccount.status).where(
            SocialAccount.agency_id == location.agency_id,
            SocialAccount.location_id == location.id,
            SocialAccount.platform.in_(list(platforms)),
        )
    )
    return {str(platform): str(status) for platform, status in rows.all()}


async def account_warnings(
    session: AsyncSession, location: Location, platforms: Sequence[str]
) -> list[AccountWarning]:
    """One warning per platform (in the given order) whose posts at the location would not
    go out as things stand."""
    statuses = await account_statuses(session, location, platforms)
    found = []
    for platform in platforms:
        code = problem_of(statuses.get(platform))
        if code is not None:
            found.append(warning(location.id, location.name, platform, code))
    return found


def refusal(warnings: Sequence[AccountWarning], field_of: dict[str, str]) -> Conflict:
    """The 409 of a request that required connected accounts: each location × platform named,
    on its request field (``field_of``: platform → field path)."""
    first = warnings[0]
    more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
    return Conflict(
        f"{first.detail}{more}; nothing was saved. Connect the accounts, or send "
        '"require_connected_accounts": false to save anyway with warnings',
        code=NOT_CONNECTED_CODE,
        errors=[FieldProblem(field_of.get(w.platform, "body"), w.detail, w.code) for w in warnings],
        extra={"missing": [w.model_dump(mode="json") for w in warnings]},
    )
