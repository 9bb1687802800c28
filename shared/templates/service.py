"""Templates: versioned content, checked at save time, immutable once published, previewed
for any location on every platform with every problem reported at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, authorize, reach
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.brand_rules import check as rules_check
from shared.brand_rules import service as rules_service
from shared.brand_rules.schemas import BrandRulesOut
from shared.brands import service as brand_service
from shared.brands.names import violates
from shared.content import PLATFORMS, Media, MediaKind, PostContent, library_media, weighted_length
from shared.content import validate as validate_platform
from shared.content.library_media import LibraryFile
from shared.content.text import length
from shared.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from shared.locations import service as location_service
from shared.locations.models import Location
from shared.pagination import Slice, Sorting, sorted_page
from shared.templates import media_refs
from shared.templates.models import Template, TemplateVersion
from shared.templates.schemas import (
    MediaIn,
    PlatformPreview,
    PreviewIn,
    PreviewOut,
    PreviewProblem,
    SlotIn,
    TemplateContent,
    TemplateCreate,
    TemplateOut,
    VersionOut,
)
from shared.templating import (
    LOCATION_FIELDS,
    CompiledTemplate,
    RenderContext,
    SlotSpec,
    TemplateError,
    compile_template,
    validate_slot_values,
)
from shared.tenancy import scoped


def _specs(slots: dict[str, Any]) -> dict[str, SlotSpec]:
    out = {}
    for name, raw in slots.items():
        slot = raw if isinstance(raw, SlotIn) else SlotIn.model_validate(raw)
        out[name] = SlotSpec(
            label=slot.label,
            help_text=slot.help_text,
            max_length=slot.max_length,
            required=slot.required,
            allowed_values=tuple(slot.allowed_values) if slot.allowed_values else None,
            default=slot.default,
        )
    return out


def compile_content(
    bodies: dict[str, str], titles: dict[str, str], slots: dict[str, Any]
) -> dict[str, CompiledTemplate]:
    """Compiles every body and title (keys ``bodies.x``, ``titles.pinterest``), or raises one
    422 listing every problem of every part with its line and column."""
    specs = _specs(slots)
    compiled: dict[str, CompiledTemplate] = {}
    problems: list[FieldProblem] = []
    for kind, parts in (("bodies", bodies), ("titles", titles)):
        for key, source in parts.items():
            try:
                compiled[f"{kind}.{key}"] = compile_template(source, slots=specs)
            except TemplateError as exc:
                problems += [
                    FieldProblem(f"body.{kind}.{key}", str(p), "template_invalid", p.line)
                    for p in exc.problems
                ]
    if problems:
        raise ValidationFailed(
            f"the template has {len(problems)} problem(s); first: {problems[0].message}",
            code="template_invalid",
            errors=problems,
        )
    return compiled


def _version_out(version: TemplateVersion) -> VersionOut:
    compiled = compile_content(version.bodies, version.titles, version.slots)
    variables = sorted({v for c in compiled.values() for v in c.variables()})
    return VersionOut(
        id=version.id,
        template_id=version.template_id,
        version=version.version,
        status=version.status,
        bodies=version.bodies,
        titles=version.titles,
        slots={k: SlotIn.model_validate(v) for k, v in version.slots.items()},
        media={k: [MediaIn.model_validate(m) for m in v] for k, v in version.media.items()},
        variables=variables,
        created_at=version.created_at,
        updated_at=version.updated_at,
        published_at=version.published_at,
    )


def _content_values(content: TemplateContent) -> dict[str, Any]:
    dumped = content.model_dump(mode="json", include={"bodies", "titles", "slots", "media"})
    return {
        "bodies": dumped["bodies"],
        "titles": dumped["titles"],
        "slots": dumped["slots"],
        "media": dumped["media"],
    }


async def _template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, action: str
) -> Template:
    template = (
        await session.execute(scoped(Template, principal).where(Template.id == template_id))
    ).scalar_one_or_none()
    if template is None:
        raise NotFound("template not found")
    authorize(principal, action, Target(brand_id=template.brand_id), object_type="template")
    return template


async def _version(
    session: AsyncSession, principal: Principal, template: Template, number: int
) -> TemplateVersion:
    version = (
        await session.execute(
            select(TemplateVersion).where(
                TemplateVersion.agency_id == principal.agency_id,
                TemplateVersion.template_id == template.id,
                TemplateVersion.version == number,
            )
        )
    ).scalar_one_or_none()
    if version is None:
        raise NotFound(f"template version {number} not found")
    return version


def _out(template: Template, latest: int | None, published: int | None) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        brand_id=template.brand_id,
        name=template.name,
        description=template.description,
        latest_version=latest or 0,
        published_version=published,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


_LATEST = func.max(TemplateVersion.version)
_PUBLISHED = func.max(TemplateVersion.version).filter(TemplateVersion.status == "published")


async def _template_out(session: AsyncSession, template: Template) -> TemplateOut:
    row = (
        await session.execute(
            select(_LATEST, _PUBLISHED).where(
                TemplateVersion.agency_id == template.agency_id,
                TemplateVersion.template_id == template.id,
            )
        )
    ).one()
    return _out(template, row[0], row[1])


async def _template_outs(session: AsyncSession, templates: Sequence[Template]) -> list[TemplateOut]:
    """Many templates' versions in one query (a listing must not run one per template)."""
    if not templates:
        return []
    rows = await session.execute(
        select(TemplateVersion.template_id, _LATEST, _PUBLISHED)
        .where(
            TemplateVersion.agency_id == templates[0].agency_id,
            TemplateVersion.template_id.in_([t.id for t in templates]),
        )
        .group_by(TemplateVersion.template_id)
    )
    versions = {row[0]: (row[1], row[2]) for row in rows.all()}
    return [_out(t, *versions.get(t.id, (None, None))) for t in templates]


NAME_UNIQUE = "uq_template_agency_id_brand_id_name_key"


def _name_taken(name: str) -> Conflict:
    message = f"this brand already has a template named '{name}' (names differ by more than case)"
    return Conflict(
        message,
        code="template_name_taken",
        errors=[FieldProblem("body.name", message, "template_name_taken")],
    )


async def create_template(
    session: AsyncSession, principal: Principal, data: TemplateCreate
) -> tuple[TemplateOut, VersionOut]:
    await brand_service.get_brand(session, principal, data.brand_id, "template.create")
    compile_content(data.bodies, data.titles, data.slots)
    await _check_media(session, principal, data.brand_id, data.media)
    template = Template(
        agency_id=principal.agency_id,
        brand_id=data.brand_id,
        name=data.name.strip(),
        description=data.description,
    )
    session.add(template)
    try:
        await session.flush()
    except IntegrityError as exc:
        if violates(exc, NAME_UNIQUE):
            raise _name_taken(template.name) from None
        raise
    version = TemplateVersion(
        agency_id=principal.agency_id,
        template_id=template.id,
        version=1,
        created_by=principal.user_id,
        **_content_values(data),
    )
    session.add(version)
    await session.flush()
    await session.refresh(template)
    await session.refresh(version)
    audit.record_by(
        session,
        principal,
        action="template.create",
        object_type="template",
        object_id=template.id,
        after={"name": template.name, "brand_id": template.brand_id},
    )
    return await _template_out(session, template), _version_out(version)


async def get_template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID
) -> TemplateOut:
    return await _template_out(
        session, await _template(session, principal, template_id, "template.read")
    )


SORTING = Sorting(
    default="name",
    fields={
        "name": Template.name,
        "created_at": Template.created_at,
        "updated_at": Template.updated_at,
    },
    tiebreak=Template.id,
)


async def list_templates(
    session: AsyncSession,
    principal: Principal,
    *,
    brand_id: uuid.UUID | None,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[TemplateOut]:
    stmt = scoped(Template, principal)
    r = reach(principal, "template.read")
    if not r.everything:
        stmt = stmt.where(Template.brand_id.in_(r.brand_ids | r.location_brand_ids))
    if brand_id is not None:
        stmt = stmt.where(Template.brand_id == brand_id)
    page = await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )
    return Slice(await _template_outs(session, page.items), page.next_cursor, page.total)


async def get_version(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, number: int
) -> VersionOut:
    template = await _template(session, principal, template_id, "template.read")
    return _version_out(await _version(session, principal, template, number))


async def new_version(
    session: AsyncSession,
    principal: Principal,
    template_id: uuid.UUID,
    content: TemplateContent | None,
) -> VersionOut:
    """A new draft: the content given, or a copy of the latest version to edit."""
    template = await _template(session, principal, template_id, "template.update")
    latest = (
        await session.execute(
            select(TemplateVersion)
            .where(
                TemplateVersion.agency_id == principal.agency_id,
                TemplateVersion.template_id == template.id,
            )
            .order_by(TemplateVersion.version.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one()
    if content is not None:
        compile_content(content.bodies, content.titles, content.slots)
        await _check_media(session, principal, template.brand_id, content.media)
        values = _content_values(content)
    else:
        values = {
            "bodies": latest.bodies,
            "titles": latest.titles,
            "slots": latest.slots,
            "media": latest.media,
        }
    version = TemplateVersion(
        agency_id=principal.agency_id,
        template_id=template.id,
        version=latest.version + 1,
        created_by=principal.user_id,
        **values,
    )
    session.add(version)
    await session.flush()
    await session.refresh(version)
    return _version_out(version)


async def update_version(
    session: AsyncSession,
    principal: Principal,
    template_id: uuid.UUID,
    number: int,
    content: TemplateContent,
) -> VersionOut:
    template = await _template(session, principal, template_id, "template.update")
    version = await _version(session, principal, template, number)
    if version.status == "published":
        raise Conflict(
            f"version {number} is published and cannot change; create a new version",
            code="version_published",
        )
    compile_content(content.bodies, content.titles, content.slots)
    await _check_media(session, principal, template.brand_id, content.media)
    before = {"bodies": version.bodies, "titles": version.titles, "slots": version.slots}
    for key, value in _content_values(content).items():
        setattr(version, key, value)
    await session.flush()
    await session.refresh(version)
    audit.record_by(
        session,
        principal,
        action="template.version_update",
        object_type="template",
        object_id=template.id,
        before=before,
        after={"bodies": version.bodies, "titles": version.titles, "slots": version.slots},
        details={"version": number},
    )
    return _version_out(version)


async def publish_version(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, number: int
) -> VersionOut:
    template = await _template(session, principal, template_id, "template.publish")
    version = await _version(session, principal, template, number)
    if version.status != "published":
        compile_content(version.bodies, version.titles, version.slots)
        stored = {k: [MediaIn.model_validate(m) for m in v] for k, v in version.media.items()}
        await _check_media(session, principal, template.brand_id, stored, prefix="media")
        version.status = "published"
        version.published_at = datetime.now(UTC)
        version.published_by = principal.user_id
        await session.flush()
        await session.refresh(version)
        audit.record_by(
            session,
            principal,
            action="template.publish",
            object_type="template",
            object_id=template.id,
            details={"version": number},
        )
    return _version_out(version)


async def _check_media(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    media: dict[str, list[MediaIn]],
    prefix: str = "body.media",
) -> None:
    """Every library media the content names is the brand's to use, and ready (422)."""
    await media_refs.check_references(session, principal, media, media_refs.Owner(brand_id), prefix)


@dataclass(frozen=True, slots=True)
class Library:
    """The library media some content names: the ready files, and why the others cannot be
    sent."""

    files: dict[uuid.UUID, LibraryFile] = field(default_factory=dict)
    reasons: dict[uuid.UUID, str] = field(default_factory=dict)


NO_LIBRARY = Library()


async def library_of(
    session: AsyncSession, agency_id: uuid.UUID, media: dict[str, Sequence[Any]]
) -> Library:
    """The library files named anywhere in ``media`` (stored JSON items by key), in one
    query; no query when none is named."""
    ids = media_refs.ids_of(item for items in media.values() for item in items)
    if not ids:
        return NO_LIBRARY
    files, reasons = await media_refs.files_of(session, agency_id, ids)
    return Library(files, reasons)


def _library_id(item: MediaIn) -> uuid.UUID | None:
    return media_refs.parse_id(item.media_id) if item.url is None else None


def media_of(items: Sequence[Any], library: Library = NO_LIBRARY) -> tuple[Media, ...]:
    """A version's stored media (JSON) as the content checks take them; a library media
    with its real facts (and its poster as a video's cover)."""
    out = []
    for raw in items:
        item = raw if isinstance(raw, MediaIn) else MediaIn.model_validate(raw)
        cover = Media(kind=MediaKind.IMAGE, url=item.cover_url) if item.cover_url else None
        media_id = _library_id(item)
        file = library.files.get(media_id) if media_id is not None else None
        if file is not None:
            if file.kind is MediaKind.VIDEO and file.has_poster:
                cover = Media(kind=MediaKind.IMAGE, media_id=str(file.media_id))
            out.append(
                Media(
                    kind=MediaKind(item.kind),
                    media_id=item.media_id,
                    width=file.facts.width,
                    height=file.facts.height,
                    duration_seconds=file.facts.duration_seconds,
                    size_bytes=file.facts.size_bytes,
                    cover=cover,
                )
            )
            continue
        if item.url is None and item.media_id is None:
            continue  # refused when saved; never sent
        out.append(
            Media(
                kind=MediaKind(item.kind),
                url=item.url,
                media_id=item.media_id,
                width=item.width,
                height=item.height,
                duration_seconds=item.duration_seconds,
                size_bytes=item.size_bytes,
                cover=cover,
            )
        )
    return tuple(out)


def media_problems(
    platform: str, items: Sequence[Any], library: Library = NO_LIBRARY
) -> list[PreviewProblem]:
    """What keeps a post's library media from going out on ``platform``: a media that can
    no longer be sent (deleted, not ready), and every limit of the platform that what Chorus
    will send breaks (``shared.content.library_media``), each naming its field, limit and
    actual value."""
    problems: list[PreviewProblem] = []
    pairs: list[tuple[MediaKind, LibraryFile | None]] = []
    for index, raw in enumerate(items):
        item = raw if isinstance(raw, MediaIn) else MediaIn.model_validate(raw)
        media_id = _library_id(item)
        file = library.files.get(media_id) if media_id is not None else None
        if media_id is not None and file is None:
            why = library.reasons.get(media_id, "is not in this agency's media library")
            problems.append(
                PreviewProblem(
                    source="platform",
                    code="media_unavailable",
                    platform=platform,
                    field=f"media[{index}].media_id",
                    message=f"File {index + 1}: {why}.",
                )
            )
        pairs.append((MediaKind(item.kind), file))
    if not any(file is not None for _, file in pairs):
        return problems
    return problems + [
        PreviewProblem(
            source="platform",
            code=str(p.code),
            platform=platform,
            field=p.field,
            message=p.message,
            limit=None if isinstance(p.limit, str) else p.limit,
            actual=None if isinstance(p.actual, str) else p.actual,
            limit_text=p.limit if isinstance(p.limit, str) else None,
            actual_text=p.actual if isinstance(p.actual, str) else None,
        )
        for p in library_media.post_problems(platform, pairs)
    ]


async def preview(
    session: AsyncSession,
    principal: Principal,
    template_id: uuid.UUID,
    number: int,
    data: PreviewIn,
    *,
    media: dict[str, list[MediaIn]] | None = None,
) -> PreviewOut:
    """The version rendered for a location; ``media`` (already checked by the caller) in
    place of the version's own (a local post's own media)."""
    template = await _template(session, principal, template_id, "template.read")
    version = await _version(session, principal, template, number)
    content = _stored(version)
    if media is not None:
        content["media"] = {
            key: [item.model_dump(mode="json", exclude_none=True) for item in items]
            for key, items in media.items()
        }
    return await _preview(session, principal, template, version.version, content, data)


def _stored(version: TemplateVersion) -> dict[str, Any]:
    return {
        "bodies": version.bodies,
        "titles": version.titles,
        "slots": version.slots,
        "media": version.media,
    }


async def preview_content(
    session: AsyncSession,
    principal: Principal,
    template_id: uuid.UUID,
    number: int,
    content: TemplateContent,
    data: PreviewIn,
) -> PreviewOut:
    """The preview of content not saved yet (the web editor's live preview, as the person
    types): the same render and checks as ``preview``, for the draft ``number`` as it would be
    with ``content``. Nothing is written."""
    template = await _template(session, principal, template_id, "template.read")
    version = await _version(session, principal, template, number)
    return await _preview(
        session, principal, template, version.version, _content_values(content), data
    )


async def preview_published(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    location_id: uuid.UUID,
    rules: BrandRulesOut | None = None,
) -> list[tuple[TemplateOut, PreviewOut]]:
    """Every template of the brand with a published version: its newest published version
    rendered for the location with its slots' defaults and checked against ``rules`` (the
    brand's own when None). What a change of the brand's rules would break."""
    await brand_service.get_brand(session, principal, brand_id, "template.read")
    newest = (
        select(TemplateVersion.template_id, func.max(TemplateVersion.version).label("version"))
        .where(
            TemplateVersion.agency_id == principal.agency_id,
            TemplateVersion.status == "published",
        )
        .group_by(TemplateVersion.template_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(Template, TemplateVersion)
            .join(newest, newest.c.template_id == Template.id)
            .join(
                TemplateVersion,
                (TemplateVersion.agency_id == Template.agency_id)
                & (TemplateVersion.template_id == Template.id)
                & (TemplateVersion.version == newest.c.version),
            )
            .where(Template.agency_id == principal.agency_id, Template.brand_id == brand_id)
            .order_by(Template.name, Template.id)
        )
    ).all()
    if not rows:
        return []
    outs = {o.id: o for o in await _template_outs(session, [row[0] for row in rows])}
    location = await location_service.get_location(session, principal, location_id)
    brand = await brand_service.get_brand(session, principal, brand_id)
    if rules is None:
        rules = await rules_service.rules_for(session, principal.agency_id, brand_id)
    results = []
    for template, version in rows:
        defaults = {
            name: slot.default
            for name, slot in _specs(version.slots).items()
            if slot.default is not None
        }
        library = await library_of(session, principal.agency_id, version.media)
        out = _render_preview(
            template, version.version, _stored(version), location, brand.name, rules,
            PreviewIn(location_id=location.id, slot_values=defaults), library,
        )  # fmt: skip
        results.append((outs[template.id], out))
    return results


async def _preview(
    session: AsyncSession,
    principal: Principal,
    template: Template,
    number: int,
    content: dict[str, Any],
    data: PreviewIn,
) -> PreviewOut:
    location = await location_service.get_location(session, principal, data.location_id)
    if location.brand_id != template.brand_id:
        message = "the location belongs to another brand than the template"
        raise ValidationFailed(
            message, errors=[FieldProblem("body.location_id", message, "wrong_brand")]
        )
    brand = await brand_service.get_brand(session, principal, template.brand_id)
    rules = await rules_service.rules_for(session, principal.agency_id, template.brand_id)
    library = await library_of(session, principal.agency_id, content["media"])
    return _render_preview(template, number, content, location, brand.name, rules, data, library)


def _render_preview(
    template: Template,
    number: int,
    content: dict[str, Any],
    location: Location,
    brand_name: str,
    rules: BrandRulesOut,
    data: PreviewIn,
    library: Library = NO_LIBRARY,
) -> PreviewOut:
    compiled = compile_content(content["bodies"], content["titles"], content["slots"])
    slot_problems = [
        PreviewProblem(
            source="slot",
            code=p.code,
            platform=None,
            field=f"slot_values.{p.slot}",
            message=p.message,
        )
        for p in validate_slot_values(_specs(content["slots"]), data.slot_values)
    ]
    context = RenderContext.build(
        location={
            **{c: getattr(location, c) for c in LOCATION_FIELDS},
            "custom": location.custom_fields,
        },
        brand={"name": brand_name},
        campaign=data.campaign_variables,
        slots=data.slot_values,
    )
    media_by_key: dict[str, Any] = content["media"]
    platforms = data.platforms or list(rules.allowed_platforms or PLATFORMS)
    results = []
    for platform in platforms:
        body = compiled.get(f"bodies.{platform}") or compiled.get("bodies.default")
        text = body.render(context) if body is not None else ""
        title_template = compiled.get(f"titles.{platform}") or compiled.get("titles.default")
        title = title_template.render(context) if title_template is not None else None
        raw_media = media_by_key.get(platform) or media_by_key.get("default") or []
        post = PostContent(text=text, title=title, media=media_of(raw_media, library))
        problems = [
            PreviewProblem(
                source="platform",
                code=str(v.code),
                platform=v.platform,
                field=v.field,
                message=v.message,
                limit=v.limit,
                actual=v.actual,
            )
            for v in validate_platform(platform, post)
        ]
        problems += media_problems(platform, raw_media, library)
        problems += [
            PreviewProblem(
                source="brand", code=v.code, platform=v.platform, field=v.field, message=v.message
            )
            for v in rules_check.check(rules_service.effective(rules, platform), platform, text)
        ]
        if body is None:
            problems.append(
                PreviewProblem(
                    source="platform",
                    code="body_missing",
                    platform=platform,
                    field=f"bodies.{platform}",
                    message=f"the template has no body for {platform} and no default body",
                )
            )
        results.append(
            PlatformPreview(
                platform=platform,
                text=text,
                title=title,
                media=[MediaIn.model_validate(m) for m in raw_media],
                characters=weighted_length(text) if platform == "x" else length(text),
                ok=not problems and not slot_problems,
                problems=problems,
            )
        )
    return PreviewOut(
        template_id=template.id,
        version=number,
        location_id=location.id,
        ok=not slot_problems and all(r.ok for r in results),
        slot_problems=slot_problems,
        platforms=results,
    )


async def list_versions(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID
) -> tuple[TemplateOut, list[VersionOut]]:
    """The template and all its versions, newest first (the web editor's version list)."""
    template = await _template(session, principal, template_id, "template.read")
    versions = (
        (
            await session.execute(
                select(TemplateVersion)
                .where(
                    TemplateVersion.agency_id == principal.agency_id,
                    TemplateVersion.template_id == template.id,
                )
                .order_by(TemplateVersion.version.desc())
            )
        )
        .scalars()
        .all()
    )
    return await _template_out(session, template), [_version_out(v) for v in versions]


async def own_texts(
    session: AsyncSession, principal: Principal, versions: Sequence[tuple[uuid.UUID, int]]
) -> dict[uuid.UUID, list[str]]:
    """The platforms with a text of their own in each given ``(template, version)``, in one
    query (the web list of templates). Callers list the templates through ``list_templates``
    first, which authorizes them."""
    if not versions:
        return {}
    rows = await session.execute(
        select(TemplateVersion.template_id, TemplateVersion.bodies).where(
            TemplateVersion.agency_id == principal.agency_id,
            tuple_(TemplateVersion.template_id, TemplateVersion.version).in_(list(versions)),
        )
    )
    return {row[0]: [k for k in PLATFORMS if k in row[1]] for row in rows.all()}
