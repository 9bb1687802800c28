"""Images: read their facts, refuse what is broken or dangerous, and write clean copies.

Everything written here carries no metadata at all: no EXIF (so no GPS, camera or owner),
no XMP, no IPTC, no comments, no ICC profile. Pixels are converted to sRGB instead of keeping
the camera's profile (a phone's Display P3, an editor's Adobe RGB): every platform shows sRGB
and converts what it receives anyway (Instagram's publishing API says so), an untagged image
is read as sRGB by browsers, and writing no profile keeps the output free of anything the
original carried. EXIF orientation is applied to the pixels before the EXIF is dropped, so a
photo held upright stays upright.

Decompression bombs: ``max_pixels`` (50 megapixels by default) is checked from the header
before any pixel is decoded; Pillow's own guard (its warning and error) is turned into the
same refusal. Pillow warns above its ``MAX_IMAGE_PIXELS`` (about 89 megapixels) and refuses
above twice that, so a ``max_pixels`` set higher than 89 megapixels logs Pillow's warning
and one higher than 178 megapixels is capped by Pillow. A file that does not decode to the
end is refused (``load()`` forces the decode), never half-processed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from shared.media.facts import MediaFacts, MediaRefused, MediaType, RefusalCode

pillow_heif.register_heif_opener()

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_FRAMES = 1_000
NORMALISED_JPEG_QUALITY = 92
NORMALISED_WEBP_QUALITY = 90

_PILLOW_FORMATS = {
    "JPEG": MediaType.JPEG,
    "MPO": MediaType.JPEG,  # a JPEG with extra frames (some cameras); the first is the photo
    "PNG": MediaType.PNG,
    "WEBP": MediaType.WEBP,
    "HEIF": MediaType.HEIC,
    "GIF": MediaType.GIF,
}
_ANIMATABLE = (MediaType.GIF, MediaType.PNG, MediaType.WEBP)
_SRGB = ImageCms.createProfile("sRGB")
# The GIF per-frame fields Pillow needs to write an animation back; comments and
# application extensions (where XMP hides in a GIF) are dropped.
_GIF_FRAME_KEYS = ("transparency", "duration")


def inspect_image(
    path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_frames: int = DEFAULT_MAX_FRAMES
) -> MediaFacts:
    """The facts of an image file, after decoding every pixel of it (a truncated or corrupt
    file raises ``MediaRefused(code="corrupt")``)."""
    with _open(path, max_pixels) as image:
        media_type = _media_type(image)
        frames = _decode_frames(image, media_type, max_frames)
        image.seek(0)
        width, height = _displayed_size(image)
        return MediaFacts(
            type=media_type,
            width=width,
            height=height,
            size_bytes=path.stat().st_size,
            has_alpha=has_transparency(image),
            frame_count=frames,
            color_profile=_profile_name(image),
        )


@dataclass(frozen=True, slots=True)
class Normalised:
    """The facts of the uploaded original and of the clean copy written from it."""

    original: MediaFacts
    clean: MediaFacts


def normalise_image(
    path: Path,
    out_path: Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> Normalised:
    """Check an original and write the clean copy Chorus serves: orientation applied, sRGB,
    no metadata. JPEG and HEIC become JPEG, PNG stays PNG, WebP stays WebP, an animated GIF
    stays an animated GIF, a still GIF becomes PNG (lossless, no palette games); other
    animations (APNG, animated WebP) keep their first frame. One decode does both: the
    original's facts come from the same pass (``inspect_image`` is not needed as well)."""
    with _open(path, max_pixels) as image:
        media_type = _media_type(image)
        frames = _decode_frames(image, media_type, max_frames)
        image.seek(0)
        width, height = _displayed_size(image)
        original = MediaFacts(
            type=media_type,
            width=width,
            height=height,
            size_bytes=path.stat().st_size,
            has_alpha=has_transparency(image),
            frame_count=frames,
            color_profile=_profile_name(image),
        )
        if media_type is MediaType.GIF and frames > 1:
            _write_clean_gif(image, out_path)
            clean_type, clean_frames, clean_alpha = MediaType.GIF, frames, original.has_alpha
        else:
            clean = clean_pixels(image)
            clean_type = _normalised_type(media_type)
            save_clean(clean, out_path, clean_type)
            clean_frames, clean_alpha = 1, clean.mode == "RGBA"
    return Normalised(
        original=original,
        clean=MediaFacts(
            type=clean_type,
            width=width,
            height=height,
            size_bytes=out_path.stat().st_size,
            has_alpha=clean_alpha,
            frame_count=clean_frames,
        ),
    )


def inspect_header(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> MediaFacts:
    """Type and displayed size from the header alone, decoding no pixels (cheap; no proof
    the file is whole: ``inspect_image`` and ``normalise_image`` give that)."""
    with _open(path, max_pixels) as image:
        width, height = _displayed_size(image)
        return MediaFacts(
            type=_media_type(image),
            width=width,
            height=height,
            size_bytes=path.stat().st_size,
            frame_count=getattr(image, "n_frames", 1),
        )


@contextmanager
def clean_image(
    path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_scale: int = 1
) -> Iterator[Image.Image]:
    """The first frame of an image, fully decoded, upright, in sRGB, as RGB or RGBA, with no
    metadata attached: what derivatives are cut from (valid inside the ``with``).
    ``draft_scale`` (2, 4 or 8) lets a JPEG decode at that fraction of its size, several
    times faster; other formats decode whole."""
    with _open(path, max_pixels) as image:
        if draft_scale > 1 and image.format == "JPEG":
            image.draft("RGB", (image.width // draft_scale, image.height // draft_scale))
        yield clean_pixels(image)


def clean_pixels(image: Image.Image) -> Image.Image:
    """The current frame with orientation applied, converted to sRGB, as RGB or RGBA (RGBA
    only when some pixel is transparent), ``info`` empty. Copies only when something has to
    change, so the result may be ``image`` itself."""
    _load(image)
    icc = image.info.get("icc_profile")
    orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
    upright = ImageOps.exif_transpose(image) if orientation != 1 else image
    srgb = _to_srgb(upright, icc)
    wanted = "RGBA" if has_transparency(srgb) else "RGB"
    clean = srgb if srgb.mode == wanted else srgb.convert(wanted)
    clean.info = {}
    return clean


def save_clean(image: Image.Image, out_path: Path, media_type: MediaType, quality: int = 0) -> None:
    """Write ``image`` with no metadata (nothing from ``info`` is passed to the encoder).
    ``quality`` 0 means the normalised default for the type."""
    out_path.write_bytes(encode_clean(image, media_type, quality))


def encode_clean(image: Image.Image, media_type: MediaType, quality: int = 0) -> bytes:
    """The encoded bytes of ``image`` as JPEG, PNG or WebP, without metadata. Deterministic:
    the same pixels and settings give the same bytes."""
    image.info = {}
    buffer = io.BytesIO()
    if media_type is MediaType.JPEG:
        rgb = image if image.mode == "RGB" else _flatten(image)
        rgb.save(buffer, "JPEG", quality=quality or NORMALISED_JPEG_QUALITY, optimize=True)
    elif media_type is MediaType.PNG:
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    elif media_type is MediaType.WEBP:
        image.save(buffer, "WEBP", quality=quality or NORMALISED_WEBP_QUALITY, method=4)
    else:
        raise ValueError(f"cannot encode {media_type.label} here")
    return buffer.getvalue()


def has_transparency(image: Image.Image) -> bool:
    """True when some pixel of the current frame is not fully opaque (an RGBA PNG whose alpha
    is 255 everywhere is opaque: it can become a JPEG without losing anything)."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        low, _high = image.getchannel("A").getextrema()
        return bool(low < 255)  # type: ignore[operator]
    if "transparency" in image.info and image.mode in ("P", "L", "RGB"):
        return has_transparency(image.convert("RGBA"))
    return False


@contextmanager
def _open(path: Path, max_pixels: int) -> Iterator[ImageFile.ImageFile]:
    try:
        image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused(
            RefusalCode.TOO_MANY_PIXELS,
            f"The image declares more pixels than Chorus decodes ({max_pixels / 1e6:g} "
            "megapixels at most); export it at a smaller size and upload it again.",
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaRefused(
            RefusalCode.CORRUPT, "The file is not a readable image: its content is damaged."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _corrupt(exc) from exc
    with image:
        if _media_type_or_none(image) is None:
            raise MediaRefused(
                RefusalCode.UNSUPPORTED_TYPE,
                f"{image.format} images are not accepted; upload JPEG, PNG, WebP, HEIC or GIF.",
            )
        width, height = image.size
        if width * height > max_pixels:
            raise MediaRefused(
                RefusalCode.TOO_MANY_PIXELS,
                f"The image is {width:,} × {height:,} pixels ({width * height / 1e6:,.1f} "
                f"megapixels); Chorus takes at most {max_pixels / 1e6:g} megapixels. Export "
                "it at a smaller size and upload it again.",
            )
        yield image


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused(
            RefusalCode.TOO_MANY_PIXELS, "The image has more pixels than Chorus decodes."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise _corrupt(exc) from exc


def _corrupt(exc: BaseException) -> MediaRefused:
    reason = "it ends early (truncated)" if "truncated" in str(exc) else "its data is damaged"
    return MediaRefused(
        RefusalCode.CORRUPT,
        f"The image cannot be decoded: {reason}. Upload the original file again.",
    )


def _decode_frames(image: ImageFile.ImageFile, media_type: MediaType, max_frames: int) -> int:
    """Decode every frame (GIF, APNG, animated WebP) or the one image; return the count."""
    if media_type not in _ANIMATABLE or getattr(image, "n_frames", 1) == 1:
        _load(image)
        return 1
    count = 0
    try:
        for frame in ImageSequence.Iterator(image):
            count += 1
            if count > max_frames:
                raise MediaRefused(
                    RefusalCode.TOO_MANY_FRAMES,
                    f"The animation has more than {max_frames:,} frames; shorten it.",
                )
            _load(frame)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _corrupt(exc) from exc
    return count


def _media_type_or_none(image: Image.Image) -> MediaType | None:
    return _PILLOW_FORMATS.get(image.format or "")


def _media_type(image: Image.Image) -> MediaType:
    media_type = _media_type_or_none(image)
    assert media_type is not None  # _open refused the rest
    return media_type


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _profile_name(image: Image.Image) -> str | None:
    icc = image.info.get("icc_profile")
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.getProfileDescription(profile).strip() or "unnamed"
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return "unreadable"


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels converted from the embedded profile to sRGB; untagged or unreadable profiles
    are taken as sRGB already (what browsers and platforms assume)."""
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" in ImageCms.getProfileDescription(source).lower():
                return image
            out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=out_mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit greyscale (a PNG from a scanner or a medical export): scale to 8 bits, where
        # a plain convert would clip everything above 255 to white.
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    keeps_alpha = image.mode in ("LA", "PA", "RGBa", "La") or "transparency" in image.info
    return image.convert("RGBA" if keeps_alpha else "RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background: what a transparent PNG looks like on a light page."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _normalised_type(media_type: MediaType) -> MediaType:
    if media_type in (MediaType.JPEG, MediaType.HEIC):
        return MediaType.JPEG
    if media_type is MediaType.WEBP:
        return MediaType.WEBP
    return MediaType.PNG


def _write_clean_gif(image: ImageFile.ImageFile, out_path: Path) -> None:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        copy = frame.copy()
        durations.append(int(frame.info.get("duration", 100)))
        copy.info = {key: frame.info[key] for key in _GIF_FRAME_KEYS if key in frame.info}
        frames.append(copy)
    first, rest = frames[0], frames[1:]
    first.save(
        out_path,
        "GIF",
        save_all=True,
        append_images=rest,
        duration=durations,
        loop=int(image.info.get("loop", 0)),
        disposal=2,
        optimize=False,
    )
