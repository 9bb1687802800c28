"""Reviews across the brand's locations (issue #16): the list, needs-attention first, filtered
by location, rating, source and needing an answer, in keyset pages; one review answered as a
location answers it (the part-1 reply flow and template, at ``/brand/reviews/{id}``); and the
brand's auto-reply rules as the API models them (plan-gated: the 402 page).

The same service functions and policy as ``services/api/routes/reviews.py``: the brand is
loaded through the brands service, a review through ``get_review`` (another brand's or
agency's review is the 404 page), rules through ``list_rules`` / ``get_rule``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, translator
from services.web.routes import reviews as location_reviews
from services.web.routes.reviews import SOURCE_NAMES, Where, review_item
from services.web.routing import web_router
from shared.access.policy import Target, allowed
from shared.brands import service as brand_service
from shared.brands.models import Brand
from shared.errors import NotFound, ValidationFailed
from shared.locations.models import Location, LocationGroup
from shared.reviews import service
from shared.reviews.models import SOURCES, AutoReplyRule, Review
from shared.reviews.schemas import AutoReplyRuleIn, AutoReplyRulePatch

router = web_router()

BASE = "/brand/reviews"
PAGE_SIZE = 20
LOCATION_CHOICES = 300
"""Up to this many locations the filter is a list to choose from; a bigger brand filters by
a review's location link (a list of thousands helps nobody)."""


# The list ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    location_id: uuid.UUID | None = None
    rating: int | None = None
    source: str | None = None
    needs_answer: bool = False

    def query(self, cursor: str | None = None, **changes: Any) -> str:
        values: dict[str, Any] = {
            "location": self.location_id,
            "rating": self.rating,
            "source": self.source,
            "needs_answer": 1 if self.needs_answer else None,
            "cursor": cursor,
        }
        values.update(changes)
        parts = [f"{k}={v}" for k, v in values.items() if v is not None]
        return BASE + ("?" + "&".join(parts) if parts else "")


async def _brand(session: AsyncSession, viewer: Viewer, action: str = "review.read") -> Brand:
    """The brand the viewer looks at, loaded as the API loads it (the policy on it)."""
    if viewer.brand is None:
        raise NotFound("brand not found")
    return await brand_service.get_brand(session, viewer.principal, viewer.brand.id, action)


def _split(cursor: str | None) -> tuple[str, str | None]:
    """A page of the list is in its needs-attention part (``a``) or the rest (``b``)."""
    if not cursor:
        return "a", None
    phase, _, inner = cursor.partition(".")
    if phase not in ("a", "b"):
        raise NotFound("no such page")
    return phase, inner or None


@router.get("/brand/reviews")
async def brand_reviews(
    request: Request,
    viewer: SignedIn,
    session: Session,
    location: Annotated[str, Query(max_length=100)] = "",
    rating: Annotated[str, Query(max_length=20)] = "",
    source: Annotated[str, Query(max_length=40)] = "",
    needs_answer: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    t = translator(request)
    brand = await _brand(session, viewer)
    plain, problems = location_reviews.read_filters(t, rating, source, needs_answer)
    location_id = location_reviews.uuid_or_none(location)
    if location.strip() and location_id is None:
        problems["location"] = t.gettext("Choose a location of the brand.")
    filters = Filters(location_id, plain.rating, plain.source, plain.needs_answer)
    choices = (
        await session.execute(
            select(Location.id, Location.name)
            .where(Location.agency_id == brand.agency_id, Location.brand_id == brand.id)
            .order_by(Location.name, Location.id)
            .limit(LOCATION_CHOICES + 1)
        )
    ).all()
    context: dict[str, Any] = {
        "filters": filters,
        "problems": problems,
        "items": [],
        "next_url": None,
        "first_url": None,
        "sources": [(s, SOURCE_NAMES[s]) for s in SOURCES],
        "locations": choices if len(choices) <= LOCATION_CHOICES else None,
        "chosen_location": None,
        "attention_count": None,
        "may_edit_rules": allowed(viewer.principal, "brand_rules.read", Target(brand_id=brand.id)),
    }
    if problems:
        return render(request, "brand_reviews/list.html", context, status_code=422)
    if filters.location_id is not None:
        found = (
            await session.execute(
                select(Location.name).where(
                    Location.agency_id == brand.agency_id,
                    Location.brand_id == brand.id,
                    Location.id == filters.location_id,
                )
            )
        ).scalar_one_or_none()
        if found is None:
            context["problems"] = {"location": t.gettext("Choose a location of the brand.")}
            return render(request, "brand_reviews/list.html", context, status_code=422)
        context["chosen_location"] = found
    phase, inner = _split(cursor)
    base = service.ReviewFilter(
        brand_id=brand.id,
        location_id=filters.location_id,
        source=filters.source,
        min_rating=filters.rating,
        max_rating=filters.rating,
    )
    items: list[Review] = []
    next_cursor: str | None = None
    if phase == "a":
        first = await service.list_reviews(
            session, viewer.principal, _with(base, needs_attention=True),
            limit=PAGE_SIZE, cursor=inner, total=inner is None,
        )  # fmt: skip
        items = list(first.items)
        context["attention_count"] = first.total
        if first.next_cursor:
            next_cursor = "a." + first.next_cursor
    if not filters.needs_answer:
        # The rest, newest first, after the last review needing an answer. Read on the first
        # part's pages too (one short statement), so a page reads the same statements
        # whatever the mix of reviews.
        room = PAGE_SIZE - len(items) if next_cursor is None else 0
        rest = await service.list_reviews(
            session, viewer.principal, _with(base, needs_attention=False),
            limit=max(room, 1), cursor=inner if phase == "b" else None,
        )  # fmt: skip
        if room > 0:
            items += rest.items
            if rest.next_cursor:
                next_cursor = "b." + rest.next_cursor
        elif rest.items and next_cursor is None:
            next_cursor = "b."
    zones = await _places(session, brand, items)
    context["items"] = [
        {
            **review_item(t, zones.get(r.location_id, ("", "UTC"))[1], r),
            "location_id": r.location_id,
            "location_name": zones.get(r.location_id, ("", "UTC"))[0],
        }
        for r in items
    ]
    if next_cursor:
        context["next_url"] = filters.query(next_cursor)
    if cursor:
        context["first_url"] = filters.query()
    return render(request, "brand_reviews/list.html", context)


def _with(base: service.ReviewFilter, *, needs_attention: bool) -> service.ReviewFilter:
    return service.ReviewFilter(
        brand_id=base.brand_id,
        location_id=base.location_id,
        source=base.source,
        min_rating=base.min_rating,
        max_rating=base.max_rating,
        needs_attention=needs_attention,
    )


async def _places(
    session: AsyncSession, brand: Brand, reviews: list[Review]
) -> dict[uuid.UUID, tuple[str, str]]:
    """The name and time zone of each review's location, in one query."""
    ids = {r.location_id for r in reviews}
    rows = await session.execute(
        select(Location.id, Location.name, Location.time_zone).where(
            Location.agency_id == brand.agency_id, Location.id.in_(ids)
        )
    )
    return {row.id: (row.name, row.time_zone) for row in rows.all()}


# The auto-reply rules ---------------------------------------------------------------------------

RULE_FIELDS = ("name", "template", "min_rating", "max_rating", "sources", "group_id", "position")
NO_NAME = N_("Give the rule a name.")
NO_REPLY = N_("Write the reply the rule sends.")
BAD_POSITION = N_("Give a number from 0 to 10,000.")


@dataclass(slots=True)
class RuleForm:
    name: str = ""
    template: str = ""
    min_rating: int = 1
    max_rating: int = 2
    sources: tuple[str, ...] = ()
    group_id: uuid.UUID | None = None
    requires_approval: bool = True
    enabled: bool = True
    position: int = 0

    @classmethod
    def of(cls, rule: AutoReplyRule) -> RuleForm:
        return cls(
            rule.name,
            rule.template,
            rule.min_rating,
            rule.max_rating,
            tuple(rule.sources),
            rule.group_id,
            rule.requires_approval,
            rule.enabled,
            rule.position,
        )


def _read_rule(
    t: Translator,
    name: str,
    template: str,
    min_rating: str,
    max_rating: str,
    sources: list[str],
    group_id: str,
    requires_approval: str,
    enabled: str,
    position: str,
) -> tuple[RuleForm, dict[str, str]]:
    problems: dict[str, str] = {}
    form = RuleForm(
        name=name.strip(),
        template=template,
        sources=tuple(s for s in sources if s in SOURCES),
        requires_approval=bool(requires_approval),
        enabled=bool(enabled),
    )
    for field_name, raw in (("min_rating", min_rating), ("max_rating", max_rating)):
        if raw.strip() in ("1", "2", "3", "4", "5"):
            setattr(form, field_name, int(raw))
        else:
            problems[field_name] = t.gettext("Choose from 1 to 5 stars.")
    if not problems and form.min_rating > form.max_rating:
        problems["max_rating"] = t.gettext("Choose at least the lowest rating.")
    if group_id.strip():
        form.group_id = location_reviews.uuid_or_none(group_id)
        if form.group_id is None:
            problems["group_id"] = t.gettext("Choose a group of the brand.")
    if position.strip().isdigit() and int(position) <= 10_000:
        form.position = int(position)
    elif position.strip():
        problems["position"] = t.gettext(BAD_POSITION)
    if not form.name:
        problems["name"] = t.gettext(NO_NAME)
    elif len(form.name) > 200:
        problems["name"] = t.gettext("Keep the name to 200 characters.")
    if not template.strip():
        problems["template"] = t.gettext(NO_REPLY)
    elif len(template) > 4000:
        problems["template"] = t.gettext("Keep the reply to 4,000 characters.")
    return form, problems


def _service_problems(t: Translator, exc: ValidationFailed) -> dict[str, str]:
    """The service's field problems next to their fields (its words: the template
    language's own messages name the tag that is wrong)."""
    problems: dict[str, str] = {}
    for problem in exc.errors:
        field_name = problem.field.rpartition(".")[2]
        key = field_name if field_name in RULE_FIELDS else ""
        problems[key] = (problems[key] + "; " if key in problems else "") + problem.message
    return problems or {"": t.gettext("The rule could not be saved: %(why)s", why=exc.message)}


async def _groups(session: AsyncSession, brand: Brand) -> list[Any]:
    rows = await session.execute(
        select(LocationGroup.id, LocationGroup.name)
        .where(LocationGroup.agency_id == brand.agency_id, LocationGroup.brand_id == brand.id)
        .order_by(LocationGroup.name, LocationGroup.id)
    )
    return list(rows.all())


async def _rules_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    brand: Brand,
    *,
    form: RuleForm | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rules = await service.list_rules(session, viewer.principal, brand.id)
    groups = await _groups(session, brand)
    context = {
        "rules": rules,
        "groups": groups,
        "group_names": {g.id: g.name for g in groups},
        "source_names": SOURCE_NAMES,
        "sources": [(s, SOURCE_NAMES[s]) for s in SOURCES],
        "may_change": allowed(viewer.principal, "brand_rules.update", Target(brand_id=brand.id)),
        "form": form or RuleForm(),
        "problems": problems or {},
    }
    return render(request, "brand_reviews/rules.html", context, status_code=status_code)


@router.get("/brand/reviews/rules")
async def rules(request: Request, viewer: SignedIn, session: Session) -> Response:
    brand = await _brand(session, viewer, "brand_rules.read")
    return await _rules_page(request, viewer, session, brand)


RuleName = Annotated[str, Form(max_length=1000)]
RuleTemplate = Annotated[str, Form(max_length=100_000)]
Small = Annotated[str, Form(max_length=100)]
Sources = Annotated[list[str], Form(max_length=10)]


@router.post("/brand/reviews/rules")
async def create_rule(
    request: Request,
    viewer: SignedIn,
    session: Session,
    name: RuleName = "",
    template: RuleTemplate = "",
    min_rating: Small = "",
    max_rating: Small = "",
    sources: Sources | None = None,
    group_id: Small = "",
    requires_approval: Small = "",
    enabled: Small = "",
    position: Small = "",
) -> Response:
    t = translator(request)
    brand = await _brand(session, viewer, "brand_rules.update")
    form, problems = _read_rule(
        t, name, template, min_rating, max_rating, sources or [], group_id,
        requires_approval, enabled, position,
    )  # fmt: skip
    if not problems:
        try:
            await service.create_rule(
                session, viewer.principal, brand.id, AutoReplyRuleIn(**_values(form))
            )
        except ValidationFailed as exc:
            problems = _service_problems(t, exc)
        except NotFound:
            problems = {"group_id": t.gettext("Choose a group of the brand.")}
    if problems:
        return await _rules_page(
            request, viewer, session, brand, form=form, problems=problems, status_code=422
        )
    return redirect(f"{BASE}/rules")


def _values(form: RuleForm) -> dict[str, Any]:
    return {
        "name": form.name,
        "template": form.template,
        "min_rating": form.min_rating,
        "max_rating": form.max_rating,
        "sources": list(form.sources),
        "group_id": form.group_id,
        "requires_approval": form.requires_approval,
        "enabled": form.enabled,
        "position": form.position,
    }


async def _rule_of(
    session: AsyncSession, viewer: Viewer, rule_id: str, action: str
) -> tuple[Brand, AutoReplyRule]:
    """The rule, if it is the viewed brand's (another brand's or agency's: the 404 page)."""
    found = location_reviews.uuid_or_none(rule_id)
    if found is None:
        raise NotFound("auto-reply rule not found")
    rule = await service.get_rule(session, viewer.principal, found, action)
    brand = await _brand(session, viewer, "brand_rules.read")
    if rule.brand_id != brand.id:
        raise NotFound("auto-reply rule not found")
    return brand, rule


async def _rule_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    brand: Brand,
    rule: AutoReplyRule,
    *,
    form: RuleForm | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    groups = await _groups(session, brand)
    context = {
        "rule": rule,
        "groups": groups,
        "sources": [(s, SOURCE_NAMES[s]) for s in SOURCES],
        "form": form or RuleForm.of(rule),
        "problems": problems or {},
    }
    return render(request, "brand_reviews/rule.html", context, status_code=status_code)


@router.get("/brand/reviews/rules/{rule_id}")
async def rule_page(request: Request, rule_id: str, viewer: SignedIn, session: Session) -> Response:
    brand, rule = await _rule_of(session, viewer, rule_id, "brand_rules.update")
    return await _rule_page(request, viewer, session, brand, rule)


@router.post("/brand/reviews/rules/{rule_id}")
async def update_rule(
    request: Request,
    rule_id: str,
    viewer: SignedIn,
    session: Session,
    name: RuleName = "",
    template: RuleTemplate = "",
    min_rating: Small = "",
    max_rating: Small = "",
    sources: Sources | None = None,
    group_id: Small = "",
    requires_approval: Small = "",
    enabled: Small = "",
    position: Small = "",
) -> Response:
    t = translator(request)
    brand, rule = await _rule_of(session, viewer, rule_id, "brand_rules.update")
    form, problems = _read_rule(
        t, name, template, min_rating, max_rating, sources or [], group_id,
        requires_approval, enabled, position,
    )  # fmt: skip
    if not problems:
        try:
            await service.update_rule(
                session, viewer.principal, rule.id, AutoReplyRulePatch(**_values(form))
            )
        except ValidationFailed as exc:
            problems = _service_problems(t, exc)
        except NotFound:
            problems = {"group_id": t.gettext("Choose a group of the brand.")}
    if problems:
        return await _rule_page(
            request, viewer, session, brand, rule, form=form, problems=problems, status_code=422
        )
    return redirect(f"{BASE}/rules")


@router.post("/brand/reviews/rules/{rule_id}/delete")
async def delete_rule(rule_id: str, viewer: SignedIn, session: Session) -> Response:
    _, rule = await _rule_of(session, viewer, rule_id, "brand_rules.update")
    await service.delete_rule(session, viewer.principal, rule.id)
    return redirect(f"{BASE}/rules")


# One review -------------------------------------------------------------------------------------


async def _review_of(
    session: AsyncSession, viewer: Viewer, review_id: str, *, lock: bool = False
) -> tuple[Review, Where]:
    """The review, if the policy lets the viewer read it and it is of the brand they look
    at (another brand's or agency's: the 404 page), and where it is shown."""
    found = location_reviews.uuid_or_none(review_id)
    if found is None or viewer.brand is None:
        raise NotFound("review not found")
    review = await service.get_review(session, viewer.principal, found, lock=lock)
    if review.brand_id != viewer.brand.id:
        raise NotFound("review not found")
    place = (
        await session.execute(
            select(Location.name, Location.time_zone).where(
                and_(Location.agency_id == review.agency_id, Location.id == review.location_id)
            )
        )
    ).one()
    return review, Where(BASE, place.time_zone, place.name)


@router.get("/brand/reviews/{review_id}")
async def review_page(
    request: Request,
    review_id: str,
    viewer: SignedIn,
    session: Session,
    template: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    review, where = await _review_of(session, viewer, review_id)
    chosen = location_reviews.uuid_or_none(template)
    return await location_reviews.review_page(
        request, viewer, session, review, where, chosen=chosen
    )


async def _answer(
    request: Request,
    viewer: Viewer,
    session: Session,
    review_id: str,
    text: str | None,
    act: Any,
) -> Response:
    review, where = await _review_of(session, viewer, review_id, lock=True)
    return await location_reviews.answer(request, viewer, session, review, where, text, act)


location_reviews.add_reply_routes(router, "/brand/reviews", _answer)
