"""The registry of platform content rules, keyed by the platform names used in channels."""

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

__all__ = ["PLATFORMS", "PlatformRules"]
