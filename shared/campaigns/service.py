"""Campaigns: create and edit drafts (everything checked, every problem named), launch
(the fan-out job writes the posts), pause, resume, cancel and reschedule what is written.

Pausing clears ``due_at`` of the campaign's scheduled posts (one UPDATE) rather than making
the dispatcher look up each due post's campaign: the dispatcher's scan stays a plain range
on ``ix_post_due`` and a paused campaign costs it nothing. Resuming restores ``due_at`` from
``scheduled_at`` (now, for times that passed while paused), and skips what is already past
its ``publish_deadline``. Posts already queued or publishing finish either way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access.policy import Target, authorize, reach
from shared.access.principal import Principal
from shared.approvals import service as approval_service
from shared.audit import service as audit
from shared.billing import entitlements
from shared.billing.plans import Feature
from shared.brand_rules import service as rules_service
from shared.brands import service as brand_service
from shared.campaigns import fanout, readiness, visibility
from shared.campaigns.models import Campaign
from shared.campaigns.schedule import PUBLISH_WINDOW, instant_for, latest_instant
from shared.campaigns.schemas import (
    ActionOut,
    CampaignCreate,
    CampaignDetail,
    CampaignOut,
    CampaignUpdate,
    LaunchIn,
    LaunchOut,
    Progress,
    RemindOut,
    RescheduleIn,
    schedule_json,
)
from shared.config import Settings
from shared.db import hooks
from shared.db.tenancy import set_tenant
from shared.errors import Conflict, FieldProblem, NotFound, RateLimited, ValidationFailed
from shared.jobs import enqueue
from shared.locations.models import Location, LocationGroup
from shared.pagination import Slice, Sorting, sorted_page
from shared.posts import readiness as post_readiness
from shared.posts import transitions
from shared.posts.models import Post
from shared.posts.sorting import POST_SORTING
from shared.templates import service as template_service
from shared.templates.models import Template, TemplateVersion
from shared.tenancy import scoped

NOT_YET_PUBLISHED = ("draft", "needs_approval", "approved", "scheduled")
"""What cancel and reschedule change: nothing handed to a platform yet."""
IN_FLIGHT = ("queued", "publishing", "unconfirmed")
PAST_DEADLINE = "its publish deadline passed while the campaign was paused"
CANCELLED = "the campaign was cancelled"
MIN_LEAD = timedelta(minutes=1)


def _target(campaign: Campaign) -> Target:
    return Target(brand_id=campaign.brand_id)


def out(campaign: Campaign, audience: dict[str, Any] | None = None) -> CampaignOut:
    """The campaign as answered; ``audience`` as the reader may see it (default: whole, for
    those who act on the campaign, all brand-level)."""
    return CampaignOut(
        id=campaign.id,
        brand_id=campaign.brand_id,
        name=campaign.name,
        template_id=campaign.template_id,
        version=campaign.template_version,
        audience=campaign.audience if audience is None else audience,
        channels=list(campaign.channels),
        schedule=campaign.schedule,
        variables=campaign.variables,
        approval_policy=campaign.approval_policy,
        approval_deadline_hours=campaign.approval_deadline_hours,
        status=campaign.status,
        status_reason=campaign.status_reason,
        progress=Progress(done=campaign.fanout_done, total=campaign.fanout_total),
        launched_at=campaign.launched_at,
        completed_at=campaign.completed_at,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


async def _campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    action: str = "campaign.read",
    *,
    lock: bool = False,
) -> Campaign:
    stmt = scoped(Campaign, principal).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    campaign = (await session.execute(stmt)).scalar_one_or_none()
    if campaign is None:
        raise NotFound("campaign not found")
    authorize(principal, action, _target(campaign), object_type="campaign")
    return campaign


# Checking a campaign as a whole ------------------------------------------------------------


async def _check(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    values: dict[str, Any],
) -> list[FieldProblem]:
    """Every problem of a campaign's fields at once (``values`` as stored: JSON)."""
    agency_id = principal.agency_id
    problems: list[FieldProblem] = []
    template = (
        await session.execute(
            scoped(Template, principal).where(Template.id == values["template_id"])
        )
    ).scalar_one_or_none()
    version: TemplateVersion | None = None
    if template is None or template.brand_id != brand_id:
        problems.append(
            FieldProblem(
                "body.template_id", "no template with this id in the campaign's brand", "not_found"
            )
        )
    else:
        version = (
            await session.execute(
                select(TemplateVersion).where(
                    TemplateVersion.agency_id == agency_id,
                    TemplateVersion.template_id == template.id,
                    TemplateVersion.version == values["template_version"],
                )
            )
        ).scalar_one_or_none()
        if version is None:
            problems.append(
                FieldProblem(
                    "body.version",
                    f"the template has no version {values['template_version']}",
                    "not_found",
                )
            )
        elif version.status != "published":
            problems.append(
                FieldProblem(
                    "body.version",
                    f"version {version.version} is a draft; publish it before a campaign uses it",
                    "version_not_published",
                )
            )
            version = None
    rules = await rules_service.rules_for(session, agency_id, brand_id)
    for i, platform in enumerate(values["channels"]):
        if rules.allowed_platforms is not None and platform not in rules.allowed_platforms:
            allowed = ", ".join(rules.allowed_platforms) or "none"
            problems.append(
                FieldProblem(
                    f"body.channels.{i}",
                    f"the brand does not post on {platform} (its rules allow: {allowed}); "
                    "remove it or change the brand's rules",
                    "platform_not_allowed",
                )
            )
        elif version is not None and not (
            platform in version.bodies or "default" in version.bodies
        ):
            problems.append(
                FieldProblem(
                    f"body.channels.{i}",
                    f"the template has no body for {platform} and no default body",
                    "body_missing",
                )
            )
    if version is not None:
        compiled = template_service.compile_content(version.bodies, version.titles, version.slots)
        needed = sorted(
            {
                v.split(".", 1)[1]
                for c in compiled.values()
                for v in c.variables()
                if v.startswith("campaign.")
            }
        )
        for name in needed:
            if not str(values["variables"].get(name, "")).strip():
                problems.append(
                    FieldProblem(
                        f"body.variables.{name}",
                        f"the template uses campaign.{name}; give its value in `variables`",
                        "variable_missing",
                    )
                )
        if values["approval_policy"] == "none":
            required = [
                name
                for name, slot in version.slots.items()
                if slot.get("required") and not slot.get("default")
            ]
            if required:
                problems.append(
                    FieldProblem(
                        "body.approval_policy",
                        f"the template has required slots ({', '.join(sorted(required))}) that "
                        "locations must fill; use 'location_confirm' or 'brand_approval'",
                        "slots_need_locations",
                    )
                )
    problems += await _check_audience(session, agency_id, brand_id, values["audience"])
    problems += _check_schedule(values["schedule"])
    if not problems:
        problems += _check_deadline(
            values["schedule"], values["approval_policy"], values["approval_deadline_hours"]
        )
    return problems


async def _check_audience(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, audience: dict[str, Any]
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if audience["kind"] == "groups" or (
        audience["kind"] == "filter" and audience["filter"].get("group_id")
    ):
        wanted = (
            audience["group_ids"]
            if audience["kind"] == "groups"
            else [audience["filter"]["group_id"]]
        )
        found = set(
            (
                await session.execute(
                    select(LocationGroup.id).where(
                        LocationGroup.agency_id == agency_id,
                        LocationGroup.brand_id == brand_id,
                        LocationGroup.id.in_([uuid.UUID(str(g)) for g in wanted]),
                    )
                )
            ).scalars()
        )
        field = "body.audience.group_ids" if audience["kind"] == "groups" else None
        for i, group in enumerate(wanted):
            if uuid.UUID(str(group)) not in found:
                problems.append(
                    FieldProblem(
                        f"{field}.{i}" if field else "body.audience.filter.group_id",
                        f"no location group {group} in the campaign's brand",
                        "not_found",
                    )
                )
    elif audience["kind"] == "locations":
        wanted_ids = [uuid.UUID(str(i)) for i in audience["location_ids"]]
        found = set(
            (
                await session.execute(
                    select(Location.id).where(
                        Location.agency_id == agency_id,
                        Location.brand_id == brand_id,
                        Location.id.in_(wanted_ids),
                    )
                )
            ).scalars()
        )
        missing = [i for i, loc in enumerate(wanted_ids) if loc not in found]
        for i in missing[:20]:
            problems.append(
                FieldProblem(
                    f"body.audience.location_ids.{i}",
                    f"no location {wanted_ids[i]} in the campaign's brand",
                    "not_found",
                )
            )
        if len(missing) > 20:
            problems.append(
                FieldProblem(
                    "body.audience.location_ids",
                    f"{len(missing)} locations are not in the campaign's brand",
                    "not_found",
                )
            )
    return problems


def _check_schedule(schedule: dict[str, Any]) -> list[FieldProblem]:
    if latest_instant(schedule) >= datetime.now(UTC) + MIN_LEAD:
        return []
    if schedule["kind"] == "absolute":
        return [
            FieldProblem(
                "body.schedule.at",
                "this time has passed; give a time at least a minute from now",
                "in_past",
            )
        ]
    return [
        FieldProblem(
            "body.schedule.date",
            f"{schedule['date']} {schedule['time']} has passed in every time zone; "
            "give a later date",
            "in_past",
        )
    ]


def _check_deadline(
    schedule: dict[str, Any],
    policy: str,
    hours: int,
    field: str = "body.approval_deadline_hours",
) -> list[FieldProblem]:
    """A deadline needs someone to decide, and a time still ahead somewhere."""
    if not hours:
        return []
    if policy == "none":
        return [
            FieldProblem(
                field,
                "a deadline is for posts waiting for a decision; choose an approval policy "
                "or set 0",
                "deadline_without_approval",
            )
        ]
    if latest_instant(schedule) - timedelta(hours=hours) >= clock.now() + MIN_LEAD:
        return []
    return [
        FieldProblem(
            field,
            f"{hours} hours before the posts' time has passed everywhere; give fewer hours "
            "or a later time",
            "deadline_passed",
        )
    ]


def _invalid(problems: list[FieldProblem]) -> ValidationFailed:
    return ValidationFailed(
        f"{len(problems)} problem(s) with this campaign; first: {problems[0].message}",
        code="campaign_invalid",
        errors=problems,
    )


def _values(data: CampaignCreate) -> dict[str, Any]:
    return {
        "name": data.name.strip(),
        "template_id": data.template_id,
        "template_version": data.version,
        "audience": data.audience.model_dump(mode="json"),
        "channels": list(data.channels),
        "schedule": schedule_json(data.schedule),
        "variables": dict(data.variables),
        "approval_policy": data.approval_policy,
        "approval_deadline_hours": data.approval_deadline_hours,
    }


_AUDITED = (
    "name",
    "template_id",
    "template_version",
    "audience",
    "channels",
    "schedule",
    "variables",
    "approval_policy",
    "approval_deadline_hours",
    "status",
)


# Create, read, edit ------------------------------------------------------------------------


async def _entitled(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> None:
    """What the agency's plan allows: its channels, and approvals (402 naming the plan)."""
    await entitlements.require_channels(session, None, principal.agency_id, values["channels"])
    if values["approval_policy"] != "none":
        await entitlements.require_feature(session, None, principal.agency_id, Feature.APPROVALS)


async def create_campaign(
    session: AsyncSession, principal: Principal, data: CampaignCreate
) -> CampaignOut:
    await brand_service.get_brand(session, principal, data.brand_id, "campaign.create")
    values = _values(data)
    problems = await _check(session, principal, data.brand_id, values)
    if problems:
        raise _invalid(problems)
    await _entitled(session, principal, values)
    campaign = Campaign(
        agency_id=principal.agency_id,
        brand_id=data.brand_id,
        created_by=principal.user_id,
        **values,
    )
    session.add(campaign)
    await session.flush()
    await session.refresh(campaign)
    audit.record_by(
        session,
        principal,
        action="campaign.create",
        object_type="campaign",
        object_id=campaign.id,
        after=audit.snapshot(campaign, _AUDITED),
    )
    return out(campaign)


async def get_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignDetail:
    campaign = await _campaign(session, principal, campaign_id)
    mine = _readable_posts(principal, campaign)
    counted = await session.execute(
        select(Post.status, func.count())
        .where(Post.agency_id == principal.agency_id, Post.campaign_id == campaign.id, *mine)
        .group_by(Post.status)
    )
    by_status = {str(status): int(count) for status, count in counted.all()}
    reason = func.split_part(Post.status_reason, ":", 1)
    by_reason = {
        str(why): count
        for why, count in (
            await session.execute(
                select(reason, func.count())
                .where(
                    Post.agency_id == principal.agency_id,
                    Post.campaign_id == campaign.id,
                    Post.status == "skipped",
                    *mine,
                )
                .group_by(reason)
            )
        ).all()
    }
    seen = await visibility.audiences(session, principal, [campaign])
    return CampaignDetail(
        **out(campaign, seen[campaign.id]).model_dump(),
        posts_by_status=by_status,
        skipped_by_reason=by_reason,
    )


def _readable_posts(principal: Principal, campaign: Campaign) -> list[Any]:
    """Conditions keeping a campaign's counts to the posts the principal may read (a
    location's people: their own locations'), as its list of posts does."""
    r = reach(principal, "post.read")
    if r.everything or campaign.brand_id in r.brand_ids:
        return []
    return [Post.location_id.in_(r.location_ids)]


SORTING = Sorting(
    default="created_at",
    fields={
        "created_at": Campaign.created_at,
        "updated_at": Campaign.updated_at,
        "name": Campaign.name,
        "status": Campaign.status,
    },
    tiebreak=Campaign.id,
)


async def list_campaigns(
    session: AsyncSession,
    principal: Principal,
    *,
    brand_id: uuid.UUID | None,
    status: str | None,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[CampaignOut]:
    stmt = scoped(Campaign, principal)
    r = reach(principal, "campaign.read")
    if not r.everything:
        stmt = stmt.where(Campaign.brand_id.in_(r.brand_ids | r.location_brand_ids))
    if brand_id is not None:
        stmt = stmt.where(Campaign.brand_id == brand_id)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    page = await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )
    seen = await visibility.audiences(session, principal, page.items)
    return Slice([out(c, seen[c.id]) for c in page.items], page.next_cursor, page.total)


async def update_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: CampaignUpdate
) -> CampaignOut:
    campaign = await _campaign(session, principal, campaign_id, "campaign.update", lock=True)
    if campaign.status != "draft":
        raise Conflict(
            f"the campaign is {campaign.status}; only a draft can be edited "
            "(reschedule or cancel a launched one)",
            code="campaign_not_draft",
        )
    given = data.model_dump(exclude_unset=True)
    if not given:
        return out(campaign)
    before = audit.snapshot(campaign, _AUDITED)
    values: dict[str, Any] = {k: getattr(campaign, k) for k in _AUDITED if k != "status"}
    if data.name is not None:
        values["name"] = data.name.strip()
    if data.template_id is not None:
        values["template_id"] = data.template_id
    if data.version is not None:
        values["template_version"] = data.version
    if data.audience is not None:
        values["audience"] = data.audience.model_dump(mode="json")
    if data.channels is not None:
        values["channels"] = list(data.channels)
    if data.schedule is not None:
        values["schedule"] = schedule_json(data.schedule)
    if data.variables is not None:
        values["variables"] = dict(data.variables)
    if data.approval_policy is not None:
        values["approval_policy"] = data.approval_policy
    if data.approval_deadline_hours is not None:
        values["approval_deadline_hours"] = data.approval_deadline_hours
    problems = await _check(session, principal, campaign.brand_id, values)
    if problems:
        raise _invalid(problems)
    for key, value in values.items():
        setattr(campaign, key, value)
    await session.flush()
    await session.refresh(campaign)
    audit.record_by(
        session,
        principal,
        action="campaign.update",
        object_type="campaign",
        object_id=campaign.id,
        before=before,
        after=audit.snapshot(campaign, _AUDITED),
    )
    return out(campaign)


async def list_posts(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    *,
    status: str | None,
    platform: str | None,
    location_id: uuid.UUID | None,
    sort: str = POST_SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Post]:
    """The campaign's posts the principal may read (a location's people: their own)."""
    campaign = await _campaign(session, principal, campaign_id)
    stmt = scoped(Post, principal).where(Post.campaign_id == campaign.id)
    r = reach(principal, "post.read")
    if not r.everything:
        stmt = stmt.where(Post.brand_id.in_(r.brand_ids) | Post.location_id.in_(r.location_ids))
    if status is not None:
        stmt = stmt.where(Post.status == status)
    if platform is not None:
        stmt = stmt.where(Post.platform == platform)
    if location_id is not None:
        stmt = stmt.where(Post.location_id == location_id)
    return await sorted_page(
        session, stmt, POST_SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )


# Launch and what follows -------------------------------------------------------------------


def _audit_status(
    session: AsyncSession,
    principal: Principal,
    campaign: Campaign,
    action: str,
    before: str,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record_by(
        session,
        principal,
        action=action,
        object_type="campaign",
        object_id=campaign.id,
        before={"status": before},
        after={"status": campaign.status},
        details=details,
    )


def _launched(campaign: Campaign, missing: readiness.Missing | None) -> LaunchOut:
    return LaunchOut(
        **out(campaign).model_dump(),
        warning_count=missing.count if missing else 0,
        warnings=missing.first if missing else [],
    )


async def launch(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    redis: ArqRedis,
    data: LaunchIn | None = None,
) -> LaunchOut:
    """Draft → launching, and the fan-out job enqueued once the transaction commits. A
    launching or running campaign answers its progress (launching: the job is enqueued again
    under the same id, a no-op unless it was lost). While the fan-out is to come, the answer
    names the audience's locations × channels without a connected account (their posts will
    be skipped); ``require_connected_accounts`` refuses a draft's launch when there are any."""
    campaign = await _campaign(session, principal, campaign_id, "campaign.launch", lock=True)
    if campaign.status in ("running", "completed"):
        return _launched(campaign, None)
    if campaign.status not in ("draft", "launching"):
        raise Conflict(
            f"the campaign is {campaign.status}; only a draft can be launched",
            code="campaign_not_launchable",
        )
    if campaign.status == "draft":
        values = {k: getattr(campaign, k) for k in _AUDITED if k != "status"}
        problems = await _check(session, principal, campaign.brand_id, values)
        if problems:
            raise _invalid(problems)
        missing = await readiness.missing_accounts(session, campaign)
        if missing.count and data is not None and data.require_connected_accounts:
            raise _not_connected(campaign, missing)
        campaign.status = "launching"
        campaign.status_reason = None
        campaign.launched_at = datetime.now(UTC)
        campaign.launched_by = principal.user_id
        campaign.fanout_done = campaign.fanout_total = 0
        await session.flush()
        await session.refresh(campaign)
        _audit_status(
            session,
            principal,
            campaign,
            "campaign.launch",
            "draft",
            {"accounts_missing": missing.count} if missing.count else None,
        )
    else:
        missing = await readiness.missing_accounts(session, campaign)
    agency_id, ident = str(campaign.agency_id), str(campaign.id)

    async def _enqueue() -> None:
        await enqueue(redis, fanout.FAN_OUT_JOB, agency_id, ident, job_id=f"fanout:{ident}")

    hooks.after_commit(session, _enqueue)
    return _launched(campaign, missing)


def _not_connected(campaign: Campaign, missing: readiness.Missing) -> Conflict:
    first = missing.first[0]
    return Conflict(
        f"{missing.count} location(s) × channel(s) of the audience have no connected account "
        f"(first: {first.detail}); the campaign was not launched. Connect the accounts, or "
        'launch with "require_connected_accounts": false to skip those posts',
        code=post_readiness.NOT_CONNECTED_CODE,
        extra={
            "missing_count": missing.count,
            "missing": [w.model_dump(mode="json") for w in missing.first],
        },
    )


async def pause(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> ActionOut:
    campaign = await _campaign(session, principal, campaign_id, "campaign.launch", lock=True)
    if campaign.status == "paused":
        return ActionOut(campaign=out(campaign), changed=0, detail="already paused")
    if campaign.status != "running":
        raise Conflict(
            f"the campaign is {campaign.status}; only a running campaign can be paused",
            code="campaign_not_running",
        )
    held = await session.execute(
        text(
            "UPDATE post SET due_at = NULL, updated_at = now() "
            "WHERE agency_id = :agency_id AND campaign_id = :campaign_id "
            "AND status = 'scheduled' AND due_at IS NOT NULL"
        ),
        {"agency_id": principal.agency_id, "campaign_id": campaign.id},
    )
    changed = int(getattr(held, "rowcount", 0) or 0)
    in_flight = await _count(session, campaign, IN_FLIGHT)
    campaign.status = "paused"
    campaign.status_reason = "paused"
    await session.flush()
    await session.refresh(campaign)
    _audit_status(session, principal, campaign, "campaign.pause", "running", {"held": changed})
    detail = f"{changed} scheduled post(s) held until resumed"
    if in_flight:
        detail += f"; {in_flight} already handed to a platform will finish"
    return ActionOut(
        campaign=out(campaign), changed=changed, left_to_finish=in_flight, detail=detail
    )


async def resume(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> ActionOut:
    campaign = await _campaign(session, principal, campaign_id, "campaign.launch", lock=True)
    if campaign.status == "running":
        return ActionOut(campaign=out(campaign), changed=0, detail="already running")
    if campaign.status != "paused":
        raise Conflict(
            f"the campaign is {campaign.status}; only a paused campaign can be resumed",
            code="campaign_not_paused",
        )
    params = {"agency_id": principal.agency_id, "campaign_id": campaign.id}
    late = (
        await session.execute(
            text(
                """
                UPDATE post p SET status = 'skipped', status_reason = :reason,
                                  due_at = NULL, updated_at = now()
                FROM (SELECT id, status FROM post
                      WHERE agency_id = :agency_id AND campaign_id = :campaign_id
                        AND status = 'scheduled' AND publish_deadline <= now()
                      FOR UPDATE) old
                WHERE p.agency_id = :agency_id AND p.id = old.id
                RETURNING p.id, old.status
                """
            ),
            {**params, "reason": PAST_DEADLINE},
        )
    ).all()
    await transitions.record_many(
        session,
        principal.agency_id,
        [transitions.Moved(r[0], r[1], "skipped", PAST_DEADLINE) for r in late],
        actor=_actor(principal),
    )
    restored = await session.execute(
        text(
            "UPDATE post SET due_at = GREATEST(scheduled_at, now()), updated_at = now() "
            "WHERE agency_id = :agency_id AND campaign_id = :campaign_id "
            "AND status = 'scheduled' AND due_at IS NULL"
        ),
        params,
    )
    changed = int(getattr(restored, "rowcount", 0) or 0)
    campaign.status = "running"
    campaign.status_reason = None
    await session.flush()
    await session.refresh(campaign)
    _audit_status(
        session, principal, campaign, "campaign.resume", "paused", {"skipped_late": len(late)}
    )
    detail = f"{changed} scheduled post(s) released (those whose time passed go out now)"
    if late:
        detail += f"; {len(late)} skipped: {PAST_DEADLINE}"
    return ActionOut(campaign=out(campaign), changed=changed + len(late), detail=detail)


def _actor(principal: Principal) -> transitions.Actor:
    actor = audit.Actor.of(principal)
    return transitions.Actor(actor.kind, actor.id)


async def _count(session: AsyncSession, campaign: Campaign, statuses: tuple[str, ...]) -> int:
    value = await session.scalar(
        select(func.count()).where(
            Post.agency_id == campaign.agency_id,
            Post.campaign_id == campaign.id,
            Post.status.in_(statuses),
        )
    )
    return int(value or 0)


async def cancel(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> ActionOut:
    """Every post not yet handed to a platform → cancelled; queued and publishing posts
    finish (and say so). A launching campaign's fan-out stops at its next batch."""
    campaign = await _campaign(session, principal, campaign_id, "campaign.launch", lock=True)
    if campaign.status == "cancelled":
        return ActionOut(campaign=out(campaign), changed=0, detail="already cancelled")
    if campaign.status == "completed":
        raise Conflict(
            "the campaign is completed: every post reached an ending", code="campaign_completed"
        )
    moved = (
        await session.execute(
            text(
                """
                UPDATE post p SET status = 'cancelled', status_reason = :reason,
                                  due_at = NULL, updated_at = now()
                FROM (SELECT id, status FROM post
                      WHERE agency_id = :agency_id AND campaign_id = :campaign_id
                        AND status = ANY(:statuses)
                      FOR UPDATE) old
                WHERE p.agency_id = :agency_id AND p.id = old.id
                RETURNING p.id, old.status
                """
            ),
            {
                "agency_id": principal.agency_id,
                "campaign_id": campaign.id,
                "statuses": list(NOT_YET_PUBLISHED),
                "reason": CANCELLED,
            },
        )
    ).all()
    await transitions.record_many(
        session,
        principal.agency_id,
        [transitions.Moved(r[0], r[1], "cancelled", CANCELLED) for r in moved],
        actor=_actor(principal),
    )
    in_flight = await _count(session, campaign, IN_FLIGHT)
    before = campaign.status
    campaign.status = "cancelled"
    campaign.status_reason = CANCELLED
    campaign.completed_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(campaign)
    _audit_status(
        session,
        principal,
        campaign,
        "campaign.cancel",
        before,
        {"cancelled": len(moved), "left_to_finish": in_flight},
    )
    detail = f"{len(moved)} post(s) cancelled"
    if in_flight:
        detail += (
            f"; {in_flight} already handed to a platform (queued or publishing) are left to "
            "finish and may still be published"
        )
    return ActionOut(
        campaign=out(campaign), changed=len(moved), left_to_finish=in_flight, detail=detail
    )


_RESCHEDULE = text(
    """
    UPDATE post p
    SET scheduled_at = z.at,
        publish_deadline = z.at + CAST(:window AS interval),
        decide_by = CASE WHEN p.decide_by IS NULL THEN NULL
                         ELSE z.at - make_interval(hours => :deadline_hours) END,
        due_at = CASE WHEN p.status = 'scheduled' AND NOT :paused THEN z.at ELSE p.due_at END,
        updated_at = now()
    FROM location l,
         unnest(CAST(:zones AS text[]), CAST(:instants AS timestamptz[])) AS z(tz, at)
    WHERE p.agency_id = :agency_id AND p.campaign_id = :campaign_id
      AND p.status = ANY(:statuses)
      AND l.agency_id = p.agency_id AND l.id = p.location_id AND l.time_zone = z.tz
    """
)


async def reschedule(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: RescheduleIn
) -> ActionOut:
    """A new schedule for the campaign and every post of it not yet handed to a platform,
    recomputed per location's time zone (one UPDATE per campaign, one instant per zone)."""
    campaign = await _campaign(session, principal, campaign_id, "campaign.update", lock=True)
    if campaign.status in ("completed", "cancelled", "launching"):
        hint = "wait for its fan-out to finish" if campaign.status == "launching" else "too late"
        raise Conflict(
            f"the campaign is {campaign.status}; {hint}", code="campaign_not_reschedulable"
        )
    schedule = schedule_json(data.schedule)
    problems = _check_schedule(schedule) or _check_deadline(
        schedule, campaign.approval_policy, campaign.approval_deadline_hours, "body.schedule"
    )
    if problems:
        raise _invalid(problems)
    before = campaign.schedule
    params = {"agency_id": principal.agency_id, "campaign_id": campaign.id}
    zones = list(
        (
            await session.execute(
                text(
                    "SELECT DISTINCT l.time_zone FROM post p JOIN location l "
                    "ON l.agency_id = p.agency_id AND l.id = p.location_id "
                    "WHERE p.agency_id = :agency_id AND p.campaign_id = :campaign_id "
                    "AND p.status = ANY(:statuses)"
                ),
                {**params, "statuses": list(NOT_YET_PUBLISHED)},
            )
        ).scalars()
    )
    changed = 0
    if zones:
        result = await session.execute(
            _RESCHEDULE,
            {
                **params,
                "statuses": list(NOT_YET_PUBLISHED),
                "zones": zones,
                "instants": [instant_for(schedule, z) for z in zones],
                "window": PUBLISH_WINDOW,
                "paused": campaign.status == "paused",
                "deadline_hours": campaign.approval_deadline_hours,
            },
        )
        changed = int(getattr(result, "rowcount", 0) or 0)
    campaign.schedule = schedule
    await session.flush()
    await session.refresh(campaign)
    audit.record_by(
        session,
        principal,
        action="campaign.reschedule",
        object_type="campaign",
        object_id=campaign.id,
        before={"schedule": before},
        after={"schedule": schedule},
        details={"posts": changed},
    )
    in_flight = await _count(session, campaign, IN_FLIGHT)
    detail = f"{changed} post(s) rescheduled"
    if in_flight:
        detail += f"; {in_flight} already handed to a platform keep their time"
    return ActionOut(
        campaign=out(campaign), changed=changed, left_to_finish=in_flight, detail=detail
    )


# Reminders ---------------------------------------------------------------------------------

REMIND_EVERY = timedelta(hours=1)
"""At most one reminder per campaign in this time."""
_REMINDED_KEY = "campaign:reminded:{agency_id}:{campaign_id}"


class ReminderTooSoon(RateLimited):
    code = "reminder_too_soon"

    def __init__(self, next_at: datetime, now: datetime) -> None:
        super().__init__(
            "the people who decide were reminded less than an hour ago; the next reminder "
            f"is allowed at {next_at.isoformat(timespec='seconds')}",
            retry_after_seconds=int((next_at - now).total_seconds()) + 1,
        )
        self.extra = {"next_reminder_at": next_at.isoformat(timespec="seconds")}


async def remind(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    redis: ArqRedis,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> RemindOut:
    """Mails once more everyone who can decide the campaign's posts still waiting (status
    pending approval, time not passed): one digest per person, the nearest deciders, as
    when the posts began to wait (``approvals.notify_pending``). 409 when nothing waits;
    429 within an hour of the last reminder.

    The hour is kept in Redis (``SET NX EX``), not in a column: it is a throttle that ends
    by itself, the claim is atomic between two managers pressing at once without holding the
    campaign's row lock (which fan-out, pause and cancel take) while the digests are written,
    and losing it (a Redis flush) costs at most one reminder too many. Any failure before
    the answer releases it, so a reminder that sent nothing does not block the next."""
    now = now or clock.now()
    campaign = await _campaign(session, principal, campaign_id, "campaign.update")
    waiting = list(
        (
            await session.execute(
                select(Post.id)
                .where(
                    Post.agency_id == principal.agency_id,
                    Post.campaign_id == campaign.id,
                    Post.status == approval_service.PENDING,
                    or_(Post.scheduled_at.is_(None), Post.scheduled_at > now),
                )
                .order_by(Post.id)
            )
        ).scalars()
    )
    if not waiting:
        raise Conflict(
            "none of the campaign's posts waits for a decision; there is nobody to remind",
            code="nothing_waiting",
        )
    key = _REMINDED_KEY.format(agency_id=principal.agency_id, campaign_id=campaign.id)
    next_at = now + REMIND_EVERY
    if not await redis.set(key, next_at.isoformat(), nx=True, ex=REMIND_EVERY):
        held = await redis.get(key)
        raise ReminderTooSoon(
            datetime.fromisoformat(held.decode()) if held else now + timedelta(seconds=1), now
        )
    try:
        mails = await approval_service.notify_pending(
            session, settings, principal.agency_id, waiting, redis=redis, now=now
        )
        await set_tenant(session, principal.agency_id, principal.user_id)
        if mails == 0:  # nobody may decide them: nothing sent, nothing to wait for
            await redis.delete(key)
            next_at = now
        audit.record_by(
            session,
            principal,
            action="campaign.remind",
            object_type="campaign",
            object_id=campaign.id,
            details={"mails": mails, "posts": len(waiting)},
        )
        await session.flush()
    except BaseException:
        await redis.delete(key)
        raise
    return RemindOut(mails=mails, posts=len(waiting), next_reminder_at=next_at)
