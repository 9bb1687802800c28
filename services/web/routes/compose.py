"""Post from a template (``/posts/new``): pick a published template of the location's brand,
fill its slots, see the post on every chosen platform with every problem, choose the
platforms (those the brand allows, on the agency's plan) and a time in the location's time
zone, or now; submit.

The same services as the API's ``POST /v1/locations/{id}/posts``
(``shared.posts.service.create_local_posts``, with the API's ``Idempotency-Key`` machinery
keyed by a token of the form, so a double submit makes the posts once) and the same warnings
about a platform without a connected account (``shared.posts.readiness``).

Photos and videos come from the media library through the media picker (issue #17): one
picker for every platform (``media.default``) and one per platform for a file of its own
(``media.<platform>``), checkboxes a form posts without script. Chosen files replace the
template's; none chosen keeps them. Each problem of the chosen files (rights that end before
the post's time, a file another library owns, Instagram without a photo, a video too short for
a Reel) is said next to the picker it concerns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Session, SettingsDep
from services.api.routes.media_files import MediaSigner
from services.web import media_choice, media_scope
from services.web import preview as live
from services.web.deps import SignedIn, Viewer
from services.web.i18n import Translator
from services.web.rendering import redirect, render, translator
from services.web.routes import media_library
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.billing import entitlements
from shared.brand_rules import service as rules_service
from shared.content.platforms import PLATFORMS
from shared.errors import AppError, NotFound
from shared.idempotency import IdempotentCall
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.media.signing import MediaUrlSigner
from shared.posts import readiness
from shared.posts import service as post_service
from shared.posts.schemas import LocalPostCreate
from shared.templates import media_refs
from shared.templates import service as template_service
from shared.templates.schemas import MediaIn, PreviewIn, SlotIn, TemplateOut

router = web_router()

TEMPLATES_SHOWN = 100
DEFAULT_HOUR = time(9, 0)
MEDIA_INPUT = "media.{key}"


@dataclass(frozen=True, slots=True)
class Chosen:
    """A published template of the location's brand and what posting from it offers."""

    template: TemplateOut
    version: int
    slots: dict[str, SlotIn]
    location: Location
    platforms: tuple[str, ...]
    """The platforms offered: the brand's allowed ones that the agency's plan includes."""
    warnings: dict[str, str]
    """Platform → the account problem that would keep its post from going out."""


async def _location(session: Session, viewer: Viewer) -> Location:
    """The viewer's location, if they may post there (403 page otherwise)."""
    if viewer.location is None:
        raise NotFound("no location")
    return await location_service.get_location(
        session, viewer.principal, viewer.location.id, post_service.ACT
    )


async def _offered(session: Session, location: Location) -> tuple[str, ...]:
    rules = await rules_service.rules_for(session, location.agency_id, location.brand_id)
    plan = (await entitlements.standing(session, None, location.agency_id)).plan
    allowed = rules.allowed_platforms or list(PLATFORMS)
    return tuple(p for p in PLATFORMS if p in allowed and p in plan.channels)


def _template_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("template not found") from None


async def load_template(session: Session, viewer: Viewer, template_id: uuid.UUID | str) -> Chosen:
    """A published template of the viewer's brand (404 page for any other)."""
    location = await _location(session, viewer)
    template = await template_service.get_template(
        session, viewer.principal, _template_id(template_id)
    )
    if template.brand_id != location.brand_id or template.published_version is None:
        raise NotFound("template not found")
    version = await template_service.get_version(
        session, viewer.principal, template.id, template.published_version
    )
    platforms = await _offered(session, location)
    found = await readiness.account_warnings(session, location, platforms)
    return Chosen(
        template=template,
        version=version.version,
        slots=live.reading_order(version.slots, version.bodies),
        location=location,
        platforms=platforms,
        warnings={w.platform: w.code for w in found},
    )


def chosen_platforms(form: Any, chosen: Chosen) -> list[str]:
    """The offered platforms ticked on the form, in the offered order."""
    ticked = {v for v in form.getlist("platforms") if isinstance(v, str)}
    return [p for p in chosen.platforms if p in ticked]


async def preview_of(
    session: Session,
    viewer: Viewer,
    t: Translator,
    chosen: Chosen,
    values: dict[str, str],
    platforms: list[str],
    media: dict[str, list[MediaIn]] | None = None,
) -> live.Preview:
    preview, _media_problems = await checked_preview(
        session, viewer, t, chosen, values, platforms, media
    )
    return preview


async def checked_preview(
    session: Session,
    viewer: Viewer,
    t: Translator,
    chosen: Chosen,
    values: dict[str, str],
    platforms: list[str],
    media: dict[str, list[MediaIn]] | None,
) -> tuple[live.Preview, list[str]]:
    """The preview with ``media`` in place of the template's (None: the template's), and the
    platforms' problems with the files (said again next to the pickers). The same checks as
    ``preview.build``, which takes no media of the post's own."""
    refused = {**live._too_long_input(t, values), **live._bad_characters(t, values)}
    if refused:
        return live.Preview(slot_problems=refused), []
    out = await template_service.preview(
        session,
        viewer.principal,
        chosen.template.id,
        chosen.version,
        PreviewIn(
            location_id=chosen.location.id,
            slot_values=values,
            platforms=platforms or [next(iter(PLATFORMS))],
        ),
        media=media,
    )
    preview = live.translate(t, out, chosen.slots)
    if not platforms:
        return live.Preview(slot_problems=preview.slot_problems), []
    about_files = [
        live._platform_problem(t, problem)
        for result in out.platforms
        for problem in result.problems
        if problem.field.startswith("media")
    ]
    return preview, list(dict.fromkeys(about_files))


@dataclass(frozen=True, slots=True)
class When:
    now: bool
    day: str
    hour: str


def _default_when(zone: str) -> When:
    tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    return When(now=False, day=tomorrow.isoformat(), hour=DEFAULT_HOUR.strftime("%H:%M"))


def _instant(t: Translator, when: When, zone: str) -> tuple[datetime | None, dict[str, str]]:
    """The chosen local date and time as an instant (None: now), or the problems."""
    if when.now:
        return None, {}
    problems: dict[str, str] = {}
    day: date | None = None
    hour: time | None = None
    try:
        day = date.fromisoformat(when.day)
    except ValueError:
        problems["day"] = t.gettext("Give a date, like 2030-06-03.")
    try:
        hour = time.fromisoformat(when.hour)
    except ValueError:
        problems["hour"] = t.gettext("Give a time, like 09:30.")
    if day is None or hour is None:
        return None, problems
    local = datetime.combine(day, hour, tzinfo=ZoneInfo(zone))
    if local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != local.replace(
        tzinfo=None
    ):
        problems["hour"] = t.gettext(
            "This time does not exist on that day in %(zone)s (the clocks change); choose another.",
            zone=zone,
        )
        return None, problems
    if local.astimezone(UTC) < datetime.now(UTC) - timedelta(minutes=1):
        problems["day"] = t.gettext("This time has passed: choose a later one, or post now.")
    return local, problems


def _page(
    request: Request,
    *,
    templates: list[TemplateOut],
    chosen: Chosen | None,
    values: dict[str, str],
    platforms: list[str],
    when: When,
    preview: live.Preview | None,
    pickers: list[dict[str, Any]] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "compose/new.html",
        {
            "templates": templates,
            "chosen": chosen,
            "fields": live.slot_fields(chosen.slots, values) if chosen else [],
            "ticked": set(platforms),
            "when": when,
            "preview": preview,
            "problems": problems or {},
            "platform_name": live.platform_name,
            "form_key": uuid.uuid4().hex,
            "pickers": pickers or [],
            "media_thumbs": media_choice.thumbs_for(
                [r.platform for r in preview.platforms] if preview else [],
                {p["key"]: sorted(p["selected"]) for p in pickers or []},
                pickers[0]["cards"] if pickers else [],
            ),
        },
        status_code=status_code,
    )


@dataclass(frozen=True, slots=True)
class Files:
    """The library files ticked in the pickers, as the service takes them, and what is wrong
    with them by media key."""

    picked: dict[str, list[str]]
    media: dict[str, list[MediaIn]] | None
    problems: media_choice.Problems
    usable: bool
    """Every chosen file may be used here (the preview may show them)."""


async def files_of(
    session: Session,
    viewer: Viewer,
    t: Translator,
    form: Any,
    chosen: Chosen,
    at: datetime | None,
) -> Files:
    picked = media_choice.picked_of(form, ("default", *chosen.platforms), MEDIA_INPUT)
    if not picked:
        return Files({}, None, {}, True)
    principal = viewer.principal
    found = await media_choice.kinds_of(session, principal.agency_id, picked)
    media = media_choice.items_of(picked, found)
    owner = media_refs.Owner(chosen.location.brand_id, chosen.location.id)
    refused = await media_choice.checked(session, t, principal, media, owner, found)
    problems = media_choice.expired(
        t, principal, picked, found, at=at, zone=chosen.location.time_zone
    )
    for key, messages in refused.items():
        problems.setdefault(key, []).extend(messages)
    return Files(picked, media, problems, not refused)


async def _pickers(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    chosen: Chosen,
    files: Files,
    about_files: list[str],
) -> list[dict[str, Any]]:
    """One picker for every platform, then one per offered platform, from one listing of
    what the location may use; the platforms' problems with the files under the first."""
    scope = media_scope.scope_of(viewer, brand_page=False)
    base = await media_library.picker_choices(
        request, viewer, session, settings, signer, scope, multiple=True
    )
    pickers = []
    for key in ("default", *chosen.platforms):
        problems = list(files.problems.get(key, []))
        if key == "default":
            problems += [m for m in about_files if m not in problems]
        pickers.append(
            {
                **base,
                "key": key,
                "input_name": MEDIA_INPUT.format(key=key),
                "selected": set(files.picked.get(key, [])),
                "problems": problems,
                "platform": None if key == "default" else live.platform_name(key),
            }
        )
    return pickers


async def _templates(session: Session, viewer: Viewer, location: Location) -> list[TemplateOut]:
    page = await template_service.list_templates(
        session, viewer.principal, brand_id=location.brand_id, limit=TEMPLATES_SHOWN, cursor=None
    )
    return [t for t in page.items if t.published_version is not None]


@router.get("/posts/new")
async def new_post(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
    template_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    t = translator(request)
    location = await _location(session, viewer)
    templates = await _templates(session, viewer, location)
    chosen = None
    preview = None
    pickers: list[dict[str, Any]] = []
    platforms: list[str] = []
    if template_id:
        try:
            wanted = uuid.UUID(template_id)
        except ValueError:
            raise NotFound("template not found") from None
        chosen = await load_template(session, viewer, wanted)
        platforms = [p for p in chosen.platforms if p not in chosen.warnings]
        found, about_files = await checked_preview(session, viewer, t, chosen, {}, platforms, None)
        preview = live.Preview(platforms=found.platforms)  # problems of slots once typed
        no_files = Files({}, None, {}, True)
        pickers = await _pickers(
            request, viewer, session, settings, signer, chosen, no_files, about_files
        )
    return _page(
        request,
        templates=templates,
        chosen=chosen,
        values={},
        platforms=platforms,
        when=_default_when(location.time_zone),
        preview=preview,
        pickers=pickers,
    )


@router.post("/posts/new")
async def create_post(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
) -> Response:
    """``action=preview``: the page again with the preview (nothing written); else the posts
    are made (one per platform) and the browser goes to the calendar on their day (or to
    the post, when there is one). The fields are read from the form itself, not declared,
    so odd input in a typed field (a NUL byte) is a problem next to it, not a 400 page."""
    form = await request.form()

    def field(name: str, longest: int = 100) -> str:
        value = form.get(name)
        return value.strip()[:longest] if isinstance(value, str) else ""

    template_id = field("template_id")
    action = field("action") or "create"
    form_key = field("form_key", 64)
    chosen_when = When(now=field("when") == "now", day=field("day", 40), hour=field("hour", 40))
    t = translator(request)
    chosen = await load_template(session, viewer, template_id)
    values = live.slot_values_of(form, chosen.slots)
    platforms = chosen_platforms(form, chosen)
    zone = chosen.location.time_zone
    at, problems = _instant(t, chosen_when, zone)
    if not platforms:
        problems["platforms"] = t.gettext("Choose at least one platform.")
    files = await files_of(session, viewer, t, form, chosen, at)
    shown_media = files.media if files.usable else None
    preview, about_files = await checked_preview(
        session, viewer, t, chosen, values, platforms, shown_media
    )
    problems.update(preview.slot_problems)
    templates = await _templates(session, viewer, chosen.location)
    pickers = await _pickers(request, viewer, session, settings, signer, chosen, files, about_files)

    def again(status: int, more: dict[str, str] | None = None) -> Response:
        return _page(
            request,
            templates=templates,
            chosen=chosen,
            values=values,
            platforms=platforms,
            when=chosen_when,
            preview=preview,
            pickers=pickers,
            problems={**problems, **(more or {})},
            status_code=status,
        )

    if action == "preview":
        return again(200)
    if files.problems:
        general = t.gettext("Fix the problems shown next to the photos and videos.")
        return again(422, {"": general})
    if problems or not preview.ok:
        general = t.gettext("Fix the problems shown under the platforms before posting.")
        return again(422, {} if problems else {"": general})
    data = LocalPostCreate(
        template_id=chosen.template.id,
        version=chosen.version,
        platforms=platforms,
        slot_values=values,
        media=files.media,
        scheduled_at=at,
    )
    body = orjson.dumps(data.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    key = form_key if form_key.isalnum() else None
    call = IdempotentCall(key, "POST", f"/posts/new/{chosen.location.id}", body)

    async def work() -> list[str]:
        made = await post_service.create_local_posts(
            session, viewer.principal, chosen.location.id, data
        )
        return [str(p.id) for p in made.posts]

    try:
        async with all_or_nothing(session):
            answer = await call.run(session, viewer.principal, work, status_code=201)
    except (AppError, ValidationError) as exc:
        message = exc.message if isinstance(exc, AppError) else str(exc)
        return again(422, {"": t.gettext("Nothing was saved: %(why)s", why=message)})
    made_ids: list[str] = orjson.loads(answer.body)
    if len(made_ids) == 1:
        return redirect(f"/posts/{made_ids[0]}")
    local_day = (at or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()
    return redirect(f"/calendar?date={local_day.isoformat()}")
