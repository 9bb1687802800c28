"""Templates of the brand the viewer looks at (issue #16): the list and a new template, the
editor of a draft version (shared and per-platform texts and titles, slots, media per
platform) with a live preview for a chosen location on every platform, the versions
(published ones read-only), publish, duplicate a version into a new draft, and the template
language's reference.

The same service functions and policy as ``services/api/routes/templates.py``: the template is
loaded through ``shared.templates.service`` (which authorizes on its real brand); a template of
another brand than the one looked at, or of another agency, is the 404 page. A form with
problems re-renders with each next to its field (422) and nothing is saved."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import JSONResponse, Response

from services.api.deps import Session, SettingsDep
from services.api.routes.media_files import MediaSigner
from services.web import media_choice, security
from services.web import preview as live
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.media_scope import Scope
from services.web.rendering import environment, redirect, render, translator
from services.web.routes import media_library
from services.web.routing import web_router
from services.web.template_editor import (
    KEYS,
    LIBRARY_INPUT,
    MAX_TEXT,
    MEDIA_FIELDS,
    MEDIA_KINDS,
    SLOT_FIELDS,
    Editor,
    content_of,
    content_problems,
    editor_from_form,
    editor_of,
    text_problem,
)
from shared.access.policy import Target, allowed, authorize
from shared.brands import service as brand_service
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.locations import service as location_service
from shared.locations.repository import LocationFilter
from shared.media.signing import MediaUrlSigner
from shared.templates import media_refs
from shared.templates import service as template_service
from shared.templates.schemas import (
    PreviewIn,
    SlotIn,
    TemplateContent,
    TemplateCreate,
    TemplateOut,
    VersionOut,
)
from shared.templating import (
    BRAND_FIELDS,
    FILTERS,
    LOCATION_FIELDS,
    MAX_SOURCE_LENGTH,
    RenderContext,
    compile_template,
)

router = web_router()

PAGE_SIZE = 50
LOCATION_CHOICES = 100
"""The preview's location chooser lists the brand's first locations by name."""


def _platform_name(t: Translator, key: str) -> str:
    return t.gettext("Shared (every platform)") if key == "default" else live.platform_name(key)


# Loading --------------------------------------------------------------------------------------


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise NotFound("template not found") from None


async def _template_of(viewer: Viewer, session: Session, template_id: str) -> TemplateOut:
    """The template through the service (it authorizes ``template.read`` on its brand); one of
    another brand than the one the viewer looks at is not on these pages."""
    template = await template_service.get_template(
        session, viewer.principal, _uuid_or_404(template_id)
    )
    if viewer.brand is None or template.brand_id != viewer.brand.id:
        raise NotFound("template not found")
    return template


def _may(viewer: Viewer, brand_id: uuid.UUID, action: str) -> bool:
    return allowed(viewer.principal, action, Target(brand_id=brand_id))


# The list -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListItem:
    id: uuid.UUID
    name: str
    description: str
    latest: int
    published: int | None
    status: str
    own_texts: tuple[str, ...]


def _status(t: Translator, item: TemplateOut) -> str:
    if item.published_version is None:
        return t.gettext("Draft")
    if item.published_version == item.latest_version:
        return t.gettext("Published")
    return t.gettext(
        "Published (version %(published)s), draft version %(latest)s",
        published=item.published_version,
        latest=item.latest_version,
    )


@router.get("/brand/templates")
async def templates_list(
    request: Request,
    viewer: SignedIn,
    session: Session,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    return await _list_page(request, viewer, session, cursor=cursor)


async def _list_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    cursor: str | None = None,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    brand = viewer.brand
    context: dict[str, Any] = {
        "items": [],
        "next_url": None,
        "first_url": "/brand/templates" if cursor else None,
        "may_create": False,
        "form": form or {"name": "", "description": "", "body": ""},
        "problems": problems or {},
    }
    if brand is None:
        raise NotFound("brand not found")
    await brand_service.get_brand(session, viewer.principal, brand.id, "template.read")
    page = await template_service.list_templates(
        session,
        viewer.principal,
        brand_id=brand.id,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    own = await template_service.own_texts(
        session, viewer.principal, [(i.id, i.latest_version) for i in page.items]
    )
    context["items"] = [
        ListItem(
            id=i.id,
            name=i.name,
            description=i.description,
            latest=i.latest_version,
            published=i.published_version,
            status=_status(t, i),
            own_texts=tuple(live.platform_name(p) for p in own.get(i.id, ())),
        )
        for i in page.items
    ]
    if page.next_cursor:
        context["next_url"] = f"/brand/templates?cursor={page.next_cursor}"
    context["may_create"] = _may(viewer, brand.id, "template.create")
    return render(request, "brand_templates/list.html", context, status_code=status_code)


@router.post("/brand/templates")
async def create(
    request: Request,
    viewer: SignedIn,
    session: Session,
    name: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    body: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    t = translator(request)
    brand = viewer.brand
    if brand is None:
        raise NotFound("brand not found")
    form = {"name": name, "description": description, "body": body}
    problems: dict[str, str] = {}
    if not name.strip():
        problems["name"] = t.gettext("Give the template a name.")
    elif len(name.strip()) > 200:
        problems["name"] = t.gettext("Use at most %(max)s characters.", max=200)
    if len(description) > 2000:
        problems["description"] = t.gettext("Use at most %(max)s characters.", max=2000)
    text = body.replace("\r\n", "\n")
    problem = text_problem(t, text, required=True)
    if problem:
        problems["body"] = problem
    else:
        try:
            template_service.compile_content({"default": text}, {}, _slots_used(text))
        except ValidationFailed as exc:
            problems.update(content_problems(t, exc, {"body.bodies.default": "body"}))
    if not problems:
        try:
            async with session.begin_nested():  # a taken name rolls back to here only
                created, _version = await template_service.create_template(
                    session,
                    viewer.principal,
                    TemplateCreate(
                        brand_id=brand.id,
                        name=name.strip(),
                        description=description,
                        bodies={"default": text},
                        slots=_slots_used(text),
                    ),
                )
        except ValidationFailed as exc:
            problems.update(content_problems(t, exc, {"body.bodies.default": "body"}))
        except Conflict as exc:
            if exc.error_code != "template_name_taken":
                raise
            problems["name"] = t.gettext(
                "This brand already has a template with this name: choose another."
            )
        else:
            return redirect(f"/brand/templates/{created.id}")
    return await _list_page(request, viewer, session, form=form, problems=problems, status_code=422)


def _slots_used(text: str) -> dict[str, SlotIn]:
    """A new template's slots: each one its text uses, labelled with its name until the
    editor gives it a label of its own."""
    names = dict.fromkeys(re.findall(r"\bslot\.([a-z][a-z0-9_]{0,39})\b", text))
    return {name: SlotIn(label=name) for name in names}


# The template language's reference --------------------------------------------------------------

LOCATION_FIELD_NAMES = {
    "name": N_("The location's name"),
    "city": N_("City"),
    "address_line1": N_("Address, first line"),
    "address_line2": N_("Address, second line"),
    "region": N_("Region or state"),
    "postal_code": N_("Postal code"),
    "country": N_("Country (two-letter code)"),
    "phone": N_("Phone"),
    "website": N_("Website"),
    "time_zone": N_("Time zone"),
}
FILTER_NAMES = {
    "upper": N_("CAPITAL LETTERS"),
    "lower": N_("small letters"),
    "title": N_("Each Word Capitalised"),
    "trim": N_("Without spaces at either end"),
    "default": N_("This text when the value is empty"),
    "truncate": N_("At most this many characters, ending with “…” when cut"),
    "replace": N_("Every “old” replaced by “new”"),
}
FILTER_EXAMPLES = {
    "upper": "{{ location.city | upper }}",
    "lower": "{{ location.city | lower }}",
    "title": "{{ slot.dish | title }}",
    "trim": "{{ slot.dish | trim }}",
    "default": '{{ slot.offer | default("Come by!") }}',
    "truncate": "{{ slot.dish | truncate(12) }}",
    "replace": '{{ location.city | replace("Spring", "Summer") }}',
}
assert set(LOCATION_FIELD_NAMES) == set(LOCATION_FIELDS)
assert set(FILTER_NAMES) == set(FILTERS) == set(FILTER_EXAMPLES)
SAMPLE_LOCATION = {
    "name": "Luigi's Springfield",
    "city": "Springfield",
    "country": "US",
    "phone": "",
}
SAMPLE_CUSTOM = {"manager": "Ana"}
SAMPLE_BRAND = {"name": "Luigi's"}
SAMPLE_CAMPAIGN = {"discount": "20%"}
SAMPLE_SLOTS = {"dish": "  margherita pizza  ", "offer": ""}
SAMPLE = RenderContext.build(
    location={**SAMPLE_LOCATION, "custom": SAMPLE_CUSTOM},
    brand=SAMPLE_BRAND,
    campaign=SAMPLE_CAMPAIGN,
    slots=SAMPLE_SLOTS,
)


def _sample_values() -> list[tuple[str, str]]:
    """The sample's values as a template writes them."""
    return [
        *((f"location.{k}", v) for k, v in SAMPLE_LOCATION.items()),
        *((f"location.custom.{k}", v) for k, v in SAMPLE_CUSTOM.items()),
        *((f"brand.{k}", v) for k, v in SAMPLE_BRAND.items()),
        *((f"campaign.{k}", v) for k, v in SAMPLE_CAMPAIGN.items()),
        *((f"slot.{k}", v) for k, v in SAMPLE_SLOTS.items()),
    ]


def _example(source: str) -> str:
    return compile_template(source).render(SAMPLE)


@router.get("/brand/templates/reference")
async def reference(request: Request, viewer: SignedIn) -> Response:
    """Rendered from what shared/templating supports (its fields, filters and limits), every
    example run through the real compiler on the sample location shown."""
    t = translator(request)
    variables = [
        (f"location.{name}", t.gettext(LOCATION_FIELD_NAMES[name])) for name in LOCATION_FIELDS
    ]
    variables.append(("location.custom.<key>", t.gettext("A custom field of the location")))
    variables += [(f"brand.{name}", t.gettext("The brand's name")) for name in BRAND_FIELDS]
    variables.append(("campaign.<key>", t.gettext("A variable the campaign sets")))
    variables.append(("slot.<name>", t.gettext("A slot the template declares")))
    examples = [
        "{{ brand.name }} — {{ location.city }}",
        "{{ location.custom.manager }}",
        "{{ campaign.discount }}",
        "{% if location.phone %}Call {{ location.phone }}.{% else %}Visit us.{% endif %}",
        "{{{{ literal braces }}",
    ]
    context = {
        "variables": variables,
        "filters": [
            (
                spec.usage,
                t.gettext(FILTER_NAMES[name]),
                FILTER_EXAMPLES[name],
                _example(FILTER_EXAMPLES[name]),
            )
            for name, spec in FILTERS.items()
        ],
        "examples": [(source, _example(source)) for source in examples],
        "max_length": MAX_SOURCE_LENGTH,
        "sample": _sample_values(),
    }
    return render(request, "brand_templates/reference.html", context)


# The editor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    name: str


async def _locations(viewer: Viewer, session: Session, brand_id: uuid.UUID) -> list[Choice]:
    page = await location_service.list_locations(
        session,
        viewer.principal,
        LocationFilter(brand_id=brand_id),
        fields=("id", "name"),
        sort="name",
        limit=LOCATION_CHOICES,
        cursor=None,
    )
    return [Choice(str(row[0]), str(row[1])) for row in page.items]


async def _chosen_location(
    viewer: Viewer,
    session: Session,
    brand_id: uuid.UUID,
    form: Mapping[str, Any],
    choices: list[Choice],
) -> Choice | None:
    """The location asked for: one of the chooser's, or any other of the brand (a brand has
    more locations than the chooser lists; the address keeps the one chosen), else the first."""
    wanted = form.get("location_id")
    for choice in choices:
        if choice.id == wanted:
            return choice
    if isinstance(wanted, str) and wanted.strip():
        try:
            found = uuid.UUID(wanted.strip())
        except ValueError:
            found = None
        if found is not None:
            try:
                location = await location_service.get_location(session, viewer.principal, found)
            except (NotFound, Forbidden):
                location = None
            if location is not None and location.brand_id == brand_id:
                choice = Choice(str(location.id), location.name)
                choices.append(choice)
                return choice
    return choices[0] if choices else None


def _version_number(versions: list[VersionOut], asked: str) -> VersionOut:
    if asked.strip():
        if not asked.strip().isdigit():
            raise NotFound("template version not found")
        for v in versions:
            if v.version == int(asked):
                return v
        raise NotFound("template version not found")
    return versions[0]


async def _preview(
    viewer: Viewer,
    session: Session,
    t: Translator,
    template: TemplateOut,
    version: VersionOut,
    content: TemplateContent,
    location: Choice | None,
    form: Mapping[str, Any],
) -> tuple[live.Preview | None, list[live.SlotField]]:
    samples = live.slot_values_of(form, content.slots) if form else {}
    fields = live.slot_fields(live.reading_order(content.slots, content.bodies), samples)
    if location is None:
        return None, fields
    values = {f.name: f.value for f in fields if f.value}
    refused = {**live._too_long_input(t, values), **live._bad_characters(t, values)}
    if refused:
        return live.Preview(slot_problems=refused), fields
    out = await template_service.preview_content(
        session,
        viewer.principal,
        template.id,
        version.version,
        content,
        PreviewIn(location_id=uuid.UUID(location.id), slot_values=values),
    )
    return live.translate(t, out, content.slots), fields


async def _kinds(viewer: Viewer, session: Session, editor: Editor) -> dict[str, str]:
    """The kind of each chosen library file (its processed copy's), by id."""
    found = await media_choice.kinds_of(session, viewer.principal.agency_id, editor.library)
    return {i: f.blob.kind for i, f in found.items() if f.blob is not None}


async def _pickers(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    brand_id: uuid.UUID,
    editor: Editor,
    problems: Mapping[str, str],
) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """Per media key the picker of the brand's shared files and, for agency-wide people, the
    agency's (what a template may use); a chosen file the lists do not show stays ticked
    below them. Also every listed card (the preview's thumbnails)."""
    scopes = [Scope("/brand/media", brand_id, None, ("brand",), False)]
    if allowed(viewer.principal, "media.read", Target()):
        scopes.append(Scope("/brand/media", brand_id, None, ("agency",), True))
    cards: list[Any] = []
    base: dict[str, Any] = {}
    for scope in scopes:
        found = await media_library.picker_choices(
            request, viewer, session, settings, signer, scope, multiple=True
        )
        base = base or found
        cards += found["cards"]
    listed = {str(c.id) for c in cards}
    pickers = {}
    for key in KEYS:
        chosen = editor.library.get(key, [])
        name = LIBRARY_INPUT.format(key=key)
        pickers[key] = {
            **base,
            "cards": cards,
            "input_name": name,
            "selected": set(chosen),
            "unlisted": [i for i in chosen if i not in listed],
            "problem": problems.get(name, ""),
        }
    return pickers, cards


async def _library_problems(
    viewer: Viewer, session: Session, t: Translator, brand_id: uuid.UUID, editor: Editor
) -> dict[str, str]:
    """The chosen library files a template of the brand may not use (another library's, not
    ready, rights ended), by the picker's input name."""
    if not editor.library:
        return {}
    principal = viewer.principal
    found = await media_choice.kinds_of(session, principal.agency_id, editor.library)
    items = media_choice.items_of(editor.library, found)
    owner = media_refs.Owner(brand_id)
    by_key = await media_choice.checked(session, t, principal, items, owner, found)
    expired = media_choice.expired(t, principal, editor.library, found, at=None, zone="UTC")
    for key, messages in expired.items():
        by_key.setdefault(key, []).extend(messages)
    return {LIBRARY_INPUT.format(key=key): " ".join(m) for key, m in by_key.items()}


async def _editor_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    template_id: str,
    *,
    asked: str = "",
    form: Mapping[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    t = translator(request)
    template = await _template_of(viewer, session, template_id)
    _same, versions = await template_service.list_versions(session, viewer.principal, template.id)
    version = _version_number(versions, asked)
    may_update = _may(viewer, template.brand_id, "template.update")
    editable = version.status == "draft" and may_update
    locations = await _locations(viewer, session, template.brand_id)
    location = await _chosen_location(viewer, session, template.brand_id, form or {}, locations)
    editor = editor_from_form(form) if form is not None else editor_of(version)
    problems = dict(problems or {})
    content: TemplateContent | None
    if form is not None:
        content, found = content_of(t, editor, await _kinds(viewer, session, editor))
        problems = {**found, **problems}
    else:
        content = TemplateContent(
            bodies=version.bodies, titles=version.titles, slots=version.slots, media=version.media
        )
    preview: live.Preview | None = None
    sample_fields: list[live.SlotField] = []
    if content is not None:
        preview, sample_fields = await _preview(
            viewer, session, t, template, version, content, location, form or {}
        )
    pickers, cards = await _pickers(
        request, viewer, session, settings, signer, template.brand_id, editor, problems
    )
    context = {
        "pickers": pickers,
        "library_cards": {str(c.id): c for c in cards},
        "media_thumbs": media_choice.thumbs_for(
            [r.platform for r in preview.platforms] if preview else [], editor.library, cards
        ),
        "template": template,
        "version": version,
        "versions": versions,
        "editable": editable,
        "may_update": may_update,
        "may_publish": _may(viewer, template.brand_id, "template.publish"),
        "editor": editor.with_blank_rows() if editable else editor,
        "keys": KEYS,
        "key_name": lambda key: _platform_name(t, key),
        "media_kinds": MEDIA_KINDS,
        "locations": locations,
        "location": location,
        "preview": preview,
        "fields": sample_fields,
        "problems": {
            **_at_own_texts(content, preview),
            **problems,
            **(preview.slot_problems if preview else {}),
        },
        "status_name": {"draft": t.gettext("Draft"), "published": t.gettext("Published")},
        "when": lambda instant: t.format_datetime(instant, viewer.time_zone),
        "max_text": MAX_TEXT,
        "flash": flash,
        "open_keys": _open_keys(editor, problems),
        "open_media": {
            key
            for key in KEYS
            if editor.media_count(key) or any(name.startswith(f"media-{key}-") for name in problems)
        },
        "media_counts": {key: editor.media_count(key) for key in KEYS},
    }
    return render(request, "brand_templates/editor.html", context, status_code=status_code)


@router.get("/brand/templates/{template_id}")
async def editor_page(
    request: Request,
    template_id: str,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
    version: Annotated[str, Query(max_length=20)] = "",
    location_id: Annotated[str, Query(max_length=100)] = "",
    saved: Annotated[str, Query(max_length=5)] = "",
    published: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    t = translator(request)
    flash = None
    if published:
        flash = t.gettext("Published. This version can no longer change.")
    elif saved:
        flash = t.gettext("Saved.")
    form = None
    if location_id:
        # Choosing another location without script: the stored content, for that location.
        template = await _template_of(viewer, session, template_id)
        _same, versions = await template_service.list_versions(
            session, viewer.principal, template.id
        )
        shown = _version_number(versions, version)
        editor = editor_of(shown)
        form = _form_of(editor, location_id)
        form.update(
            {k: v for k, v in request.query_params.items() if k.startswith(live.SLOT_PREFIX)}
        )
    return await _editor_page(
        request,
        viewer,
        session,
        settings,
        signer,
        template_id,
        asked=version,
        form=form,
        flash=flash,
    )


def _open_keys(editor: Editor, problems: Mapping[str, str]) -> set[str]:
    """The platforms whose part of the editor starts open: those with something of their
    own, or a problem."""
    keys = set(editor.bodies) | set(editor.titles)
    keys |= {key for key in KEYS if key != "default" and editor.media_count(key)}
    for name in problems:
        for key in KEYS:
            if name in (f"body.{key}", f"title.{key}") or name.startswith(f"media-{key}-"):
                keys.add(key)
    return keys


def _form_of(editor: Editor, location_id: str) -> dict[str, Any]:
    """The editor as the form would post it (to preview stored content for a location)."""
    form: dict[str, Any] = {"location_id": location_id}
    for key, text in editor.bodies.items():
        form[f"body.{key}"] = text
    for key, text in editor.titles.items():
        form[f"title.{key}"] = text
    form["slot-count"] = str(len(editor.slots))
    for i, row in enumerate(editor.slots):
        for f in SLOT_FIELDS:
            form[f"slot-{i}-{f}"] = getattr(row, f)
        if row.required:
            form[f"slot-{i}-required"] = "on"
    for key, rows in editor.media.items():
        form[f"media-{key}-count"] = str(len(rows))
        for i, media in enumerate(rows):
            for f in MEDIA_FIELDS:
                form[f"media-{key}-{i}-{f}"] = getattr(media, f)
    for key, ids in editor.library.items():
        form[LIBRARY_INPUT.format(key=key)] = list(ids)
    return form


async def _draft(
    viewer: Viewer, session: Session, template_id: str, number: int
) -> tuple[TemplateOut, VersionOut]:
    template = await _template_of(viewer, session, template_id)
    version = await template_service.get_version(session, viewer.principal, template.id, number)
    return template, version


@router.post("/brand/templates/{template_id}/versions/{number}")
async def save(
    request: Request,
    template_id: str,
    number: int,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
) -> Response:
    """Save the draft (``action=save``), save and publish it (``publish``), or only show the
    preview of what was typed (``preview``: nothing is saved)."""
    t = translator(request)
    form = await request.form()
    action = form.get("action")
    template, version = await _draft(viewer, session, template_id, number)
    if action == "preview":
        return await _editor_page(
            request, viewer, session, settings, signer, template_id, asked=str(number), form=form
        )
    # Someone who may not change the template is refused before being told what was wrong.
    authorize(viewer.principal, "template.update", Target(brand_id=template.brand_id))
    if version.status != "draft":
        problems = {
            "": t.gettext("This version is published and cannot change: start a new draft.")
        }
        return await _editor_page(
            request, viewer, session, settings, signer, template_id, asked=str(number), form=form,
            problems=problems, status_code=409,
        )  # fmt: skip
    editor = editor_from_form(form)
    content, problems = content_of(t, editor, await _kinds(viewer, session, editor))
    if content is not None:
        problems = await _library_problems(viewer, session, t, template.brand_id, editor)
    if content is None or problems:
        return await _editor_page(
            request, viewer, session, settings, signer, template_id, asked=str(number), form=form,
            problems=problems, status_code=422,
        )  # fmt: skip
    try:
        await template_service.update_version(
            session, viewer.principal, template.id, version.version, content
        )
    except ValidationFailed as exc:  # what the checks above do not foresee
        problems = {"": t.gettext("Nothing was saved: %(why)s", why=exc.message)}
        return await _editor_page(
            request, viewer, session, settings, signer, template_id, asked=str(number), form=form,
            problems=problems, status_code=422,
        )  # fmt: skip
    except Conflict:  # published meanwhile (another tab, another person)
        problems = {
            "": t.gettext("This version is published and cannot change: start a new draft.")
        }
        return await _editor_page(
            request, viewer, session, settings, signer, template_id, asked=str(number), form=form,
            problems=problems, status_code=409,
        )  # fmt: skip
    if action == "publish":
        await template_service.publish_version(
            session, viewer.principal, template.id, version.version
        )
        return redirect(f"/brand/templates/{template.id}?version={version.version}&published=1")
    return redirect(f"/brand/templates/{template.id}?version={version.version}&saved=1")


@router.post("/brand/templates/{template_id}/preview")
async def live_preview(
    request: Request, template_id: str, viewer: SignedIn, session: Session
) -> Response:
    """The editor's script (static/preview.js): the form as typed, rendered for the chosen
    location on every platform. Nothing is written. ``problems``: each field's problem by the
    field's ``data-slot`` (the editor's fields and the sample slot values alike)."""
    t = translator(request)
    form = await request.form()
    number = form.get("version")
    if not isinstance(number, str) or not number.isdigit():
        raise NotFound("template version not found")
    template, version = await _draft(viewer, session, template_id, int(number))
    editor = editor_from_form(form)
    content, problems = content_of(t, editor, await _kinds(viewer, session, editor))
    preview: live.Preview | None = None
    if content is not None:
        locations = await _locations(viewer, session, template.brand_id)
        preview, _fields = await _preview(
            viewer,
            session,
            t,
            template,
            version,
            content,
            await _chosen_location(viewer, session, template.brand_id, form, locations),
            form,
        )
    shown = preview or live.Preview()
    response = JSONResponse(
        {
            "html": _fragment(request, preview, problems),
            "problems": {
                **_at_own_texts(content, preview),
                **problems,
                **shown.slot_problems,
            },
            "count": shown.count + len(problems),
        }
    )
    security.add_headers(response)
    return response


def _at_own_texts(content: TemplateContent | None, preview: live.Preview | None) -> dict[str, str]:
    """A platform's problems also next to its own text, when it has one (the shared text's
    are under each platform in the preview)."""
    if content is None or preview is None:
        return {}
    return {
        f"body.{result.platform}": " ".join(result.problems)
        for result in preview.platforms
        if result.problems and result.platform in content.bodies
    }


def _fragment(request: Request, preview: live.Preview | None, problems: dict[str, str]) -> str:
    """The preview partial, or while the template itself has problems, how many (each is
    shown next to its field)."""
    if not problems:
        return live.render_fragment(request, preview or live.Preview())
    t = translator(request)
    return environment.get_template("brand_templates/_problems.html").render(
        {"count": len(problems), "_": t.template_gettext, "ngettext": t.template_ngettext}
    )


@router.post("/brand/templates/{template_id}/versions/{number}/publish")
async def publish(
    request: Request, template_id: str, number: int, viewer: SignedIn, session: Session
) -> Response:
    template, version = await _draft(viewer, session, template_id, number)
    await template_service.publish_version(session, viewer.principal, template.id, version.version)
    return redirect(f"/brand/templates/{template.id}?version={version.version}&published=1")


@router.post("/brand/templates/{template_id}/versions")
async def duplicate(
    request: Request,
    template_id: str,
    viewer: SignedIn,
    session: Session,
    source: Annotated[int, Form(alias="from", ge=1, le=2_000_000_000)],
) -> Response:
    """A new draft with the content of version ``from`` (the newest number)."""
    template, version = await _draft(viewer, session, template_id, source)
    created = await template_service.new_version(
        session,
        viewer.principal,
        template.id,
        TemplateContent(
            bodies=version.bodies, titles=version.titles, slots=version.slots, media=version.media
        ),
    )
    return redirect(f"/brand/templates/{template.id}?version={created.version}")
