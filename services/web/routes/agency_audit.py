"""The agency's audit log: who did what to which object, when and from where, newest first,
filtered by who (a person or an API key), action, day from/to, object type and id; paged.

The same service as ``/v1/audit-events`` (owners and administrators: ``audit.read``). The
page reads its names in a fixed number of statements whatever the page holds: the people and
keys of the page's events at once, and the choices of the "who" filter."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared.access.models import ApiKey, Membership
from shared.access.policy import authorize
from shared.audit import service as audit_service
from shared.audit.models import AuditEvent
from shared.errors import AppError
from shared.identity.models import User
from shared.tenancy import scoped

router = web_router()

PAGE = 50
TEXT = 80


@dataclass(frozen=True, slots=True)
class Filters:
    who: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    object_type: str = ""
    object_id: str = ""

    def query(self, **more: str) -> str:
        values: dict[str, str] = {}
        for name in ("who", "action", "since", "until", "object_type", "object_id"):
            value = getattr(self, name)
            if value:
                values[name] = value
        values.update({k: v for k, v in more.items() if v})
        return urlencode(values)


@dataclass(frozen=True, slots=True)
class Parsed:
    audit: audit_service.AuditFilter
    problems: dict[str, str] = field(default_factory=dict)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse(t: Any, f: Filters) -> Parsed:
    problems: dict[str, str] = {}
    actor_id = None
    if f.who:
        kind, _, raw = f.who.partition(":")
        try:
            actor_id = uuid.UUID(raw)
        except ValueError:
            actor_id = None
        if kind not in ("user", "api_key") or actor_id is None:
            problems["who"] = t.gettext("Choose someone from the list.")
    since = until = None
    if f.since:
        day = _day(f.since)
        if day is None:
            problems["since"] = t.gettext("Enter the date like 2031-12-31.")
        else:
            since = datetime.combine(day, time(), tzinfo=UTC)
    if f.until:
        day = _day(f.until)
        if day is None:
            problems["until"] = t.gettext("Enter the date like 2031-12-31.")
        else:
            until = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    if since and until and until <= since:
        problems["until"] = t.gettext("The last day comes on or after the first.")
    object_id = None
    if f.object_id:
        try:
            object_id = uuid.UUID(f.object_id)
        except ValueError:
            problems["object_id"] = t.gettext(
                "An object id looks like 0190c5e2-7a4b-7c1d-8e9f-0a1b2c3d4e5f."
            )
    return Parsed(
        audit_service.AuditFilter(
            actor_id=actor_id,
            action=f.action or None,
            object_type=f.object_type or None,
            object_id=object_id,
            since=since,
            until=until,
        ),
        problems,
    )


@dataclass(frozen=True, slots=True)
class Row:
    event: AuditEvent
    who: str
    changes: list[tuple[str, str, str]]


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    found = []
    for name, change in sorted((event.changes or {}).items()):
        if isinstance(change, dict) and ("before" in change or "after" in change):
            if change.get("before") is None:  # set for the first time: its value alone
                found.append((name, "", _shown(change.get("after"))))
            else:
                found.append((name, _shown(change.get("before")), _shown(change.get("after"))))
        else:
            found.append((name, "", _shown(change)))
    return found


async def _names(
    session: Session, viewer: Viewer, events: list[AuditEvent]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """Who the page's events name: people and keys, one statement each."""
    user_ids = {e.actor_id for e in events if e.actor_type == "user" and e.actor_id}
    key_ids = {e.actor_id for e in events if e.actor_type == "api_key" and e.actor_id}
    users = await session.execute(
        select(User.id, User.full_name, User.email).where(User.id.in_(user_ids))
    )
    keys = await session.execute(
        select(ApiKey.id, ApiKey.name).where(
            ApiKey.agency_id == viewer.principal.agency_id, ApiKey.id.in_(key_ids)
        )
    )
    return (
        {row.id: row.full_name or row.email for row in users},
        {row.id: row.name for row in keys},
    )


async def _who_choices(
    session: Session, viewer: Viewer
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The agency's people (by name) and its API keys: the "who" filter's choices."""
    agency_id = viewer.principal.agency_id
    people = await session.execute(
        select(User.id, User.full_name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency_id)
        .group_by(User.id, User.full_name, User.email)
        .order_by(User.full_name, User.email)
    )
    keys = await session.execute(
        scoped(ApiKey, viewer.principal)
        .with_only_columns(ApiKey.id, ApiKey.name)
        .order_by(ApiKey.name, ApiKey.id)
    )
    return (
        [(f"user:{row.id}", f"{row.full_name} ({row.email})") for row in people],
        [(f"api_key:{row.id}", row.name) for row in keys],
    )


@router.get("/agency/audit")
async def audit_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    who: Annotated[str, Query(max_length=TEXT)] = "",
    action: Annotated[str, Query(max_length=TEXT)] = "",
    since: Annotated[str, Query(max_length=TEXT)] = "",
    until: Annotated[str, Query(max_length=TEXT)] = "",
    object_type: Annotated[str, Query(max_length=TEXT)] = "",
    object_id: Annotated[str, Query(max_length=TEXT)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    authorize(viewer.principal, "audit.read")
    t = translator(request)
    filters = Filters(
        who.strip(),
        action.strip(),
        since.strip(),
        until.strip(),
        object_type.strip(),
        object_id.strip(),
    )
    parsed = _parse(t, filters)
    events: list[AuditEvent] = []
    next_cursor = None
    if not parsed.problems:
        try:
            events, next_cursor, _ = await audit_service.list_events(
                session, viewer.principal, parsed.audit, limit=PAGE, cursor=cursor
            )
        except AppError as exc:  # a cursor from another listing: start again
            if exc.error_code != "invalid_cursor":
                raise
            return redirect("/agency/audit?" + filters.query())
    users, keys = await _names(session, viewer, events)
    rows = []
    for e in events:
        if e.actor_type == "user" and e.actor_id:
            name = users.get(e.actor_id, str(e.actor_id))
        elif e.actor_type == "api_key" and e.actor_id:
            name = t.gettext("Key %(name)s", name=keys.get(e.actor_id, str(e.actor_id)))
        else:
            name = t.gettext("Chorus itself")
        rows.append(Row(e, name, _changes(e)))
    people, key_choices = await _who_choices(session, viewer)
    return render(
        request,
        "agency/audit.html",
        {
            "rows": rows,
            "filters": filters,
            "problems": parsed.problems,
            "people": people,
            "key_choices": key_choices,
            "next_url": (
                "/agency/audit?" + filters.query(cursor=next_cursor) if next_cursor else None
            ),
            "first_url": "/agency/audit?" + filters.query() if cursor else None,
            "filtered": filters.query() != "",
        },
        status_code=422 if parsed.problems else 200,
    )
