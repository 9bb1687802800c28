from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.content.platforms import PLATFORMS


class LocalPostCreate(BaseModel):
    """A location's own post from a published template of its brand: the location fills the
    template's slots; everything else is the brand's locked text."""

    model_config = ConfigDict(extra="forbid")

    template_id: uuid.UUID
    version: int = Field(ge=1, description="A published version of the template.")
    platforms: list[str] = Field(min_length=1, max_length=len(PLATFORMS))
    slot_values: dict[str, str] = Field(default_factory=dict)

    @field_validator("platforms")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in PLATFORMS:
                raise ValueError(f"unknown platform '{item}'; use one of {', '.join(PLATFORMS)}")
        return list(dict.fromkeys(value))


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    campaign_id: uuid.UUID | None
    template_id: uuid.UUID
    template_version: int
    platform: str
    slot_values: dict[str, Any]
    text: str
    title: str | None
    media: list[Any]
    status: str
    scheduled_at: datetime | None
    external_id: str | None
    permalink: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
