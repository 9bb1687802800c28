"""Posts a location makes itself from a published template of its brand ("localization"):
the location fills the slots, Chorus renders and checks every platform, and nothing is
saved unless every platform's post passes. Campaign fan-out will write posts too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, authorize
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements
from shared.brand_rules import service as rules_service
from shared.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from shared.events import service as events
from shared.locations import service as location_service
from shared.metrics import service as metrics_service
from shared.pagination import Slice, keyset_page
from shared.posts.models import Post, PostStatusChange
from shared.posts.schemas import LocalPostCreate, PostMetricsOut
from shared.templates import service as template_service
from shared.templates.schemas import PreviewIn
from shared.tenancy import scoped

PUBLISH_WINDOW = timedelta(hours=1)
"""How late a post may still go out after its time (retries stop at this deadline)."""


def _actor(principal: Principal) -> tuple[str, uuid.UUID | None]:
    actor = audit.Actor.of(principal)
    return actor.kind, actor.id


async def create_local_posts(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID, data: LocalPostCreate
) -> list[Post]:
    location = await location_service.get_location(session, principal, location_id, "post.create")
    await entitlements.require_channels(session, None, principal.agency_id, data.platforms)
    version = await template_service.get_version(session, principal, data.template_id, data.version)
    template = await template_service.get_template(session, principal, data.template_id)
    if template.brand_id != location.brand_id:
        raise NotFound("template not found")
    if version.status != "published":
        raise Conflict(
            f"version {data.version} of this template is not published yet; the brand must "
            "publish it before locations post from it",
            code="version_not_published",
        )
    preview = await template_service.preview(
        session,
        principal,
        data.template_id,
        data.version,
        PreviewIn(location_id=location.id, slot_values=data.slot_values, platforms=data.platforms),
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
    rules = await rules_service.rules_for(session, principal.agency_id, location.brand_id)
    now = datetime.now(UTC)
    when = data.scheduled_at.astimezone(UTC) if data.scheduled_at else now
    if when < now - timedelta(minutes=1):
        raise ValidationFailed(
            "this post's time has passed",
            code="scheduled_in_past",
            errors=[FieldProblem("body.scheduled_at", "give a time from now on (or leave it out)")],
        )
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
    return posts


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
    limit: int,
    cursor: str | None,
) -> Slice[Post]:
    location = await location_service.get_location(session, principal, location_id)
    authorize(
        principal,
        "post.read",
        Target(brand_id=location.brand_id, location_id=location.id),
        object_type="location",
    )
    return await keyset_page(
        session,
        scoped(Post, principal).where(Post.location_id == location.id),
        sort="created",
        columns=[Post.id],
        key=lambda p: [str(p.id)],
        cursor=cursor,
        limit=limit,
        decode=lambda v: [uuid.UUID(str(v[0]))],
    )
