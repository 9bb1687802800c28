"""Approvals: the posts a campaign asks the viewer's location to confirm, and the page where
one is confirmed (with the template's open slots filled) or rejected with a reason.

The same services as the API's ``GET /v1/locations/{id}/approvals`` and
``POST /v1/posts/{id}/approve|reject`` (``shared.approvals.service``), under the same policy
(``post.confirm`` on the location). A campaign writes one post per platform; the page shows
them together and decides them together, since the slots are filled once for all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.api.deps import Session
from services.web import post_words
from services.web import preview as live
from services.web.deps import SignedIn, Viewer
from services.web.i18n import Translator
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access.policy import Target, authorize
from shared.approvals import service as approval_service
from shared.approvals.schemas import COMMENT_MAX
from shared.campaigns.models import Campaign
from shared.content.platforms import PLATFORMS
from shared.errors import AppError, BadRequest, NotFound
from shared.posts import service as post_service
from shared.posts.models import Post
from shared.templates import service as template_service
from shared.templates.schemas import SlotIn

router = web_router()

PAGE_SIZE = 50
"""Waiting posts per page of the list (a campaign's platforms share one row)."""
MAX_PLATFORMS = 16
_ORDER = {name: n for n, name in enumerate(PLATFORMS)}
"""A request's platforms in the order the compose page lists them."""


@dataclass(frozen=True, slots=True)
class Row:
    """One campaign's request at this location: its waiting posts (one per platform)."""

    first: Post
    campaign_name: str | None
    platforms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Asked:
    """What one approval page is about: the post of the URL and the other waiting posts of
    its campaign at this location, the template's slots and the campaign's variables."""

    post: Post
    posts: tuple[Post, ...]
    slots: dict[str, SlotIn]
    campaign_name: str | None
    variables: dict[str, str]

    @property
    def waiting(self) -> bool:
        return bool(self.posts)


async def _campaign_names(
    session: Session, viewer: Viewer, ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """The campaigns' names (and variables), in one query."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.variables)
        .where(Campaign.agency_id == viewer.principal.agency_id)
        .where(Campaign.id.in_(ids))
    )
    return {row.id: (row.name, dict(row.variables or {})) for row in rows.all()}


def _location(viewer: Viewer) -> uuid.UUID:
    if viewer.location is None:
        raise NotFound("no location")
    return viewer.location.id


def post_id_of(value: object) -> uuid.UUID:
    """A post id from a URL or a form; anything else is the 404 page."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("post not found") from None


async def load(session: Session, viewer: Viewer, post_id: uuid.UUID | str) -> Asked:
    """The approval of ``post_id`` at the viewer's location: 404 when the post is another
    location's (or no confirmation, or no id at all), 403 without ``post.confirm``."""
    location_id = _location(viewer)
    post = await post_service.get_post(session, viewer.principal, post_id_of(post_id))
    if post.location_id != location_id or post.approval_kind != "location":
        raise NotFound("post not found")
    authorize(
        viewer.principal,
        approval_service.permission_for(post.approval_kind),
        Target(brand_id=post.brand_id, location_id=post.location_id),
        object_type="post",
    )
    posts: tuple[Post, ...] = ()
    if post.status == approval_service.PENDING:
        if post.campaign_id is None:
            posts = (post,)
        else:
            queue = await approval_service.location_queue(
                session,
                viewer.principal,
                location_id,
                approval_service.QueueFilter(campaign_id=post.campaign_id),
                limit=MAX_PLATFORMS,
                cursor=None,
            )
            same_time = [p.post for p in queue.items if p.post.scheduled_at == post.scheduled_at]
            posts = tuple(sorted(same_time, key=lambda p: _ORDER.get(p.platform, 99)))
    version = await template_service.get_version(
        session, viewer.principal, post.template_id, post.template_version
    )
    names = await _campaign_names(
        session, viewer, {post.campaign_id} if post.campaign_id else set()
    )
    name, variables = names.get(post.campaign_id, (None, {})) if post.campaign_id else (None, {})
    return Asked(
        post=post,
        posts=posts,
        slots=live.reading_order(version.slots, version.bodies),
        campaign_name=name,
        variables={str(k): str(v) for k, v in variables.items()},
    )


def _stored_values(asked: Asked) -> dict[str, str]:
    return {str(k): str(v) for k, v in (asked.post.slot_values or {}).items()}


async def preview_of(
    session: Session, viewer: Viewer, t: Translator, asked: Asked, values: dict[str, str]
) -> live.Preview:
    """Every waiting post of the request rendered with ``values``, as approving would."""
    return await live.build(
        session,
        viewer.principal,
        t,
        template_id=asked.post.template_id,
        version=asked.post.template_version,
        location_id=asked.post.location_id,
        slots=asked.slots,
        slot_values=values,
        platforms=[p.platform for p in asked.posts],
        campaign_variables=asked.variables,
    )


# The list ------------------------------------------------------------------------------------


@router.get("/approvals")
async def approvals_list(
    request: Request,
    viewer: SignedIn,
    session: Session,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    decided: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    t = translator(request)
    location_id = _location(viewer)
    try:
        page = await approval_service.location_queue(
            session,
            viewer.principal,
            location_id,
            approval_service.QueueFilter(),
            limit=PAGE_SIZE,
            cursor=cursor,
        )
    except BadRequest:  # a cursor of another listing, or cut short
        await session.rollback()
        return redirect("/approvals")
    names = await _campaign_names(
        session, viewer, {p.post.campaign_id for p in page.items if p.post.campaign_id}
    )
    rows: list[Row] = []
    by_key: dict[tuple[Any, ...], int] = {}
    for item in page.items:
        post = item.post
        key = (post.campaign_id or post.id, post.scheduled_at)
        if key in by_key:
            row = rows[by_key[key]]
            rows[by_key[key]] = Row(row.first, row.campaign_name, (*row.platforms, post.platform))
            continue
        by_key[key] = len(rows)
        named = names.get(post.campaign_id) if post.campaign_id else None
        rows.append(Row(post, named[0] if named else None, (post.platform,)))
    rows = [
        Row(r.first, r.campaign_name, tuple(sorted(r.platforms, key=lambda p: _ORDER.get(p, 99))))
        for r in rows
    ]
    flash = {
        "approved": t.gettext("Confirmed: the posts are scheduled."),
        "rejected": t.gettext("Rejected: the posts will not go out."),
        "gone": t.gettext("Those posts are no longer waiting: someone decided them already."),
    }.get(decided or "")
    return render(
        request,
        "approvals/list.html",
        {
            "rows": rows,
            "next_cursor": page.next_cursor,
            "platform_name": live.platform_name,
            "flash": flash,
        },
    )


# One approval --------------------------------------------------------------------------------


def _page(
    request: Request,
    asked: Asked,
    *,
    values: dict[str, str],
    preview: live.Preview | None,
    comment: str = "",
    reason: str = "",
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    return render(
        request,
        "approvals/detail.html",
        {
            "asked": asked,
            "fields": live.slot_fields(asked.slots, values),
            "preview": preview,
            "comment": comment,
            "reason": reason,
            "problems": problems or {},
            "comment_max": COMMENT_MAX,
            "platform_name": live.platform_name,
            "status_name": t.gettext(post_words.STATUS_NAMES.get(asked.post.status, "")),
        },
        status_code=status_code,
    )


@router.get("/approvals/{post_id}")
async def approval_page(
    request: Request, post_id: str, viewer: SignedIn, session: Session
) -> Response:
    t = translator(request)
    asked = await load(session, viewer, post_id)
    values = _stored_values(asked)
    preview = await preview_of(session, viewer, t, asked, values) if asked.waiting else None
    # The stored text is what goes out if confirmed untouched; the preview is shown with it,
    # its problems only once the person has typed (a fresh request has empty slots).
    if preview is not None and not values:
        preview = live.Preview(platforms=preview.platforms)
    return _page(request, asked, values=values, preview=preview)


def _text_field(form: Any, name: str) -> str:
    """A field read from the form itself. These routes declare no form parameters, so that
    odd input in a typed field (a NUL byte) comes back as a problem next to it rather than
    the app-wide 400 page (``services.api.validation`` checks declared bodies only)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _gone(request: Request, asked: Asked) -> Response:
    return _page(request, asked, values=_stored_values(asked), preview=None, status_code=409)


@router.post("/approvals/{post_id}/approve")
async def approve(
    request: Request,
    post_id: str,
    viewer: SignedIn,
    session: Session,
) -> Response:
    """``action=preview`` re-renders the page with the preview (nothing written); else every
    waiting post of the request is rendered with the slots, checked, and confirmed."""
    t = translator(request)
    asked = await load(session, viewer, post_id)
    if not asked.waiting:
        return _gone(request, asked)
    form = await request.form()
    action = _text_field(form, "action")
    values = live.slot_values_of(form, asked.slots)
    preview = await preview_of(session, viewer, t, asked, values)
    problems = dict(preview.slot_problems)
    comment = _text_field(form, "comment")
    if len(comment) > COMMENT_MAX:
        problems["comment"] = t.gettext("Use at most %(max)s characters.", max=COMMENT_MAX)
    elif "\x00" in comment:
        problems["comment"] = t.gettext("Remove the invisible NUL character from this text.")
    if action == "preview" or problems or not preview.ok:
        status = 200 if action == "preview" else 422
        if status == 422 and not problems:
            problems[""] = t.gettext(
                "Fix the problems shown under the platforms before confirming."
            )
        return _page(
            request,
            asked,
            values=values,
            preview=preview,
            comment=comment,
            problems=problems,
            status_code=status,
        )
    try:
        async with all_or_nothing(session, {asked.post, *asked.posts}):
            for post in asked.posts:
                await approval_service.decide(
                    session,
                    viewer.principal,
                    post.id,
                    "approve",
                    comment or None,
                    slot_values=values if asked.slots else None,
                )
    except AppError as exc:
        if exc.error_code == "not_pending":
            return redirect("/approvals?decided=gone")
        if exc.status_code not in (409, 422):
            raise
        # Changed since the preview (another tab, the brand's rules): nothing was decided.
        problems[""] = t.gettext("Nothing was decided: %(why)s", why=exc.message)
        return _page(
            request,
            asked,
            values=values,
            preview=preview,
            comment=comment,
            problems=problems,
            status_code=exc.status_code,
        )
    return redirect("/approvals?decided=approved")


@router.post("/approvals/{post_id}/reject")
async def reject(
    request: Request,
    post_id: str,
    viewer: SignedIn,
    session: Session,
) -> Response:
    t = translator(request)
    asked = await load(session, viewer, post_id)
    if not asked.waiting:
        return _gone(request, asked)
    reason = _text_field(await request.form(), "reason")
    problem = None
    if not reason:
        problem = t.gettext("Say why: the brand reads this.")
    elif len(reason) > COMMENT_MAX:
        problem = t.gettext(
            "Use at most %(max)s characters (this has %(n)s).", max=COMMENT_MAX, n=len(reason)
        )
    elif "\x00" in reason:
        problem = t.gettext("Remove the invisible NUL character from this text.")
    if problem:
        return _page(
            request,
            asked,
            values=_stored_values(asked),
            preview=None,
            reason=reason[: COMMENT_MAX * 2],
            problems={"reason": problem},
            status_code=422,
        )
    try:
        async with all_or_nothing(session, {asked.post, *asked.posts}):
            for post in asked.posts:
                await approval_service.decide(session, viewer.principal, post.id, "reject", reason)
    except AppError as exc:
        if exc.error_code == "not_pending":
            return redirect("/approvals?decided=gone")
        raise
    return redirect("/approvals?decided=rejected")


__all__ = ["Asked", "load", "preview_of", "router"]
