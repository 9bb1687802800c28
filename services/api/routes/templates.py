from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, status

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from shared.brand_rules import service as rules_service
from shared.brand_rules.schemas import BrandRulesIn, BrandRulesOut
from shared.fieldtypes import INT4_MAX
from shared.pagination import Page
from shared.templates import service as template_service
from shared.templates.schemas import (
    NewVersionIn,
    PreviewIn,
    PreviewOut,
    TemplateContent,
    TemplateCreate,
    TemplateCreatedOut,
    TemplateOut,
    VersionOut,
)

router = APIRouter(prefix="/v1", tags=["templates"])

Version = Annotated[int, Path(ge=1, le=INT4_MAX, description="Version number.")]


@router.get(
    "/brands/{brand_id}/rules",
    summary="A brand's content rules",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "brand_rules.read"},
)
async def get_brand_rules(
    brand_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> BrandRulesOut:
    return await rules_service.get_rules(session, principal, brand_id)


@router.put(
    "/brands/{brand_id}/rules",
    summary="Replace a brand's content rules",
    description="Banned words and phrases match whole words, ignoring case and accents.",
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "brand_rules.update"},
)
async def put_brand_rules(
    brand_id: uuid.UUID, data: BrandRulesIn, session: Session, principal: CurrentPrincipal
) -> BrandRulesOut:
    return await rules_service.put_rules(session, principal, brand_id, data)


@router.post(
    "/templates",
    summary="Create a template (its first version is a draft)",
    description="Every body and title is checked now: anything outside the template language "
    "is refused with its line and column. The answer's `id` is the template's (for "
    "`/v1/templates/{id}/versions/{version}/publish` and the rest), `version` the draft's "
    "number (1) and `version_id` the version's own id.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "template.create"},
)
async def create_template(
    data: TemplateCreate, session: Session, principal: CurrentPrincipal
) -> TemplateCreatedOut:
    template, version = await template_service.create_template(session, principal, data)
    return TemplateCreatedOut.of(template, version)


@router.get(
    "/templates",
    summary="List templates (by name unless `sort` says otherwise)",
    responses=problems(400, 401, 422),
    openapi_extra={"x-permission": "template.read"},
)
async def list_templates(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(template_service.SORTING))],
    brand_id: uuid.UUID | None = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[TemplateOut]:
    page = await template_service.list_templates(
        session,
        principal,
        brand_id=brand_id,
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[TemplateOut](items=page.items, next_cursor=page.next_cursor, total=page.total)


@router.get(
    "/templates/{template_id}",
    summary="Get a template",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "template.read"},
)
async def get_template(
    template_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> TemplateOut:
    return await template_service.get_template(session, principal, template_id)


@router.post(
    "/templates/{template_id}/versions",
    summary="Start a new draft version",
    description="With no body (or `{}`): a copy of the latest version, to edit with `PUT "
    "…/versions/{version}`. With a body: that content, in create's shape (`bodies`, "
    "`titles`, `slots`, `media`; `bodies` required). The older shape, the same fields inside "
    "`content`, is still taken.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "template.update"},
)
async def new_version(
    template_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    data: Annotated[NewVersionIn | None, Body()] = None,
) -> VersionOut:
    content = data.new_content() if data is not None else None
    return await template_service.new_version(session, principal, template_id, content)


@router.get(
    "/templates/{template_id}/versions/{version}",
    summary="Get a template version",
    responses=problems(401, 404, 422),
    openapi_extra={"x-permission": "template.read"},
)
async def get_version(
    template_id: uuid.UUID, version: Version, session: Session, principal: CurrentPrincipal
) -> VersionOut:
    return await template_service.get_version(session, principal, template_id, version)


@router.put(
    "/templates/{template_id}/versions/{version}",
    summary="Replace a draft version's content",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "template.update"},
)
async def update_version(
    template_id: uuid.UUID,
    version: Version,
    data: TemplateContent,
    session: Session,
    principal: CurrentPrincipal,
) -> VersionOut:
    return await template_service.update_version(session, principal, template_id, version, data)


@router.post(
    "/templates/{template_id}/versions/{version}/publish",
    summary="Publish a version (it can no longer change)",
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "template.publish"},
)
async def publish_version(
    template_id: uuid.UUID, version: Version, session: Session, principal: CurrentPrincipal
) -> VersionOut:
    return await template_service.publish_version(session, principal, template_id, version)


@router.post(
    "/templates/{template_id}/versions/{version}/preview",
    summary="Render a version for a location on each platform, with every problem",
    description="Renders with the location's data, the slot values and campaign variables "
    "given, then checks each platform's limits, the brand's rules and the slots. Nothing is "
    "saved.",
    responses=problems(401, 404, 422),
    openapi_extra={"x-permission": "template.read"},
)
async def preview(
    template_id: uuid.UUID,
    version: Version,
    data: PreviewIn,
    session: Session,
    principal: CurrentPrincipal,
) -> PreviewOut:
    return await template_service.preview(session, principal, template_id, version, data)
