"""Per-platform derivatives of an image: cropped into the placement's aspect ratio around a
focal point, shrunk to its size, encoded under its byte ceiling, with no metadata.

Make derivatives from the *normalised* copy (``images.normalise_image``): it is upright, sRGB
and clean, and a JPEG for photos, which lets the decoder scale down while decoding (JPEG
"draft" mode at 1/2, 1/4 or 1/8). Deterministic: the same source, target and focal point give
the same bytes, whichever other targets are made in the same call, so a derivative can be
cached under ``derivative_key`` next to its source's content hash. The decode scale depends
only on the source and the target, never on the batch.

Videos are not transcoded: ``platform_rules.check`` says whether the original fits, and the
video's derivatives are covers made from its poster frame (``video.extract_poster``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from shared.content.media import MediaKind
from shared.media import images
from shared.media.facts import MediaFacts, MediaType
from shared.media.platform_rules import (
    PLACEMENTS,
    AspectRange,
    DerivativeSpec,
    placement,
)

DERIVATIVE_VERSION = 1
"""Part of every key: bump it when the way derivatives are made changes their bytes."""

_MIN_JPEG_QUALITY = 40
_QUALITY_STEP = 6
_SHRINK_STEP = 0.85
_EPSILON = 1e-9
_DRAFT_SCALES = (8, 4, 2, 1)
_MAX_WIDEN = 64
_FINER_QUALITIES = (95, 100)
_SUFFIX = {MediaType.JPEG: "jpg", MediaType.PNG: "png"}


@dataclass(frozen=True, slots=True)
class FocalPoint:
    """Where the subject is, as fractions of the displayed width and height (0,0 top left).
    Stored to three decimals, so the same point always gives the same crop and key."""

    x: float = 0.5
    y: float = 0.5

    def __post_init__(self) -> None:
        if not (0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise ValueError(
                f"a focal point is two fractions from 0 to 1, not ({self.x}, {self.y})"
            )
        object.__setattr__(self, "x", round(self.x, 3))
        object.__setattr__(self, "y", round(self.y, 3))


CENTRE = FocalPoint()


@dataclass(frozen=True, slots=True)
class Target:
    """One derivative a platform needs: the media of a placement, or a video's cover."""

    platform: str
    placement: str
    cover: bool = False

    @property
    def spec(self) -> DerivativeSpec:
        where = placement(self.platform, self.placement)
        spec = where.cover_derivative if self.cover else where.derivative
        if spec is None:
            what = "a cover image" if self.cover else "image derivatives"
            raise KeyError(f"{where.display} takes no {what}")
        return spec

    @property
    def name(self) -> str:
        return f"{self.platform}.{self.placement}" + (".cover" if self.cover else "")


@dataclass(frozen=True, slots=True)
class Plan:
    """The crop ``box`` (left, top, right, bottom) in the source's displayed pixels and the
    output ``size`` (width, height)."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Derivative:
    target: Target
    key: str
    path: Path
    facts: MediaFacts
    plan: Plan


def derivative_targets(platform: str, kind: MediaKind) -> list[Target]:
    """The derivatives a platform needs for an image, or for a video (its covers). An
    animated GIF has none: a still would lose the animation, so the normalised GIF is sent
    as it is where the platform takes GIFs (``platform_rules.check`` says where)."""
    if kind is MediaKind.GIF:
        return []
    if kind is MediaKind.VIDEO:
        return [
            Target(p.platform, p.name, cover=True)
            for p in PLACEMENTS
            if p.platform == platform and p.cover_derivative is not None
        ]
    return [
        Target(p.platform, p.name)
        for p in PLACEMENTS
        if p.platform == platform and p.derivative is not None and p.image is not None
    ]


def derivative_key(target: Target, focal: FocalPoint = CENTRE) -> str:
    """A cache key for the derivative of one source: combine it with the source's content
    hash. It changes when the target's spec or the way derivatives are made changes."""
    spec = target.spec
    fields = (
        spec.max_width,
        spec.max_height,
        spec.max_bytes,
        _aspect_text(spec.aspect),
        spec.min_width,
        spec.min_height,
        spec.max_pixels,
        ",".join(t.value for t in spec.types),
        spec.quality,
        spec.min_bytes,
    )
    digest = hashlib.sha256(repr(fields).encode()).hexdigest()[:12]
    return f"{target.name}.v{DERIVATIVE_VERSION}.{digest}.f{focal.x:.3f}-{focal.y:.3f}"


def plan(width: int, height: int, spec: DerivativeSpec, focal: FocalPoint = CENTRE) -> Plan:
    """The crop and output size for a ``width`` × ``height`` source (displayed pixels)."""
    crop_width, crop_height = _crop_size(width, height, spec.aspect)
    left = _place(focal.x * width, crop_width, width)
    top = _place(focal.y * height, crop_height, height)
    box = (left, top, left + crop_width, top + crop_height)
    return Plan(box=box, size=_output_size(crop_width, crop_height, spec))


def write_derivative(
    source: Path,
    spec: DerivativeSpec,
    out_path: Path,
    focal: FocalPoint = CENTRE,
    *,
    max_pixels: int = images.DEFAULT_MAX_PIXELS,
) -> MediaFacts:
    """Write a derivative for a spec outside ``PLACEMENTS`` (a one-off size, a preview)."""
    width, height, is_jpeg = _source_geometry(source, max_pixels)
    the_plan = plan(width, height, spec, focal)
    scale = _draft_scale(the_plan, is_jpeg)
    with images.clean_image(source, max_pixels=max_pixels, draft_scale=scale) as picture:
        ratio = picture.width / width
        resized = _resize(picture, ratio, the_plan.box, the_plan.size)
        data, facts = _render(picture, ratio, the_plan, spec, resized)
    out_path.write_bytes(data)
    return facts


def make_derivative(
    source: Path,
    target: Target,
    out_path: Path,
    focal: FocalPoint = CENTRE,
    *,
    max_pixels: int = images.DEFAULT_MAX_PIXELS,
) -> Derivative:
    """Write one derivative of ``source`` for ``target`` to ``out_path``."""
    return make_derivatives(
        source, [target], out_path.parent, focal, max_pixels=max_pixels, names={target: out_path}
    )[0]


def make_derivatives(
    source: Path,
    targets: Iterable[Target],
    out_dir: Path,
    focal: FocalPoint = CENTRE,
    *,
    max_pixels: int = images.DEFAULT_MAX_PIXELS,
    names: dict[Target, Path] | None = None,
) -> list[Derivative]:
    """Write the derivative of ``source`` for each target into ``out_dir`` (named after the
    key unless ``names`` says otherwise), decoding the source once per decode scale."""
    wanted = list(dict.fromkeys(targets))
    width, height, is_jpeg = _source_geometry(source, max_pixels)
    plans = {target: plan(width, height, target.spec, focal) for target in wanted}
    by_scale: dict[int, list[Target]] = {}
    for target in wanted:
        scale = _draft_scale(plans[target], is_jpeg)
        by_scale.setdefault(scale, []).append(target)
    made: dict[Target, Derivative] = {}
    for scale, group in sorted(by_scale.items(), reverse=True):
        with images.clean_image(source, max_pixels=max_pixels, draft_scale=scale) as picture:
            ratio = picture.width / width
            resized: dict[Plan, Image.Image] = {}  # placements of the same shape share one
            for target in group:
                the_plan = plans[target]
                if the_plan not in resized:
                    resized[the_plan] = _resize(picture, ratio, the_plan.box, the_plan.size)
                data, facts = _render(picture, ratio, the_plan, target.spec, resized[the_plan])
                key = derivative_key(target, focal)
                out_path = (names or {}).get(target) or out_dir / f"{key}.{_SUFFIX[facts.type]}"
                out_path.write_bytes(data)
                made[target] = Derivative(target, key, out_path, facts, the_plan)
    return [made[target] for target in wanted]


def _source_geometry(source: Path, max_pixels: int) -> tuple[int, int, bool]:
    facts = images.inspect_header(source, max_pixels=max_pixels)
    return facts.width, facts.height, facts.type is MediaType.JPEG


def _draft_scale(the_plan: Plan, is_jpeg: bool) -> int:
    """The largest JPEG decode reduction that still leaves at least the output's pixels in
    the crop; 1 (full decode) for other formats."""
    if not is_jpeg:
        return 1
    left, top, right, bottom = the_plan.box
    out_width, out_height = the_plan.size
    for scale in _DRAFT_SCALES:
        if (right - left) / scale >= out_width and (bottom - top) / scale >= out_height:
            return scale
    return 1


def _resize(
    picture: Image.Image, ratio: float, box: tuple[int, int, int, int], size: tuple[int, int]
) -> Image.Image:
    scaled = (box[0] * ratio, box[1] * ratio, box[2] * ratio, box[3] * ratio)
    return picture.resize(size, Image.Resampling.BICUBIC, box=scaled, reducing_gap=2.0)


def _render(
    picture: Image.Image,
    ratio: float,
    the_plan: Plan,
    spec: DerivativeSpec,
    resized: Image.Image,
) -> tuple[bytes, MediaFacts]:
    """Encode ``resized`` under the spec's byte ceiling: PNG when it is transparent and the
    placement takes PNG, else JPEG at falling quality; smaller and smaller if even the
    lowest quality is too big."""
    transparent = resized.mode == "RGBA"
    media_type = MediaType.PNG if transparent and MediaType.PNG in spec.types else MediaType.JPEG
    size = the_plan.size
    while True:
        data = _encode_under(resized, media_type, spec)
        if data is None and media_type is MediaType.PNG:
            media_type = MediaType.JPEG
            data = _encode_under(resized, media_type, spec)
        if data is not None or size[0] <= 16 or size[1] <= 16:
            break
        size = _shrink(size, spec.aspect)
        resized = _resize(picture, ratio, the_plan.box, size)
    if data is None:  # even tiny and at the lowest quality: send the smallest we can make
        data = images.encode_clean(resized, media_type, _MIN_JPEG_QUALITY)
    return data, MediaFacts(
        type=media_type,
        width=resized.width,
        height=resized.height,
        size_bytes=len(data),
        has_alpha=media_type is MediaType.PNG,
    )


def _encode_under(image: Image.Image, media_type: MediaType, spec: DerivativeSpec) -> bytes | None:
    if media_type is MediaType.PNG:
        data = images.encode_clean(image, MediaType.PNG)
        return data if len(data) <= spec.max_bytes else None
    quality = spec.quality
    while quality >= _MIN_JPEG_QUALITY:
        data = images.encode_clean(image, MediaType.JPEG, quality)
        if len(data) <= spec.max_bytes:
            return _finer_if_too_small(image, data, spec)
        quality -= _QUALITY_STEP
    return None


def _finer_if_too_small(image: Image.Image, data: bytes, spec: DerivativeSpec) -> bytes:
    for quality in _FINER_QUALITIES:
        if len(data) >= spec.min_bytes:
            break
        finer = images.encode_clean(image, MediaType.JPEG, quality)
        if len(finer) <= spec.max_bytes:
            data = finer
    return data


def _crop_size(width: int, height: int, aspect: AspectRange | None) -> tuple[int, int]:
    if aspect is None:
        return width, height
    ratio = width / height
    if ratio > aspect.high:
        return max(1, math.floor(height * aspect.high + _EPSILON)), height
    if ratio < aspect.low:
        return width, max(1, math.floor(width / aspect.low + _EPSILON))
    return width, height


def _place(centre: float, length: int, total: int) -> int:
    """The start of a ``length`` window centred on ``centre`` as far as ``total`` allows."""
    return min(max(round(centre - length / 2), 0), total - length)


def _output_size(crop_width: int, crop_height: int, spec: DerivativeSpec) -> tuple[int, int]:
    scale = min(1.0, spec.max_width / crop_width, spec.max_height / crop_height)
    if spec.max_pixels is not None:
        scale = min(scale, math.sqrt(spec.max_pixels / (crop_width * crop_height)))
    grow = max(spec.min_width / crop_width, spec.min_height / crop_height)
    if grow > 1.0:
        scale = min(grow, spec.max_width / crop_width, spec.max_height / crop_height)
    width = max(1, math.floor(crop_width * scale + _EPSILON))
    height = max(1, math.floor(crop_height * scale + _EPSILON))
    return _exact_aspect((width, height), spec.aspect, (spec.min_width, spec.min_height))


def _exact_aspect(
    size: tuple[int, int], aspect: AspectRange | None, minimum: tuple[int, int] = (0, 0)
) -> tuple[int, int]:
    """Adjust the size so width ÷ height lands inside ``aspect`` exactly, not just within
    rounding (1000×1500 for 2:3, never 1001×1501), without going under ``minimum``: the
    nearest smaller width that works, else the nearest larger one."""
    width, height = size
    if aspect is None:
        return size

    def height_for(candidate: int) -> int | None:
        shortest = math.ceil(candidate / aspect.high - _EPSILON)
        tallest = math.floor(candidate / aspect.low + _EPSILON)
        if shortest > tallest:
            return None
        fitted = min(max(height, shortest), tallest)
        return fitted if fitted >= minimum[1] else None

    for candidate in range(width, max(minimum[0], 1) - 1, -1):
        fitted = height_for(candidate)
        if fitted is not None:
            return candidate, fitted
    for candidate in range(width + 1, width + 1 + _MAX_WIDEN):
        fitted = height_for(candidate)
        if fitted is not None:
            return candidate, fitted
    return size


def _shrink(size: tuple[int, int], aspect: AspectRange | None) -> tuple[int, int]:
    width, height = size
    return _exact_aspect(
        (max(1, math.floor(width * _SHRINK_STEP)), max(1, math.floor(height * _SHRINK_STEP))),
        aspect,
    )


def _aspect_text(aspect: AspectRange | None) -> str:
    return "any" if aspect is None else f"{aspect.low:.6f}-{aspect.high:.6f}"


def targets_for(platforms: Sequence[str], kind: MediaKind) -> list[Target]:
    """Every derivative the given platforms need for one file."""
    return [target for platform in platforms for target in derivative_targets(platform, kind)]
