"""Pinterest pins: title 100, description 500, 1 to 5 media; a video needs a cover image."""

from dataclasses import dataclass

from shared.content.media import count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "pinterest"
DISPLAY = "Pinterest"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_title_length: int = 100
    max_description_length: int = 500
    max_media: int = 5


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    counts = count_media(post.media)
    return [
        *check.collect(
            check.title_length(PLATFORM, DISPLAY, post.title, limits.max_title_length),
            check.text_length(
                PLATFORM, DISPLAY, post.text, limits.max_description_length, noun="description"
            ),
            check.media_required(PLATFORM, DISPLAY, counts.total, "an image or a video"),
            check.too_many(
                PLATFORM,
                DISPLAY,
                ViolationCode.TOO_MANY_MEDIA,
                "media item",
                counts.total,
                limits.max_media,
            ),
        ),
        *check.covers(PLATFORM, DISPLAY, post),
    ]


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
