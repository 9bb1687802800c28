"""Google Business Profile local posts: 1,500 characters, at most one image, no video; an
event or offer title of at most 58 characters. A GIF counts as the image.
"""

from dataclasses import dataclass

from shared.content.media import MediaKind, count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "google_business"
DISPLAY = "Google Business Profile"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_text_length: int = 1_500
    max_title_length: int = 58
    max_images: int = 1


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    counts = count_media(post.media)
    return check.collect(
        check.text_length(PLATFORM, DISPLAY, post.text, limits.max_text_length),
        check.title_length(PLATFORM, DISPLAY, post.title, limits.max_title_length),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_IMAGES,
            "image",
            counts.images + counts.gifs,
            limits.max_images,
        ),
        check.not_allowed(PLATFORM, DISPLAY, MediaKind.VIDEO, counts.videos),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
