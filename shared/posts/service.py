"""Posts a location makes itself from a published template of its brand ("localization"):
the location fills the slots, Chorus renders and checks every platform, and nothing is
saved unless every platform's post passes. Campaign fan-out will write posts too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access.policy import Target, allowed, authorize, reach
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements
from shared.brand_rules import service as rules_service
from shared.brands import service as brand_service
from shared.campaigns.models import Campaign
from shared.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from shared.events import service as events
from shared.locations import service as location_service
from shared.locations.models import Location, LocationGroupMember
from shared.metrics import service as metrics_service
from shared.pagination import Slice, keyset_page, sorted_page
from shared.posts import readiness, transitions
from shared.posts.models import Post, PostStatusChange
from shared.posts.schemas import (
    AccountWarning,
    LocalPostCreate,
    PostCancelIn,
    PostEditIn,
    PostMetricsOut,
    PostRescheduleIn,
    PostRetryIn,
)
from shared.posts.sorting import POST_SORTING
from shared.templates import media_refs
from shared.templates import service as template_service
from shared.templates.schemas import MediaIn, PreviewIn, PreviewOut
from shared.tenancy import scoped

PUBLISH_WINDOW = timedelta(hours=1)
"""How late a post may still go out after its time (retries stop at this deadline)."""


def _actor(principal: Principal) -> tuple[str, uuid.UUID | None]:
    actor = audit.Actor.of(principal)
    return actor.kind, actor.id


async def _render_checked(
    session: AsyncSession,
    principal: Principal,
    location: Location,
    template_id: uuid.UUID,
    number: int,
    slot_values: dict[str, str],
    platforms: list[str],
    media: dict[str, list[MediaIn]] | None = None,
) -> PreviewOut:
    """The posts' content for ``location`` rendered from a published version of its brand's
    template, checked against the plan, the slots, the brand's rules and every platform's
    limits: 422 listing every problem, or the rendered result per platform. Creation and
    edits both go through here, so an edit is held to exactly the rules a new post is."""
    await entitlements.require_channels(session, None, principal.agency_id, platforms)
    version = await template_service.get_version(session, principal, template_id, number)
    template = await template_service.get_template(session, principal, template_id)
    if template.brand_id != location.brand_id:
        raise NotFound("template not found")
    if version.status != "published":
        raise Conflict(
            f"version {number} of this template is not published yet; the brand must "
            "publish it before locations post from it",
            code="version_not_published",
        )
    preview = await template_service.preview(
        session,
        principal,
        template_id,
        number,
        PreviewIn(location_id=location.id, slot_values=slot_values, platforms=platforms),
        media=media,
    )
    if not preview.ok:
        problems = [
            FieldProblem(p.field.replace("slot_values.", "body.slot_values."), p.message, p.code)
            for p in preview.slot_problems
        ] + [
            FieldProblem(f"body.platforms.{result.platform}.{p.field}", p.message, p.code)
            for result in preview.platforms
            for p in result.problems
        ]
        raise ValidationFailed(
            f"{len(problems)} problem(s) must be fixed before this post can be saved; "
            "nothing was saved",
            code="post_invalid",
            errors=problems,
        )
    return preview


def _checked_time(value: datetime, now: datetime) -> datetime:
    when = value.astimezone(UTC)
    if when < now - timedelta(minutes=1):
        raise ValidationFailed(
            "this post's time has passed",
            code="scheduled_in_past",
            errors=[FieldProblem("body.scheduled_at", "give a time from now on (or leave it out)")],
        )
    return when


@dataclass(frozen=True, slots=True)
class LocalPosts:
    """The posts made, and per platform what would keep its post from going out."""

    posts: list[Post]
    warnings: dict[str, list[AccountWarning]]


async def create_local_posts(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID, data: LocalPostCreate
) -> LocalPosts:
    """One checked post per platform. A platform without a connected, healthy account at the
    location is said at once: a warning on its post, or (``require_connected_accounts``) a
    409 naming each such platform, with nothing saved."""
    location = await location_service.get_location(session, principal, location_id, "post.create")
    if data.media is not None:
        owner = media_refs.Owner(location.brand_id, location.id)
        await media_refs.check_references(session, principal, data.media, owner)
    preview = await _render_checked(
        session,
        principal,
        location,
        data.template_id,
        data.version,
        data.slot_values,
        data.platforms,
        data.media,
    )
    warnings = await readiness.account_warnings(session, location, data.platforms)
    if warnings and data.require_connected_accounts:
        raise readiness.refusal(
            warnings, {p: f"body.platforms.{i}" for i, p in enumerate(data.platforms)}
        )
    rules = await rules_service.rules_for(session, principal.agency_id, location.brand_id)
    now = clock.now()
    when = _checked_time(data.scheduled_at, now) if data.scheduled_at else now
    if rules.location_edits_need_approval:
        status, reason = "needs_approval", "the brand requires approval of location edits"
        # Without a time of its own, the post goes out as soon as it is approved.
        when_given: datetime | None = when if data.scheduled_at else None
    else:
        status, reason = "scheduled", "the brand does not require approval of location edits"
        when_given = when
    posts = [
        Post(
            agency_id=principal.agency_id,
            brand_id=location.brand_id,
            location_id=location.id,
            template_id=data.template_id,
            template_version=data.version,
            platform=result.platform,
            slot_values=data.slot_values,
            text=result.text,
            title=result.title,
            media=[m.model_dump(mode="json", exclude_none=True) for m in result.media],
            status=status,
            status_reason=reason,
            scheduled_at=when_given,
            due_at=when if status == "scheduled" else None,
            publish_deadline=when_given + PUBLISH_WINDOW if when_given else None,
            approval_kind="brand" if status == "needs_approval" else None,
            created_by=principal.user_id,
        )
        for result in preview.platforms
    ]
    session.add_all(posts)
    await session.flush()
    actor_type, actor_id = _actor(principal)
    session.add_all(
        PostStatusChange(
            agency_id=principal.agency_id,
            post_id=post.id,
            from_status=None,
            to_status=status,
            actor_type=actor_type,
            actor_id=actor_id,
            reason=reason,
        )
        for post in posts
    )
    if status == "needs_approval":
        for post in posts:
            events.emit(
                session,
                agency_id=post.agency_id,
                type="post.needs_approval",
                subject_type="post",
                subject_id=post.id,
                brand_id=post.brand_id,
                location_id=post.location_id,
                payload={"platform": post.platform, "campaign_id": None, "reason": reason},
            )
    for post in posts:
        audit.record_by(
            session,
            principal,
            action="post.create",
            object_type="post",
            object_id=post.id,
            after={"platform": post.platform, "status": status, "location_id": location.id},
        )
    await session.flush()
    for post in posts:
        await session.refresh(post)
    by_platform: dict[str, list[AccountWarning]] = {}
    for w in warnings:
        by_platform.setdefault(w.platform, []).append(w)
    return LocalPosts(posts, by_platform)


def _target(post: Post) -> Target:
    return Target(brand_id=post.brand_id, location_id=post.location_id)


async def get_post(session: AsyncSession, principal: Principal, post_id: uuid.UUID) -> Post:
    post = (
        await session.execute(scoped(Post, principal).where(Post.id == post_id))
    ).scalar_one_or_none()
    if post is None:
        raise NotFound("post not found")
    authorize(principal, "post.read", _target(post), object_type="post")
    return post


async def get_post_metrics(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID
) -> PostMetricsOut:
    """The post's numbers at its platform, as last collected (empty until then)."""
    post = await get_post(session, principal, post_id)
    stored = await metrics_service.post_metrics(session, post.agency_id, post.id)
    if stored is None:
        return PostMetricsOut(post_id=post.id, platform=post.platform)
    return PostMetricsOut.model_validate(stored)


async def list_location_posts(
    session: AsyncSession,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    sort: str = POST_SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Post]:
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal,
        "post.read",
        Target(brand_id=location.brand_id, location_id=location.id),
        object_type="location",
    )
    return await sorted_page(
        session,
        scoped(Post, principal).where(Post.location_id == location.id),
        POST_SORTING,
        sort=sort,
        cursor=cursor,
        limit=limit,
        total=total,
    )


# One post: cancel, reschedule, edit, retry ---------------------------------------------------

CHANGEABLE = ("draft", "needs_approval", "approved", "scheduled", "queued")
"""Statuses in which a post has not gone out and nothing has been sent for it: it may still
be cancelled, moved or edited. A ``queued`` post is held by a job that has not sent it yet;
clearing its lease makes that job let go (the publisher only changes rows that still hold
its lease, and turns a post ``publishing`` in one such statement before its request leaves)."""

IN_FLIGHT = ("publishing", "unconfirmed")

ACT = "post.create"
"""Acting on a post (cancel, reschedule, edit, retry) needs what making it needs, there."""

MAY_BE_OUT_CODE = "post_may_be_out"


def _transition_actor(principal: Principal) -> transitions.Actor:
    kind, actor_id = _actor(principal)
    return transitions.Actor(kind, actor_id)


async def _locked_post(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, action: str
) -> Post:
    """The post, its row locked until commit (the dispatcher and publisher skip or wait for
    it), or 404 out of reach / 403 without ``action``."""
    stmt = (
        scoped(Post, principal)
        .where(Post.id == post_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    post = (await session.execute(stmt)).scalar_one_or_none()
    if post is None:
        raise NotFound("post not found")
    authorize(principal, action, _target(post), object_type="post")
    return post


def _require_changeable(post: Post, doing: str) -> None:
    if post.status in IN_FLIGHT:
        raise Conflict(
            f"this post cannot be {doing}: it is being published ({post.status}); wait for "
            "the outcome",
            code="post_in_flight",
            extra={"post_status": post.status},
        )
    if post.status not in CHANGEABLE:
        raise Conflict(
            f"this post cannot be {doing}: it is {post.status}",
            code="post_not_changeable",
            extra={"post_status": post.status},
        )


async def _campaign_paused(session: AsyncSession, post: Post) -> bool:
    if post.campaign_id is None:
        return False
    status = await session.scalar(
        select(Campaign.status).where(
            Campaign.agency_id == post.agency_id, Campaign.id == post.campaign_id
        )
    )
    return status == "paused"


async def _set_time(session: AsyncSession, post: Post, when: datetime) -> None:
    """The post's new time; a dispatchable post is due then (a paused campaign's post waits
    for the resume, which makes it due)."""
    post.scheduled_at = when
    post.publish_deadline = when + PUBLISH_WINDOW
    post.lease_token = None
    if post.status in ("scheduled", "queued"):
        post.due_at = None if await _campaign_paused(session, post) else when


async def _done(
    session: AsyncSession,
    principal: Principal,
    post: Post,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> Post:
    audit.record_by(
        session,
        principal,
        action=action,
        object_type="post",
        object_id=post.id,
        before=before,
        after=after,
    )
    await session.flush()
    await session.refresh(post)
    return post


async def cancel_post(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, data: PostCancelIn
) -> Post:
    """Cancelled for good: not due any more and out of any job's hands."""
    post = await _locked_post(session, principal, post_id, ACT)
    _require_changeable(post, "cancelled")
    before = post.status
    post.due_at = None
    post.lease_token = None
    reason = f"cancelled: {data.reason}" if data.reason else "cancelled"
    transitions.move(session, post, "cancelled", actor=_transition_actor(principal), reason=reason)
    return await _done(
        session, principal, post, "post.cancel", {"status": before}, {"status": "cancelled"}
    )


async def reschedule_post(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, data: PostRescheduleIn
) -> Post:
    post = await _locked_post(session, principal, post_id, ACT)
    _require_changeable(post, "rescheduled")
    return await _retime(session, principal, post, data.scheduled_at, "post.reschedule")


async def _retime(
    session: AsyncSession, principal: Principal, post: Post, at: datetime, action: str
) -> Post:
    when = _checked_time(at, clock.now())
    old = post.scheduled_at
    before = post.status
    await _set_time(session, post, when)
    to = "scheduled" if before == "queued" else before
    transitions.move(
        session,
        post,
        to,
        actor=_transition_actor(principal),
        reason=f"rescheduled to {when.isoformat()}",
    )
    return await _done(
        session,
        principal,
        post,
        action,
        {"status": before, "scheduled_at": old.isoformat() if old else None},
        {"status": to, "scheduled_at": when.isoformat()},
    )


async def edit_post(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, data: PostEditIn
) -> Post:
    """New slot values and/or a new time. The text is rendered again from the post's template
    version and checked like a new post (422 listing every problem, nothing changed). A
    campaign's post takes its text from the campaign: only its time can change here."""
    post = await _locked_post(session, principal, post_id, ACT)
    if data.slot_values is None and data.scheduled_at is None:
        raise ValidationFailed(
            "give `slot_values`, `scheduled_at` or both",
            code="nothing_to_change",
            errors=[FieldProblem("body", "give slot_values, scheduled_at or both")],
        )
    _require_changeable(post, "edited")
    if data.slot_values is None:
        assert data.scheduled_at is not None
        return await _retime(session, principal, post, data.scheduled_at, "post.edit")
    if post.campaign_id is not None:
        raise Conflict(
            "this post's text comes from its campaign; change the campaign (or cancel this "
            "post), or change only its time here",
            code="campaign_owns_text",
            extra={"campaign_id": str(post.campaign_id)},
        )
    location = await location_service.get_location(session, principal, post.location_id)
    preview = await _render_checked(
        session,
        principal,
        location,
        post.template_id,
        post.template_version,
        data.slot_values,
        [post.platform],
        # The post keeps its media (the template's when it was made, or its own).
        {post.platform: [MediaIn.model_validate(m) for m in post.media]},
    )
    now = clock.now()
    when = _checked_time(data.scheduled_at, now) if data.scheduled_at else None
    result = preview.platforms[0]
    before = {"status": post.status, "slot_values": post.slot_values, "text": post.text}
    post.slot_values = data.slot_values
    post.text = result.text
    post.title = result.title
    post.media = [m.model_dump(mode="json", exclude_none=True) for m in result.media]
    post.lease_token = None
    if when is not None:
        await _set_time(session, post, when)
    rules = await rules_service.rules_for(session, principal.agency_id, post.brand_id)
    from_status = post.status
    if rules.location_edits_need_approval and not allowed(principal, "post.approve", _target(post)):
        to, reason = "needs_approval", "edited; the brand requires approval of location edits"
        post.due_at = None
        post.approval_kind = "brand"
        post.decided_by = post.decided_at = post.decision_comment = None
    else:
        to = "scheduled" if from_status == "queued" else from_status
        reason = "edited"
        if to == "scheduled" and when is None:
            at = post.scheduled_at or now
            post.due_at = None if await _campaign_paused(session, post) else at
    transitions.move(session, post, to, actor=_transition_actor(principal), reason=reason)
    return await _done(
        session,
        principal,
        post,
        "post.edit",
        before,
        {"status": to, "slot_values": post.slot_values, "text": post.text},
    )


async def _failed_unconfirmed(session: AsyncSession, post: Post) -> bool:
    """Did the post fail because Chorus could not find out whether it went out?"""
    last = await session.scalar(
        select(PostStatusChange.from_status)
        .where(
            PostStatusChange.agency_id == post.agency_id,
            PostStatusChange.post_id == post.id,
            PostStatusChange.to_status == "failed",
        )
        .order_by(PostStatusChange.changed_at.desc(), PostStatusChange.id.desc())
        .limit(1)
    )
    # Only a lookup that never got an answer ends unconfirmed → failed; a post failing
    # from publishing got the platform's answer (refused, or not sent at all).
    return last == "unconfirmed"


async def retry_post(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, data: PostRetryIn
) -> Post:
    """A failed post scheduled again (now or at the given time) with a fresh deadline; its
    attempts are kept. A post that may already be out is retried only on the caller's word."""
    post = await _locked_post(session, principal, post_id, ACT)
    if post.status in IN_FLIGHT:
        _require_changeable(post, "retried")
    if post.status != "failed":
        raise Conflict(
            f"only a failed post can be retried; this one is {post.status}",
            code="post_not_failed",
            extra={"post_status": post.status},
        )
    if await _failed_unconfirmed(session, post) and not data.confirm_not_published:
        raise Conflict(
            f"Chorus could not find out whether this post went out on {post.platform}, so "
            "retrying it may post it twice; check the account, and retry with "
            '"confirm_not_published": true only if it is not there',
            code=MAY_BE_OUT_CODE,
        )
    now = clock.now()
    when = _checked_time(data.scheduled_at, now) if data.scheduled_at else now
    post.scheduled_at = when
    post.publish_deadline = when + PUBLISH_WINDOW
    post.lease_token = None
    post.due_at = None if await _campaign_paused(session, post) else when
    reason = "retried"
    if data.confirm_not_published:
        reason += " (the caller confirmed it is not at the platform)"
    transitions.move(session, post, "scheduled", actor=_transition_actor(principal), reason=reason)
    return await _done(
        session,
        principal,
        post,
        "post.retry",
        {"status": "failed"},
        {"status": "scheduled", "scheduled_at": when.isoformat()},
    )


async def post_history(session: AsyncSession, post: Post) -> list[PostStatusChange]:
    stmt = (
        select(PostStatusChange)
        .where(PostStatusChange.agency_id == post.agency_id, PostStatusChange.post_id == post.id)
        .order_by(PostStatusChange.changed_at, PostStatusChange.id)
    )
    return list((await session.execute(stmt)).scalars())


# The calendar --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarFilter:
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    platforms: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Calendar:
    page: Slice[Post]
    totals: dict[str, int]


_CALENDAR_SORT = "calendar"


def _calendar_conditions(principal: Principal, f: CalendarFilter) -> list[Any]:
    conditions: list[Any] = [Post.scheduled_at.is_not(None)]
    r = reach(principal, "post.read")
    if not r.everything:
        conditions.append(Post.brand_id.in_(r.brand_ids) | Post.location_id.in_(r.location_ids))
    if f.brand_id is not None:
        conditions.append(Post.brand_id == f.brand_id)
    if f.location_id is not None:
        conditions.append(Post.location_id == f.location_id)
    if f.campaign_id is not None:
        conditions.append(Post.campaign_id == f.campaign_id)
    if f.group_id is not None:
        conditions.append(
            select(LocationGroupMember.location_id)
            .where(
                LocationGroupMember.agency_id == Post.agency_id,
                LocationGroupMember.group_id == f.group_id,
                LocationGroupMember.location_id == Post.location_id,
            )
            .exists()
        )
    if f.platforms:
        conditions.append(Post.platform.in_(f.platforms))
    if f.statuses:
        conditions.append(Post.status.in_(f.statuses))
    if f.start is not None:
        conditions.append(Post.scheduled_at >= f.start)
    if f.end is not None:
        conditions.append(Post.scheduled_at < f.end)
    return conditions


async def calendar(
    session: AsyncSession,
    principal: Principal,
    f: CalendarFilter,
    *,
    limit: int,
    cursor: str | None,
) -> Calendar:
    """Posts with a time, within the principal's reach, ordered by that time (then id), one
    keyset page, and how many of each status match the same filters over all pages. A
    brand or location named in the filters and out of reach answers 404."""
    if f.start is not None and f.end is not None and f.end <= f.start:
        raise ValidationFailed(
            "`to` must be after `from`",
            code="invalid_range",
            errors=[FieldProblem("query.to", "give a `to` after `from`")],
        )
    if f.brand_id is not None:
        await brand_service.get_brand(session, principal, f.brand_id)
    if f.location_id is not None:
        await location_service.get_location(session, principal, f.location_id)
    conditions = _calendar_conditions(principal, f)
    page = await keyset_page(
        session,
        scoped(Post, principal).where(*conditions),
        sort=_CALENDAR_SORT,
        columns=[Post.scheduled_at, Post.id],
        key=lambda p: [p.scheduled_at.isoformat() if p.scheduled_at else None, str(p.id)],
        cursor=cursor,
        limit=limit,
        decode=lambda v: [datetime.fromisoformat(str(v[0])), uuid.UUID(str(v[1]))],
    )
    counted = await session.execute(
        select(Post.status, func.count())
        .where(Post.agency_id == principal.agency_id, *conditions)
        .group_by(Post.status)
    )
    totals = {str(status): int(n) for status, n in counted.all()}
    return Calendar(page=page, totals=totals)
