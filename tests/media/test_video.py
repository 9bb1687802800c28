"""Videos as phones and editors make them: probed, proved to decode, turned upright for the
poster; other codecs and broken files refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from shared.content.media import MediaKind
from shared.media import video
from shared.media.facts import MediaRefused, MediaType, RefusalCode
from tests.media import files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="module")
def vertical(folder: Path) -> Path:
    """2 s of 720×1280 H.264 with AAC stereo, 30 frames per second."""
    return files.write_video(folder / "vertical.mp4")


@pytest.fixture(scope="module")
def sideways(folder: Path) -> Path:
    """A phone's portrait video: stored 1280×720 with a display matrix turning it clockwise."""
    return files.write_video(
        folder / "IMG_0003.MOV", size=(1280, 720), rotation_cw=90, container="mov"
    )


def test_a_vertical_h264_video_is_probed(vertical: Path) -> None:
    facts = video.probe_video(vertical)
    assert facts.type is MediaType.MP4
    assert facts.kind is MediaKind.VIDEO
    assert (facts.width, facts.height, facts.rotation) == (720, 1280, 0)
    assert facts.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert facts.frame_rate == pytest.approx(30.0)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert facts.bitrate is not None
    assert facts.bitrate > 0
    assert facts.size_bytes == vertical.stat().st_size


def test_a_rotation_tag_gives_the_displayed_size(sideways: Path) -> None:
    facts = video.probe_video(sideways)
    assert facts.type is MediaType.MOV
    assert facts.rotation == 90
    assert (facts.width, facts.height) == (720, 1280)


def test_the_poster_is_upright_and_carries_no_metadata(sideways: Path, folder: Path) -> None:
    out = folder / "poster.jpg"
    facts = video.extract_poster(sideways, out)
    assert (facts.type, facts.width, facts.height) == (MediaType.JPEG, 720, 1280)
    assert files.metadata_found(out.read_bytes()) == []
    with Image.open(out) as poster:
        assert poster.size == (720, 1280)
        # The red block sits along the top edge of the stored frames (y 20-80); turned a
        # quarter clockwise, the top edge becomes the right edge.
        right = poster.crop((720 - 80, 0, 720 - 20, 1280)).convert("RGB")
        left = poster.crop((20, 0, 80, 1280)).convert("RGB")
        assert _has_red(right)
        assert not _has_red(left)


def test_a_poster_can_be_taken_at_a_chosen_second(vertical: Path, folder: Path) -> None:
    early, late = folder / "early.jpg", folder / "late.jpg"
    video.extract_poster(vertical, early, at_seconds=0.0)
    video.extract_poster(vertical, late, at_seconds=1.8)
    assert early.read_bytes() != late.read_bytes()


def test_silent_hevc_is_accepted(folder: Path) -> None:
    path = files.write_video(folder / "hevc.mp4", size=(640, 360), codec="libx265", audio=False)
    facts = video.probe_video(path)
    assert (facts.video_codec, facts.audio_codec) == ("hevc", None)


def test_motion_jpeg_is_refused_naming_the_codecs_platforms_take(folder: Path) -> None:
    path = files.write_video(
        folder / "mjpeg.mov", size=(320, 240), codec="mjpeg", audio=False, container="mov"
    )
    with pytest.raises(MediaRefused) as refused:
        video.probe_video(path)
    assert refused.value.code is RefusalCode.UNSUPPORTED_CODEC
    assert "mjpeg" in refused.value.detail
    assert "H.264" in refused.value.detail


def test_an_mp4_header_over_garbage_is_refused(folder: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        video.probe_video(files.write_broken_mp4(folder / "garbage.mp4"))
    assert refused.value.code is RefusalCode.CORRUPT


def test_a_video_cut_short_is_refused(vertical: Path, folder: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        video.probe_video(files.write_truncated_video(vertical, folder / "cut.mp4"))
    assert refused.value.code is RefusalCode.CORRUPT


def test_a_streaming_ready_video_cut_short_is_refused_though_its_index_is_whole(
    folder: Path,
) -> None:
    """With ``faststart`` the index comes first, so the header promises 2 s that are not
    there: only decoding near the end finds out."""
    whole = files.write_video(folder / "faststart.mp4", faststart=True)
    assert video.probe_video(whole).duration_seconds == pytest.approx(2.0, abs=0.1)
    with pytest.raises(MediaRefused) as refused:
        video.probe_video(files.write_truncated_video(whole, folder / "fs-cut.mp4", keep=0.5))
    assert refused.value.code is RefusalCode.CORRUPT


def test_text_named_mp4_is_not_a_video(folder: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        video.probe_video(files.write_text_named_mp4(folder / "notes.mp4"))
    assert refused.value.code is RefusalCode.UNSUPPORTED_TYPE


def _has_red(region: Image.Image) -> bool:
    red, green, blue = region.split()
    mask = Image.merge(
        "RGB",
        (
            red.point(lambda v: 255 if v > 180 else 0),
            green.point(lambda v: 255 if v < 80 else 0),
            blue.point(lambda v: 255 if v < 80 else 0),
        ),
    ).convert("L")
    return mask.point(lambda v: 255 if v == 255 else 0).getbbox() is not None
