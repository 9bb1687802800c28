"""A brand's rules: read (defaults when never set), replace, and resolve per platform."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.principal import Principal
from shared.audit import service as audit
from shared.brand_rules.check import EffectiveRules
from shared.brand_rules.models import BrandRules
from shared.brand_rules.schemas import BrandRulesIn, BrandRulesOut
from shared.brands import service as brand_service

_FIELDS = (
    "allowed_platforms",
    "banned_words",
    "required_hashtags",
    "required_disclaimer",
    "allowed_link_domains",
    "max_hashtags",
    "location_edits_need_approval",
    "platform_overrides",
)


async def _row(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID
) -> BrandRules | None:
    stmt = select(BrandRules).where(
        BrandRules.agency_id == agency_id, BrandRules.brand_id == brand_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _out(row: BrandRules | None) -> BrandRulesOut:
    if row is None:
        return BrandRulesOut()
    return BrandRulesOut.model_validate(
        {**{f: getattr(row, f) for f in _FIELDS}, "updated_at": row.updated_at}
    )


async def get_rules(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID
) -> BrandRulesOut:
    await brand_service.get_brand(session, principal, brand_id, "brand_rules.read")
    return _out(await _row(session, principal.agency_id, brand_id))


async def put_rules(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, data: BrandRulesIn
) -> BrandRulesOut:
    await brand_service.get_brand(session, principal, brand_id, "brand_rules.update")
    row = await _row(session, principal.agency_id, brand_id)
    before = audit.snapshot(row, _FIELDS) if row is not None else None
    values = data.model_dump(mode="json")
    if row is None:
        row = BrandRules(agency_id=principal.agency_id, brand_id=brand_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    audit.record_by(
        session,
        principal,
        action="brand_rules.update",
        object_type="brand",
        object_id=brand_id,
        before=before,
        after=audit.snapshot(row, _FIELDS),
    )
    return _out(row)


def effective(rules: BrandRulesOut, platform: str) -> EffectiveRules:
    override = rules.platform_overrides.get(platform)

    def pick(name: str) -> object:
        value = getattr(override, name, None) if override is not None else None
        return value if value is not None else getattr(rules, name)

    banned = pick("banned_words")
    tags = pick("required_hashtags")
    domains = pick("allowed_link_domains")
    max_tags = pick("max_hashtags")
    disclaimer = pick("required_disclaimer")
    assert isinstance(banned, list)
    assert isinstance(tags, list)
    assert domains is None or isinstance(domains, list)
    assert max_tags is None or isinstance(max_tags, int)
    return EffectiveRules(
        allowed_platforms=tuple(rules.allowed_platforms)
        if rules.allowed_platforms is not None
        else None,
        banned_words=tuple(banned),
        required_hashtags=tuple(tags),
        required_disclaimer=str(disclaimer or ""),
        allowed_link_domains=tuple(domains) if domains is not None else None,
        max_hashtags=max_tags,
    )


async def rules_for(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID
) -> BrandRulesOut:
    """Without an authorization check: for callers that already authorized the brand."""
    return _out(await _row(session, agency_id, brand_id))
