"""Approvals: the posts waiting for a human, the decisions on them, the mail that asks for
them, and the deadline that ends the wait.

Two kinds of wait (``Post.approval_kind``): ``brand`` — the brand approves a location's own
edit (permission ``post.approve`` on the post's brand); ``location`` — the location confirms
a campaign post before it goes out (``post.confirm`` on the post's location). Approving
schedules the post at its time, or skips it when that time has passed; rejecting cancels it
with the decider's comment, which the location reads on the post. Every change of status goes
through :mod:`shared.posts.transitions` (history row and event in the same transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import (
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access import repository as access_repository
from shared.access.models import Membership
from shared.access.policy import Target, allowed, authorize
from shared.access.principal import Grant, Principal
from shared.access.roles import PERMISSIONS, Role, ScopeType
from shared.approvals import links
from shared.approvals.links import Decision
from shared.approvals.schemas import BulkDecisionIn, BulkResultOut, Outcome
from shared.audit import service as audit
from shared.brands import service as brand_service
from shared.campaigns.models import Campaign
from shared.config import Settings
from shared.db.tenancy import set_tenant
from shared.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from shared.identity.models import User
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.mail import service as mail
from shared.pagination import Slice, count_of, cursor_key, page_of
from shared.posts import transitions
from shared.posts.models import Post
from shared.templates import service as template_service
from shared.templates.schemas import PreviewIn

PENDING = "needs_approval"
APPROVED = "approved"
APPROVED_LATE = "approved after its scheduled time"
NOT_DECIDED_IN_TIME = "not approved before its scheduled time"
APPROVED_AFTER_DEADLINE = "approved after its campaign's deadline"
NOT_DECIDED_BY_DEADLINE = "not approved by its campaign's deadline"
LINK_LIFETIME_MAX = timedelta(days=7)
"""A mailed link lives until the post's time, and never longer than this."""
DIGEST_MAX_POSTS = 100
"""Posts listed (with links) in one digest; the rest are counted and wait in the queue."""
MAIL_KIND = "approval_digest"

_QUEUE_SORT = "scheduled"
_UUIDS = ARRAY(PG_UUID(as_uuid=True))
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
"""Sort key of a pending post without a time (none should exist): last in the queue."""


_campaign_paused = (
    select(Campaign.id)
    .where(
        Campaign.agency_id == Post.agency_id,
        Campaign.id == Post.campaign_id,
        Campaign.status == "paused",
    )
    .exists()
)


def permission_for(approval_kind: str | None) -> str:
    """What deciding a post needs: confirming a campaign post is the location's call,
    approving anything else the brand's."""
    return "post.confirm" if approval_kind == "location" else "post.approve"


def _target(post: Post) -> Target:
    return Target(brand_id=post.brand_id, location_id=post.location_id)


def _actor(principal: Principal) -> transitions.Actor:
    who = audit.Actor.of(principal)
    return transitions.Actor(who.kind, who.id)


# Queues ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueFilter:
    campaign_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    post: Post
    location_name: str


async def _queue(
    session: AsyncSession,
    principal: Principal,
    conditions: Sequence[Any],
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Pending]:
    """Waiting posts, the soonest due first (the ones about to miss their time on top)."""
    sort_key = func.coalesce(Post.scheduled_at, literal(_NEVER))
    stmt = (
        select(Post, Location.name)
        .join(
            Location,
            and_(Location.agency_id == Post.agency_id, Location.id == Post.location_id),
        )
        .where(Post.agency_id == principal.agency_id, Post.status == PENDING, *conditions)
    )
    count = await count_of(session, stmt) if total else None
    if cursor:
        after, after_id = cursor_key(
            cursor,
            _QUEUE_SORT,
            2,
            lambda v: [datetime.fromisoformat(str(v[0])), uuid.UUID(str(v[1]))],
        )
        stmt = stmt.where(tuple_(sort_key, Post.id) > tuple_(literal(after), literal(after_id)))
    rows = (await session.execute(stmt.order_by(sort_key, Post.id).limit(limit + 1))).all()
    items = [Pending(post, name) for post, name in rows]
    page = page_of(
        items,
        sort=_QUEUE_SORT,
        limit=limit,
        key=lambda p: [(p.post.scheduled_at or _NEVER).isoformat(), str(p.post.id)],
    )
    return Slice(page.items, page.next_cursor, count)


def _filters(filters: QueueFilter) -> list[Any]:
    out: list[Any] = []
    if filters.campaign_id is not None:
        out.append(Post.campaign_id == filters.campaign_id)
    if filters.location_id is not None:
        out.append(Post.location_id == filters.location_id)
    if filters.platform is not None:
        out.append(Post.platform == filters.platform)
    return out


async def brand_queue(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    filters: QueueFilter,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Pending]:
    """Posts of the brand waiting for the brand's approval."""
    brand = await brand_service.get_brand(session, principal, brand_id, "post.approve")
    conditions = [Post.brand_id == brand.id, Post.approval_kind == "brand", *_filters(filters)]
    return await _queue(session, principal, conditions, limit=limit, cursor=cursor, total=total)


async def location_queue(
    session: AsyncSession,
    principal: Principal,
    location_id: uuid.UUID,
    filters: QueueFilter,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Pending]:
    """Posts for the location waiting for its confirmation."""
    location = await location_service.get_location(session, principal, location_id, "post.confirm")
    conditions = [
        Post.location_id == location.id,
        Post.approval_kind == "location",
        *_filters(QueueFilter(filters.campaign_id, None, filters.platform)),
    ]
    return await _queue(session, principal, conditions, limit=limit, cursor=cursor, total=total)


# Decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    post_id: uuid.UUID
    status: str
    reason: str


async def _apply(
    session: AsyncSession,
    principal: Principal,
    post_ids: Sequence[uuid.UUID],
    decision: Decision,
    comment: str | None,
    *,
    now: datetime,
    via: str | None = None,
) -> dict[uuid.UUID, Applied]:
    """The decision on posts already locked and checked: one UPDATE … RETURNING, then the
    history, events and audit entries of what it changed."""
    if not post_ids:
        return {}
    too_late = and_(Post.scheduled_at.is_not(None), Post.scheduled_at <= now)
    past_deadline = and_(Post.decide_by.is_not(None), Post.decide_by <= now)
    late = or_(too_late, past_deadline)
    values: dict[str, Any]
    if decision == "approve":
        values = {
            "status": case((late, "skipped"), else_="scheduled"),
            "status_reason": case(
                (too_late, APPROVED_LATE),
                (past_deadline, APPROVED_AFTER_DEADLINE),
                else_=APPROVED,
            ),
            "scheduled_at": func.coalesce(Post.scheduled_at, now),
            # A paused campaign's posts wait (due_at empty) until it is resumed.
            "due_at": case(
                (late, None),
                (_campaign_paused, None),
                else_=func.coalesce(Post.scheduled_at, now),
            ),
        }
    else:
        values = {"status": "cancelled", "status_reason": f"rejected: {comment}", "due_at": None}
    stmt = (
        update(Post)
        .where(
            Post.agency_id == principal.agency_id,
            Post.id.in_(post_ids),
            Post.status == PENDING,
        )
        .values(
            **values,
            decided_by=principal.user_id,
            decided_at=now,
            decision_comment=comment,
        )
        .returning(Post.id, Post.status, Post.status_reason)
        .execution_options(synchronize_session=False)
    )
    applied = {
        row.id: Applied(row.id, row.status, row.status_reason or "")
        for row in (await session.execute(stmt)).all()
    }
    ordered = [applied[i] for i in post_ids if i in applied]
    await transitions.record_many(
        session,
        principal.agency_id,
        [transitions.Moved(a.post_id, PENDING, a.status, a.reason) for a in ordered],
        actor=_actor(principal),
    )
    for a in ordered:
        audit.record_by(
            session,
            principal,
            action=f"post.{decision}",
            object_type="post",
            object_id=a.post_id,
            before={"status": PENDING},
            after={"status": a.status, "decision_comment": comment},
            details={"via": via} if via else None,
        )
    await session.flush()
    return applied


def _not_pending(post: Post) -> Conflict:
    decided = f" (decided at {post.decided_at.isoformat()})" if post.decided_at else ""
    return Conflict(
        f"this post is not waiting for a decision: it is {post.status}{decided}",
        code="not_pending",
        extra={"status": post.status},
    )


async def _locked(session: AsyncSession, agency_id: uuid.UUID, post_id: uuid.UUID) -> Post | None:
    stmt = (
        select(Post)
        .where(Post.agency_id == agency_id, Post.id == post_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def campaign_variables(session: AsyncSession, post: Post) -> dict[str, str]:
    """The values of the ``campaign.*`` variables the post was rendered with (none for a
    location's own post)."""
    if post.campaign_id is None:
        return {}
    variables = await session.scalar(
        select(Campaign.variables).where(
            Campaign.agency_id == post.agency_id, Campaign.id == post.campaign_id
        )
    )
    return {str(k): str(v) for k, v in (variables or {}).items()}


async def _fill_slots(
    session: AsyncSession, principal: Principal, post: Post, slot_values: dict[str, str]
) -> None:
    """The post rendered again from its template version with the decider's slot values (and
    its campaign's variables), checked like a new post: 422 listing every problem (nothing
    changed), else its text, title and media replaced."""
    variables = await campaign_variables(session, post)
    preview = await template_service.preview(
        session,
        principal,
        post.template_id,
        post.template_version,
        PreviewIn(
            location_id=post.location_id,
            slot_values=slot_values,
            campaign_variables=variables,
            platforms=[post.platform],
        ),
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
            f"{len(problems)} problem(s) must be fixed before this post can be approved; "
            "nothing was changed",
            code="post_invalid",
            errors=problems,
        )
    result = preview.platforms[0]
    before = {"slot_values": post.slot_values, "text": post.text}
    post.slot_values = dict(slot_values)
    post.text = result.text
    post.title = result.title
    post.media = [m.model_dump(mode="json", exclude_none=True) for m in result.media]
    audit.record_by(
        session,
        principal,
        action="post.edit",
        object_type="post",
        object_id=post.id,
        before=before,
        after={"slot_values": post.slot_values, "text": post.text},
        details={"via": "approval"},
    )
    await session.flush()


async def decide(
    session: AsyncSession,
    principal: Principal,
    post_id: uuid.UUID,
    decision: Decision,
    comment: str | None,
    *,
    slot_values: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Post:
    """Approve or reject one post (404 out of reach, 403 without the permission its kind
    needs, 409 when it no longer waits). An approval may fill the template's slots first
    (``slot_values``): the post is rendered again and checked like a new one (422 with every
    problem, nothing decided)."""
    if decision == "reject" and not comment:
        raise _comment_required()
    post = await _locked(session, principal.agency_id, post_id)
    if post is None:
        raise NotFound("post not found")
    authorize(principal, permission_for(post.approval_kind), _target(post), object_type="post")
    if post.status != PENDING:
        raise _not_pending(post)
    if decision == "approve" and slot_values is not None:
        await _fill_slots(session, principal, post, slot_values)
    await _apply(session, principal, [post.id], decision, comment, now=now or clock.now())
    await session.refresh(post)
    return post


def _comment_required() -> ValidationFailed:
    message = "a rejection needs a comment: say why, the location reads it"
    return ValidationFailed(
        message, code="comment_required", errors=[FieldProblem("body.comment", message, "required")]
    )


@dataclass(frozen=True, slots=True)
class BulkResult:
    decided: int
    results: list[BulkResultOut]


async def decide_many(
    session: AsyncSession,
    principal: Principal,
    data: BulkDecisionIn,
    *,
    now: datetime | None = None,
) -> BulkResult:
    """One decision on many posts, answered per post; the ones that can be decided are, in
    one transaction, and the others are left as they were."""
    rows = (
        await session.execute(
            select(Post.id, Post.brand_id, Post.location_id, Post.status, Post.approval_kind)
            .where(Post.agency_id == principal.agency_id, Post.id.in_(data.post_ids))
            .order_by(Post.id)
            .with_for_update()
        )
    ).all()
    found = {row.id: row for row in rows}
    verdicts: dict[uuid.UUID, tuple[Outcome, str | None, str]] = {}
    decidable: list[uuid.UUID] = []
    for post_id in data.post_ids:
        row = found.get(post_id)
        target = Target(brand_id=row.brand_id, location_id=row.location_id) if row else None
        if row is None or target is None or not allowed(principal, "post.read", target):
            verdicts[post_id] = ("not_found", None, "post not found")
            continue
        needed = permission_for(row.approval_kind)
        if not allowed(principal, needed, target):
            verdicts[post_id] = (
                "not_allowed",
                row.status,
                f"this needs the permission '{needed}', which your role does not grant here",
            )
        elif row.status != PENDING:
            verdicts[post_id] = (
                "not_pending",
                row.status,
                f"not waiting for a decision: it is {row.status}",
            )
        else:
            decidable.append(post_id)
    applied = await _apply(
        session, principal, decidable, data.decision, data.comment, now=now or clock.now()
    )
    for post_id, a in applied.items():
        verdicts[post_id] = ("decided", a.status, a.reason)
    results = [
        BulkResultOut(post_id=i, outcome=o, status=s, detail=d)
        for i in data.post_ids
        for o, s, d in [verdicts[i]]
    ]
    return BulkResult(decided=len(applied), results=results)


# Signed links ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkView:
    claims: links.LinkClaims
    post: Post
    location: Location
    usable: bool
    reason: str | None


_RECIPIENT_GONE = (
    "the person this link was sent to can no longer decide this post; "
    "someone with access must decide it in Chorus"
)


async def _recipient(session: AsyncSession, claims: links.LinkClaims) -> Principal | None:
    grants = await access_repository.load_grants(session, claims.agency_id, claims.recipient_id)
    if not grants:
        return None
    return Principal(agency_id=claims.agency_id, grants=grants, user_id=claims.recipient_id)


async def _link_post(
    session: AsyncSession, claims: links.LinkClaims, *, lock: bool
) -> tuple[Post, Location]:
    stmt = (
        select(Post, Location)
        .join(
            Location,
            and_(Location.agency_id == Post.agency_id, Location.id == Post.location_id),
        )
        .where(Post.agency_id == claims.agency_id, Post.id == claims.post_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Post)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound("the post this link is about no longer exists", code="post_not_found")
    return row[0], row[1]


async def preview_link(
    session: AsyncSession, settings: Settings, redis: Redis, token: str
) -> LinkView:
    """What the link would do, changing nothing: mail scanners fetch every link they see."""
    claims = links.read(settings, token)
    await set_tenant(session, claims.agency_id, claims.recipient_id)
    post, location = await _link_post(session, claims, lock=False)
    principal = await _recipient(session, claims)
    reason: str | None = None
    if principal is None or not allowed(
        principal, permission_for(post.approval_kind), _target(post)
    ):
        reason = _RECIPIENT_GONE
    elif await links.is_used(redis, claims):
        reason = "this link was already used"
    elif post.status != PENDING:
        reason = f"this post is not waiting for a decision any more: it is {post.status}"
    return LinkView(claims, post, location, reason is None, reason)


async def use_link(
    session: AsyncSession,
    settings: Settings,
    redis: Redis,
    token: str,
    comment: str | None,
    *,
    now: datetime | None = None,
) -> Post:
    """Makes the link's decision as its recipient, once: 400 forged or expired, 403 when the
    recipient lost the permission, 409 when already used or the post no longer waits."""
    now = now or clock.now()
    claims = links.read(settings, token, now=now)
    comment = (comment or "").strip() or None
    if claims.decision == "reject" and comment is None:
        raise _comment_required()
    await set_tenant(session, claims.agency_id, claims.recipient_id)
    principal = await _recipient(session, claims)
    post, _ = await _link_post(session, claims, lock=True)
    if principal is None or not allowed(
        principal, permission_for(post.approval_kind), _target(post)
    ):
        raise Forbidden(_RECIPIENT_GONE, code="link_recipient_not_allowed")
    if not await links.claim(redis, claims, now=now):
        raise Conflict(
            "this link was already used; open the post in Chorus to see its status",
            code="link_already_used",
        )
    if post.status != PENDING:
        raise _not_pending(post)
    try:
        await _apply(
            session, principal, [post.id], claims.decision, comment, now=now, via="approval_link"
        )
        await session.refresh(post)
    except BaseException:
        await links.release(redis, claims)
        raise
    return post


# Mail --------------------------------------------------------------------------------------

_SCOPE_LEVEL = {ScopeType.LOCATION: 0, ScopeType.BRAND: 1, ScopeType.AGENCY: 2}
_DECIDING_ROLES = [
    role.value
    for role, actions in PERMISSIONS.items()
    if "post.approve" in actions or "post.confirm" in actions
]


@dataclass(frozen=True, slots=True)
class _Decider:
    user_id: uuid.UUID
    email: str
    name: str
    grants: tuple[Grant, ...]

    def level(self, action: str, target: Target) -> int | None:
        """How close the person's nearest grant allowing ``action`` sits to the post."""
        levels = [
            _SCOPE_LEVEL[grant.scope_type]
            for grant in self.grants
            if allowed(Principal(agency_id=uuid.UUID(int=0), grants=(grant,)), action, target)
        ]
        return min(levels) if levels else None


_Scope = tuple[ScopeType, uuid.UUID | None]


def _by_scope(deciders: list[_Decider]) -> dict[_Scope, list[_Decider]]:
    """The people holding a grant at each scope (the agency's: ``(AGENCY, None)``)."""
    index: dict[_Scope, list[_Decider]] = {}
    for decider in deciders:
        scopes = {
            (g.scope_type, None if g.scope_type is ScopeType.AGENCY else g.scope_id)
            for g in decider.grants
        }
        for scope in scopes:
            index.setdefault(scope, []).append(decider)
    return index


def _nearest(index: dict[_Scope, list[_Decider]], action: str, target: Target) -> list[uuid.UUID]:
    """Who decides a post at ``target``: of the people whose grants can reach it (the
    agency's, its brand's, its location's: no other grant covers a post), those nearest."""
    seen: dict[uuid.UUID, _Decider] = {}
    for scope in (
        (ScopeType.LOCATION, target.location_id),
        (ScopeType.BRAND, target.brand_id),
        (ScopeType.AGENCY, None),
    ):
        for decider in index.get(scope, ()):
            seen.setdefault(decider.user_id, decider)
    levels = {user_id: d.level(action, target) for user_id, d in seen.items()}
    nearest = min((lv for lv in levels.values() if lv is not None), default=None)
    if nearest is None:
        return []
    return [user_id for user_id, lv in levels.items() if lv == nearest]


async def _deciders(session: AsyncSession, agency_id: uuid.UUID) -> list[_Decider]:
    rows = (
        await session.execute(
            select(
                User.id,
                User.email,
                User.full_name,
                Membership.role,
                Membership.scope_type,
                Membership.scope_id,
                Location.brand_id,
            )
            .join(Membership, Membership.user_id == User.id)
            .outerjoin(
                Location,
                and_(
                    Location.agency_id == Membership.agency_id,
                    Location.id == Membership.scope_id,
                    Membership.scope_type == ScopeType.LOCATION.value,
                ),
            )
            .where(
                Membership.agency_id == agency_id,
                Membership.role.in_(_DECIDING_ROLES),
                User.is_active.is_(True),
            )
            .order_by(User.email)
        )
    ).all()
    people: dict[uuid.UUID, _Decider] = {}
    for user_id, email, name, role, scope_type, scope_id, brand_id in rows:
        grant = Grant(Role(role), ScopeType(scope_type), scope_id, brand_id)
        known = people.get(user_id)
        people[user_id] = _Decider(user_id, email, name, (known.grants if known else ()) + (grant,))
    return list(people.values())


def deadline_of(post: Post) -> datetime | None:
    """When the post's decision is due: its campaign's deadline, or else its time."""
    return post.decide_by or post.scheduled_at


def _local(when: datetime | None, time_zone: str) -> str:
    if when is None:
        return "as soon as approved"
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return when.astimezone(zone).strftime(f"%a %d %b %Y, %H:%M ({time_zone})")


def _link(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/approval-link?token={token}"


def _digest(
    settings: Settings,
    decider: _Decider,
    items: list[tuple[Post, Location]],
    *,
    now: datetime,
) -> tuple[str, str]:
    shown = items[:DIGEST_MAX_POSTS]
    count = len(items)
    subject = (
        "1 post waits for your approval" if count == 1 else f"{count} posts wait for your approval"
    )
    lines = [
        f"Hello {decider.name},",
        "",
        f"{subject} in Chorus. A post not decided by its deadline is skipped.",
        "Each link below works once, only for you, until the post's deadline. Opening it",
        "shows what it will do; nothing changes until you confirm there.",
        "",
    ]
    for number, (post, location) in enumerate(shown, start=1):
        due = deadline_of(post)
        expires_in = min((due or now + LINK_LIFETIME_MAX) - now, LINK_LIFETIME_MAX)
        approve = links.mint(settings, post, "approve", decider.user_id, expires_in, now=now)
        reject = links.mint(settings, post, "reject", decider.user_id, expires_in, now=now)
        kind = "confirm" if post.approval_kind == "location" else "approve"
        lines += [
            f"{number}. {location.name} · {post.platform} · "
            f"{_local(post.scheduled_at, location.time_zone)}",
            *(
                [f"   Decide by {_local(due, location.time_zone)}"]
                if due is not None and due != post.scheduled_at
                else []
            ),
            *(f"   | {line}" for line in post.text.splitlines() or [""]),
            f"   {kind.capitalize()}: {_link(settings, approve)}",
            f"   Reject:  {_link(settings, reject)}",
            "",
        ]
    if count > len(shown):
        lines += [
            f"… and {count - len(shown)} more: decide them in Chorus's approval queue.",
            "",
        ]
    base = settings.public_base_url.rstrip("/")
    lines.append(
        f"(API: GET {base}/v1/approval-links?token=… shows what a link does; "
        f"POST {base}/v1/approval-links/use with the token, and a comment for a rejection, "
        "decides.)"
    )
    return subject, "\n".join(lines) + "\n"


async def notify_pending(
    session: AsyncSession,
    settings: Settings,
    agency_id: uuid.UUID,
    post_ids: Sequence[uuid.UUID],
    *,
    redis: ArqRedis | None = None,
    now: datetime | None = None,
) -> int:
    """Queues ONE mail per person who can decide some of these posts (a digest of every one
    still pending, each with approve and reject links); returns how many mails.

    Each post goes to the people nearest to it who may decide it: the location's managers
    for a confirmation; the brand's managers for a brand approval, or the agency's owners
    and admins when the brand has none. Posts that no longer wait, or whose time has passed,
    are left out. Sets the tenant of ``agency_id`` on the session."""
    if not post_ids:
        return 0
    now = now or clock.now()
    await set_tenant(session, agency_id, None)
    rows = (
        await session.execute(
            select(Post, Location)
            .join(
                Location,
                and_(Location.agency_id == Post.agency_id, Location.id == Post.location_id),
            )
            .where(
                Post.agency_id == agency_id,
                Post.id == any_(bindparam("post_ids", list(post_ids), _UUIDS)),
                Post.status == PENDING,
            )
            .order_by(func.coalesce(Post.scheduled_at, literal(_NEVER)), Post.id)
        )
    ).all()
    pending = [
        (post, location)
        for post, location in rows
        if post.scheduled_at is None or post.scheduled_at > now
    ]
    if not pending:
        return 0
    deciders = await _deciders(session, agency_id)
    index = _by_scope(deciders)
    order = {d.user_id: n for n, d in enumerate(deciders)}
    chosen: dict[tuple[str, Target], list[uuid.UUID]] = {}
    digests: dict[uuid.UUID, list[tuple[Post, Location]]] = {}
    for post, location in pending:
        key = (permission_for(post.approval_kind), _target(post))
        if key not in chosen:  # a location's channels share their deciders
            chosen[key] = _nearest(index, *key)
        for user_id in chosen[key]:
            digests.setdefault(user_id, []).append((post, location))
    by_id = {d.user_id: d for d in deciders}
    for user_id in sorted(digests, key=order.__getitem__):
        items = digests[user_id]
        decider = by_id[user_id]
        subject, body = _digest(settings, decider, items, now=now)
        mail.queue(
            session,
            redis,
            agency_id=agency_id,
            to=decider.email,
            subject=subject,
            body=body,
            kind=MAIL_KIND,
        )
    await session.flush()
    return len(digests)


# Deadlines ---------------------------------------------------------------------------------

_SKIP_OVERDUE = text(
    """
    UPDATE post AS p
    SET status = 'skipped',
        status_reason = CASE WHEN p.scheduled_at <= :now THEN :reason ELSE :deadline_reason END,
        due_at = NULL,
        updated_at = now()
    FROM (
        SELECT agency_id, id FROM post
        WHERE status = 'needs_approval' AND (scheduled_at <= :now OR decide_by <= :now)
        ORDER BY coalesce(decide_by, scheduled_at)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE p.agency_id = due.agency_id AND p.id = due.id
    RETURNING p.agency_id, p.id, p.status_reason
    """
).bindparams(
    bindparam("now"), bindparam("limit"), bindparam("reason"), bindparam("deadline_reason")
)
"""Two partial indexes answer it (``ix_post_approval_deadline`` on the time,
``ix_post_decide_by`` on a campaign's deadline), combined by a bitmap OR."""


async def skip_overdue(session: AsyncSession, now: datetime, *, limit: int = 1000) -> int:
    """Posts still waiting for a decision when their deadline (their campaign's, or else
    their time) came are skipped, across agencies;
    returns how many (call again while it returns ``limit``).

    The session must have ``app.scan = 'post_dispatch'`` set (the ``named_scan`` policy on
    ``post``). History and events are written per agency, in that agency's tenant; the
    session's tenant is cleared afterwards."""
    rows = (
        await session.execute(
            _SKIP_OVERDUE,
            {
                "now": now,
                "limit": limit,
                "reason": NOT_DECIDED_IN_TIME,
                "deadline_reason": NOT_DECIDED_BY_DEADLINE,
            },
        )
    ).all()
    by_agency: dict[uuid.UUID, list[transitions.Moved]] = {}
    for agency_id, post_id, reason in rows:
        by_agency.setdefault(agency_id, []).append(
            transitions.Moved(post_id, PENDING, "skipped", reason)
        )
    try:
        for agency_id, moves in by_agency.items():
            await set_tenant(session, agency_id, None)
            await transitions.record_many(session, agency_id, moves, actor=transitions.SYSTEM)
    finally:
        if by_agency:
            await set_tenant(session, None, None)
    return len(rows)
