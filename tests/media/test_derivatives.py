"""Derivatives: every platform gets a file it accepts, cropped around the focal point, under
its byte ceiling, with no metadata, the same bytes every time."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from shared.content.media import MediaKind
from shared.media import derivatives, images, video
from shared.media.derivatives import (
    CENTRE,
    FocalPoint,
    Target,
    derivative_key,
    derivative_targets,
    make_derivative,
    make_derivatives,
    plan,
    write_derivative,
)
from shared.media.facts import MediaType
from shared.media.platform_rules import (
    AspectRange,
    DerivativeSpec,
    check,
    check_cover,
)
from shared.platforms.registry import PLATFORM_NAMES
from tests.media import files

IMAGE_TARGETS = [t for p in PLATFORM_NAMES for t in derivative_targets(p, MediaKind.IMAGE)]
COVER_TARGETS = [t for p in PLATFORM_NAMES for t in derivative_targets(p, MediaKind.VIDEO)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("derivatives")


@pytest.fixture(scope="module")
def clean_phone_photo(folder: Path) -> Path:
    """A 12 MP phone photo (orientation 6, GPS) after normalisation: the usual source."""
    original = files.write_phone_jpeg(folder / "IMG_0001.jpg")
    clean = folder / "IMG_0001.clean.jpg"
    images.normalise_image(original, clean)
    return clean


def _has_red(image: Image.Image) -> bool:
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    mask = Image.merge(
        "RGB",
        (
            red.point(lambda v: 255 if v > 180 else 0),
            green.point(lambda v: 255 if v < 80 else 0),
            blue.point(lambda v: 255 if v < 80 else 0),
        ),
    ).convert("L")
    return mask.point(lambda v: 255 if v == 255 else 0).getbbox() is not None


def test_each_platform_names_the_derivatives_it_needs() -> None:
    names = {t.name for t in IMAGE_TARGETS}
    assert {
        "instagram.feed",
        "instagram.story",
        "pinterest.pin",
        "youtube.thumbnail",
        "google_business.post",
        "x.post",
        "linkedin.post",
        "facebook.feed",
        "tiktok.photo",
    } <= names
    assert {t.name for t in COVER_TARGETS} == {
        "instagram.reel.cover",
        "pinterest.pin.cover",
        "youtube.video.cover",
    }
    assert derivative_targets("instagram", MediaKind.GIF) == []


def test_every_derivative_of_a_phone_photo_passes_its_platform_check(
    clean_phone_photo: Path, folder: Path
) -> None:
    out = folder / "all"
    out.mkdir()
    made = make_derivatives(clean_phone_photo, IMAGE_TARGETS, out)
    assert [d.target for d in made] == IMAGE_TARGETS
    for derivative in made:
        target = derivative.target
        assert check(target.platform, target.placement, [derivative.facts]) == [], target.name
        spec = target.spec
        assert derivative.facts.width <= spec.max_width
        assert derivative.facts.height <= spec.max_height
        data = derivative.path.read_bytes()
        assert len(data) == derivative.facts.size_bytes <= spec.max_bytes
        assert files.metadata_found(data) == [], target.name
        with Image.open(derivative.path) as written:
            assert written.size == (derivative.facts.width, derivative.facts.height)
            assert written.format == derivative.facts.type.name


def test_the_platform_shapes_are_exact(clean_phone_photo: Path, folder: Path) -> None:
    wanted = {
        Target("instagram", "feed"): (1080, 1350),  # 3024×4032 is taller than 4:5
        Target("instagram", "story"): (1080, 1920),
        Target("pinterest", "pin"): (1000, 1500),
        Target("youtube", "thumbnail"): (1280, 720),
        Target("google_business", "post"): (1200, 900),
    }
    out = folder / "shapes"
    out.mkdir()
    made = make_derivatives(clean_phone_photo, list(wanted), out)
    assert {d.target: (d.facts.width, d.facts.height) for d in made} == wanted


def test_derivatives_are_the_same_bytes_alone_or_in_a_batch(
    clean_phone_photo: Path, folder: Path
) -> None:
    batch, alone = folder / "batch", folder / "alone"
    batch.mkdir()
    alone.mkdir()
    focal = FocalPoint(0.3, 0.7)
    together = make_derivatives(clean_phone_photo, IMAGE_TARGETS, batch, focal)
    for derivative in together:
        single = make_derivative(
            clean_phone_photo, derivative.target, alone / derivative.path.name, focal
        )
        assert single.key == derivative.key
        assert single.path.read_bytes() == derivative.path.read_bytes(), derivative.target.name


def test_keys_follow_the_target_and_the_focal_point() -> None:
    feed = Target("instagram", "feed")
    assert derivative_key(feed) == derivative_key(feed, FocalPoint(0.5, 0.5))
    assert derivative_key(feed, FocalPoint(0.50001, 0.5)) == derivative_key(feed)
    assert derivative_key(feed, FocalPoint(0.2, 0.5)) != derivative_key(feed)
    assert derivative_key(Target("instagram", "story")) != derivative_key(feed)
    assert derivative_key(feed).startswith("instagram.feed.v1.")


@pytest.mark.parametrize("focal_x", [0.05, 0.3, 0.5, 0.8, 0.97])
def test_a_crop_keeps_the_focal_point_as_central_as_the_edges_allow(focal_x: float) -> None:
    spec = DerivativeSpec(
        max_width=1000, max_height=1500, max_bytes=10**7, aspect=AspectRange(2 / 3, 2 / 3)
    )
    width, height = 4000, 1500
    the_plan = plan(width, height, spec, FocalPoint(focal_x, 0.5))
    left, top, right, bottom = the_plan.box
    x = focal_x * width
    assert left <= x <= right
    assert (top, bottom) == (0, height)
    assert right - left == 1000  # 2:3 of a 1500 high image
    if left > 0 and right < width:
        assert abs((left + right) / 2 - x) <= 1
    else:
        assert left == 0 or right == width


def test_the_subject_at_the_focal_point_survives_every_crop(folder: Path) -> None:
    """A wide photo with its subject near the right edge: the centre crop would lose it."""
    focal = (0.88, 0.4)
    photo = files.write_marked_photo(folder / "wide.jpg", (3000, 1000), focal)
    out = folder / "focal"
    out.mkdir()
    for target in IMAGE_TARGETS:
        centred = make_derivative(photo, target, out / f"{target.name}.centre", CENTRE)
        steered = make_derivative(photo, target, out / f"{target.name}.focal", FocalPoint(*focal))
        with Image.open(steered.path) as image:
            assert _has_red(image), target.name
        box = steered.plan.box
        assert box[0] <= focal[0] * 3000 <= box[2]
        if centred.plan.box[2] < 0.88 * 3000 - 12:
            with Image.open(centred.path) as image:
                assert not _has_red(image), target.name


def test_transparency_stays_where_png_is_taken_and_is_flattened_where_it_is_not(
    folder: Path,
) -> None:
    logo = files.write_png_with_alpha(folder / "logo.png")
    x_post = make_derivative(logo, Target("x", "post"), folder / "logo-x")
    feed = make_derivative(logo, Target("instagram", "feed"), folder / "logo-ig")
    assert (x_post.facts.type, x_post.facts.has_alpha) == (MediaType.PNG, True)
    assert (feed.facts.type, feed.facts.has_alpha) == (MediaType.JPEG, False)
    with Image.open(feed.path) as flattened:
        assert flattened.getpixel((2, 2)) == (255, 255, 255)  # the page shows through as white


def test_a_heic_original_gives_jpeg_derivatives(folder: Path) -> None:
    heic = files.write_heic(folder / "IMG_0002.HEIC")
    derivative = make_derivative(heic, Target("instagram", "feed"), folder / "heic-feed")
    assert derivative.facts.type is MediaType.JPEG
    assert derivative.path.read_bytes()[:3] == b"\xff\xd8\xff"
    assert files.metadata_found(derivative.path.read_bytes()) == []


def test_quality_steps_down_until_the_file_fits_the_ceiling(folder: Path) -> None:
    noise = files.write_noisy_jpeg(folder / "noise.jpg")
    roomy = DerivativeSpec(max_width=1200, max_height=1200, max_bytes=10**8)
    tight = DerivativeSpec(max_width=1200, max_height=1200, max_bytes=250_000)
    loose = write_derivative(noise, roomy, folder / "noise-roomy.jpg")
    squeezed = write_derivative(noise, tight, folder / "noise-tight.jpg")
    assert loose.size_bytes > 250_000
    assert squeezed.size_bytes <= 250_000
    assert squeezed.type is MediaType.JPEG


def test_a_small_photo_is_enlarged_to_the_platform_minimum(folder: Path) -> None:
    small = files.write_phone_jpeg(folder / "small.jpg", size=(200, 150), orientation=1)
    derivative = make_derivative(small, Target("google_business", "post"), folder / "small-gbp")
    assert derivative.facts.width >= 250
    assert derivative.facts.height >= 250
    assert check("google_business", "post", [derivative.facts]) == []


def test_video_covers_come_from_the_poster_frame(folder: Path) -> None:
    clip = files.write_video(folder / "reel.mp4", size=(720, 1280))
    poster = folder / "poster.jpg"
    video.extract_poster(clip, poster)
    out = folder / "covers"
    out.mkdir()
    for cover in make_derivatives(poster, COVER_TARGETS, out):
        target = cover.target
        assert check_cover(target.platform, target.placement, cover.facts) == [], target.name
    youtube = derivatives.make_derivative(
        poster, Target("youtube", "video", cover=True), folder / "yt"
    )
    # A 16:9 band across the upright 720×1280 poster; never enlarged past what is there.
    assert (youtube.facts.width, youtube.facts.height) == (720, 405)


def test_a_focal_point_outside_the_image_is_refused() -> None:
    with pytest.raises(ValueError, match="two fractions from 0 to 1"):
        FocalPoint(1.2, 0.5)
