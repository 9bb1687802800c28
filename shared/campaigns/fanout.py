"""Fan-out: one post per audience location × channel, written in batches.

The job reads the audience in keyset batches of ``BATCH_SIZE`` locations (by id), renders
every location × channel from the version compiled once, checks each post (platform limits,
brand rules), decides its status and writes the batch with one multi-row ``INSERT … SELECT
FROM unnest(…) ON CONFLICT DO NOTHING`` and its history with ``record_many``: each batch
is one transaction, so the campaign's progress always matches what is written.

Running it again creates nothing twice: posts are unique on (agency, campaign, location,
platform), and a run resumes after the highest location id already written (batches commit
in id order, so every location below it is done). Only rows of one batch are in memory.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from shared.brand_rules import check as rules_check
from shared.brand_rules import service as rules_service
from shared.brand_rules.check import EffectiveRules
from shared.campaigns import audience as audience_sql
from shared.campaigns.schedule import PUBLISH_WINDOW, InstantCache
from shared.content import Media, PostContent
from shared.content import validate as validate_platform
from shared.db import Database, retry
from shared.events import service as events
from shared.posts import transitions
from shared.templates import service as template_service
from shared.templating import CompiledTemplate, RenderContext

log = structlog.get_logger("chorus.campaigns")

FAN_OUT_JOB = "campaign.fan_out"
BATCH_SIZE = 1000
WRITERS = 2
"""Batches written at once, each in its own transaction on its own connection."""

NO_ACCOUNT = "no connected account"
NOT_ALLOWED = "platform not allowed by the brand"
VALIDATION_FAILED = "validation failed"
TOO_LATE = "its time had passed when the campaign launched"
SCHEDULED = "scheduled by the campaign"
LOCATION_CONFIRM = "waiting for the location to confirm"
BRAND_APPROVAL = "waiting for the location's edits and the brand's approval"

_CAMPAIGN = """
    SELECT c.status, c.brand_id, c.template_id, c.template_version, c.audience, c.channels,
           c.schedule, c.variables, c.approval_policy, c.approval_deadline_hours,
           c.launched_by, b.name AS brand_name
    FROM campaign c JOIN brand b ON b.agency_id = c.agency_id AND b.id = c.brand_id
    WHERE c.agency_id = $1 AND c.id = $2
    FOR UPDATE OF c
"""

_WRITE = """
    WITH live AS (
        SELECT id FROM campaign
        WHERE agency_id = $1 AND id = $3 AND status = 'launching'
        FOR KEY SHARE
    ), ins AS (
        INSERT INTO post (agency_id, id, brand_id, location_id, campaign_id, template_id,
                          template_version, platform, text, title, media, status, status_reason,
                          scheduled_at, due_at, publish_deadline, approval_kind, account_id,
                          created_by, decide_by)
        SELECT $1, u.id, $2, u.location_id, $3, $4, $5, u.platform, u.text, u.title,
               u.media::jsonb, u.status, u.reason, u.scheduled_at, u.due_at, u.deadline,
               u.approval_kind, u.account_id, $6,
               CASE WHEN u.status = 'needs_approval' AND $23::int > 0
                    THEN u.scheduled_at - make_interval(hours => $23::int) END
        FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[],
                    $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[],
                    $17::timestamptz[], $18::text[], $19::uuid[])
             AS u(id, location_id, platform, text, title, media, status, reason, scheduled_at,
                  due_at, deadline, approval_kind, account_id)
        WHERE EXISTS (SELECT 1 FROM live)
        ON CONFLICT (agency_id, campaign_id, location_id, platform) DO NOTHING
        RETURNING id, location_id, platform, status, status_reason
    ), history AS (
        INSERT INTO post_status_change
            (agency_id, id, post_id, from_status, to_status, actor_type, actor_id, reason)
        SELECT $1, gen_random_uuid(), ins.id, NULL, ins.status, $22, NULL, ins.status_reason
        FROM ins
    ), raised AS (
        INSERT INTO outbox_event
            (agency_id, id, type, brand_id, location_id, subject_type, subject_id, payload)
        SELECT $1, gen_random_uuid(), e.type, $2, ins.location_id, 'post', ins.id,
               jsonb_build_object('platform', ins.platform, 'campaign_id', $3::uuid,
                                  'reason', ins.status_reason)
        FROM ins JOIN unnest($20::text[], $21::text[]) AS e(status, type)
             ON e.status = ins.status
    )
    SELECT (SELECT count(*) FROM live) AS live, (SELECT count(*) FROM ins) AS written
"""
"""One statement per batch: the campaign checked (still launching: a cancel in between stops
the fan-out here; ``KEY SHARE`` lets two batches write at once while a cancel's ``FOR
UPDATE`` waits for them), the posts, and for each new post
its history row and, for the statuses that raise one, its outbox event — the rows
``transitions.record_many`` writes, in the same round trip as the posts (``ins`` holds only
the posts this run created, so a re-run records nothing twice)."""

_EVENT_STATUSES = list(transitions.EVENT_OF_STATUS)
_EVENT_TYPES = [transitions.EVENT_OF_STATUS[s] for s in _EVENT_STATUSES]

_UNFINISHED = """
    SELECT EXISTS (SELECT 1 FROM post WHERE agency_id = $1 AND campaign_id = $2
                   AND status NOT IN ('published', 'failed', 'cancelled', 'skipped'))
"""


@dataclass(frozen=True, slots=True)
class Channel:
    """Everything about one platform that is the same for every location."""

    platform: str
    allowed: bool
    body: CompiledTemplate | None
    title: CompiledTemplate | None
    media: tuple[Media, ...]
    media_json: str
    rules: EffectiveRules
    media_problems: tuple[str, ...] = ()
    """What keeps the template's library media from going out here (the same for every
    location: checked once)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A campaign ready to fan out: the version compiled once, the rules resolved once."""

    agency_id: uuid.UUID
    campaign_id: uuid.UUID
    brand_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    launched_by: uuid.UUID | None
    audience: audience_sql.AudienceSQL
    channels: tuple[Channel, ...]
    brand: dict[str, object]
    variables: dict[str, object]
    waiting: tuple[str, str, str] | None
    """(status, approval_kind, reason) when posts wait for someone; None: scheduled."""
    deadline_hours: int
    """How long before its time a waiting post's decision is due (``post.decide_by``)."""
    instants: InstantCache


@dataclass(frozen=True, slots=True)
class Result:
    status: str
    written: int
    locations: int


def waiting_for(policy: str, has_slots: bool) -> tuple[str, str, str] | None:
    """A campaign post's approval, by policy: a location confirms each post; the brand
    approves local edits, which only exist where the template has slots to fill."""
    if policy == "location_confirm":
        return ("needs_approval", "location", LOCATION_CONFIRM)
    if policy == "brand_approval" and has_slots:
        return ("needs_approval", "brand", BRAND_APPROVAL)
    return None


async def _plan(
    session: AsyncSession, conn: asyncpg.Connection, agency_id: uuid.UUID, campaign_id: uuid.UUID
) -> tuple[str | None, Plan | None]:
    row = await conn.fetchrow(_CAMPAIGN, agency_id, campaign_id)
    if row is None:
        return None, None
    if row["status"] != "launching":
        return row["status"], None
    version = await conn.fetchrow(
        "SELECT bodies, titles, slots, media FROM template_version "
        "WHERE agency_id = $1 AND template_id = $2 AND version = $3",
        agency_id,
        row["template_id"],
        row["template_version"],
    )
    assert version is not None  # RESTRICT keeps the template; versions are never deleted
    compiled = template_service.compile_content(
        version["bodies"], version["titles"], version["slots"]
    )
    rules = await rules_service.rules_for(session, agency_id, row["brand_id"])
    library = await template_service.library_of(session, agency_id, version["media"])
    channels = []
    # In platform order: with the audience read in location id order, each batch inserts its
    # posts in the order of their unique key (location, platform), so two runs of one
    # campaign wait for each other's rows in one order (see ``_write``).
    for platform in sorted(row["channels"]):
        raw_media = version["media"].get(platform) or version["media"].get("default") or []
        channels.append(
            Channel(
                platform=platform,
                allowed=rules.allowed_platforms is None or platform in rules.allowed_platforms,
                body=compiled.get(f"bodies.{platform}") or compiled.get("bodies.default"),
                title=compiled.get(f"titles.{platform}") or compiled.get("titles.default"),
                media=template_service.media_of(raw_media, library),
                media_json=orjson.dumps(raw_media).decode(),
                rules=rules_service.effective(rules, platform),
                media_problems=tuple(
                    p.message for p in template_service.media_problems(platform, raw_media, library)
                ),
            )
        )
    plan = Plan(
        agency_id=agency_id,
        campaign_id=campaign_id,
        brand_id=row["brand_id"],
        template_id=row["template_id"],
        template_version=row["template_version"],
        launched_by=row["launched_by"],
        audience=audience_sql.audience_sql(agency_id, row["brand_id"], row["audience"]),
        channels=tuple(channels),
        brand={"name": row["brand_name"]},
        variables=dict(row["variables"]),
        waiting=waiting_for(row["approval_policy"], bool(version["slots"])),
        deadline_hours=row["approval_deadline_hours"],
        instants=InstantCache(row["schedule"]),
    )
    return "launching", plan


def _problems(
    channel: Channel, text: str, title: str | None, brand_checks: dict[Any, list[str]]
) -> list[str]:
    post = PostContent(text=text, title=title, media=channel.media)
    problems = [v.message for v in validate_platform(channel.platform, post)]
    problems += channel.media_problems
    # The brand's rules give the same answer for the same text under the same rules (the
    # platform only names itself in ``platform_not_allowed``, decided before): channels
    # sharing a body are checked once per location.
    key = (channel.rules, text)
    brand = brand_checks.get(key)
    if brand is None:
        brand = brand_checks[key] = [
            v.message
            for v in rules_check.check(channel.rules, channel.platform, text)
            if v.code != "platform_not_allowed"
        ]
    problems += brand
    if channel.body is None:
        problems.append(f"the template has no body for {channel.platform} and no default body")
    return problems


class _Rows:
    """Column arrays of one batch, for the unnest insert."""

    __slots__ = (
        "account_id",
        "approval_kind",
        "deadline",
        "due_at",
        "id",
        "location_id",
        "media",
        "platform",
        "reason",
        "scheduled_at",
        "status",
        "text",
        "title",
    )

    def __init__(self) -> None:
        self.id: list[uuid.UUID] = []
        self.location_id: list[uuid.UUID] = []
        self.platform: list[str] = []
        self.text: list[str] = []
        self.title: list[str | None] = []
        self.media: list[str] = []
        self.status: list[str] = []
        self.reason: list[str] = []
        self.scheduled_at: list[datetime] = []
        self.due_at: list[datetime | None] = []
        self.deadline: list[datetime] = []
        self.approval_kind: list[str | None] = []
        self.account_id: list[uuid.UUID | None] = []


def render_batch(
    plan: Plan,
    locations: Sequence[asyncpg.Record],
    now: datetime,
) -> _Rows:
    rows = _Rows()
    waiting = plan.waiting
    for location in locations:
        location_id = location["id"]
        accounts = dict(zip(location["platforms"] or (), location["accounts"] or (), strict=True))
        fields: dict[str, object] = dict(location)
        fields["custom"] = location["custom_fields"]
        context = RenderContext.build(location=fields, brand=plan.brand, campaign=plan.variables)
        at = plan.instants(location["time_zone"])
        deadline = at + PUBLISH_WINDOW
        rendered: dict[int, str] = {}
        brand_checks: dict[Any, list[str]] = {}
        for channel in plan.channels:
            body = channel.body
            if body is None:
                text = ""
            else:
                text = rendered.get(id(body)) or ""
                if id(body) not in rendered:
                    text = rendered[id(body)] = body.render(context)
            title = channel.title.render(context) if channel.title is not None else None
            account = accounts.get(channel.platform)
            approval_kind = None
            due_at = None
            if not channel.allowed:
                status, reason = "skipped", NOT_ALLOWED
            elif account is None:
                status, reason = "skipped", NO_ACCOUNT
            elif problems := _problems(channel, text, title, brand_checks):
                status, reason = "skipped", f"{VALIDATION_FAILED}: " + "; ".join(problems)
            elif waiting is not None:
                status, approval_kind, reason = waiting
            elif deadline <= now:
                status, reason = "skipped", TOO_LATE
            else:
                status, reason, due_at = "scheduled", SCHEDULED, at
            rows.id.append(uuid7())
            rows.location_id.append(location_id)
            rows.platform.append(channel.platform)
            rows.text.append(text)
            rows.title.append(title)
            rows.media.append(channel.media_json)
            rows.status.append(status)
            rows.reason.append(reason)
            rows.scheduled_at.append(at)
            rows.due_at.append(due_at)
            rows.deadline.append(deadline)
            rows.approval_kind.append(approval_kind)
            rows.account_id.append(account)
    return rows


async def _write(db: Database, plan: Plan, rows: _Rows, locations: int) -> tuple[bool, int]:
    """One batch in one transaction: (still launching?, posts written).

    The rows arrive in (location id, platform) order, the order of the posts' unique key, so
    a concurrent run of the same campaign (a job run twice) waits for this batch's rows in
    the order this one takes them, never holding one this batch waits for. A deadlock or a
    serialization failure that happens all the same (another writer) re-runs the batch's
    transaction: nothing of a failed try was committed and the insert skips what exists."""
    return await retry.run_transaction(
        db,
        lambda session: _write_batch(session, plan, rows, locations),
        agency_id=plan.agency_id,
        what="a fan-out batch",
    )


async def _write_batch(
    session: AsyncSession, plan: Plan, rows: _Rows, locations: int
) -> tuple[bool, int]:
    conn = await audience_sql.driver(session)
    record = await conn.fetchrow(
        _WRITE,
        plan.agency_id,
        plan.brand_id,
        plan.campaign_id,
        plan.template_id,
        plan.template_version,
        plan.launched_by,
        rows.id,
        rows.location_id,
        rows.platform,
        rows.text,
        rows.title,
        rows.media,
        rows.status,
        rows.reason,
        rows.scheduled_at,
        rows.due_at,
        rows.deadline,
        rows.approval_kind,
        rows.account_id,
        _EVENT_STATUSES,
        _EVENT_TYPES,
        transitions.SYSTEM.kind,
        plan.deadline_hours,
    )
    assert record is not None
    if not record["live"]:
        return False, 0
    # Last, so that a concurrent batch waits on the row only until this one commits.
    await conn.execute(
        "UPDATE campaign SET fanout_done = fanout_done + $3, updated_at = now() "
        "WHERE agency_id = $1 AND id = $2",
        plan.agency_id,
        plan.campaign_id,
        locations,
    )
    return True, int(record["written"])


async def _finish(session: AsyncSession, conn: asyncpg.Connection, plan: Plan) -> str:
    """Launching → running (or completed, when nothing of it is left to publish)."""
    unfinished = await conn.fetchval(_UNFINISHED, plan.agency_id, plan.campaign_id)
    status = "running" if unfinished else "completed"
    await conn.execute(
        "UPDATE campaign SET status = $3::text, fanout_done = fanout_total, updated_at = now(), "
        "completed_at = CASE WHEN $3::text = 'completed' THEN now() END "
        "WHERE agency_id = $1 AND id = $2",
        plan.agency_id,
        plan.campaign_id,
        status,
    )
    if status == "completed":
        events.emit(
            session,
            agency_id=plan.agency_id,
            type="campaign.completed",
            subject_type="campaign",
            subject_id=plan.campaign_id,
            brand_id=plan.brand_id,
            payload={"reason": "every post reached an ending at fan-out"},
        )
    return status


async def _close(session: AsyncSession, plan: Plan) -> str | None:
    """The campaign's status after the fan-out, or None when it is no longer launching."""
    conn = await audience_sql.driver(session)
    current = await conn.fetchval(
        "SELECT status FROM campaign WHERE agency_id = $1 AND id = $2 FOR UPDATE",
        plan.agency_id,
        plan.campaign_id,
    )
    if current != "launching":
        return None
    return await _finish(session, conn, plan)


async def _start(
    db: Database, agency_id: uuid.UUID, campaign_id: uuid.UUID, batch_size: int
) -> tuple[str | None, Plan | None, uuid.UUID | None, int]:
    """The plan, where to resume (the last location written) and how much is done."""
    return await retry.run_transaction(
        db,
        lambda session: _start_in(session, agency_id, campaign_id, batch_size),
        agency_id=agency_id,
        what="starting a fan-out",
    )


async def _start_in(
    session: AsyncSession, agency_id: uuid.UUID, campaign_id: uuid.UUID, batch_size: int
) -> tuple[str | None, Plan | None, uuid.UUID | None, int]:
    conn = await audience_sql.driver(session)
    status, plan = await _plan(session, conn, agency_id, campaign_id)
    if plan is None:
        return status, None, None, 0
    written: uuid.UUID | None = await conn.fetchval(
        "SELECT location_id FROM post WHERE agency_id = $1 AND campaign_id = $2 "
        "ORDER BY location_id DESC LIMIT 1",
        agency_id,
        campaign_id,
    )
    # Up to WRITERS batches commit out of order: everything more than WRITERS + 1
    # batches below the last location written is surely done (ON CONFLICT absorbs the
    # overlap, and an audience changed since by a few locations).
    after = (
        await audience_sql.before(conn, plan.audience, written, (WRITERS + 1) * batch_size)
        if written is not None
        else None
    )
    total = await audience_sql.count(conn, plan.audience)
    done = await audience_sql.count(conn, plan.audience, up_to=after) if after else 0
    await conn.execute(
        "UPDATE campaign SET fanout_total = $3, fanout_done = $4, updated_at = now() "
        "WHERE agency_id = $1 AND id = $2",
        agency_id,
        campaign_id,
        total,
        done,
    )
    return status, plan, after, done


async def run(
    db: Database,
    agency_id: uuid.UUID,
    campaign_id: uuid.UUID,
    *,
    batch_size: int = BATCH_SIZE,
) -> Result:
    """Fan the campaign out if it is launching; a no-op for any other status.

    Pipelined: while up to ``WRITERS`` batches are written (each in its own transaction on
    its own connection), the next is read (on a reader connection) and rendered."""
    status, plan, after, done = await _start(db, agency_id, campaign_id, batch_size)
    if plan is None:
        log.info("campaign.fan_out_skipped", campaign_id=str(campaign_id), status=status)
        return Result(status or "missing", 0, 0)
    platforms = [c.platform for c in plan.channels]
    written = 0
    async with db.transaction(agency_id) as reader:
        conn = await audience_sql.driver(reader)

        def read(start: uuid.UUID | None) -> asyncio.Task[list[asyncpg.Record]]:
            return asyncio.create_task(
                audience_sql.batch(conn, plan.audience, platforms, after=start, limit=batch_size)
            )

        pending_read = read(after)
        writes: deque[asyncio.Task[tuple[bool, int]]] = deque()
        live = True
        while live:
            locations = await pending_read
            last = len(locations) < batch_size
            if not last:
                pending_read = read(locations[-1]["id"])
            rows = render_batch(plan, locations, datetime.now(UTC)) if locations else None
            while len(writes) >= WRITERS:
                ok, count = await writes.popleft()
                written += count
                live = live and ok
            if not live:
                break
            if rows is not None:
                writes.append(asyncio.create_task(_write(db, plan, rows, len(locations))))
                done += len(locations)
            if last:
                while writes:
                    ok, count = await writes.popleft()
                    written += count
                    live = live and ok
                break
        for task in writes:
            ok, count = await task
            written += count
        if not pending_read.done():
            await pending_read
    if live:
        final = await retry.run_transaction(
            db, lambda session: _close(session, plan), agency_id=agency_id, what="a fan-out's end"
        )
        if final is not None:
            log.info(
                "campaign.fanned_out",
                campaign_id=str(campaign_id),
                locations=done,
                written=written,
                status=final,
            )
            return Result(final, written, done)
    log.info("campaign.fan_out_stopped", campaign_id=str(campaign_id), written=written)
    return Result("stopped", written, done)
