"""Every change of a post's status goes through here: the row, its history entry (who or
what, when, why) and, for the changes others react to, an outbox event — all in the caller's
transaction, so none exists without the others.

One post at a time (:func:`move`) for the API's paths; many at once (:func:`move_many`) as two
set-based statements for the fan-out, the dispatcher and bulk approvals.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import service as events
from shared.posts.models import Post, PostStatusChange

EVENT_OF_STATUS = {
    "published": "post.published",
    "failed": "post.failed",
    "needs_approval": "post.needs_approval",
    "skipped": "post.skipped",
}
"""Statuses that raise an event (``post.published`` …) when a post reaches them."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who moved the post: a user, an API key, or the system (a job), by kind and id."""

    kind: str
    id: uuid.UUID | None = None


SYSTEM = Actor("system")


def move(
    session: AsyncSession,
    post: Post,
    to: str,
    *,
    actor: Actor,
    reason: str,
    event_payload: dict[str, Any] | None = None,
) -> None:
    """Set ``post.status`` to ``to`` and record why; adds the history row (and the event)."""
    before = post.status
    post.status = to
    post.status_reason = reason
    session.add(
        PostStatusChange(
            agency_id=post.agency_id,
            post_id=post.id,
            from_status=before,
            to_status=to,
            actor_type=actor.kind,
            actor_id=actor.id,
            reason=reason,
        )
    )
    event = EVENT_OF_STATUS.get(to)
    if event is not None and before != to:
        events.emit(
            session,
            agency_id=post.agency_id,
            type=event,
            subject_type="post",
            subject_id=post.id,
            brand_id=post.brand_id,
            location_id=post.location_id,
            payload={
                "platform": post.platform,
                "campaign_id": str(post.campaign_id) if post.campaign_id else None,
                "reason": reason,
                **(event_payload or {}),
            },
        )


_HISTORY = text(
    """
    INSERT INTO post_status_change
        (agency_id, id, post_id, from_status, to_status, actor_type, actor_id, reason)
    SELECT :agency_id, gen_random_uuid(), m.post_id, m.from_status, m.to_status,
           :actor_type, :actor_id, m.reason
    FROM unnest(CAST(:post_ids AS uuid[]), CAST(:froms AS text[]), CAST(:tos AS text[]),
                CAST(:reasons AS text[])) AS m(post_id, from_status, to_status, reason)
    """
)

_EVENTS = text(
    """
    INSERT INTO outbox_event
        (agency_id, id, type, brand_id, location_id, subject_type, subject_id, payload)
    SELECT p.agency_id, gen_random_uuid(), m.type, p.brand_id, p.location_id, 'post', p.id,
           jsonb_build_object('platform', p.platform, 'campaign_id', p.campaign_id,
                              'reason', m.reason)
    FROM unnest(CAST(:post_ids AS uuid[]), CAST(:types AS text[]), CAST(:reasons AS text[]))
         AS m(post_id, type, reason)
    JOIN post p ON p.agency_id = :agency_id AND p.id = m.post_id
    """
)


@dataclass(frozen=True, slots=True)
class Moved:
    post_id: uuid.UUID
    from_status: str | None
    to_status: str
    reason: str


async def record_many(
    session: AsyncSession, agency_id: uuid.UUID, moves: Sequence[Moved], *, actor: Actor
) -> None:
    """The history rows and events of status changes already applied to the rows (by a
    set-based UPDATE … RETURNING of the caller): two statements however many posts."""
    if not moves:
        return
    await session.execute(
        _HISTORY,
        {
            "agency_id": agency_id,
            "actor_type": actor.kind,
            "actor_id": actor.id,
            "post_ids": [m.post_id for m in moves],
            "froms": [m.from_status for m in moves],
            "tos": [m.to_status for m in moves],
            "reasons": [m.reason for m in moves],
        },
    )
    evented = [m for m in moves if m.to_status in EVENT_OF_STATUS and m.from_status != m.to_status]
    if evented:
        await session.execute(
            _EVENTS,
            {
                "agency_id": agency_id,
                "post_ids": [m.post_id for m in evented],
                "types": [EVENT_OF_STATUS[m.to_status] for m in evented],
                "reasons": [m.reason for m in evented],
            },
        )


def due_at_for(status: str, scheduled_at: datetime | None) -> datetime | None:
    """When the dispatcher should first look at a post entering ``status``."""
    return scheduled_at if status == "scheduled" else None
