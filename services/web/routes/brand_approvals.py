"""Head office's approval queue: the brand's posts waiting for the brand's approval
(``post.approve``: a location's edit of a campaign post, a location's own post where the
brand's rules ask for it), the soonest due first; approve or reject one, or every selected
one at once, in one plain form (no script needed).

The same services as the API's ``GET /v1/brands/{id}/approvals`` and
``POST /v1/approvals/decide`` (``shared.approvals.service``): the queue authorizes on the
brand, each decision on its post."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.post_words import PLATFORM_NAMES
from services.web.rendering import redirect, render, translator
from services.web.routes.brand_campaigns import brand_of
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.approvals import service as approval_service
from shared.approvals.schemas import COMMENT_MAX, MAX_BULK, BulkDecisionIn
from shared.campaigns.models import Campaign
from shared.errors import BadRequest
from shared.posts.models import Post

router = web_router()

PAGE_SIZE = 50
SELECTED = "selected"


async def _queue_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    cursor: str = "",
    flash: str | None = None,
    problems: dict[str, str] | None = None,
    comment: str = "",
    ticked: set[str] | None = None,
    status_code: int = 200,
) -> Response:
    brand = await brand_of(session, viewer, "post.approve")
    page = await approval_service.brand_queue(
        session,
        viewer.principal,
        brand.id,
        approval_service.QueueFilter(),
        limit=PAGE_SIZE,
        cursor=cursor or None,
        total=True,
    )
    campaign_ids = {p.post.campaign_id for p in page.items if p.post.campaign_id}
    names: dict[uuid.UUID, str] = {}
    if campaign_ids:
        rows = await session.execute(
            select(Campaign.id, Campaign.name).where(
                Campaign.agency_id == viewer.principal.agency_id, Campaign.id.in_(campaign_ids)
            )
        )
        names = {row.id: row.name for row in rows.all()}
    return render(
        request,
        "brand_approvals/list.html",
        {
            "items": page.items,
            "total": page.total or 0,
            "next_cursor": page.next_cursor,
            "campaign_names": names,
            "platform_names": PLATFORM_NAMES,
            "flash": flash,
            "problems": problems or {},
            "comment": comment,
            "comment_max": COMMENT_MAX,
            "ticked": ticked or set(),
        },
        status_code=status_code,
    )


@router.get("/brand/approvals")
async def brand_approvals(
    request: Request,
    viewer: SignedIn,
    session: Session,
    cursor: Annotated[str, Query(max_length=500)] = "",
    approved: int = -1,
    rejected: int = -1,
    left: int = 0,
) -> Response:
    t = translator(request)
    flash = None
    if approved >= 0:
        flash = t.ngettext("%(num)s post approved.", "%(num)s posts approved.", approved)
    elif rejected >= 0:
        flash = t.ngettext("%(num)s post rejected.", "%(num)s posts rejected.", rejected)
    if flash and left > 0:
        flash += " " + t.ngettext(
            "%(num)s was no longer waiting (someone decided it already) and was left as it is.",
            "%(num)s were no longer waiting (someone decided them already) and were left as "
            "they are.",
            left,
        )
    try:
        return await _queue_page(request, viewer, session, cursor=cursor, flash=flash)
    except BadRequest:  # a cursor of another listing, or cut short
        await session.rollback()
        return redirect("/brand/approvals")


def _ids(values: list[Any]) -> list[uuid.UUID]:
    found: list[uuid.UUID] = []
    for value in values:
        try:
            found.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(dict.fromkeys(found))


@router.post("/brand/approvals/decide")
async def decide(request: Request, viewer: SignedIn, session: Session) -> Response:
    """``approve`` or ``reject`` names what to decide: ``selected`` (the ticked posts) or one
    post's id (its row's button). A rejection needs a comment, which the locations read."""
    brand = await brand_of(session, viewer, "post.approve")
    t = translator(request)
    form = await request.form()
    raw_comment = form.get("comment")
    comment = raw_comment.strip() if isinstance(raw_comment, str) else ""
    ticked = _ids(form.getlist("post_ids"))
    decision = "approve" if form.get("approve") else "reject" if form.get("reject") else ""
    target = str(form.get(decision) or "") if decision else ""
    chosen = ticked if target == SELECTED else _ids([target])
    problems: dict[str, str] = {}
    if not decision:
        problems[""] = t.gettext("Choose Approve or Reject.")
    elif not chosen:
        problems["post_ids"] = t.gettext("Tick the posts to decide first.")
    elif len(chosen) > MAX_BULK:
        problems["post_ids"] = t.gettext("Decide at most %(max)s posts at once.", max=MAX_BULK)
    if "\x00" in comment:
        problems["comment"] = t.gettext("Remove the invisible NUL character from this text.")
    elif len(comment) > COMMENT_MAX:
        problems["comment"] = t.gettext("Use at most %(max)s characters.", max=COMMENT_MAX)
    elif decision == "reject" and not comment:
        problems["comment"] = t.gettext("Say why you reject: the locations read it.")
    if problems:
        return await _queue_page(
            request,
            viewer,
            session,
            problems=problems,
            comment=comment[: COMMENT_MAX * 2].replace("\x00", ""),
            ticked={str(i) for i in ticked},
            status_code=422,
        )
    # Only this brand's posts: an id of another brand is left alone like an unknown one.
    mine = set(
        (
            await session.execute(
                select(Post.id).where(
                    Post.agency_id == viewer.principal.agency_id,
                    Post.brand_id == brand.id,
                    Post.id.in_(chosen),
                )
            )
        ).scalars()
    )
    ids = [i for i in chosen if i in mine]
    decided = 0
    if ids:
        data = BulkDecisionIn(post_ids=ids, decision=decision, comment=comment or None)
        async with all_or_nothing(session):
            result = await approval_service.decide_many(session, viewer.principal, data)
        decided = result.decided
    key = "approved" if decision == "approve" else "rejected"
    return redirect(f"/brand/approvals?{key}={decided}&left={len(chosen) - decided}")
