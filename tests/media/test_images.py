"""Images as a phone, an editor or an attacker uploads them: what Chorus reads from them, the
clean copy it serves (upright, no GPS or camera, no metadata at all), and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from shared.content.media import MediaKind
from shared.media import images
from shared.media.facts import MediaRefused, MediaType, RefusalCode
from tests.media import files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="module")
def phone_photo(folder: Path) -> Path:
    return files.write_phone_jpeg(folder / "IMG_0001.jpg")


def _red(pixel: tuple[int, ...]) -> bool:
    red, green, blue = pixel[:3]
    return red > 200 and green < 60 and blue < 60


def test_a_phone_photo_is_read_as_it_is_shown(phone_photo: Path) -> None:
    facts = images.inspect_image(phone_photo)
    assert facts.type is MediaType.JPEG
    assert (facts.width, facts.height) == (3024, 4032)  # stored 4032×3024, orientation 6
    assert facts.kind is MediaKind.IMAGE
    assert facts.has_alpha is False
    assert facts.frame_count == 1
    assert facts.color_profile == "sRGB built-in"
    assert facts.size_bytes == phone_photo.stat().st_size


def test_the_clean_copy_keeps_the_photo_upright_and_carries_no_metadata(
    phone_photo: Path, folder: Path
) -> None:
    assert set(files.metadata_found(phone_photo.read_bytes())) >= {
        "EXIF",
        "camera make",
        "GPS IFD",
        "comment",
        "XMP",
        "ICC profile",
    }
    out = folder / "clean.jpg"
    result = images.normalise_image(phone_photo, out)

    assert files.metadata_found(out.read_bytes()) == []
    assert result.original.type is MediaType.JPEG
    assert (result.clean.type, result.clean.width, result.clean.height) == (
        MediaType.JPEG,
        3024,
        4032,
    )
    with Image.open(out) as clean:
        assert clean.size == (3024, 4032)
        assert len(clean.getexif()) == 0
        assert "icc_profile" not in clean.info
        # The red square drawn at the stored top-left is at the displayed top-right once the
        # photo is turned upright (orientation 6: a quarter turn clockwise).
        assert _red(clean.getpixel((3024 - 100, 100)))  # type: ignore[arg-type]
        assert not _red(clean.getpixel((100, 100)))  # type: ignore[arg-type]


def test_heic_becomes_a_clean_jpeg(folder: Path) -> None:
    heic = files.write_heic(folder / "IMG_0002.HEIC")
    assert "camera make" in files.metadata_found(heic.read_bytes())
    original = images.inspect_image(heic)
    assert (original.type, original.width, original.height) == (MediaType.HEIC, 640, 480)

    out = folder / "heic-clean.jpg"
    result = images.normalise_image(heic, out)
    assert result.original.type is MediaType.HEIC
    assert result.clean.type is MediaType.JPEG
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    assert files.metadata_found(out.read_bytes()) == []
    with Image.open(out) as clean:
        assert (clean.format, clean.size) == ("JPEG", (640, 480))


def test_a_transparent_png_stays_a_transparent_png_without_its_text(folder: Path) -> None:
    png = files.write_png_with_alpha(folder / "logo.png")
    assert images.inspect_image(png).has_alpha is True
    out = folder / "logo-clean.png"
    result = images.normalise_image(png, out)
    assert (result.clean.type, result.clean.has_alpha) == (MediaType.PNG, True)
    assert files.metadata_found(out.read_bytes()) == []
    with Image.open(out) as clean:
        assert clean.mode == "RGBA"
        assert clean.getpixel((0, 0))[3] == 0  # type: ignore[index]
        assert clean.getpixel((400, 300))[3] == 255  # type: ignore[index]


def test_an_rgba_png_with_no_transparent_pixel_counts_as_opaque(folder: Path) -> None:
    assert images.inspect_image(files.write_opaque_rgba_png(folder / "flat.png")).has_alpha is False


def test_an_animated_gif_keeps_its_frames_and_loses_its_comment(folder: Path) -> None:
    gif = files.write_animated_gif(folder / "moving.gif", frames=8)
    facts = images.inspect_image(gif)
    assert (facts.frame_count, facts.kind, facts.animated) == (8, MediaKind.GIF, True)

    out = folder / "moving-clean.gif"
    result = images.normalise_image(gif, out)
    assert (result.clean.type, result.clean.frame_count) == (MediaType.GIF, 8)
    assert files.metadata_found(gif.read_bytes()) == ["comment"]
    assert files.metadata_found(out.read_bytes()) == []
    with Image.open(out) as clean:
        assert sum(1 for _ in ImageSequence.Iterator(clean)) == 8


def test_webp_stays_webp_without_exif(folder: Path) -> None:
    webp = files.write_webp(folder / "photo.webp")
    assert "camera make" in files.metadata_found(webp.read_bytes())
    out = folder / "photo-clean.webp"
    assert images.normalise_image(webp, out).clean.type is MediaType.WEBP
    assert files.metadata_found(out.read_bytes()) == []


def test_a_truncated_jpeg_is_refused_as_corrupt(folder: Path) -> None:
    broken = files.write_truncated_jpeg(folder / "cut.jpg")
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(broken)
    assert refused.value.code is RefusalCode.CORRUPT
    assert "truncated" in refused.value.detail
    with pytest.raises(MediaRefused):
        images.normalise_image(broken, folder / "cut-clean.jpg")


def test_a_decompression_bomb_is_refused_before_decoding(folder: Path) -> None:
    bomb = files.write_png_bomb(folder / "bomb.png")
    assert bomb.stat().st_size < 10_000  # 3.6 gigapixels declared in a few kilobytes
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(bomb)
    assert refused.value.code is RefusalCode.TOO_MANY_PIXELS
    assert "50 megapixels" in refused.value.detail


def test_a_bomb_under_pillow_s_own_limit_meets_ours(folder: Path) -> None:
    """9,000 × 9,000 = 81 MP: under Pillow's 89 MP guard, over Chorus's 50 MP."""
    big = files.write_png_bomb(folder / "wide.png", side=9_000)
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(big)
    assert refused.value.code is RefusalCode.TOO_MANY_PIXELS
    assert "9,000 × 9,000" in refused.value.detail


def test_the_pixel_limit_is_configurable(phone_photo: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(phone_photo, max_pixels=10_000_000)
    assert refused.value.code is RefusalCode.TOO_MANY_PIXELS
    assert "12.2 megapixels" in refused.value.detail
    assert images.inspect_image(phone_photo, max_pixels=13_000_000).width == 3024


def test_an_svg_is_not_an_image_here(folder: Path) -> None:
    svg = files.write_svg_with_script(folder / "logo.svg")
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(svg)
    assert refused.value.code is RefusalCode.CORRUPT


def test_too_many_frames_are_refused(folder: Path) -> None:
    gif = files.write_animated_gif(folder / "long.gif", frames=12, size=(80, 80))
    with pytest.raises(MediaRefused) as refused:
        images.inspect_image(gif, max_frames=10)
    assert refused.value.code is RefusalCode.TOO_MANY_FRAMES


def test_16_bit_greyscale_keeps_its_tones(folder: Path) -> None:
    path = folder / "scan.png"
    Image.new("I;16", (64, 64), 32768).save(path)  # mid grey in 16 bits
    out = folder / "scan-clean.png"
    images.normalise_image(path, out)
    with Image.open(out) as clean:
        red, green, blue = clean.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
        assert 120 <= red <= 135
        assert red == green == blue
