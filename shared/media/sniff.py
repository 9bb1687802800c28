"""The type of an upload from its first bytes (magic numbers), never from its name or the
Content-Type a client sent: a PNG renamed ``.jpg`` is a PNG, a text file renamed ``.mp4`` is
refused.

The API reads ``HEAD_BYTES`` of the stream and calls ``sniff``; anything but an accepted type
becomes ``Unsupported``, which the API answers with 415 naming ``ACCEPTED_TYPES``. AVIF is
refused on purpose: the issue's accepted list leaves it out and several platforms refuse it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from shared.media.facts import MediaType

HEAD_BYTES = 4096
"""How much of a file ``sniff`` needs: an ISO-BMFF ``ftyp`` box with its brands fits easily."""

ACCEPTED_TYPES: tuple[MediaType, ...] = tuple(MediaType)
ACCEPTED_MIME_TYPES: tuple[str, ...] = tuple(t.mime for t in ACCEPTED_TYPES)
ACCEPTED_DESCRIPTION = (
    "JPEG, PNG, WebP, HEIC/HEIF, GIF, MP4 or MOV (H.264 or HEVC video, AAC or no audio)"
)

# ISO base media file format (``ftyp``) brands: HEIF stills and sequences, AVIF (refused),
# QuickTime, and the MP4 family phones and editors write.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_QUICKTIME_BRANDS = frozenset({b"qt  "})
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
        b"hvc1", b"hev1", b"dash", b"M4V ", b"M4VP", b"MSNV", b"XAVC", b"3gp4", b"3gp5",
        b"3gp6", b"3g2a", b"f4v ", b"mmp4",
    }
)  # fmt: skip
# QuickTime files older than ``ftyp`` start straight with one of these atoms.
_QUICKTIME_FIRST_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot"})


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A file of a type Chorus does not take; ``detected`` names what it looks like."""

    detected: str

    @property
    def accepted(self) -> tuple[str, ...]:
        return ACCEPTED_MIME_TYPES

    @property
    def message(self) -> str:
        what = "This file" if self.detected == "unknown" else f"{self.detected} files"
        verb = "is" if self.detected == "unknown" else "are"
        return (
            f"{what} {verb} not accepted (the type is read from the file's content, not its "
            f"name); upload {ACCEPTED_DESCRIPTION}"
        )


def sniff(head: bytes) -> MediaType | Unsupported:
    """The type of a file from its first bytes (``HEAD_BYTES`` are plenty)."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return MediaType.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaType.WEBP
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[4:8] in _QUICKTIME_FIRST_ATOMS:
        return MediaType.MOV
    return Unsupported(_describe_other(head))


def sniff_file(path: Path) -> MediaType | Unsupported:
    with path.open("rb") as file:
        return sniff(file.read(HEAD_BYTES))


def _sniff_ftyp(head: bytes) -> MediaType | Unsupported:
    (box_size,) = struct.unpack(">I", head[:4])
    end = min(box_size if box_size >= 16 else len(head), len(head))
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS or (major in _HEIF_GENERIC_BRANDS and brands & _AVIF_BRANDS):
        return Unsupported("AVIF")
    if major in _HEIF_BRANDS or major in _HEIF_GENERIC_BRANDS:
        return MediaType.HEIC
    if major in _QUICKTIME_BRANDS:
        return MediaType.MOV
    if major in _MP4_BRANDS:
        return MediaType.MP4
    # An unfamiliar major brand: decide by what it declares compatible with.
    if brands & _AVIF_BRANDS:
        return Unsupported("AVIF")
    if brands & (_HEIF_BRANDS | _HEIF_GENERIC_BRANDS):
        return MediaType.HEIC
    if brands & _QUICKTIME_BRANDS:
        return MediaType.MOV
    if brands & _MP4_BRANDS:
        return MediaType.MP4
    return Unsupported("unknown")


def _describe_other(head: bytes) -> str:
    """A name for a refused file, so the 415 says what the file looked like."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"%pdf-"):
        return "PDF"
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in text:
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "ZIP"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "WebM/Matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return "unknown"
