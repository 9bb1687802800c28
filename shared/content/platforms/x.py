"""X (Twitter): 280 weighted characters; up to 4 images, or 1 video, or 1 GIF, never mixed."""

from dataclasses import dataclass

from shared.content import xtext
from shared.content.media import count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "x"
DISPLAY = "X"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_weighted_length: int = xtext.MAX_WEIGHTED_LENGTH
    max_images: int = 4
    max_videos: int = 1
    max_gifs: int = 1


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    """Every violation at once. The text length is twitter-text's weighted length."""
    counts = count_media(post.media)
    return check.collect(
        check.text_length(
            PLATFORM,
            DISPLAY,
            post.text,
            limits.max_weighted_length,
            counter=xtext.weighted_length,
        ),
        check.mixed(PLATFORM, DISPLAY, counts, "up to 4 images, or 1 video, or 1 GIF"),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_IMAGES,
            "image",
            counts.images,
            limits.max_images,
        ),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_VIDEOS,
            "video",
            counts.videos,
            limits.max_videos,
        ),
        check.too_many(
            PLATFORM, DISPLAY, ViolationCode.TOO_MANY_GIFS, "GIF", counts.gifs, limits.max_gifs
        ),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
