"""TikTok: caption 2,200; one video or a photo post (up to 35 photos), never both, no GIFs."""

from dataclasses import dataclass

from shared.content.media import MediaCounts, MediaKind, count_media
from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation, ViolationCode

PLATFORM = "tiktok"
DISPLAY = "TikTok"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_caption_length: int = 2_200
    max_photos: int = 35
    max_videos: int = 1


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    counts = count_media(post.media)
    return check.collect(
        check.text_length(PLATFORM, DISPLAY, post.text, limits.max_caption_length, noun="caption"),
        check.media_required(PLATFORM, DISPLAY, counts.images + counts.videos, "a video or photos"),
        check.mixed(
            PLATFORM, DISPLAY, MediaCounts(counts.images, counts.videos, 0), "a video or photos"
        ),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_IMAGES,
            "photo",
            counts.images,
            limits.max_photos,
        ),
        check.too_many(
            PLATFORM,
            DISPLAY,
            ViolationCode.TOO_MANY_VIDEOS,
            "video",
            counts.videos,
            limits.max_videos,
        ),
        check.not_allowed(PLATFORM, DISPLAY, MediaKind.GIF, counts.gifs),
    )


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
