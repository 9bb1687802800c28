"""What media each platform placement accepts, and every way a set of files breaks it.

Limits are the platforms' published ones (their API references and media guides, checked
for issue #17); each placement cites its source. Where a platform only *recommends* (a width
it scales to, a ratio it displays best), the recommendation goes into the placement's
``derivative`` (what Chorus makes and sends) and not into its rule (what is refused), so
``check`` never reports a file the platform would take.

Derivative ceilings of 1920 px (Facebook, X, LinkedIn) are ours: what those feeds show at
most, and small enough that a 12 MP photo decodes at half size (see ``derivatives``).

Aspect ratios are width ÷ height, as the platforms write them (Instagram's 1.91:1 is 1.91,
4:5 is 0.8). ``check`` allows a rounding slack of 0.5% on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from shared.content.media import MediaKind
from shared.media.facts import MediaFacts, MediaType

MB = 1024 * 1024
GB = 1024 * MB
ASPECT_SLACK = 0.005

_JPEG = frozenset({MediaType.JPEG})
_JPEG_PNG = frozenset({MediaType.JPEG, MediaType.PNG})
_STILLS = frozenset({MediaType.JPEG, MediaType.PNG, MediaType.WEBP, MediaType.GIF})
_GIF = frozenset({MediaType.GIF})
_MP4_MOV = frozenset({MediaType.MP4, MediaType.MOV})
_H264_HEVC = frozenset({"h264", "hevc"})
_AAC_OR_SILENT = frozenset({"aac", "none"})


@dataclass(frozen=True, slots=True)
class AspectRange:
    low: float
    high: float

    def contains(self, ratio: float, slack: float = ASPECT_SLACK) -> bool:
        return self.low * (1 - slack) <= ratio <= self.high * (1 + slack)

    def clamp(self, ratio: float) -> float:
        return min(max(ratio, self.low), self.high)

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.low:.3g}"
        return f"{self.low:.3g} to {self.high:.3g}"


@dataclass(frozen=True, slots=True)
class MediaRule:
    """The hard limits of one kind of media (image, GIF or video) at one placement.

    ``audio_codecs`` names ``"none"`` when a silent video is fine."""

    types: frozenset[MediaType]
    max_bytes: int
    min_bytes: int = 0
    min_width: int = 0
    min_height: int = 0
    max_width: int | None = None
    max_height: int | None = None
    max_pixels: int | None = None
    aspect: AspectRange | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    min_fps: float | None = None
    max_fps: float | None = None
    max_frames: int | None = None
    video_codecs: frozenset[str] = _H264_HEVC
    audio_codecs: frozenset[str] = _AAC_OR_SILENT


@dataclass(frozen=True, slots=True)
class DerivativeSpec:
    """How Chorus makes an image for a placement: crop into ``aspect`` (``None``: keep the
    original's), shrink to fit ``max_width`` × ``max_height`` (grow to the minimum if
    smaller), encode as the first of ``types`` that fits (PNG only for transparent images),
    stepping JPEG quality down from ``quality`` until the file is at most ``max_bytes``."""

    max_width: int
    max_height: int
    max_bytes: int
    aspect: AspectRange | None = None
    min_width: int = 0
    min_height: int = 0
    max_pixels: int | None = None
    types: tuple[MediaType, ...] = (MediaType.JPEG,)
    quality: int = 88
    min_bytes: int = 0
    """A floor some platforms set (Google: 10 KB); a small JPEG is re-encoded finer to reach
    it. A flat graphic may stay under it: ``check`` says so."""


@dataclass(frozen=True, slots=True)
class Placement:
    platform: str
    name: str
    display: str
    max_items: int
    media_required: bool
    source: str
    image: MediaRule | None = None
    gif: MediaRule | None = None
    video: MediaRule | None = None
    mixed_kinds: bool = False
    derivative: DerivativeSpec | None = None
    cover: MediaRule | None = None
    """What a video's cover (thumbnail) image must be, when the placement takes one."""
    cover_derivative: DerivativeSpec | None = None

    def rule_for(self, kind: MediaKind) -> MediaRule | None:
        return {MediaKind.IMAGE: self.image, MediaKind.GIF: self.gif, MediaKind.VIDEO: self.video}[
            kind
        ]


class ProblemCode(StrEnum):
    MEDIA_REQUIRED = "media_required"
    TOO_MANY_ITEMS = "too_many_items"
    MIXED_KINDS = "mixed_kinds"
    KIND_NOT_ACCEPTED = "kind_not_accepted"
    TYPE_NOT_ACCEPTED = "type_not_accepted"
    FILE_TOO_LARGE = "file_too_large"
    FILE_TOO_SMALL = "file_too_small"
    TOO_NARROW = "too_narrow"
    TOO_SHORT = "too_short"
    TOO_WIDE = "too_wide"
    TOO_TALL = "too_tall"
    TOO_MANY_PIXELS = "too_many_pixels"
    ASPECT_RATIO = "aspect_ratio"
    DURATION_TOO_SHORT = "duration_too_short"
    DURATION_TOO_LONG = "duration_too_long"
    FRAME_RATE = "frame_rate"
    TOO_MANY_FRAMES = "too_many_frames"
    VIDEO_CODEC = "video_codec"
    AUDIO_CODEC = "audio_codec"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken limit: ``field`` names the file and attribute (``media[1].width``),
    ``limit`` and ``actual`` are in the attribute's unit (bytes, pixels, seconds, frames per
    second, width ÷ height), ``message`` says it in English."""

    code: ProblemCode
    platform: str
    placement: str
    field: str
    limit: str | int | float
    actual: str | int | float
    message: str


_PLATFORM_SOURCES = {
    "instagram": "Instagram Graph API, IG User Media reference (image, story and Reels specs)",
}

PLACEMENTS: tuple[Placement, ...] = (
    # Facebook Graph API Page photos and videos; Reels publishing guide (3-90 s, 9:16,
    # at least 540x960, 24-60 fps). Photos up to 10 MB; any aspect is shown.
    Placement(
        platform="facebook",
        name="feed",
        display="Facebook feed",
        max_items=10,
        media_required=False,
        source="Facebook Graph API: Page /photos (10 MB) and /videos",
        image=MediaRule(types=_STILLS, max_bytes=10 * MB),
        gif=MediaRule(types=_GIF, max_bytes=10 * MB),
        video=MediaRule(types=_MP4_MOV, max_bytes=10 * GB, min_seconds=1, max_seconds=240 * 60),
        derivative=DerivativeSpec(max_width=1920, max_height=1920, max_bytes=8 * MB),
    ),
    Placement(
        platform="facebook",
        name="reel",
        display="Facebook Reel",
        max_items=1,
        media_required=True,
        source="Facebook Reels publishing API: 3-90 s, 9:16, min 540x960, 24-60 fps",
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=1 * GB,
            min_width=540,
            min_height=960,
            aspect=AspectRange(9 / 16, 9 / 16),
            min_seconds=3,
            max_seconds=90,
            min_fps=24,
            max_fps=60,
        ),
    ),
    # Instagram Graph API, IG User Media: images JPEG only, 8 MB, 4:5 to 1.91:1, scaled to
    # 320-1440 wide (so not refused outside it), sRGB. Reels: MOV/MP4, H.264/HEVC, AAC,
    # 3 s-15 min, 23-60 fps, at most 1920 px wide, 300 MB; cover JPEG 8 MB, 9:16 advised.
    # Stories: video 3-60 s, 100 MB.
    Placement(
        platform="instagram",
        name="feed",
        display="Instagram feed",
        max_items=10,
        media_required=True,
        mixed_kinds=True,
        source=_PLATFORM_SOURCES["instagram"],
        image=MediaRule(types=_JPEG, max_bytes=8 * MB, aspect=AspectRange(0.8, 1.91)),
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=300 * MB,
            max_width=1920,
            aspect=AspectRange(0.01, 10),
            min_seconds=3,
            max_seconds=15 * 60,
            min_fps=23,
            max_fps=60,
        ),
        # 1080 wide: what Instagram shows (and scales anything wider down to).
        derivative=DerivativeSpec(
            max_width=1080, max_height=1350, max_bytes=8 * MB, aspect=AspectRange(0.8, 1.91)
        ),
    ),
    Placement(
        platform="instagram",
        name="story",
        display="Instagram story",
        max_items=1,
        media_required=True,
        source=_PLATFORM_SOURCES["instagram"],
        image=MediaRule(types=_JPEG, max_bytes=8 * MB),
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=100 * MB,
            max_width=1920,
            min_seconds=3,
            max_seconds=60,
            min_fps=23,
            max_fps=60,
        ),
        derivative=DerivativeSpec(
            max_width=1080, max_height=1920, max_bytes=8 * MB, aspect=AspectRange(9 / 16, 9 / 16)
        ),
    ),
    Placement(
        platform="instagram",
        name="reel",
        display="Instagram Reel",
        max_items=1,
        media_required=True,
        source=_PLATFORM_SOURCES["instagram"],
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=300 * MB,
            max_width=1920,
            aspect=AspectRange(0.01, 10),
            min_seconds=3,
            max_seconds=15 * 60,
            min_fps=23,
            max_fps=60,
        ),
        cover=MediaRule(types=_JPEG, max_bytes=8 * MB),
        cover_derivative=DerivativeSpec(
            max_width=1080, max_height=1920, max_bytes=8 * MB, aspect=AspectRange(9 / 16, 9 / 16)
        ),
    ),
    # X API media best practices: up to 4 images (JPG/PNG/GIF/WEBP, 5 MB), or 1 GIF (15 MB,
    # at most 1280x1080 and 350 frames), or 1 video: H.264 + AAC-LC, 0.5 s-20 min (default
    # accounts), 32x32 minimum, 1:3 to 3:1, at most 60 fps, 8 GB. Its 1280x1024 "maximum"
    # contradicts its own recommended 720x1280 portrait size, so it is not enforced.
    Placement(
        platform="x",
        name="post",
        display="X post",
        max_items=4,
        media_required=False,
        source="X API media upload best practices (size and duration limits)",
        image=MediaRule(types=_STILLS, max_bytes=5 * MB),
        gif=MediaRule(
            types=_GIF, max_bytes=15 * MB, max_width=1280, max_height=1080, max_frames=350
        ),
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=8 * GB,
            min_width=32,
            min_height=32,
            aspect=AspectRange(1 / 3, 3),
            min_seconds=0.5,
            max_seconds=20 * 60,
            max_fps=60,
            video_codecs=frozenset({"h264"}),
        ),
        derivative=DerivativeSpec(
            max_width=1920,
            max_height=1920,
            max_bytes=5 * MB,
            types=(MediaType.JPEG, MediaType.PNG),
        ),
    ),
    # LinkedIn Images API: JPG/GIF/PNG, under 36,152,320 pixels; Videos API: MP4, 3 s-30 min,
    # 75 KB-500 MB, 1:2.4 to 2.4:1. Multi-image posts take up to 20 images.
    Placement(
        platform="linkedin",
        name="post",
        display="LinkedIn post",
        max_items=20,
        media_required=False,
        source="LinkedIn Marketing API: Images API and Videos API",
        image=MediaRule(types=_JPEG_PNG | _GIF, max_bytes=5 * MB, max_pixels=36_152_320),
        gif=MediaRule(types=_GIF, max_bytes=5 * MB, max_pixels=36_152_320),
        video=MediaRule(
            types=frozenset({MediaType.MP4}),
            max_bytes=500 * MB,
            min_bytes=75 * 1024,
            aspect=AspectRange(1 / 2.4, 2.4),
            min_seconds=3,
            max_seconds=30 * 60,
        ),
        derivative=DerivativeSpec(
            max_width=1920,
            max_height=1920,
            max_bytes=5 * MB,
            types=(MediaType.JPEG, MediaType.PNG),
        ),
    ),
    # Google Business Profile local posts: one photo, JPG or PNG, 10 KB-5 MB, at least
    # 250x250 (720x720 advised); the local posts API takes no video.
    Placement(
        platform="google_business",
        name="post",
        display="Google Business Profile post",
        max_items=1,
        media_required=False,
        source="Google Business Profile API: localPosts media and photo guidelines",
        image=MediaRule(
            types=_JPEG_PNG, max_bytes=5 * MB, min_bytes=10 * 1024, min_width=250, min_height=250
        ),
        derivative=DerivativeSpec(
            max_width=1200,
            max_height=900,
            max_bytes=5 * MB,
            min_width=250,
            min_height=250,
            aspect=AspectRange(4 / 3, 4 / 3),
            min_bytes=10 * 1024,
        ),
    ),
    # Pinterest API v5 pins: images BMP/JPEG/PNG/TIFF/GIF/WEBP up to 20 MB, 2:3 advised
    # (1000x1500); video MP4/MOV/M4V, 4 s-15 min, up to 2 GB, between 1:2 and 1.91:1, with a
    # cover image.
    Placement(
        platform="pinterest",
        name="pin",
        display="Pinterest pin",
        max_items=5,
        media_required=True,
        source="Pinterest API v5: create pin, media requirements",
        image=MediaRule(types=_STILLS, max_bytes=20 * MB),
        gif=MediaRule(types=_GIF, max_bytes=20 * MB),
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=2 * GB,
            aspect=AspectRange(1 / 2, 1.91),
            min_seconds=4,
            max_seconds=15 * 60,
        ),
        derivative=DerivativeSpec(
            max_width=1000, max_height=1500, max_bytes=20 * MB, aspect=AspectRange(2 / 3, 2 / 3)
        ),
        cover=MediaRule(types=_JPEG_PNG, max_bytes=20 * MB),
        cover_derivative=DerivativeSpec(
            max_width=1000, max_height=1500, max_bytes=20 * MB, aspect=AspectRange(2 / 3, 2 / 3)
        ),
    ),
    # TikTok Content Posting API, media transfer guide: video MP4/MOV/WebM, H.264/HEVC, 3 s-
    # 10 min, 360-4096 px each side, 23-60 fps, up to 4 GB; photo posts JPEG/WEBP, up to
    # 20 MB, at most 1080p, up to 35 photos.
    Placement(
        platform="tiktok",
        name="video",
        display="TikTok video",
        max_items=1,
        media_required=True,
        source="TikTok Content Posting API: media transfer guide (video restrictions)",
        video=MediaRule(
            types=_MP4_MOV,
            max_bytes=4 * GB,
            min_width=360,
            min_height=360,
            max_width=4096,
            max_height=4096,
            min_seconds=3,
            max_seconds=10 * 60,
            min_fps=23,
            max_fps=60,
        ),
    ),
    Placement(
        platform="tiktok",
        name="photo",
        display="TikTok photo post",
        max_items=35,
        media_required=True,
        source="TikTok Content Posting API: media transfer guide (image restrictions)",
        image=MediaRule(
            types=frozenset({MediaType.JPEG, MediaType.WEBP}),
            max_bytes=20 * MB,
            max_width=1920,
            max_height=1920,
            max_pixels=1920 * 1080,
        ),
        derivative=DerivativeSpec(
            max_width=1080, max_height=1920, max_bytes=20 * MB, aspect=AspectRange(9 / 16, 9 / 16)
        ),
    ),
    # YouTube Data API: videos.insert takes MP4/MOV (any aspect, up to 256 GB / 12 h);
    # thumbnails.set takes JPEG or PNG up to 2 MB, 16:9, 1280x720 advised (640 wide minimum).
    Placement(
        platform="youtube",
        name="video",
        display="YouTube video",
        max_items=1,
        media_required=True,
        source="YouTube Data API: videos.insert and thumbnails.set",
        video=MediaRule(types=_MP4_MOV, max_bytes=256 * GB, min_seconds=1, max_seconds=12 * 3600),
        cover=MediaRule(
            types=_JPEG_PNG, max_bytes=2 * MB, min_width=640, aspect=AspectRange(16 / 9, 16 / 9)
        ),
        cover_derivative=DerivativeSpec(
            max_width=1280,
            max_height=720,
            max_bytes=2 * MB,
            min_width=640,
            min_height=360,
            aspect=AspectRange(16 / 9, 16 / 9),
        ),
    ),
    Placement(
        platform="youtube",
        name="thumbnail",
        display="YouTube thumbnail",
        max_items=1,
        media_required=True,
        source="YouTube Data API: thumbnails.set (JPEG or PNG, 2 MB)",
        image=MediaRule(
            types=_JPEG_PNG, max_bytes=2 * MB, min_width=640, aspect=AspectRange(16 / 9, 16 / 9)
        ),
        derivative=DerivativeSpec(
            max_width=1280,
            max_height=720,
            max_bytes=2 * MB,
            min_width=640,
            min_height=360,
            aspect=AspectRange(16 / 9, 16 / 9),
            types=(MediaType.JPEG, MediaType.PNG),
        ),
    ),
)

_BY_KEY = {(p.platform, p.name): p for p in PLACEMENTS}


@dataclass(frozen=True, slots=True)
class _Context:
    placement: Placement
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        code: ProblemCode,
        field_name: str,
        limit: str | int | float,
        actual: str | int | float,
        message: str,
    ) -> None:
        p = self.placement
        self.problems.append(
            Problem(code, p.platform, p.name, field_name, limit, actual, f"{p.display}: {message}")
        )


def placement(platform: str, name: str) -> Placement:
    try:
        return _BY_KEY[(platform, name)]
    except KeyError:
        raise KeyError(f"no media placement {name!r} for platform {platform!r}") from None


def placements(platform: str) -> list[Placement]:
    return [p for p in PLACEMENTS if p.platform == platform]


def check(platform: str, placement_name: str, facts: Sequence[MediaFacts]) -> list[Problem]:
    """Every way ``facts`` (the files of one post, in order) break the placement's rules; an
    empty list when the platform will take them."""
    target = placement(platform, placement_name)
    context = _Context(target)
    if not facts:
        if target.media_required:
            context.add(
                ProblemCode.MEDIA_REQUIRED, "media", 1, 0, "needs at least one image or video"
            )
        return context.problems
    if len(facts) > target.max_items:
        context.add(
            ProblemCode.TOO_MANY_ITEMS,
            "media",
            target.max_items,
            len(facts),
            f"takes at most {target.max_items} files; this post has {len(facts)}",
        )
    kinds = {item.kind for item in facts}
    if len(kinds) > 1 and not target.mixed_kinds:
        names = " and ".join(sorted(kind.value for kind in kinds))
        context.add(
            ProblemCode.MIXED_KINDS, "media", 1, len(kinds), f"cannot mix {names} in one post"
        )
    for index, item in enumerate(facts):
        rule = target.rule_for(item.kind)
        if rule is None:
            context.add(
                ProblemCode.KIND_NOT_ACCEPTED,
                f"media[{index}].kind",
                "none",
                item.kind.value,
                f"file {index + 1} is a {item.kind.value}, which this placement does not take",
            )
            continue
        _check_item(context, rule, item, f"media[{index}]", f"file {index + 1}")
    return context.problems


def check_cover(platform: str, placement_name: str, cover: MediaFacts) -> list[Problem]:
    """Problems of a video's cover image at a placement that takes one."""
    target = placement(platform, placement_name)
    if target.cover is None:
        raise KeyError(f"{target.display} takes no cover image")
    context = _Context(target)
    _check_item(context, target.cover, cover, "cover", "the cover")
    return context.problems


def check_item(rule: MediaRule, item: MediaFacts, display: str = "media") -> list[Problem]:
    """Problems of one file against one rule (for rules outside ``PLACEMENTS``)."""
    context = _Context(Placement("custom", "custom", display, 1, False, "custom"))
    _check_item(context, rule, item, "media", "the file")
    return context.problems


def _check_item(
    context: _Context, rule: MediaRule, item: MediaFacts, field_name: str, label: str
) -> None:
    add = context.add
    if item.type not in rule.types:
        accepted = ", ".join(sorted(t.label for t in rule.types))
        add(
            ProblemCode.TYPE_NOT_ACCEPTED,
            f"{field_name}.type",
            accepted,
            item.type.label,
            f"{label} is {item.type.label}; accepted: {accepted}",
        )
    if item.size_bytes > rule.max_bytes:
        add(
            ProblemCode.FILE_TOO_LARGE,
            f"{field_name}.size_bytes",
            rule.max_bytes,
            item.size_bytes,
            f"{label} is {_size(item.size_bytes)}; the limit is {_size(rule.max_bytes)}",
        )
    if item.size_bytes < rule.min_bytes:
        add(
            ProblemCode.FILE_TOO_SMALL,
            f"{field_name}.size_bytes",
            rule.min_bytes,
            item.size_bytes,
            f"{label} is {_size(item.size_bytes)}; the minimum is {_size(rule.min_bytes)}",
        )
    _check_dimensions(context, rule, item, field_name, label)
    if rule.max_frames is not None and item.frame_count > rule.max_frames:
        add(
            ProblemCode.TOO_MANY_FRAMES,
            f"{field_name}.frame_count",
            rule.max_frames,
            item.frame_count,
            f"{label} has {item.frame_count} frames; at most {rule.max_frames}",
        )
    if item.kind is MediaKind.VIDEO:
        _check_video(context, rule, item, field_name, label)


def _check_dimensions(
    context: _Context, rule: MediaRule, item: MediaFacts, field_name: str, label: str
) -> None:
    add = context.add
    size = f"{item.width}×{item.height}"
    if item.width < rule.min_width:
        add(
            ProblemCode.TOO_NARROW,
            f"{field_name}.width",
            rule.min_width,
            item.width,
            f"{label} is {size}; it must be at least {rule.min_width} px wide",
        )
    if item.height < rule.min_height:
        add(
            ProblemCode.TOO_SHORT,
            f"{field_name}.height",
            rule.min_height,
            item.height,
            f"{label} is {size}; it must be at least {rule.min_height} px high",
        )
    if rule.max_width is not None and item.width > rule.max_width:
        add(
            ProblemCode.TOO_WIDE,
            f"{field_name}.width",
            rule.max_width,
            item.width,
            f"{label} is {size}; it must be at most {rule.max_width} px wide",
        )
    if rule.max_height is not None and item.height > rule.max_height:
        add(
            ProblemCode.TOO_TALL,
            f"{field_name}.height",
            rule.max_height,
            item.height,
            f"{label} is {size}; it must be at most {rule.max_height} px high",
        )
    if rule.max_pixels is not None and item.pixels > rule.max_pixels:
        add(
            ProblemCode.TOO_MANY_PIXELS,
            f"{field_name}.pixels",
            rule.max_pixels,
            item.pixels,
            f"{label} has {item.pixels:,} pixels; at most {rule.max_pixels:,}",
        )
    if rule.aspect is not None and not rule.aspect.contains(item.aspect_ratio):
        add(
            ProblemCode.ASPECT_RATIO,
            f"{field_name}.aspect_ratio",
            str(rule.aspect),
            round(item.aspect_ratio, 4),
            f"{label} is {size} (width ÷ height {item.aspect_ratio:.3g}); it must be {rule.aspect}",
        )


def _check_video(
    context: _Context, rule: MediaRule, item: MediaFacts, field_name: str, label: str
) -> None:
    add = context.add
    seconds = item.duration_seconds or 0.0
    if rule.min_seconds is not None and seconds < rule.min_seconds:
        add(
            ProblemCode.DURATION_TOO_SHORT,
            f"{field_name}.duration_seconds",
            rule.min_seconds,
            round(seconds, 3),
            f"{label} lasts {seconds:.1f} s; it must last at least {rule.min_seconds:g} s",
        )
    if rule.max_seconds is not None and seconds > rule.max_seconds:
        add(
            ProblemCode.DURATION_TOO_LONG,
            f"{field_name}.duration_seconds",
            rule.max_seconds,
            round(seconds, 3),
            f"{label} lasts {seconds:.1f} s; it must last at most {rule.max_seconds:g} s",
        )
    fps = item.frame_rate
    if fps is not None and (
        (rule.min_fps is not None and fps < rule.min_fps)
        or (rule.max_fps is not None and fps > rule.max_fps)
    ):
        limit = (
            f"{rule.min_fps or 0:g} to {rule.max_fps:g}" if rule.max_fps else f"{rule.min_fps:g}+"
        )
        add(
            ProblemCode.FRAME_RATE,
            f"{field_name}.frame_rate",
            limit,
            round(fps, 3),
            f"{label} plays at {fps:.3g} frames per second; accepted: {limit}",
        )
    if (item.video_codec or "unknown") not in rule.video_codecs:
        accepted = ", ".join(sorted(rule.video_codecs))
        add(
            ProblemCode.VIDEO_CODEC,
            f"{field_name}.video_codec",
            accepted,
            item.video_codec or "unknown",
            f"{label} is encoded as {item.video_codec}; accepted: {accepted}",
        )
    audio = item.audio_codec or "none"
    if audio not in rule.audio_codecs:
        accepted = ", ".join(sorted(rule.audio_codecs))
        add(
            ProblemCode.AUDIO_CODEC,
            f"{field_name}.audio_codec",
            accepted,
            audio,
            f"{label} has {audio} audio; accepted: {accepted}",
        )


def _size(size: int) -> str:
    if size >= GB:
        return f"{size / GB:.1f} GB"
    if size >= MB:
        return f"{size / MB:.1f} MB"
    return f"{size / 1024:.0f} KB"
