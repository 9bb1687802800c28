"""One post of my location: its text for its platform (and the same post on its other
platforms), media, status and why, history, link and numbers; and what may be done to it —
cancel or reschedule while it has not gone out, retry once it failed — through the same
service functions as the API's post actions, as plain forms (post/redirect/get)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.post_words import (
    ACTOR_KINDS,
    MEDIA_KINDS,
    PLATFORM_NAMES,
    STATUS_MEANINGS,
    STATUS_NAMES,
    explain,
)
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared import clock
from shared.access.policy import Target, allowed
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.identity.models import User
from shared.posts import service as post_service
from shared.posts.models import Post, PostStatusChange
from shared.posts.schemas import PostCancelIn, PostRescheduleIn, PostRetryIn
from shared.tenancy import scoped

router = web_router()

REASON_MAX = 500
"""As the API's cancel body allows."""
LATEST_YEAR = 9000
"""A reschedule further ahead is refused before the service (its deadline would overflow)."""

DONE = {
    "cancelled": N_("The post was cancelled; it will not go out."),
    "rescheduled": N_("The post was moved to its new time."),
    "retried": N_("The post will be tried again."),
}
"""What the page says after an action (``?done=``); only these, never text from the URL."""

CONFLICTS = {
    "post_in_flight": N_(
        "Chorus is sending this post to the platform right now; wait for the outcome."
    ),
    "post_not_changeable": N_("This post has already gone out or ended; it cannot be changed."),
    "post_not_failed": N_("Only a post that failed can be tried again."),
    post_service.MAY_BE_OUT_CODE: N_(
        "Chorus could not find out whether this post went out, so trying again may post it "
        "twice. Check the account on the platform, and tick the box only if the post is not "
        "there."
    ),
}


def _target(post: Post) -> Target:
    return Target(brand_id=post.brand_id, location_id=post.location_id)


async def _my_post(session: Session, viewer: Viewer, post_id: uuid.UUID) -> Post:
    """The post, through the API's service and policy; a post of a location other than
    the one I am looking at (or, on the brand screens, of a brand other than the one I look
    at) is the 404 page as well."""
    post = await post_service.get_post(session, viewer.principal, post_id)
    here = viewer.location is not None and post.location_id == viewer.location.id
    in_brand = viewer.brand is not None and post.brand_id == viewer.brand.id
    if not (here or in_brand):
        raise NotFound("post not found")
    return post


async def _siblings(session: Session, viewer: Viewer, post: Post) -> list[Post]:
    """The same post on the location's other platforms: the campaign's posts here, or the
    posts made together from the same template (one request saves them at one instant)."""
    stmt = scoped(Post, viewer.principal).where(
        Post.location_id == post.location_id, Post.id != post.id
    )
    if post.campaign_id is not None:
        stmt = stmt.where(Post.campaign_id == post.campaign_id)
    else:
        stmt = stmt.where(
            Post.campaign_id.is_(None),
            Post.template_id == post.template_id,
            Post.created_at == post.created_at,
        )
    return list((await session.execute(stmt.order_by(Post.platform))).scalars())


async def _people(session: Session, history: list[PostStatusChange]) -> dict[uuid.UUID, str]:
    """Names of the people in the history, in one query."""
    ids = {h.actor_id for h in history if h.actor_type == "user" and h.actor_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(User.id, User.full_name, User.email).where(User.id.in_(ids))
    )
    return {user_id: name or email for user_id, name, email in rows.all()}


def _may_be_out(history: list[PostStatusChange]) -> bool:
    """Did it fail because Chorus could not find out whether it went out (as the retry
    service decides)?"""
    failures = [h for h in history if h.to_status == "failed"]
    return bool(failures) and failures[-1].from_status == "unconfirmed"


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    post: Post,
    *,
    problems: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    done: str | None = None,
) -> Response:
    t = translator(request)
    history = await post_service.post_history(session, post)
    metrics = None
    if post.status == "published":
        metrics = await post_service.get_post_metrics(session, viewer.principal, post.id)
    may_act = allowed(viewer.principal, post_service.ACT, _target(post))
    zone = ZoneInfo(viewer.time_zone)
    local = (post.scheduled_at or clock.now()).astimezone(zone)
    values = {
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "reason": "",
        **(form or {}),
    }
    return render(
        request,
        "posts/post.html",
        {
            "post": post,
            "zone": viewer.time_zone,
            "history": history,
            "people": await _people(session, history),
            "siblings": await _siblings(session, viewer, post),
            "metrics": metrics,
            "may_cancel": may_act and post.status in post_service.CHANGEABLE,
            "may_reschedule": may_act and post.status in post_service.CHANGEABLE,
            "may_retry": may_act and post.status == "failed",
            "may_be_out": _may_be_out(history),
            "may_confirm": post.status == "needs_approval"
            and post.approval_kind == "location"
            and allowed(viewer.principal, "post.confirm", _target(post)),
            "problems": problems or {},
            "form": values,
            "flash": t.gettext(DONE[done]) if done in DONE else None,
            "platform_names": PLATFORM_NAMES,
            "status_names": STATUS_NAMES,
            "status_meanings": STATUS_MEANINGS,
            "actor_kinds": ACTOR_KINDS,
            "media_kinds": MEDIA_KINDS,
            "explain": lambda reason: explain(reason, t, viewer.time_zone),
        },
        status_code=status_code,
    )


@router.get("/posts/{post_id}")
async def post_page(
    request: Request, viewer: SignedIn, session: Session, post_id: uuid.UUID, done: str = ""
) -> Response:
    post = await _my_post(session, viewer, post_id)
    return await _page(request, viewer, session, post, done=done)


async def _refused(
    request: Request,
    viewer: Viewer,
    session: Session,
    post_id: uuid.UUID,
    problem: str,
    *,
    field: str = "",
    status_code: int,
    form: dict[str, Any] | None = None,
) -> Response:
    """The post's page again (as it is now), the problem next to the form that caused it."""
    post = await _my_post(session, viewer, post_id)
    return await _page(
        request,
        viewer,
        session,
        post,
        problems={field: problem},
        form=form,
        status_code=status_code,
    )


def _conflict(request: Request, error: Conflict) -> str:
    message = CONFLICTS.get(error.error_code)
    return translator(request).gettext(message) if message else str(error)


@router.post("/posts/{post_id}/cancel")
async def cancel(
    request: Request,
    viewer: SignedIn,
    session: Session,
    post_id: uuid.UUID,
    reason: Annotated[str, Form()] = "",
) -> Response:
    await _my_post(session, viewer, post_id)
    t = translator(request)
    reason = reason.replace("\x00", "").strip()
    if len(reason) > REASON_MAX:
        problem = t.gettext("Keep the reason under %(max)s characters.", max=REASON_MAX)
        return await _refused(
            request,
            viewer,
            session,
            post_id,
            problem,
            field="reason",
            status_code=422,
            form={"reason": reason[:REASON_MAX]},
        )
    try:
        await post_service.cancel_post(
            session, viewer.principal, post_id, PostCancelIn(reason=reason or None)
        )
    except Conflict as error:
        return await _refused(
            request,
            viewer,
            session,
            post_id,
            _conflict(request, error),
            field="cancel",
            status_code=409,
        )
    return redirect(f"/posts/{post_id}?done=cancelled")


def _local_time(
    date_text: str, time_text: str, zone: ZoneInfo, t: Any
) -> tuple[dt.datetime | None, dict[str, str]]:
    """The instant a date and a wall-clock time in the location's zone name, or the problems
    with them (each next to its field)."""
    problems: dict[str, str] = {}
    day = when = None
    try:
        day = dt.date.fromisoformat(date_text.strip())
    except ValueError:
        problems["date"] = t.gettext("Give a date, such as 2030-12-24.")
    else:
        if day.year > LATEST_YEAR:
            problems["date"] = t.gettext("Give a date before the year %(year)s.", year=LATEST_YEAR)
    try:
        when = dt.time.fromisoformat(time_text.strip())
    except ValueError:
        problems["time"] = t.gettext("Give a time, such as 09:30.")
    if problems or day is None or when is None:
        return None, problems
    local = dt.datetime.combine(day, when.replace(tzinfo=None, microsecond=0), tzinfo=zone)
    instant = local.astimezone(dt.UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        problems["time"] = t.gettext(
            "This time does not exist on that day in %(zone)s (the clocks change); choose another.",
            zone=str(zone),
        )
        return None, problems
    return instant, problems


@router.post("/posts/{post_id}/reschedule")
async def reschedule(
    request: Request,
    viewer: SignedIn,
    session: Session,
    post_id: uuid.UUID,
    date: Annotated[str, Form()] = "",
    time: Annotated[str, Form()] = "",
) -> Response:
    await _my_post(session, viewer, post_id)
    t = translator(request)
    form = {"date": date[:40], "time": time[:40]}
    instant, problems = _local_time(date, time, ZoneInfo(viewer.time_zone), t)
    if instant is None:
        post = await _my_post(session, viewer, post_id)
        return await _page(
            request, viewer, session, post, problems=problems, form=form, status_code=422
        )
    try:
        await post_service.reschedule_post(
            session, viewer.principal, post_id, PostRescheduleIn(scheduled_at=instant)
        )
    except ValidationFailed:
        problem = t.gettext("That time has passed; choose a time from now on.")
        return await _refused(
            request, viewer, session, post_id, problem, field="time", status_code=422, form=form
        )
    except Conflict as error:
        return await _refused(
            request,
            viewer,
            session,
            post_id,
            _conflict(request, error),
            field="reschedule",
            status_code=409,
            form=form,
        )
    return redirect(f"/posts/{post_id}?done=rescheduled")


@router.post("/posts/{post_id}/retry")
async def retry(
    request: Request,
    viewer: SignedIn,
    session: Session,
    post_id: uuid.UUID,
    confirm_not_published: Annotated[str, Form()] = "",
) -> Response:
    await _my_post(session, viewer, post_id)
    data = PostRetryIn(confirm_not_published=confirm_not_published == "yes")
    try:
        await post_service.retry_post(session, viewer.principal, post_id, data)
    except Conflict as error:
        field = (
            "confirm_not_published" if error.error_code == post_service.MAY_BE_OUT_CODE else "retry"
        )
        status_code = 422 if field == "confirm_not_published" else 409
        return await _refused(
            request,
            viewer,
            session,
            post_id,
            _conflict(request, error),
            field=field,
            status_code=status_code,
        )
    return redirect(f"/posts/{post_id}?done=retried")
