"""Reviews: my location's reviews (newest first, filtered, keyset pages like the API's) and one
review to answer: reply (starting from the brand's reply templates), edit or delete the reply
where the platform allows, approve an auto-reply draft, and follow the reply's status.

The same service functions and policy as ``services/api/routes/reviews.py``; a review of
another location (or agency) is the 404 page. Each form posts, then redirects back to the
review (post/redirect/get); a problem re-renders the review with it next to the reply box."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Redis, Session
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared.access.policy import Target, allowed
from shared.errors import Conflict, NotFound
from shared.platforms import registry, yelp
from shared.platforms.base import Connector, same_text
from shared.reviews import service
from shared.reviews.models import REPLY_STATUSES, SOURCES, Review
from shared.reviews.schemas import ReplyIn
from shared.reviews.suggestions import ReplyTemplate, reply_templates

router = web_router()

PAGE_SIZE = 20
TEXT_LIMIT: int = next(
    m.max_length for m in ReplyIn.model_fields["text"].metadata if hasattr(m, "max_length")
)

SOURCE_NAMES = {
    "google_business": N_("Google"),
    "facebook": N_("Facebook"),
    "yelp": N_("Yelp"),
}
IN_FLIGHT = ("queued", "sending", "unconfirmed")
STATUS_NAMES = {
    "none": N_("Not answered"),
    "pending_approval": N_("Draft waiting for approval"),
    "queued": N_("Reply on its way"),
    "sending": N_("Reply on its way"),
    "unconfirmed": N_("Reply on its way (checking with the platform)"),
    "sent": N_("Reply sent"),
    "failed": N_("Reply failed"),
}
ACTION_NAMES = {
    "post": N_("Posting the reply"),
    "edit": N_("Changing the reply"),
    "delete": N_("Deleting the reply"),
}
CONFLICTS = {
    "already_replied": N_(
        "This review already has a reply at the platform: change that reply instead."
    ),
    "reply_in_progress": N_(
        "A change to this reply is already on its way. Wait until it is done or has failed."
    ),
    "no_reply": N_("This review has no reply to change any more."),
    "no_pending_reply": N_("There is no draft waiting for approval any more."),
    "replies_not_supported": N_(
        "This platform does not allow replies through Chorus: answer on the platform itself."
    ),
    "reply_edit_not_supported": N_(
        "This platform does not allow changing a reply through Chorus: change it on the "
        "platform itself."
    ),
    "reply_delete_not_supported": N_(
        "This platform does not allow deleting a reply through Chorus: delete it on the "
        "platform itself."
    ),
}
assert set(STATUS_NAMES) == set(REPLY_STATUSES)
assert set(SOURCE_NAMES) == set(SOURCES)


def _connector(source: str) -> type[Connector]:
    """What the review's platform allows (the service checks it again before queueing)."""
    if source == yelp.PLATFORM:
        return yelp.YelpConnector
    return registry.connector_class(source)


# The list ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    rating: int | None = None
    source: str | None = None
    needs_answer: bool = False

    def query(self, cursor: str | None = None) -> str:
        parts = []
        if self.rating is not None:
            parts.append(f"rating={self.rating}")
        if self.source is not None:
            parts.append(f"source={self.source}")
        if self.needs_answer:
            parts.append("needs_answer=1")
        if cursor:
            parts.append(f"cursor={cursor}")
        return "?" + "&".join(parts) if parts else ""


def read_filters(
    t: Translator, rating: str, source: str, needs_answer: str
) -> tuple[Filters, dict[str, str]]:
    """The query as typed: anything unknown is a problem shown next to its filter."""
    problems: dict[str, str] = {}
    stars: int | None = None
    if rating.strip():
        if rating.strip() in ("1", "2", "3", "4", "5"):
            stars = int(rating)
        else:
            problems["rating"] = t.gettext("Choose from 1 to 5 stars.")
    chosen: str | None = None
    if source.strip():
        if source.strip() in SOURCES:
            chosen = source.strip()
        else:
            problems["source"] = t.gettext("Choose Google, Facebook or Yelp.")
    wanted = needs_answer.strip().lower() in ("1", "true", "on", "yes")
    return Filters(stars, chosen, wanted), problems


@router.get("/reviews")
async def reviews(
    request: Request,
    viewer: SignedIn,
    session: Session,
    rating: Annotated[str, Query(max_length=20)] = "",
    source: Annotated[str, Query(max_length=40)] = "",
    needs_answer: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    t = translator(request)
    filters, problems = read_filters(t, rating, source, needs_answer)
    context: dict[str, Any] = {
        "filters": filters,
        "problems": problems,
        "items": [],
        "next_url": None,
        "first_url": None,
        "sources": [(s, SOURCE_NAMES[s]) for s in SOURCES],
        "cursor": cursor,
    }
    location = viewer.location
    if location is None or problems:
        status = 422 if problems else 200
        return render(request, "reviews/list.html", context, status_code=status)
    page = await service.list_reviews(
        session,
        viewer.principal,
        service.ReviewFilter(
            location_id=location.id,
            source=filters.source,
            min_rating=filters.rating,
            max_rating=filters.rating,
            needs_attention=True if filters.needs_answer else None,
        ),
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    context["items"] = [review_item(t, viewer.time_zone, r) for r in page.items]
    if page.next_cursor:
        context["next_url"] = "/reviews" + filters.query(page.next_cursor)
    if cursor:
        context["first_url"] = "/reviews" + filters.query()
    return render(request, "reviews/list.html", context)


def _stars(t: Translator, review: Review) -> dict[str, Any]:
    """Stars as glyphs for the eye and words for everyone (screen readers read the words)."""
    if review.rating is None:
        if review.recommends is None:
            return {"glyphs": "", "words": t.gettext("No rating")}
        words = t.gettext("Recommends") if review.recommends else t.gettext("Does not recommend")
        return {"glyphs": "", "words": words}
    rating = max(0, min(5, review.rating))
    return {
        "glyphs": "★" * rating + "☆" * (5 - rating),
        "words": t.ngettext(
            "%(num)s star out of 5", "%(num)s stars out of 5", rating, num=t.format_number(rating)
        ),
    }


def _when(t: Translator, zone: str, instant: datetime) -> str:
    """The day (medium) and the time (short, no seconds) in the location's zone."""
    return f"{t.format_date(instant, zone)}, {t.format_time(instant, zone)}"


def review_item(t: Translator, zone: str, review: Review) -> dict[str, Any]:
    """A review as a list or page shows it, its date in ``zone`` (its location's)."""
    return {
        "id": review.id,
        "author": review.author or t.gettext("Someone"),
        "text": review.text,
        "stars": _stars(t, review),
        "when": _when(t, zone, review.created_at),
        "source": t.gettext(SOURCE_NAMES.get(review.source, review.source)),
        "status": review.reply_status,
        "status_name": t.gettext(STATUS_NAMES.get(review.reply_status, review.reply_status)),
        "needs_answer": review.open_attention,
    }


# One review -------------------------------------------------------------------------------------


async def _review_of(
    viewer: Viewer, session: Session, review_id: str, *, lock: bool = False
) -> Review:
    """The review, if the policy lets the viewer read it and it is their current location's
    (every page is the current location's: another's is the 404 page). Before a change it is
    read locked, so two tabs (or a double click) are answered one after the other, each
    seeing what the other did."""
    found = uuid_or_none(review_id)
    if found is None:
        raise NotFound("review not found")
    review = await service.get_review(session, viewer.principal, found, lock=lock)
    if viewer.location is None or review.location_id != viewer.location.id:
        raise NotFound("review not found")
    return review


@dataclass(frozen=True, slots=True)
class Where:
    """Where a review page lives: its address (``/reviews`` for the location's people,
    ``/brand/reviews`` for head office), its time zone and, across locations, whose it is."""

    base: str = "/reviews"
    zone: str = "UTC"
    location_name: str | None = None


async def review_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    review: Review,
    where: Where,
    *,
    text: str | None = None,
    chosen: uuid.UUID | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """One review and its reply box: what the viewer may do with it (the policy at the
    review's location), and the platform allows."""
    t = translator(request)
    connector = _connector(review.source)
    may_reply = allowed(
        viewer.principal,
        "review.reply",
        Target(brand_id=review.brand_id, location_id=review.location_id),
    )
    templates: list[ReplyTemplate] = []
    status = review.reply_status
    can_post = may_reply and connector.can_reply and status in ("none", "failed")
    can_approve = may_reply and status == "pending_approval"
    can_edit = may_reply and connector.can_edit_reply and status == "sent"
    can_delete = may_reply and connector.can_delete_reply and status in ("sent", "pending_approval")
    if can_post:
        templates = await reply_templates(session, viewer.principal, review.id)
    if text is None:
        picked = next((x for x in templates if x.id == chosen), None)
        text = picked.text if picked is not None else review.reply_text or ""
    context = {
        "review": review,
        "item": review_item(t, where.zone, review),
        "base": where.base,
        "location_name": where.location_name,
        "connector_name": connector.display_name,
        "may_reply": may_reply,
        "platform_replies": connector.can_reply,
        "can_post": can_post,
        "can_approve": can_approve,
        "can_edit": can_edit,
        "can_delete": can_delete,
        "in_flight": status in IN_FLIGHT,
        "action_name": t.gettext(ACTION_NAMES.get(review.reply_action, "")),
        "replied_at": (_when(t, where.zone, review.replied_at) if review.replied_at else None),
        "templates": templates,
        "chosen": chosen,
        "text": text,
        "text_limit": TEXT_LIMIT,
        "problems": problems or {},
    }
    return render(request, "reviews/detail.html", context, status_code=status_code)


@router.get("/reviews/{review_id}")
async def review_detail(
    request: Request,
    review_id: str,
    viewer: SignedIn,
    session: Session,
    template: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """``?template=<id>``: the reply box starts from that template (the chooser's submit
    without JavaScript; with it, choosing fills the box at once)."""
    review = await _review_of(viewer, session, review_id)
    chosen = uuid_or_none(template)
    return await review_page(request, viewer, session, review, _here(viewer), chosen=chosen)


def _here(viewer: Viewer) -> Where:
    return Where("/reviews", viewer.time_zone)


def uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _text_problem(t: Translator, text: str) -> str | None:
    try:
        ReplyIn(text=text)
    except ValidationError:
        if not text.strip():
            return t.gettext("Write the reply's text.")
        return t.gettext(
            "Keep the reply to %(max)s characters (this one has %(n)s).",
            max=t.format_number(TEXT_LIMIT),
            n=t.format_number(len(text)),
        )
    if not text.strip():
        return t.gettext("Write the reply's text.")
    return None


async def answer(
    request: Request,
    viewer: Viewer,
    session: Session,
    review: Review,
    where: Where,
    text: str | None,
    act: Any,
) -> Response:
    """Check the text, run the service on the review (read locked), answer the review
    again: a redirect when done, the page with the problem when not. A second identical
    submission (a double click, another tab) whose change is already on its way is done, not
    a problem."""
    t = translator(request)
    if text is not None:
        problem = _text_problem(t, text)
        if problem is not None:
            return await review_page(
                request, viewer, session, review, where, text=text,
                problems={"text": problem}, status_code=422,
            )  # fmt: skip
    try:
        await act(review)
    except Conflict as exc:
        if _already_done(review, exc.error_code, text):
            return redirect(f"{where.base}/{review.id}")
        message = CONFLICTS.get(exc.error_code, N_("This change cannot be made now."))
        return await review_page(
            request, viewer, session, review, where, text=text,
            problems={"": t.gettext(message)}, status_code=409,
        )  # fmt: skip
    return redirect(f"{where.base}/{review.id}")


async def _act(
    request: Request,
    viewer: Viewer,
    session: Session,
    review_id: str,
    text: str | None,
    act: Any,
) -> Response:
    review = await _review_of(viewer, session, review_id, lock=True)
    return await answer(request, viewer, session, review, _here(viewer), text, act)


def _already_done(review: Review, code: str, text: str | None) -> bool:
    if text is None:  # deleting: on its way already, or gone
        return (code == "reply_in_progress" and review.reply_action == "delete") or (
            code == "no_reply"
        )
    if code not in ("reply_in_progress", "already_replied"):
        return False
    return review.reply_text is not None and same_text(review.reply_text, text.strip())


ReplyText = Annotated[str, Form(max_length=100_000)]


Answer = Callable[
    [Request, Viewer, Session, str, "str | None", Callable[[Review], Awaitable[None]]],
    Awaitable[Response],
]


def add_reply_routes(router: APIRouter, prefix: str, answer_by_id: Answer) -> None:
    """The four ways of answering a review (reply, edit, approve, delete) at
    ``{prefix}/{review_id}/reply…``: the location's reviews and the brand's share them, each
    loading the review its own way (``answer_by_id``)."""

    @router.post(prefix + "/{review_id}/reply")
    async def reply(
        request: Request,
        review_id: str,
        viewer: SignedIn,
        session: Session,
        redis: Redis,
        text: ReplyText = "",
    ) -> Response:
        async def act(review: Review) -> None:
            await service.reply(session, redis, viewer.principal, review.id, text)

        return await answer_by_id(request, viewer, session, review_id, text, act)

    @router.post(prefix + "/{review_id}/reply/edit")
    async def edit_reply(
        request: Request,
        review_id: str,
        viewer: SignedIn,
        session: Session,
        redis: Redis,
        text: ReplyText = "",
    ) -> Response:
        async def act(review: Review) -> None:
            await service.edit_reply(session, redis, viewer.principal, review.id, text)

        return await answer_by_id(request, viewer, session, review_id, text, act)

    @router.post(prefix + "/{review_id}/reply/approve")
    async def approve_reply(
        request: Request,
        review_id: str,
        viewer: SignedIn,
        session: Session,
        redis: Redis,
        text: ReplyText = "",
    ) -> Response:
        async def act(review: Review) -> None:
            await service.approve_reply(session, redis, viewer.principal, review.id, text)

        return await answer_by_id(request, viewer, session, review_id, text, act)

    @router.post(prefix + "/{review_id}/reply/delete")
    async def delete_reply(
        request: Request, review_id: str, viewer: SignedIn, session: Session, redis: Redis
    ) -> Response:
        async def act(review: Review) -> None:
            await service.delete_reply(session, redis, viewer.principal, review.id)

        return await answer_by_id(request, viewer, session, review_id, None, act)


add_reply_routes(router, "/reviews", _act)
