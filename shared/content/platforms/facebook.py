"""Facebook Page posts: 63,206 characters; up to 10 photos or 1 video, not both.

GIFs count as photos (Facebook shows an uploaded GIF as an image).
"""

from dataclasses import dataclass

from shared.content.media import MediaCounts, count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "facebook"
DISPLAY = "Facebook"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_text_length: int = 63_206
    max_photos: int = 10
    max_videos: int = 1


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    counts = count_media(post.media)
    photos = counts.images + counts.gifs
    return check.collect(
        check.text_length(PLATFORM, DISPLAY, post.text, limits.max_text_length),
        check.mixed(PLATFORM, DISPLAY, MediaCounts(photos, counts.videos, 0), "photos or 1 video"),
        check.too_many(
            PLATFORM, DISPLAY, ViolationCode.TOO_MANY_IMAGES, "photo", photos, limits.max_photos
        ),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_VIDEOS,
            "video",
            counts.videos,
            limits.max_videos,
        ),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
