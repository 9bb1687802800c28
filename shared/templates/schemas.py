from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.content.platforms import PLATFORM_NAME_SCHEMA, PLATFORMS
from shared.errors import FieldProblem, ValidationFailed
from shared.fieldtypes import INT4_MAX, MediaUrl, Name

SLOT_NAME = r"^[a-z][a-z0-9_]{0,39}$"
BODY_KEYS = ("default", *PLATFORMS)


def _keys(value: dict[str, Any], what: str) -> dict[str, Any]:
    for key in value:
        if key not in BODY_KEYS:
            raise ValueError(
                f"unknown {what} key '{key}'; use 'default' or one of {', '.join(PLATFORMS)}"
            )
    return value


def _check_slot_names(value: dict[str, SlotIn]) -> dict[str, SlotIn]:
    for name in value:
        if not re.match(SLOT_NAME, name):
            raise ValueError(
                f"slot name '{name}' must be lowercase letters, digits and underscores, "
                "starting with a letter"
            )
    return value


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Name = Field(examples=["Today's offer"])
    help_text: str = Field(default="", max_length=1000)
    max_length: int | None = Field(default=None, ge=1, le=5000, examples=[40])
    required: bool = False
    allowed_values: list[str] | None = Field(default=None, min_length=1, max_length=100)
    default: str | None = Field(default=None, max_length=5000)


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["image", "video", "gif"]
    url: MediaUrl | None = Field(default=None, max_length=2000)
    media_id: str | None = Field(default=None, max_length=200)
    width: int | None = Field(default=None, ge=1, le=INT4_MAX)
    height: int | None = Field(default=None, ge=1, le=INT4_MAX)
    duration_seconds: float | None = Field(default=None, ge=0)
    size_bytes: int | None = Field(default=None, ge=0)
    cover_url: MediaUrl | None = Field(default=None, max_length=2000)


class TemplateContent(BaseModel):
    """A version's content. ``bodies["default"]`` is shared; a platform key overrides it for
    that platform. ``titles`` are Pinterest/YouTube titles and GBP event/offer titles."""

    model_config = ConfigDict(extra="forbid")

    bodies: dict[str, str] = Field(
        min_length=1,
        examples=[{"default": "Fresh pizza in {{ location.city }}! {{ slot.offer }}"}],
    )
    titles: dict[str, str] = Field(default_factory=dict)
    slots: dict[str, SlotIn] = Field(default_factory=dict)
    media: dict[str, list[MediaIn]] = Field(default_factory=dict)

    @field_validator("bodies", "titles", "media")
    @classmethod
    def _platform_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _keys(value, "content")

    @field_validator("slots")
    @classmethod
    def _slot_names(cls, value: dict[str, SlotIn]) -> dict[str, SlotIn]:
        return _check_slot_names(value)


class NewVersionIn(BaseModel):
    """The body of ``POST /v1/templates/{id}/versions``: create's content fields, or nothing.

    ``content`` is the older shape (the same fields one level down), still taken."""

    model_config = ConfigDict(extra="forbid")

    bodies: dict[str, str] | None = Field(
        default=None,
        min_length=1,
        description="The new draft's bodies, as in create. Omit every field to copy the "
        "latest version.",
        examples=[{"default": "Fresh pizza in {{ location.city }}! {{ slot.offer }}"}],
    )
    titles: dict[str, str] | None = None
    slots: dict[str, SlotIn] | None = None
    media: dict[str, list[MediaIn]] | None = None
    content: TemplateContent | None = Field(
        default=None,
        json_schema_extra={"deprecated": True},
        description="The same fields wrapped in `content` (the older shape); send one or the "
        "other.",
    )

    @field_validator("bodies", "titles", "media")
    @classmethod
    def _platform_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _keys(value, "content")

    @field_validator("slots")
    @classmethod
    def _slot_names(cls, value: dict[str, SlotIn] | None) -> dict[str, SlotIn] | None:
        return None if value is None else _check_slot_names(value)

    def new_content(self) -> TemplateContent | None:
        """The content to save, or None to copy the latest version."""
        given = {
            name: value
            for name in ("bodies", "titles", "slots", "media")
            if (value := getattr(self, name)) is not None
        }
        if self.content is not None:
            if given:
                raise ValidationFailed(
                    "send the new version's fields at the top level or inside `content`, not both",
                    errors=[
                        FieldProblem(
                            "body.content",
                            "leave out `content` and send bodies, titles, slots and media at the "
                            "top level, as in create",
                            "ambiguous",
                        )
                    ],
                )
            return self.content
        if not given:
            return None
        if "bodies" not in given:
            raise ValidationFailed(
                "a new version with content needs its bodies",
                errors=[
                    FieldProblem(
                        "body.bodies",
                        "give the new version's bodies too, or send no body (or {}) to copy the "
                        "latest version",
                        "missing",
                    )
                ],
            )
        return TemplateContent.model_validate(given)


class TemplateCreate(TemplateContent):
    brand_id: uuid.UUID
    name: Name = Field(examples=["Friday offer"])
    description: str = Field(default="", max_length=2000)


class TemplateOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID
    name: str
    description: str
    latest_version: int
    published_version: int | None
    created_at: datetime
    updated_at: datetime


class VersionOut(BaseModel):
    id: uuid.UUID = Field(description="This version's own id (the template's is `template_id`).")
    template_id: uuid.UUID
    version: int
    status: Literal["draft", "published"]
    bodies: dict[str, str]
    titles: dict[str, str]
    slots: dict[str, SlotIn]
    media: dict[str, list[MediaIn]]
    variables: list[str] = Field(description="Variables the bodies and titles use.")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class TemplateCreatedOut(BaseModel):
    """The answer to create: the template (``id``) and its first version (``version``,
    ``version_id``) with that version's content."""

    id: uuid.UUID = Field(description="The template's id: use it in /v1/templates/{id}/….")
    template_id: uuid.UUID = Field(description="The same as `id` (kept for older clients).")
    version: int = Field(description="The version number created: 1, a draft.")
    version_id: uuid.UUID = Field(description="The version's own id.")
    brand_id: uuid.UUID
    name: str
    description: str
    latest_version: int
    published_version: int | None
    status: Literal["draft", "published"]
    bodies: dict[str, str]
    titles: dict[str, str]
    slots: dict[str, SlotIn]
    media: dict[str, list[MediaIn]]
    variables: list[str] = Field(description="Variables the bodies and titles use.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: TemplateOut, version: VersionOut) -> TemplateCreatedOut:
        return cls(
            id=template.id,
            template_id=template.id,
            version=version.version,
            version_id=version.id,
            brand_id=template.brand_id,
            name=template.name,
            description=template.description,
            latest_version=template.latest_version,
            published_version=template.published_version,
            status=version.status,
            bodies=version.bodies,
            titles=version.titles,
            slots=version.slots,
            media=version.media,
            variables=version.variables,
            created_at=template.created_at,
            updated_at=template.updated_at,
        )


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: uuid.UUID
    slot_values: dict[str, str] = Field(default_factory=dict)
    campaign_variables: dict[str, str] = Field(default_factory=dict)
    platforms: list[str] | None = Field(
        default=None,
        description="Defaults to the brand's platforms (all when unrestricted).",
        json_schema_extra={"items": PLATFORM_NAME_SCHEMA},
    )

    @field_validator("platforms")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for item in value:
                if item not in PLATFORMS:
                    raise ValueError(f"unknown platform '{item}'")
        return value


class PreviewProblem(BaseModel):
    source: Literal["platform", "brand", "slot"]
    code: str
    platform: str | None
    field: str
    message: str
    limit: int | float | None = Field(
        default=None,
        description="The rule's limit in its unit: characters, items, bytes, pixels, seconds, "
        "frames per second, width ÷ height.",
    )
    actual: int | float | None = None
    limit_text: str | None = Field(
        default=None,
        description="A limit that is not one number (`0.8 to 1.91`, `h264, hevc`); `limit` "
        "is empty then.",
    )
    actual_text: str | None = Field(
        default=None, description="An actual value that is not a number (`WebP`, `vp9`)."
    )


class PlatformPreview(BaseModel):
    platform: str
    text: str
    title: str | None
    media: list[MediaIn] = Field(default_factory=list)
    characters: int = Field(description="Length as this platform counts it (X: weighted).")
    ok: bool
    problems: list[PreviewProblem]


class PreviewOut(BaseModel):
    template_id: uuid.UUID
    version: int
    location_id: uuid.UUID
    ok: bool
    slot_problems: list[PreviewProblem]
    platforms: list[PlatformPreview]
