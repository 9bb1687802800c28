"""Real media files made by the tests, written to a temporary folder: what a phone, an editor
or an attacker would upload. Nothing here is checked in; every file is generated.

The secrets planted in metadata (camera make, GPS, comments) are constants, so tests can look
for them in every byte Chorus writes.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pillow_heif
from PIL import Image, ImageCms, ImageDraw, ImageFilter
from PIL.ExifTags import IFD

pillow_heif.register_heif_opener()

CAMERA_MAKE = "ChorusTestCam"
CAMERA_MODEL = "Pocket Phone 12"
SECRET_COMMENT = "secret-comment-42"
SECRET_XMP_TEXT = "secret-xmp-creator"
# 37°58'12" N, 23°43'36" E (Athens), as EXIF rationals.
GPS_LATITUDE = (37.0, 58.0, 12.0)
GPS_LONGITUDE = (23.0, 43.0, 36.0)
# The GPS IFD pointer entry (tag 0x8825, type LONG, count 1) as EXIF writes it, in either
# byte order: eight bytes no JPEG or PNG data contains by chance.
GPS_IFD_ENTRIES = (
    struct.pack("<HHI", 0x8825, 4, 1),
    struct.pack(">HHI", 0x8825, 4, 1),
)
MARKER = (255, 0, 0)
"""A red square drawn at the top-left corner of the stored pixels of oriented photos."""


def _photo_like(size: tuple[int, int]) -> Image.Image:
    """Smooth gradients with some texture: JPEG sizes like a real photo's, quick to make."""
    width, height = size
    small = (max(width // 16, 1), max(height // 16, 1))
    red = Image.linear_gradient("L").resize(small)
    green = Image.radial_gradient("L").resize(small)
    blue = Image.effect_noise(small, 60).filter(ImageFilter.GaussianBlur(1))
    image = Image.merge("RGB", (red, green, blue)).resize(size, Image.Resampling.BILINEAR)
    grain = Image.effect_noise(size, 12).convert("RGB")
    return Image.blend(image, grain, 0.15)


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif[0x0112] = orientation
    exif[0x0131] = "PhoneOS 17.1"  # Software
    exif[IFD.GPSInfo] = {
        1: "N",
        2: GPS_LATITUDE,
        3: "E",
        4: GPS_LONGITUDE,
    }
    return exif


def _xmp() -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>'
        + SECRET_XMP_TEXT.encode()
        + b"</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def write_phone_jpeg(
    path: Path, size: tuple[int, int] = (4032, 3024), orientation: int = 6
) -> Path:
    """A 12 MP phone photo: stored landscape 4032×3024 with EXIF orientation 6 (shown portrait,
    3024×4032), camera make and model, GPS, an XMP packet, a comment and an ICC profile. The
    stored pixels have a red square at their top-left corner."""
    image = _photo_like(size)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 8, size[1] // 8), fill=MARKER)
    image.save(
        path,
        "JPEG",
        quality=90,
        exif=_exif(orientation),
        xmp=_xmp(),
        comment=SECRET_COMMENT.encode(),
        icc_profile=srgb_icc(),
    )
    return path


def metadata_found(data: bytes) -> list[str]:
    """Which of the planted metadata ``data`` still carries (empty: none)."""
    needles = {
        "EXIF": b"Exif\x00\x00",
        "camera make": CAMERA_MAKE.encode(),
        "camera model": CAMERA_MODEL.encode(),
        "comment": SECRET_COMMENT.encode(),
        "XMP": SECRET_XMP_TEXT.encode(),
        "XMP namespace": b"adobe:ns:meta",
        "ICC profile": b"ICC_PROFILE",
    }
    found = [name for name, needle in needles.items() if needle in data]
    if any(entry in data for entry in GPS_IFD_ENTRIES):
        found.append("GPS IFD")
    return found


def write_heic(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A HEIC photo (as iPhones take them) with camera make and GPS in its EXIF."""
    image = _photo_like(size)
    image.save(path, "HEIF", quality=80, exif=_exif(1).tobytes())
    return path


def write_webp(path: Path, size: tuple[int, int] = (800, 600)) -> Path:
    _photo_like(size).save(path, "WEBP", quality=80, exif=_exif(1).tobytes())
    return path


def write_marked_photo(
    path: Path, size: tuple[int, int], focal: tuple[float, float], radius: int = 12
) -> Path:
    """A plain grey JPEG with one red disc at ``focal`` (fractions of width and height): a
    crop that keeps the focal point keeps the disc."""
    image = Image.new("RGB", size, (128, 128, 128))
    x, y = focal[0] * size[0], focal[1] * size[1]
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=MARKER)
    image.save(path, "JPEG", quality=95)
    return path


def write_noisy_jpeg(path: Path, size: tuple[int, int] = (2000, 2000)) -> Path:
    """Pure noise: the worst case for JPEG sizes (megabytes even when small)."""
    Image.merge("RGB", [Image.effect_noise(size, 90) for _ in range(3)]).save(
        path, "JPEG", quality=95
    )
    return path


def write_png_with_alpha(path: Path, size: tuple[int, int] = (800, 600)) -> Path:
    """A logo-like PNG: an opaque disc on a transparent background, with a text chunk."""
    from PIL import PngImagePlugin

    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((100, 100, size[0] - 100, size[1] - 100), fill=(20, 90, 200))
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Author", SECRET_COMMENT)
    image.save(path, "PNG", pnginfo=chunks)
    return path


def write_opaque_rgba_png(path: Path, size: tuple[int, int] = (640, 640)) -> Path:
    """An RGBA PNG whose every pixel is opaque (editors export these all the time)."""
    _photo_like(size).convert("RGBA").save(path, "PNG")
    return path


def write_animated_gif(path: Path, frames: int = 8, size: tuple[int, int] = (320, 240)) -> Path:
    """A looping animated GIF with a comment."""
    images = []
    for index in range(frames):
        frame = Image.new("P", size, 0)
        frame.putpalette([value for i in range(256) for value in (i, 255 - i, (i * 7) % 256)])
        block = max(size[0] // 8, 2)
        x = index * (size[0] - block) // max(frames - 1, 1)
        top, bottom = size[1] // 3, 2 * size[1] // 3
        ImageDraw.Draw(frame).rectangle((x, top, x + block, bottom), fill=200)
        images.append(frame)
    images[0].save(
        path,
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=80,
        loop=0,
        comment=SECRET_COMMENT.encode(),
    )
    return path


def write_truncated_jpeg(path: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    """A JPEG cut off at 60% (an upload that died half way)."""
    buffer = io.BytesIO()
    _photo_like(size).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def write_png_bomb(path: Path, side: int = 60_000) -> Path:
    """A PNG that declares side×side pixels (3.6 gigapixels at 60,000) in a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + bytes(math.ceil(side / 8))
    compressor = zlib.compressobj(9)
    data = compressor.compress(row * 64) + compressor.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def write_svg_with_script(path: Path) -> Path:
    path.write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        'height="10"><script>alert(document.cookie)</script><rect width="10" height="10"/>'
        "</svg>\n"
    )
    return path


def write_png_named_jpg(path: Path) -> Path:
    """A PNG whose name says ``.jpg`` (pass a path ending in .jpg)."""
    _photo_like((400, 300)).save(path, "PNG")
    return path


def write_text_named_mp4(path: Path) -> Path:
    path.write_text("This is not a video, whatever its name says.\n" * 20)
    return path


def write_video(
    path: Path,
    *,
    size: tuple[int, int] = (720, 1280),
    seconds: float = 2.0,
    fps: int = 30,
    codec: str = "libx264",
    audio: bool = True,
    rotation_cw: int = 0,
    container: str = "mp4",
    faststart: bool = False,
) -> Path:
    """A short video encoded with PyAV: ``size`` is the stored (coded) size; ``rotation_cw``
    writes a display matrix asking players to turn it clockwise (as phones do); ``faststart``
    puts the index (``moov``) before the pictures, as streaming-ready exports do."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=options) as output:
        video = output.add_stream(codec, rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = size
        video.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec in ("libx264", "libx265"):
            video.options = {"preset": "ultrafast"}
            if codec == "libx265":
                video.options["x265-params"] = "log-level=none"
        if rotation_cw:
            video.set_display_rotation(-rotation_cw)
        sound = output.add_stream("aac", rate=48_000) if audio else None
        assert sound is None or isinstance(sound, av.AudioStream)
        frames = int(seconds * fps)
        base = _photo_like(size)
        for index in range(frames):
            image = base.copy()
            x = index * (size[0] - 60) // max(frames - 1, 1)
            ImageDraw.Draw(image).rectangle((x, 20, x + 60, 80), fill=MARKER)
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        if sound is not None:
            _write_tone(output, sound, seconds)
    return path


def _write_tone(
    output: av.container.OutputContainer, sound: av.AudioStream, seconds: float
) -> None:
    rate, samples = 48_000, 1024
    # 375 Hz fits exactly 8 periods in 1,024 samples: one block, repeated.
    block = b"".join(
        struct.pack("<hh", value, value)
        for value in (int(8000 * math.sin(2 * math.pi * 8 * i / samples)) for i in range(samples))
    )
    total = int(rate * seconds)
    for start in range(0, total, samples):
        count = min(samples, total - start)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
        frame.planes[0].update(block[: count * 4])
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in sound.encode(frame):
            output.mux(packet)
    for packet in sound.encode():
        output.mux(packet)


def write_broken_mp4(path: Path) -> Path:
    """An MP4 ``ftyp`` box followed by garbage: sniffs as MP4, decodes as nothing."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isommp41"
    path.write_bytes(ftyp + bytes(range(256)) * 64)
    return path


def write_truncated_video(source: Path, path: Path, keep: float = 0.3) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
