"""What a post's library media will be on each platform (issue #17), without a database: the
placement its content decides, the facts of what Chorus sends there, and every limit that
breaks, named."""

from __future__ import annotations

import uuid

import pytest

from shared.content.library_media import (
    LibraryFile,
    file_problems,
    placement_for,
    post_problems,
    sent_facts,
)
from shared.content.media import MediaKind
from shared.media.derivatives import FocalPoint
from shared.media.facts import MediaFacts, MediaType
from shared.media.platform_rules import check, placement

IMAGE, VIDEO = MediaKind.IMAGE, MediaKind.VIDEO


def _photo(width: int, height: int, size: int = 6_000_000, alpha: bool = False) -> LibraryFile:
    facts = MediaFacts(MediaType.JPEG, width, height, size, has_alpha=alpha)
    if alpha:
        facts = MediaFacts(MediaType.PNG, width, height, size, has_alpha=True)
    return LibraryFile(uuid.uuid4(), "photo.jpg", facts, FocalPoint(0.5, 0.2))


def _video(
    width: int = 720, height: int = 1280, seconds: float = 8.0, fps: float = 30
) -> LibraryFile:
    facts = MediaFacts(
        MediaType.MP4,
        width,
        height,
        4_000_000,
        duration_seconds=seconds,
        frame_rate=fps,
        video_codec="h264",
        audio_codec="aac",
    )
    return LibraryFile(uuid.uuid4(), "clip.mp4", facts, has_poster=True)


@pytest.mark.parametrize(
    ("platform", "kinds", "expected"),
    [
        ("instagram", [VIDEO], "reel"),
        ("instagram", [IMAGE], "feed"),
        ("instagram", [IMAGE, VIDEO], "feed"),  # a carousel
        ("tiktok", [VIDEO], "video"),
        ("tiktok", [IMAGE, IMAGE], "photo"),
        ("facebook", [VIDEO], "feed"),
        ("pinterest", [IMAGE], "pin"),
        ("x", [IMAGE], "post"),
        ("youtube", [VIDEO], "video"),
    ],
)
def test_the_placement_comes_from_the_posts_content(
    platform: str, kinds: list[MediaKind], expected: str
) -> None:
    assert placement_for(platform, kinds) == expected


def test_a_photo_in_no_platforms_shape_is_sent_as_a_derivative_that_fits() -> None:
    panorama = _photo(6000, 1500, size=12_000_000)
    assert check("instagram", "feed", [panorama.facts])  # as uploaded: refused
    feed = sent_facts(panorama, placement("instagram", "feed"))
    assert (feed.type, feed.width) == (MediaType.JPEG, 1080)
    assert abs(feed.aspect_ratio - 1.91) < 0.01
    assert feed.size_bytes <= 8 * 1024 * 1024
    assert file_problems("instagram", "feed", 0, panorama) == []
    pin = sent_facts(panorama, placement("pinterest", "pin"))
    assert abs(pin.aspect_ratio - 2 / 3) < 0.01


def test_a_transparent_png_stays_png_where_the_platform_takes_it() -> None:
    logo = _photo(800, 600, size=300_000, alpha=True)
    assert sent_facts(logo, placement("x", "post")).type is MediaType.PNG
    assert sent_facts(logo, placement("instagram", "feed")).type is MediaType.JPEG


def test_a_video_is_sent_as_it_is_and_each_broken_limit_is_named() -> None:
    clip = _video(width=2160, height=3840, seconds=2.0, fps=20)
    assert sent_facts(clip, placement("instagram", "reel")) == clip.facts
    problems = post_problems("instagram", [(VIDEO, clip)])
    found = {(p.platform, p.placement, p.field, p.limit, p.actual) for p in problems}
    assert found == {
        ("instagram", "reel", "media[0].width", 1920, 2160),
        ("instagram", "reel", "media[0].duration_seconds", 3, 2.0),
        ("instagram", "reel", "media[0].frame_rate", "23 to 60", 20),
    }
    assert all("file 1 (clip.mp4)" in p.message for p in problems)
    assert post_problems("tiktok", [(VIDEO, _video())]) == []


def test_items_given_by_url_take_their_place_but_are_not_checked() -> None:
    clip = _video(seconds=1.0)
    problems = post_problems("tiktok", [(IMAGE, None), (VIDEO, clip)])
    # A video among the items makes it a video post; the library video is item 2.
    assert [p.field for p in problems] == ["media[1].duration_seconds"]
