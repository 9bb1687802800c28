"""What Chorus knows about one media file, read from its bytes: its type, its displayed size,
its duration and codecs. Every processing step returns these facts, the platform rules check
them, and the media model stores them (``to_json``/``from_json``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from shared.content.media import MediaKind


class MediaType(StrEnum):
    """A file type Chorus accepts, named after its container (not its codec)."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIC = "heic"
    GIF = "gif"
    MP4 = "mp4"
    MOV = "mov"

    @property
    def mime(self) -> str:
        return _MIME[self]

    @property
    def label(self) -> str:
        """The name people know the type by ("HEIC/HEIF", "MOV")."""
        return _LABEL[self]

    @property
    def is_video(self) -> bool:
        return self in (MediaType.MP4, MediaType.MOV)


_MIME = {
    MediaType.JPEG: "image/jpeg",
    MediaType.PNG: "image/png",
    MediaType.WEBP: "image/webp",
    MediaType.HEIC: "image/heic",
    MediaType.GIF: "image/gif",
    MediaType.MP4: "video/mp4",
    MediaType.MOV: "video/quicktime",
}
_LABEL = {
    MediaType.JPEG: "JPEG",
    MediaType.PNG: "PNG",
    MediaType.WEBP: "WebP",
    MediaType.HEIC: "HEIC/HEIF",
    MediaType.GIF: "GIF",
    MediaType.MP4: "MP4",
    MediaType.MOV: "MOV",
}


class RefusalCode(StrEnum):
    UNSUPPORTED_TYPE = "unsupported_type"
    CORRUPT = "corrupt"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FRAMES = "too_many_frames"
    UNSUPPORTED_CODEC = "unsupported_codec"
    NO_VIDEO = "no_video"


class MediaRefused(Exception):
    """A file Chorus will not take: a stable ``code`` for machines and an English ``detail``
    that says what is wrong and, where it can, what to do. The API answers it with 415 (type)
    or 422 (content); the worker records it on the media object. Never a 500."""

    def __init__(self, code: RefusalCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return f"MediaRefused(code={self.code.value!r}, detail={self.detail!r})"


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """One file as a viewer sees it: ``width``/``height`` are the displayed size, after EXIF
    orientation (images) or the rotation matrix (videos) is applied.

    ``color_profile`` is the embedded ICC profile's description (``None``: none embedded).
    ``has_alpha`` is true only when some pixel is not fully opaque. Video fields stay ``None``
    for images; ``audio_codec`` is ``None`` for a silent video; ``rotation`` is the clockwise
    display rotation in degrees a player applies (0, 90, 180, 270).
    """

    type: MediaType
    width: int
    height: int
    size_bytes: int
    has_alpha: bool = False
    frame_count: int = 1
    color_profile: str | None = None
    duration_seconds: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bitrate: int | None = None
    rotation: int = 0

    @property
    def kind(self) -> MediaKind:
        if self.type.is_video:
            return MediaKind.VIDEO
        if self.type is MediaType.GIF and self.frame_count > 1:
            return MediaKind.GIF
        return MediaKind.IMAGE

    @property
    def animated(self) -> bool:
        return not self.type.is_video and self.frame_count > 1

    @property
    def aspect_ratio(self) -> float:
        """Width divided by height, as the platforms state their limits (1.91:1 is 1.91)."""
        return self.width / self.height

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.type.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaFacts:
        return cls(**{**data, "type": MediaType(data["type"])})
