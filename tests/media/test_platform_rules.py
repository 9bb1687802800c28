"""Each platform's media limits: every broken one named with its field, limit and value."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.content.media import MediaKind
from shared.media.facts import MediaFacts, MediaType
from shared.media.platform_rules import (
    MB,
    PLACEMENTS,
    ProblemCode,
    check,
    check_cover,
    placement,
    placements,
)
from shared.platforms.registry import PLATFORM_NAMES

PHOTO = MediaFacts(type=MediaType.JPEG, width=1080, height=1350, size_bytes=900_000)
VERTICAL_VIDEO = MediaFacts(
    type=MediaType.MP4,
    width=1080,
    height=1920,
    size_bytes=20 * MB,
    duration_seconds=15.0,
    frame_rate=30.0,
    video_codec="h264",
    audio_codec="aac",
    bitrate=8_000_000,
)


def codes(problems: list) -> list[ProblemCode]:  # type: ignore[type-arg]
    return [problem.code for problem in problems]


def test_every_platform_has_placements_and_every_placement_cites_its_source() -> None:
    for platform in PLATFORM_NAMES:
        assert placements(platform), platform
    for where in PLACEMENTS:
        assert where.platform in PLATFORM_NAMES
        assert where.source
        assert where.image or where.video or where.gif


def test_a_portrait_photo_in_the_instagram_feed_range_passes() -> None:
    assert check("instagram", "feed", [PHOTO]) == []


def test_a_phone_photo_taller_than_4_5_is_refused_by_the_instagram_feed_with_numbers() -> None:
    tall = replace(PHOTO, width=3024, height=4032)
    [problem] = check("instagram", "feed", [tall])
    assert problem.code is ProblemCode.ASPECT_RATIO
    assert problem.field == "media[0].aspect_ratio"
    assert problem.limit == "0.8 to 1.91"
    assert problem.actual == 0.75
    assert "Instagram feed" in problem.message
    assert "3024×4032" in problem.message


def test_instagram_publishing_takes_jpeg_only() -> None:
    [problem] = check("instagram", "feed", [replace(PHOTO, type=MediaType.PNG)])
    assert problem.code is ProblemCode.TYPE_NOT_ACCEPTED
    assert (problem.limit, problem.actual) == ("JPEG", "PNG")


def test_media_required_and_too_many_items() -> None:
    assert codes(check("instagram", "feed", [])) == [ProblemCode.MEDIA_REQUIRED]
    assert check("facebook", "feed", []) == []
    [problem] = check("x", "post", [PHOTO] * 5)
    assert problem.code is ProblemCode.TOO_MANY_ITEMS
    assert (problem.limit, problem.actual) == (4, 5)


def test_x_does_not_mix_photos_and_a_video_but_instagram_carousels_do() -> None:
    assert codes(check("x", "post", [PHOTO, VERTICAL_VIDEO])) == [ProblemCode.MIXED_KINDS]
    assert check("instagram", "feed", [PHOTO, VERTICAL_VIDEO]) == []


def test_a_video_where_only_images_go_is_named() -> None:
    [problem] = check("google_business", "post", [VERTICAL_VIDEO])
    assert problem.code is ProblemCode.KIND_NOT_ACCEPTED
    assert problem.field == "media[0].kind"


def test_a_vertical_reel_passes_instagram_tiktok_and_facebook_reels() -> None:
    assert check("instagram", "reel", [VERTICAL_VIDEO]) == []
    assert check("tiktok", "video", [VERTICAL_VIDEO]) == []
    assert check("facebook", "reel", [VERTICAL_VIDEO]) == []


def test_a_two_second_clip_is_too_short_for_tiktok() -> None:
    [problem] = check("tiktok", "video", [replace(VERTICAL_VIDEO, duration_seconds=2.0)])
    assert problem.code is ProblemCode.DURATION_TOO_SHORT
    assert (problem.field, problem.limit, problem.actual) == ("media[0].duration_seconds", 3, 2.0)


def test_x_takes_h264_but_not_hevc() -> None:
    assert check("x", "post", [VERTICAL_VIDEO]) == []
    [problem] = check("x", "post", [replace(VERTICAL_VIDEO, video_codec="hevc")])
    assert problem.code is ProblemCode.VIDEO_CODEC
    assert (problem.limit, problem.actual) == ("h264", "hevc")


def test_every_broken_limit_of_one_file_is_reported_at_once() -> None:
    bad = replace(
        VERTICAL_VIDEO,
        width=300,
        height=2000,
        size_bytes=5 * 1024**3,
        duration_seconds=700.0,
        frame_rate=120.0,
        audio_codec="mp3",
    )
    found = set(codes(check("tiktok", "video", [bad])))
    assert found == {
        ProblemCode.FILE_TOO_LARGE,
        ProblemCode.TOO_NARROW,
        ProblemCode.DURATION_TOO_LONG,
        ProblemCode.FRAME_RATE,
        ProblemCode.AUDIO_CODEC,
    }


def test_file_size_limits_name_bytes() -> None:
    [problem] = check("x", "post", [replace(PHOTO, size_bytes=6 * MB)])
    assert problem.code is ProblemCode.FILE_TOO_LARGE
    assert (problem.limit, problem.actual) == (5 * MB, 6 * MB)
    assert "6.0 MB" in problem.message
    assert "5.0 MB" in problem.message
    tiny = replace(PHOTO, size_bytes=2_000, width=400, height=300)
    assert codes(check("google_business", "post", [tiny])) == [ProblemCode.FILE_TOO_SMALL]


def test_x_gifs_have_a_frame_and_size_ceiling() -> None:
    gif = MediaFacts(type=MediaType.GIF, width=1600, height=900, size_bytes=MB, frame_count=400)
    assert gif.kind is MediaKind.GIF
    assert set(codes(check("x", "post", [gif]))) == {
        ProblemCode.TOO_WIDE,
        ProblemCode.TOO_MANY_FRAMES,
    }


def test_youtube_covers_are_16_9() -> None:
    cover = MediaFacts(type=MediaType.JPEG, width=1280, height=720, size_bytes=300_000)
    assert check_cover("youtube", "video", cover) == []
    [problem] = check_cover("youtube", "video", replace(cover, height=960))
    assert problem.code is ProblemCode.ASPECT_RATIO
    assert problem.field == "cover.aspect_ratio"


def test_an_unknown_placement_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no media placement 'carousel'"):
        placement("instagram", "carousel")


def test_facts_survive_a_round_trip_through_json() -> None:
    assert MediaFacts.from_json(VERTICAL_VIDEO.to_json()) == VERTICAL_VIDEO
    assert VERTICAL_VIDEO.to_json()["type"] == "mp4"
