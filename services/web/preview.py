"""The live preview of a template's post on every platform, for the approval page and the
compose page: the same render and checks the API runs (``shared.templates.service.preview``:
shared/templating, the brand's rules, every platform's limits), each problem in the reader's
language next to the slot it concerns or under the platform it concerns.

``POST /preview`` (routes/preview.py) answers the script of both pages (static/preview.js)
with the rendered fragment (``compose/_preview.html``) and the slots' problems; without
script, each page's own "Preview" button re-renders the whole page through the same ``build``
and the same partial."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.web.i18n import N_, Translator
from services.web.rendering import environment, translator
from shared.access.principal import Principal
from shared.content.platforms import PLATFORMS
from shared.templates import service as template_service
from shared.templates.schemas import PreviewIn, PreviewOut, PreviewProblem, SlotIn

SLOT_PREFIX = "slot."
MAX_SLOT_INPUT = 5000
"""What a slot field takes at most (the longest slot a template may declare)."""

PLATFORM_NAMES = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "linkedin": "LinkedIn",
    "google_business": "Google Business Profile",
    "pinterest": "Pinterest",
    "tiktok": "TikTok",
    "youtube": "YouTube",
}

_PLATFORM_PROBLEMS = {
    "text_too_long": N_("The text is %(actual)s characters long; %(platform)s takes %(limit)s."),
    "title_too_long": N_("The title is %(actual)s characters long; %(platform)s takes %(limit)s."),
    "title_required": N_("%(platform)s needs a title."),
    "too_many_hashtags": N_("%(actual)s hashtags; %(platform)s takes at most %(limit)s."),
    "media_required": N_("%(platform)s needs a photo or a video."),
    "too_many_media": N_("%(actual)s media; %(platform)s takes at most %(limit)s."),
    "too_many_images": N_("%(actual)s photos; %(platform)s takes at most %(limit)s."),
    "too_many_videos": N_("%(actual)s videos; %(platform)s takes at most %(limit)s."),
    "too_many_gifs": N_("%(actual)s GIFs; %(platform)s takes at most %(limit)s."),
    "mixed_media": N_("%(platform)s does not take photos and videos in one post."),
    "image_not_allowed": N_("%(platform)s does not take photos."),
    "video_not_allowed": N_("%(platform)s does not take videos."),
    "gif_not_allowed": N_("%(platform)s does not take GIFs."),
    "cover_image_required": N_("%(platform)s needs a cover image for the video."),
    "body_missing": N_("The template has no text for %(platform)s."),
}
_BRAND_PROBLEMS = {
    "platform_not_allowed": N_("The brand does not post on %(platform)s."),
    "banned_word": N_("The text uses a word the brand does not allow."),
    "missing_hashtag": N_("The text lacks a hashtag the brand requires."),
    "missing_disclaimer": N_("The text lacks the disclaimer the brand requires."),
    "link_domain_not_allowed": N_("The text links to a site the brand does not allow."),
    "too_many_hashtags_for_brand": N_("More hashtags than the brand allows (%(limit)s)."),
}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


@dataclass(frozen=True, slots=True)
class SlotField:
    """One open slot of the template as a form field, with what the reader typed."""

    name: str
    label: str
    help_text: str
    max_length: int | None
    required: bool
    allowed_values: tuple[str, ...]
    default: str | None
    value: str

    @property
    def input_name(self) -> str:
        return SLOT_PREFIX + self.name

    @property
    def input_id(self) -> str:
        return "slot-" + self.name


@dataclass(frozen=True, slots=True)
class PlatformResult:
    platform: str
    name: str
    text: str
    title: str | None
    characters: int
    problems: tuple[str, ...]
    media: int = 0


@dataclass(frozen=True, slots=True)
class Preview:
    """What a page shows: the rendered post per platform with its problems, and each slot's
    problem by slot name (``""``: a problem of no slot)."""

    platforms: tuple[PlatformResult, ...] = ()
    slot_problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.slot_problems and all(not p.problems for p in self.platforms)

    @property
    def count(self) -> int:
        return len(self.slot_problems) + sum(len(p.problems) for p in self.platforms)


def reading_order(slots: Mapping[str, SlotIn], bodies: Mapping[str, str]) -> dict[str, SlotIn]:
    """The slots in the order the text uses them (stored JSON keeps no order of its own);
    a slot no body uses comes last, by name."""
    text = bodies.get("default") or " ".join(bodies.values())

    def place(name: str) -> tuple[int, str]:
        found = re.search(rf"slot\.{re.escape(name)}\b", text)
        return (found.start() if found else len(text) + 1, name)

    return {name: slots[name] for name in sorted(slots, key=place)}


def slot_fields(slots: Mapping[str, SlotIn], values: Mapping[str, str]) -> list[SlotField]:
    """The template's slots in the given order, each with the value typed (or stored)."""
    return [
        SlotField(
            name=name,
            label=spec.label,
            help_text=spec.help_text,
            max_length=spec.max_length,
            required=spec.required,
            allowed_values=tuple(spec.allowed_values or ()),
            default=spec.default,
            value=values.get(name, spec.default or ""),
        )
        for name, spec in slots.items()
    ]


def slot_values_of(form: Mapping[str, Any], slots: Iterable[str]) -> dict[str, str]:
    """The template's slots as the form sent them (other fields and unknown slots ignored:
    a form only offers the template's own)."""
    out: dict[str, str] = {}
    for name in slots:
        value = form.get(SLOT_PREFIX + name)
        if isinstance(value, str):
            out[name] = value.replace("\r\n", "\n")
    return out


def _slot_problem(t: Translator, problem: PreviewProblem, slots: Mapping[str, SlotIn]) -> str:
    name = problem.field.removeprefix("slot_values.")
    spec = slots.get(name)
    if problem.code == "slot_required":
        return t.gettext("Fill this in: the template needs it.")
    if problem.code == "slot_too_long" and spec is not None and spec.max_length:
        return t.gettext("Use at most %(max)s characters.", max=spec.max_length)
    if problem.code == "slot_not_allowed" and spec is not None and spec.allowed_values:
        return t.gettext(
            "Choose one of: %(choices)s.", choices=", ".join(spec.allowed_values or ())
        )
    return t.gettext("This is not a slot of this template.")


def _platform_problem(t: Translator, problem: PreviewProblem) -> str:
    values = {
        "platform": platform_name(problem.platform or ""),
        "limit": t.format_number(problem.limit) if problem.limit is not None else "",
        "actual": t.format_number(problem.actual) if problem.actual is not None else "",
    }
    catalog = _BRAND_PROBLEMS if problem.source == "brand" else _PLATFORM_PROBLEMS
    message = catalog.get(problem.code)
    if message is None:
        return problem.message
    if problem.source == "brand" and problem.code != "platform_not_allowed":
        # The rule's own words name what was found (the word, the hashtag, the site).
        return t.gettext(message, **values) + " " + problem.message
    return t.gettext(message, **values)


def _bad_characters(t: Translator, values: Mapping[str, str]) -> dict[str, str]:
    """What PostgreSQL cannot store (U+0000) is refused before any render."""
    return {
        name: t.gettext("Remove the invisible NUL character from this text.")
        for name, value in values.items()
        if "\x00" in value
    }


def _too_long_input(t: Translator, values: Mapping[str, str]) -> dict[str, str]:
    return {
        name: t.gettext("Use at most %(max)s characters.", max=MAX_SLOT_INPUT)
        for name, value in values.items()
        if len(value) > MAX_SLOT_INPUT
    }


def translate(t: Translator, out: PreviewOut, slots: Mapping[str, SlotIn]) -> Preview:
    slot_problems: dict[str, str] = {}
    for problem in out.slot_problems:
        slot_problems.setdefault(
            problem.field.removeprefix("slot_values."), _slot_problem(t, problem, slots)
        )
    return Preview(
        platforms=tuple(
            PlatformResult(
                platform=result.platform,
                name=platform_name(result.platform),
                text=result.text,
                title=result.title,
                characters=result.characters,
                problems=tuple(_platform_problem(t, p) for p in result.problems),
                media=len(result.media),
            )
            for result in out.platforms
        ),
        slot_problems=slot_problems,
    )


async def build(
    session: AsyncSession,
    principal: Principal,
    t: Translator,
    *,
    template_id: uuid.UUID,
    version: int,
    location_id: uuid.UUID,
    slots: Mapping[str, SlotIn],
    slot_values: dict[str, str],
    platforms: list[str],
    campaign_variables: dict[str, str] | None = None,
) -> Preview:
    """The preview the API's checks give, in the reader's words. No platform chosen: only
    the slots are checked."""
    refused = {**_too_long_input(t, slot_values), **_bad_characters(t, slot_values)}
    if refused:
        return Preview(slot_problems=refused)
    out = await template_service.preview(
        session,
        principal,
        template_id,
        version,
        PreviewIn(
            location_id=location_id,
            slot_values=slot_values,
            campaign_variables=campaign_variables or {},
            platforms=platforms or [next(iter(PLATFORMS))],
        ),
    )
    preview = translate(t, out, slots)
    return preview if platforms else Preview(slot_problems=preview.slot_problems)


def render_fragment(request: Request, preview: Preview) -> str:
    """The preview partial alone (the same one the pages include)."""
    t = translator(request)
    return environment.get_template("compose/_preview.html").render(
        {"preview": preview, "_": t.template_gettext, "t": t, "ngettext": t.template_ngettext}
    )
