"""YouTube: a title (required, at most 100), a description of at most 5,000, exactly one video."""

from dataclasses import dataclass

from shared.content.media import MediaKind, count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "youtube"
DISPLAY = "YouTube"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (uploads per day) will join these as new fields."""

    max_title_length: int = 100
    max_description_length: int = 5_000
    max_videos: int = 1


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    counts = count_media(post.media)
    return check.collect(
        check.title_required(PLATFORM, DISPLAY, post.title),
        check.title_length(PLATFORM, DISPLAY, post.title, limits.max_title_length),
        check.text_length(
            PLATFORM, DISPLAY, post.text, limits.max_description_length, noun="description"
        ),
        check.media_required(PLATFORM, DISPLAY, counts.videos, "a video"),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_VIDEOS,
            "video",
            counts.videos,
            limits.max_videos,
        ),
        check.not_allowed(PLATFORM, DISPLAY, MediaKind.IMAGE, counts.images),
        check.not_allowed(PLATFORM, DISPLAY, MediaKind.GIF, counts.gifs),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
