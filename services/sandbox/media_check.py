"""What a platform does with the media it is given (issue #17): fetch it, read it, and refuse
what breaks its rules, before anything is posted.

A link to a Chorus media file (``/v1/media/files/…``, the signed links connectors pass) is
fetched as the platform's fetcher would (plain GET, redirects followed, a 60 s ceiling); its
bytes are read — the type from the bytes, the displayed size with Pillow, a video's
duration, frame rate and codecs with PyAV (``shared.media.video.probe_video``, decoding one
frame) — and checked with ``shared.media.platform_rules`` for the placement. Bytes uploaded
directly (X's media upload) are read and checked the same way.

Links elsewhere (``https://cdn.example/…`` in tests and demos, addresses nobody serves) are
taken unread, as the sandbox always did: only the forms a platform refuses without fetching
(not http) are refused by the platform modules.

Everything received is kept, per platform, with its facts and bytes, for the admin API
(``GET /_sandbox/media/{platform}``): what each platform got, and whether it took it.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import Image

from shared.content.media import MediaKind
from shared.media import images, video
from shared.media.facts import MediaFacts, MediaRefused
from shared.media.platform_rules import Problem, check_cover, check_item, placement
from shared.media.sniff import sniff_file

CHORUS_FILES = "/v1/media/files/"
FETCH_TIMEOUT_S = 60.0
MAX_FETCH_BYTES = 512 * 1024 * 1024
_GPS_IFD = 0x8825


@dataclass(slots=True)
class Received:
    """One file a platform got: where from, what it is, and what the platform made of it."""

    platform: str
    placement: str
    source: str
    """The link it fetched, or ``upload`` for bytes sent in the request."""
    content_type: str
    body: bytes = field(repr=False)
    facts: MediaFacts | None = None
    gps: bool = False
    """EXIF GPS in the bytes (a platform would publish where the photo was taken)."""
    problems: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.problems

    def public(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "placement": self.placement,
            "source": self.source,
            "content_type": self.content_type,
            "size_bytes": len(self.body),
            "sha256": hashlib.sha256(self.body).hexdigest(),
            "facts": self.facts.to_json() if self.facts is not None else None,
            "gps": self.gps,
            "accepted": self.accepted,
            "problems": list(self.problems),
            "codes": list(self.codes),
        }


def is_chorus_link(url: str) -> bool:
    return urlsplit(url).path.startswith(CHORUS_FILES)


async def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, as a platform's fetcher makes it."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=True) as answer,
    ):
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.content.iter_chunked(1024 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FETCH_BYTES:
                break
        body = b"".join(chunks)
        content_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
        return answer.status, content_type, body


def read_facts(body: bytes) -> tuple[MediaFacts | None, bool, str | None]:
    """(facts, GPS present, why unreadable) of a file's bytes."""
    with tempfile.TemporaryDirectory(prefix="sandbox-media-") as folder:
        path = Path(folder) / "received"
        path.write_bytes(body)
        kind = sniff_file(path)
        try:
            if getattr(kind, "is_video", False):
                return video.probe_video(path, decode_frames=1), False, None
            facts = images.inspect_header(path)
        except MediaRefused as exc:
            return None, False, exc.detail
        except Exception as exc:  # a file the platform cannot read, whatever the reason
            return None, False, f"the file could not be read ({type(exc).__name__})"
        with Image.open(path) as image:
            gps = bool(image.getexif().get_ifd(_GPS_IFD))
        return facts, gps, None


def problems_of(
    platform: str, placement_name: str, facts: MediaFacts
) -> tuple[list[str], list[str]]:
    """(messages, codes) of the placement's limits the file breaks."""
    where = placement(platform, placement_name)
    rule = where.rule_for(facts.kind)
    if rule is None:
        kind = facts.kind.value
        return [f"{where.display} does not take a {kind}"], ["kind_not_accepted"]
    found: list[Problem] = check_item(rule, facts, where.display)
    return [p.message for p in found], [p.code.value for p in found]


def cover_problems(
    platform: str, placement_name: str, facts: MediaFacts
) -> tuple[list[str], list[str]]:
    """(messages, codes) of a video cover's problems at a placement that takes one."""
    found = check_cover(platform, placement_name, facts)
    return [p.message for p in found], [p.code.value for p in found]


async def receive_bytes(
    platform: str, placement_name: str, body: bytes, content_type: str, source: str = "upload"
) -> Received:
    """Read and check bytes the platform was sent."""
    facts, gps, unreadable = await asyncio.to_thread(read_facts, body)
    got = Received(platform, placement_name, source, content_type, body, facts, gps)
    if facts is None:
        got.problems.append(unreadable or "the file could not be read")
        got.codes.append("unreadable")
    else:
        got.problems, got.codes = problems_of(platform, placement_name, facts)
    return got


async def receive_link(platform: str, placement_name: str, url: str) -> Received | None:
    """Fetch a Chorus media link and check what it serves; None for other links (taken
    unread)."""
    if not is_chorus_link(url):
        return None
    try:
        status, content_type, body = await fetch(url)
    except (aiohttp.ClientError, TimeoutError) as exc:
        got = Received(platform, placement_name, url, "", b"")
        got.problems.append(f"the media could not be fetched ({type(exc).__name__})")
        got.codes.append("unfetchable")
        return got
    if status != 200 or not body:
        got = Received(platform, placement_name, url, content_type, b"")
        got.problems.append(f"the media could not be fetched (HTTP {status})")
        got.codes.append("unfetchable")
        return got
    if len(body) > MAX_FETCH_BYTES:
        got = Received(platform, placement_name, url, content_type, b"")
        got.problems.append("the media is larger than the sandbox fetches")
        got.codes.append("file_too_large")
        return got
    return await receive_bytes(platform, placement_name, body, content_type, source=url)


def kind_of(got: Received) -> MediaKind | None:
    return got.facts.kind if got.facts is not None else None
