"""Instagram: caption 2,200; one image or video at least, a carousel of at most 10; hashtags
limited (30 by default, configurable because brands often want fewer). Instagram's publishing
API takes no GIFs.
"""

from dataclasses import dataclass

from shared.content.media import MediaKind, count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "instagram"
DISPLAY = "Instagram"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_caption_length: int = 2_200
    max_media: int = 10
    max_hashtags: int = 30


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    """Every violation at once; pass ``Limits(max_hashtags=…)`` for a stricter hashtag cap."""
    counts = count_media(post.media)
    return check.collect(
        check.text_length(PLATFORM, DISPLAY, post.text, limits.max_caption_length, noun="caption"),
        check.hashtag_count(PLATFORM, DISPLAY, post.text, limits.max_hashtags),
        check.media_required(PLATFORM, DISPLAY, counts.images + counts.videos),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_MEDIA,
            "carousel item",
            counts.images + counts.videos,
            limits.max_media,
        ),
        check.not_allowed(PLATFORM, DISPLAY, MediaKind.GIF, counts.gifs),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
