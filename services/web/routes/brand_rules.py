"""The rules of the brand the viewer looks at (issue #16): banned words, required hashtags, a
disclaimer, the link domains allowed, a hashtag cap, whether a location's edits need approval,
the platforms the brand posts on and per-platform overrides.

The same service and policy as the API's ``/v1/brands/{id}/rules``. The page always says which
published templates of the brand the rules break (each template's newest published version,
rendered for the brand's first location with its slots' defaults, checked as a post would
be); "Check" shows it for the rules as typed without saving them, and saving shows it for
the new rules."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Session
from services.web import preview as live
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared.access.policy import Target, allowed, authorize
from shared.brand_rules import service as rules_service
from shared.brand_rules.schemas import BrandRulesIn, BrandRulesOut
from shared.content.platforms import PLATFORMS
from shared.errors import NotFound
from shared.locations import service as location_service
from shared.locations.repository import LocationFilter
from shared.templates import service as template_service
from shared.templates.schemas import PlatformPreview, PreviewOut

router = web_router()

LIST_FIELDS = ("banned_words", "required_hashtags")
OVERRIDE_FIELDS = (
    "banned_words",
    "required_hashtags",
    "required_disclaimer",
    "link_domains",
    "max_hashtags",
)
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_PROBLEMS = {
    "banned_words": N_("At most 500 words or phrases, one per line."),
    "required_hashtags": N_("At most 30 hashtags, one per line."),
    "required_disclaimer": N_("Use at most 500 characters."),
    "link_domains": N_("At most 200 domains, one per line."),
    "max_hashtags": N_("A whole number from 0 to 100, or empty for no cap."),
}


@dataclass(slots=True)
class RulesForm:
    """The rules as the form shows them (lists one item a line), as typed or as stored."""

    platforms: list[str] = field(default_factory=lambda: list(PLATFORMS))
    banned_words: str = ""
    required_hashtags: str = ""
    required_disclaimer: str = ""
    links: str = "any"
    link_domains: str = ""
    max_hashtags: str = ""
    approval: bool = False
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def override(self, platform: str, name: str) -> str:
        return self.overrides.get(platform, {}).get(name, "")


def _lines(items: list[str] | None) -> str:
    return "\n".join(items or ())


def form_of(rules: BrandRulesOut) -> RulesForm:
    overrides: dict[str, dict[str, str]] = {}
    for platform, o in rules.platform_overrides.items():
        overrides[platform] = {
            "banned_words": _lines(o.banned_words),
            "required_hashtags": _lines(o.required_hashtags),
            "required_disclaimer": o.required_disclaimer or "",
            "link_domains": _lines(o.allowed_link_domains),
            "max_hashtags": "" if o.max_hashtags is None else str(o.max_hashtags),
        }
    return RulesForm(
        platforms=list(rules.allowed_platforms or PLATFORMS),
        banned_words=_lines(rules.banned_words),
        required_hashtags=_lines(rules.required_hashtags),
        required_disclaimer=rules.required_disclaimer,
        links="any" if rules.allowed_link_domains is None else "only",
        link_domains=_lines(rules.allowed_link_domains),
        max_hashtags="" if rules.max_hashtags is None else str(rules.max_hashtags),
        approval=rules.location_edits_need_approval,
        overrides=overrides,
    )


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def form_from(form: Any) -> RulesForm:
    return RulesForm(
        platforms=[p for p in form.getlist("platforms") if p in PLATFORMS],
        banned_words=_text(form, "banned_words"),
        required_hashtags=_text(form, "required_hashtags"),
        required_disclaimer=_text(form, "required_disclaimer"),
        links="only" if form.get("links") == "only" else "any",
        link_domains=_text(form, "link_domains"),
        max_hashtags=_text(form, "max_hashtags").strip(),
        approval=bool(form.get("approval")),
        overrides={
            p: {name: _text(form, f"o.{p}.{name}") for name in OVERRIDE_FIELDS} for p in PLATFORMS
        },
    )


def _items(text: str, *, tags: bool = False) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        item = line.strip()
        if tags:
            item = item.lstrip("#").strip()
        if item and item not in out:
            out.append(item)
    return out


def _domains(t: Translator, text: str, name: str, problems: dict[str, str]) -> list[str]:
    domains = []
    for item in _items(text.lower()):
        bare = re.sub(r"^https?://", "", item).rstrip("/")
        if not DOMAIN.match(bare):
            problems.setdefault(
                name,
                t.gettext(
                    "“%(item)s” is not a domain: write one such as example.com, one per line.",
                    item=item,
                ),
            )
        domains.append(bare)
    return domains


def _cap(t: Translator, text: str, name: str, problems: dict[str, str]) -> int | str | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        message = _PROBLEMS["max_hashtags"]
        problems[name] = t.gettext(message)
        return None
    return int(text.strip())


def rules_of(t: Translator, typed: RulesForm) -> tuple[BrandRulesIn | None, dict[str, str]]:
    """The form as the API's rules, or the problems by field."""
    problems: dict[str, str] = {}
    if not typed.platforms:
        problems["platforms"] = t.gettext("Choose at least one platform.")
    overrides: dict[str, dict[str, Any]] = {}
    for platform in PLATFORMS:
        given = {k: v for k, v in typed.overrides.get(platform, {}).items() if v.strip()}
        if not given:
            continue
        prefix = f"o.{platform}."
        override: dict[str, Any] = {}
        if "banned_words" in given:
            override["banned_words"] = _items(given["banned_words"])
        if "required_hashtags" in given:
            override["required_hashtags"] = _items(given["required_hashtags"], tags=True)
        if "required_disclaimer" in given:
            override["required_disclaimer"] = given["required_disclaimer"].strip()
        if "link_domains" in given:
            override["allowed_link_domains"] = _domains(
                t, given["link_domains"], prefix + "link_domains", problems
            )
        if "max_hashtags" in given:
            override["max_hashtags"] = _cap(
                t, given["max_hashtags"], prefix + "max_hashtags", problems
            )
        overrides[platform] = override
    data = {
        "allowed_platforms": None if set(PLATFORMS) <= set(typed.platforms) else typed.platforms,
        "banned_words": _items(typed.banned_words),
        "required_hashtags": _items(typed.required_hashtags, tags=True),
        "required_disclaimer": typed.required_disclaimer.strip(),
        "allowed_link_domains": (
            _domains(t, typed.link_domains, "link_domains", problems)
            if typed.links == "only"
            else None
        ),
        "max_hashtags": _cap(t, typed.max_hashtags, "max_hashtags", problems),
        "location_edits_need_approval": typed.approval,
        "platform_overrides": overrides,
    }
    try:
        rules = BrandRulesIn.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            if loc[0] == "platform_overrides" and len(loc) >= 3:
                name = "link_domains" if loc[2] == "allowed_link_domains" else loc[2]
                key = f"o.{loc[1]}.{name}"
            else:
                name = "link_domains" if loc[0] == "allowed_link_domains" else loc[0]
                key = name
            message = _PROBLEMS.get(name, N_("Check this field."))
            problems.setdefault(key, t.gettext(message))
        return None, problems
    if problems:
        return None, problems
    return rules, {}


@dataclass(frozen=True, slots=True)
class Break:
    template_id: uuid.UUID
    name: str
    version: int
    reasons: tuple[tuple[str, tuple[str, ...]], ...]
    """The platforms the template breaks on (those with the same reasons together), with
    the reasons in the reader's words."""


def _brand_only(out: PreviewOut) -> PreviewOut:
    """The brand rules' problems alone (a platform's own limits are not the rules' doing)."""
    return out.model_copy(
        update={
            "slot_problems": [],
            "platforms": [
                PlatformPreview.model_validate(
                    {
                        **p.model_dump(),
                        "problems": [q for q in p.problems if q.source == "brand"],
                    }
                )
                for p in out.platforms
            ],
        }
    )


async def breaks(
    viewer: Viewer,
    session: Session,
    t: Translator,
    brand_id: uuid.UUID,
    rules: BrandRulesOut | None,
) -> tuple[list[Break], str | None, int] | None:
    """Which published templates ``rules`` break, the location they were checked for, and
    how many were checked. None: the viewer may not read templates, or the brand has no
    location to render them for."""
    if not allowed(viewer.principal, "template.read", Target(brand_id=brand_id)):
        return None
    first = await location_service.list_locations(
        session,
        viewer.principal,
        LocationFilter(brand_id=brand_id),
        fields=("id", "name"),
        sort="name",
        limit=1,
        cursor=None,
    )
    if not first.items:
        return None
    location_id, location_name = first.items[0][0], str(first.items[0][1])
    checked = await template_service.preview_published(
        session, viewer.principal, brand_id, location_id, rules
    )
    found = []
    for template, out in checked:
        shown = live.translate(t, _brand_only(out), {})
        grouped: dict[tuple[str, ...], list[str]] = {}
        for p in shown.platforms:
            if p.problems:
                grouped.setdefault(p.problems, []).append(p.name)
        if grouped:
            reasons = tuple((", ".join(names), why) for why, names in grouped.items())
            found.append(Break(template.id, template.name, out.version, reasons))
    return found, location_name, len(checked)


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    typed: RulesForm | None = None,
    checked: BrandRulesIn | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    t = translator(request)
    brand = viewer.brand
    if brand is None:
        raise NotFound("brand not found")
    stored = await rules_service.get_rules(session, viewer.principal, brand.id)
    against = None
    if checked is not None:
        against = BrandRulesOut.model_validate(checked.model_dump())
    found = None if problems else await breaks(viewer, session, t, brand.id, against)
    context = {
        "rules": stored,
        "form": typed or form_of(stored),
        "may_update": allowed(viewer.principal, "brand_rules.update", Target(brand_id=brand.id)),
        "problems": problems or {},
        "platforms": [(p, live.platform_name(p)) for p in PLATFORMS],
        "breaks": found,
        "checked": checked is not None,
        "flash": flash,
    }
    return render(request, "brand_rules/rules.html", context, status_code=status_code)


@router.get("/brand/rules")
async def rules_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    saved: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    t = translator(request)
    flash = t.gettext("Saved. The new rules apply to every post from now on.") if saved else None
    return await _page(request, viewer, session, flash=flash)


@router.post("/brand/rules")
async def save(request: Request, viewer: SignedIn, session: Session) -> Response:
    """``action=check``: which published templates the rules as typed would break, nothing
    saved; ``save``: save them (the page then says what the saved rules break)."""
    t = translator(request)
    brand = viewer.brand
    if brand is None:
        raise NotFound("brand not found")
    form = await request.form()
    typed = form_from(form)
    rules, problems = rules_of(t, typed)
    if rules is None:
        # Someone who may not change the rules is refused before being told what was wrong
        # with them (``viewer.brand`` was loaded through the policy, not from the URL).
        authorize(viewer.principal, "brand_rules.update", Target(brand_id=brand.id))
        return await _page(
            request, viewer, session, typed=typed, problems=problems, status_code=422
        )
    if form.get("action") == "check":
        await rules_service.get_rules(session, viewer.principal, brand.id)
        return await _page(request, viewer, session, typed=typed, checked=rules)
    await rules_service.put_rules(session, viewer.principal, brand.id, rules)
    return redirect("/brand/rules?saved=1")
