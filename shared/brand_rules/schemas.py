from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.content.platforms import PLATFORM_NAME_SCHEMA, PLATFORMS

PLATFORM_NAMES = tuple(PLATFORMS)


def _platform(value: str) -> str:
    if value not in PLATFORMS:
        raise ValueError(f"unknown platform '{value}'; use one of {', '.join(PLATFORM_NAMES)}")
    return value


class RulesOverride(BaseModel):
    """Per-platform replacements for the brand-wide rules (only the fields given)."""

    model_config = ConfigDict(extra="forbid")

    banned_words: list[str] | None = Field(default=None, max_length=500)
    required_hashtags: list[str] | None = Field(default=None, max_length=30)
    required_disclaimer: str | None = Field(default=None, max_length=500)
    allowed_link_domains: list[str] | None = Field(default=None, max_length=200)
    max_hashtags: int | None = Field(default=None, ge=0, le=100)


class BrandRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_platforms: list[str] | None = Field(
        default=None,
        description="Platforms the brand posts on; null means all.",
        json_schema_extra={"items": PLATFORM_NAME_SCHEMA},
    )
    banned_words: list[str] = Field(default_factory=list, max_length=500, examples=[["cheap"]])
    required_hashtags: list[str] = Field(default_factory=list, max_length=30)
    required_disclaimer: str = Field(default="", max_length=500)
    allowed_link_domains: list[str] | None = Field(
        default=None, description="Link domains allowed in posts; null means any."
    )
    max_hashtags: int | None = Field(default=None, ge=0, le=100)
    location_edits_need_approval: bool = False
    platform_overrides: dict[str, RulesOverride] = Field(
        default_factory=dict, json_schema_extra={"propertyNames": PLATFORM_NAME_SCHEMA}
    )

    @field_validator("allowed_platforms")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_platform(v) for v in value]

    @field_validator("platform_overrides")
    @classmethod
    def _known_keys(cls, value: dict[str, RulesOverride]) -> dict[str, RulesOverride]:
        for key in value:
            _platform(key)
        return value


class BrandRulesOut(BrandRulesIn):
    updated_at: datetime | None = None
