"""The type of an upload comes from its bytes: what each real file is taken for, and what is
refused with the list of accepted types."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from shared.media.facts import MediaType
from shared.media.sniff import (
    ACCEPTED_MIME_TYPES,
    HEAD_BYTES,
    Unsupported,
    sniff,
    sniff_file,
)
from tests.media import files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sniff")


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 64


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (lambda p: files.write_phone_jpeg(p, size=(640, 480)), "photo.jpg", MediaType.JPEG),
        (files.write_heic, "photo.heic", MediaType.HEIC),
        (files.write_png_with_alpha, "logo.png", MediaType.PNG),
        (files.write_webp, "photo.webp", MediaType.WEBP),
        (files.write_animated_gif, "moving.gif", MediaType.GIF),
        (lambda p: files.write_video(p, size=(64, 64), seconds=0.2), "clip.mp4", MediaType.MP4),
        (
            lambda p: files.write_video(p, size=(64, 64), seconds=0.2, container="mov"),
            "clip.mov",
            MediaType.MOV,
        ),
        (files.write_png_named_jpg, "renamed.jpg", MediaType.PNG),
    ],
)
def test_real_files_are_taken_for_what_their_bytes_are(
    folder: Path, make: object, name: str, expected: MediaType
) -> None:
    path = make(folder / name)  # type: ignore[operator]
    assert sniff_file(path) is expected


def test_a_png_named_jpg_is_a_png_not_a_jpeg(folder: Path) -> None:
    path = files.write_png_named_jpg(folder / "holiday.jpg")
    assert path.suffix == ".jpg"
    assert sniff_file(path) is MediaType.PNG


@pytest.mark.parametrize(
    ("make", "detected"),
    [
        (lambda p: files.write_svg_with_script(p.with_suffix(".svg")), "SVG"),
        (lambda p: files.write_text_named_mp4(p.with_suffix(".mp4")), "unknown"),
    ],
)
def test_svg_and_disguised_text_are_refused_with_the_accepted_list(
    folder: Path, make: object, detected: str
) -> None:
    result = sniff_file(make(folder / "upload"))  # type: ignore[operator]
    assert result == Unsupported(detected)
    assert isinstance(result, Unsupported)
    for label in ("JPEG", "PNG", "WebP", "HEIC", "GIF", "MP4", "MOV"):
        assert label in result.message
    assert "image/heic" in result.accepted
    assert "video/quicktime" in result.accepted


@pytest.mark.parametrize(
    ("head", "detected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"BM" + b"\x00" * 40, "BMP"),
        (b"II*\x00" + b"\x00" * 40, "TIFF"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 40, "WebM/Matroska"),
        (_ftyp(b"avif", b"mif1", b"miaf"), "AVIF"),
        (_ftyp(b"mif1", b"avif", b"miaf"), "AVIF"),
        (b"", "unknown"),
    ],
)
def test_other_types_are_refused_and_named(head: bytes, detected: str) -> None:
    assert sniff(head) == Unsupported(detected)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_ftyp(b"heic", b"mif1", b"heic"), MediaType.HEIC),
        (_ftyp(b"heix", b"mif1"), MediaType.HEIC),
        (_ftyp(b"mif1", b"heic", b"miaf"), MediaType.HEIC),
        (_ftyp(b"msf1", b"hevc"), MediaType.HEIC),
        (_ftyp(b"qt  ", b"qt  "), MediaType.MOV),
        (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), MediaType.MP4),
        (_ftyp(b"mp42", b"mp41", b"isom"), MediaType.MP4),
        (_ftyp(b"XYZW", b"isom"), MediaType.MP4),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", MediaType.MOV),
    ],
)
def test_iso_media_brands_decide_between_heic_mp4_and_mov(head: bytes, expected: MediaType) -> None:
    assert sniff(head) is expected


def test_the_first_head_bytes_decide_as_the_whole_file_would(folder: Path) -> None:
    path = files.write_video(folder / "long-head.mp4", size=(64, 64), seconds=0.2)
    data = path.read_bytes()
    assert len(data) > HEAD_BYTES
    assert sniff(data[:HEAD_BYTES]) is sniff(data) is MediaType.MP4


def test_the_accepted_list_is_the_issue_s_list() -> None:
    assert set(ACCEPTED_MIME_TYPES) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/gif",
        "video/mp4",
        "video/quicktime",
    }
