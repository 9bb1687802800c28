"""Media attached to a post, described well enough to check platform media rules."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    GIF = "gif"


@dataclass(frozen=True, slots=True)
class Media:
    """One image, video or GIF, by URL or media-library id (at least one of the two)."""

    kind: MediaKind
    url: str | None = None
    media_id: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    size_bytes: int | None = None
    cover: "Media | None" = None
    """A video's cover (thumbnail) image; Pinterest requires one for video pins."""

    def __post_init__(self) -> None:
        if self.url is None and self.media_id is None:
            raise ValueError("media needs a url or a media_id")


@dataclass(frozen=True, slots=True)
class MediaCounts:
    images: int
    videos: int
    gifs: int

    @property
    def total(self) -> int:
        return self.images + self.videos + self.gifs

    @property
    def kinds(self) -> int:
        """How many different kinds are present (X, Facebook and TikTok allow one)."""
        return (self.images > 0) + (self.videos > 0) + (self.gifs > 0)


def count_media(media: Sequence[Media]) -> MediaCounts:
    images = videos = gifs = 0
    for item in media:
        if item.kind is MediaKind.IMAGE:
            images += 1
        elif item.kind is MediaKind.VIDEO:
            videos += 1
        else:
            gifs += 1
    return MediaCounts(images=images, videos=videos, gifs=gifs)
