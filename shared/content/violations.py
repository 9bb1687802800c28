"""Violations of platform rules: a stable code for machines, a sentence for franchisees."""

from dataclasses import dataclass
from enum import StrEnum


class ViolationCode(StrEnum):
    TEXT_TOO_LONG = "text_too_long"
    TITLE_TOO_LONG = "title_too_long"
    TITLE_REQUIRED = "title_required"
    TOO_MANY_HASHTAGS = "too_many_hashtags"
    MEDIA_REQUIRED = "media_required"
    TOO_MANY_MEDIA = "too_many_media"
    TOO_MANY_IMAGES = "too_many_images"
    TOO_MANY_VIDEOS = "too_many_videos"
    TOO_MANY_GIFS = "too_many_gifs"
    MIXED_MEDIA = "mixed_media"
    IMAGE_NOT_ALLOWED = "image_not_allowed"
    VIDEO_NOT_ALLOWED = "video_not_allowed"
    GIF_NOT_ALLOWED = "gif_not_allowed"
    COVER_IMAGE_REQUIRED = "cover_image_required"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule. ``limit`` and ``actual`` are in the unit of the rule (characters,
    items, hashtags); ``field`` names the offending part (``text``, ``title``, ``media``,
    ``media[2].cover``).
    """

    code: ViolationCode
    platform: str
    field: str
    limit: int
    actual: int
    message: str


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """ "1 photo", "12 photos", "2,200 characters"."""
    word = noun if count == 1 else (plural_noun or noun + "s")
    return f"{count:,} {word}"
