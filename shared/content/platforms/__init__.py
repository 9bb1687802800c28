"""The registry of platform content rules, keyed by the platform names used in channels."""

from pydantic import JsonValue

from shared.content.platforms import (
    facebook,
    google_business,
    instagram,
    linkedin,
    pinterest,
    tiktok,
    x,
    youtube,
)
from shared.content.platforms._base import PlatformRules

PLATFORMS: dict[str, PlatformRules] = {
    rules.platform: rules
    for rules in (
        x.RULES,
        instagram.RULES,
        facebook.RULES,
        linkedin.RULES,
        google_business.RULES,
        pinterest.RULES,
        tiktok.RULES,
        youtube.RULES,
    )
}

PLATFORM_NAME_SCHEMA: dict[str, JsonValue] = {"type": "string", "enum": list(PLATFORMS)}
"""What the OpenAPI document says a platform name is (the validators refuse any other)."""

__all__ = ["PLATFORMS", "PLATFORM_NAME_SCHEMA", "PlatformRules"]
