"""Platform content rules: pure checks of a rendered post against each platform's limits.

No database, no I/O: the fan-out, the preview and a location's edit all call ``validate``.
"""

from shared.content.media import Media, MediaKind
from shared.content.platforms import PLATFORMS, PlatformRules
from shared.content.post import PostContent
from shared.content.text import hashtags
from shared.content.violations import Violation, ViolationCode
from shared.content.xtext import weighted_length


def validate(platform: str, post: PostContent) -> list[Violation]:
    """Every violation of ``platform``'s rules at once (``KeyError`` for an unknown platform)."""
    return PLATFORMS[platform].validate(post)


__all__ = [
    "PLATFORMS",
    "Media",
    "MediaKind",
    "PlatformRules",
    "PostContent",
    "Violation",
    "ViolationCode",
    "hashtags",
    "validate",
    "weighted_length",
]
