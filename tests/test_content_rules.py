"""Platform content rules: every limit at, just under and just over, and all violations at once."""

from dataclasses import replace

import pytest

from shared.content import (
    PLATFORMS,
    Media,
    MediaKind,
    PostContent,
    Violation,
    ViolationCode,
    hashtags,
    validate,
)
from shared.content.platforms import instagram

IMAGE = Media(MediaKind.IMAGE, url="https://cdn.example.com/pizza.jpg", width=1080, height=1080)
GIF = Media(MediaKind.GIF, url="https://cdn.example.com/oven.gif")
VIDEO = Media(
    MediaKind.VIDEO,
    media_id="vid_1",
    duration_seconds=30.0,
    cover=Media(MediaKind.IMAGE, url="https://cdn.example.com/cover.jpg"),
)
BARE_VIDEO = replace(VIDEO, cover=None)

# A post each platform accepts, so a test changes one thing and sees one violation.
VALID = {
    "x": PostContent(text="Fresh pizza today"),
    "instagram": PostContent(text="Fresh pizza today", media=(IMAGE,)),
    "facebook": PostContent(text="Fresh pizza today"),
    "linkedin": PostContent(text="Fresh pizza today"),
    "google_business": PostContent(text="Fresh pizza today"),
    "pinterest": PostContent(text="Fresh pizza today", media=(IMAGE,)),
    "tiktok": PostContent(text="Fresh pizza today", media=(VIDEO,)),
    "youtube": PostContent(text="Fresh pizza today", title="Our oven", media=(VIDEO,)),
}
DELTAS = [pytest.param(-1, id="under"), pytest.param(0, id="at"), pytest.param(1, id="over")]


@pytest.fixture(autouse=True, scope="module")
def _clean_state() -> None:
    """These tests touch no storage; override the suite's per-test database reset."""


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


def test_registry_has_every_platform() -> None:
    assert set(PLATFORMS) == set(VALID)
    for name, rules in PLATFORMS.items():
        assert rules.platform == name
        assert rules.validate(VALID[name]) == []
    with pytest.raises(KeyError):
        validate("myspace", VALID["x"])


@pytest.mark.parametrize(
    ("platform", "field", "limit", "code"),
    [
        ("x", "text", 280, ViolationCode.TEXT_TOO_LONG),
        ("instagram", "text", 2_200, ViolationCode.TEXT_TOO_LONG),
        ("facebook", "text", 63_206, ViolationCode.TEXT_TOO_LONG),
        ("linkedin", "text", 3_000, ViolationCode.TEXT_TOO_LONG),
        ("google_business", "text", 1_500, ViolationCode.TEXT_TOO_LONG),
        ("google_business", "title", 58, ViolationCode.TITLE_TOO_LONG),
        ("pinterest", "text", 500, ViolationCode.TEXT_TOO_LONG),
        ("pinterest", "title", 100, ViolationCode.TITLE_TOO_LONG),
        ("tiktok", "text", 2_200, ViolationCode.TEXT_TOO_LONG),
        ("youtube", "text", 5_000, ViolationCode.TEXT_TOO_LONG),
        ("youtube", "title", 100, ViolationCode.TITLE_TOO_LONG),
    ],
)
@pytest.mark.parametrize("delta", DELTAS)
def test_text_limits(
    platform: str, field: str, limit: int, code: ViolationCode, delta: int
) -> None:
    actual = limit + delta
    post = replace(VALID[platform], **{field: "a" * actual})
    violations = validate(platform, post)
    if delta <= 0:
        assert violations == []
        return
    violation = only(violations)
    assert (violation.code, violation.platform, violation.field) == (code, platform, field)
    assert (violation.limit, violation.actual) == (limit, actual)
    assert f"{actual:,} characters; the limit is {limit:,} — shorten it by 1." in violation.message


def test_x_message_reads_for_a_franchisee() -> None:
    violation = only(validate("x", PostContent(text="a" * 291)))
    assert violation.message == "The X post is 291 characters; the limit is 280 — shorten it by 11."
    photos = only(validate("facebook", PostContent(text="Hi", media=(IMAGE,) * 12)))
    assert photos.message == "The Facebook post has 12 photos; the limit is 10 — remove 2."
    video = only(validate("google_business", PostContent(text="Hi", media=(VIDEO,))))
    assert video.message == (
        "Google Business Profile posts can't include videos — remove the 1 video."
    )


def test_x_counts_weighted_characters_and_other_platforms_code_points() -> None:
    cjk = "\u4f60" * 141  # 141 CJK characters: 282 on X, 141 elsewhere
    violation = only(validate("x", PostContent(text=cjk)))
    assert (violation.limit, violation.actual) == (280, 282)
    assert validate("linkedin", PostContent(text=cjk)) == []
    url_post = "Order: https://pizza.example.com/" + "x" * 300
    assert validate("x", PostContent(text=url_post)) == []


def test_non_x_lengths_count_code_points_after_nfc() -> None:
    decomposed = "e\u0301" * 3_000  # 6,000 code points, 3,000 characters after NFC
    assert validate("linkedin", PostContent(text=decomposed)) == []
    emoji = "\U0001f355" * 3_001
    assert only(validate("linkedin", PostContent(text=emoji))).actual == 3_001


def _media(kind: MediaKind, count: int) -> tuple[Media, ...]:
    item = {MediaKind.IMAGE: IMAGE, MediaKind.VIDEO: VIDEO, MediaKind.GIF: GIF}[kind]
    return (item,) * count


MEDIA_LIMITS = [
    ("x", MediaKind.IMAGE, 4, ViolationCode.TOO_MANY_IMAGES),
    ("x", MediaKind.VIDEO, 1, ViolationCode.TOO_MANY_VIDEOS),
    ("x", MediaKind.GIF, 1, ViolationCode.TOO_MANY_GIFS),
    ("instagram", MediaKind.IMAGE, 10, ViolationCode.TOO_MANY_MEDIA),
    ("instagram", MediaKind.VIDEO, 10, ViolationCode.TOO_MANY_MEDIA),
    ("facebook", MediaKind.IMAGE, 10, ViolationCode.TOO_MANY_IMAGES),
    ("facebook", MediaKind.VIDEO, 1, ViolationCode.TOO_MANY_VIDEOS),
    ("google_business", MediaKind.IMAGE, 1, ViolationCode.TOO_MANY_IMAGES),
    ("pinterest", MediaKind.IMAGE, 5, ViolationCode.TOO_MANY_MEDIA),
    ("pinterest", MediaKind.VIDEO, 5, ViolationCode.TOO_MANY_MEDIA),
    ("tiktok", MediaKind.IMAGE, 35, ViolationCode.TOO_MANY_IMAGES),
    ("tiktok", MediaKind.VIDEO, 1, ViolationCode.TOO_MANY_VIDEOS),
    ("youtube", MediaKind.VIDEO, 1, ViolationCode.TOO_MANY_VIDEOS),
]
MEDIA_CASES = [
    pytest.param(platform, kind, limit, code, delta, id=f"{platform}-{kind}-{limit + delta}")
    for platform, kind, limit, code in MEDIA_LIMITS
    for delta in (-1, 0, 1)
    if limit + delta > 0  # no media at all: see the media_required tests
]


@pytest.mark.parametrize(("platform", "kind", "limit", "code", "delta"), MEDIA_CASES)
def test_media_count_limits(
    platform: str, kind: MediaKind, limit: int, code: ViolationCode, delta: int
) -> None:
    actual = limit + delta
    post = replace(VALID[platform], media=_media(kind, actual))
    violations = validate(platform, post)
    if delta <= 0:
        assert violations == []
        return
    violation = only(violations)
    assert (violation.code, violation.platform, violation.field) == (code, platform, "media")
    assert (violation.limit, violation.actual) == (limit, actual)
    assert violation.message.endswith(f"the limit is {limit} — remove 1.")


@pytest.mark.parametrize("platform", ["instagram", "pinterest", "tiktok", "youtube"])
def test_media_required(platform: str) -> None:
    violation = only(validate(platform, replace(VALID[platform], media=())))
    assert (violation.code, violation.field) == (ViolationCode.MEDIA_REQUIRED, "media")
    assert (violation.limit, violation.actual) == (1, 0)


@pytest.mark.parametrize("platform", ["x", "facebook", "linkedin", "google_business"])
def test_media_optional(platform: str) -> None:
    assert validate(platform, PostContent(text="Open late tonight")) == []


@pytest.mark.parametrize(
    ("platform", "media", "code", "actual"),
    [
        ("google_business", (VIDEO,), ViolationCode.VIDEO_NOT_ALLOWED, 1),
        ("instagram", (IMAGE, GIF, GIF), ViolationCode.GIF_NOT_ALLOWED, 2),
        ("tiktok", (VIDEO, GIF), ViolationCode.GIF_NOT_ALLOWED, 1),
        ("youtube", (VIDEO, IMAGE), ViolationCode.IMAGE_NOT_ALLOWED, 1),
        ("youtube", (VIDEO, GIF), ViolationCode.GIF_NOT_ALLOWED, 1),
    ],
)
def test_media_kind_not_allowed(
    platform: str, media: tuple[Media, ...], code: ViolationCode, actual: int
) -> None:
    violation = only(validate(platform, replace(VALID[platform], media=media)))
    assert (violation.code, violation.field) == (code, "media")
    assert (violation.limit, violation.actual) == (0, actual)


@pytest.mark.parametrize(
    ("platform", "media", "kinds"),
    [
        ("x", (IMAGE, VIDEO), 2),
        ("x", (IMAGE, GIF), 2),
        ("x", (IMAGE, VIDEO, GIF), 3),
        ("facebook", (IMAGE, VIDEO), 2),
        ("tiktok", (IMAGE, VIDEO), 2),
    ],
)
def test_mixed_media(platform: str, media: tuple[Media, ...], kinds: int) -> None:
    violation = only(validate(platform, replace(VALID[platform], media=media)))
    assert (violation.code, violation.field) == (ViolationCode.MIXED_MEDIA, "media")
    assert (violation.limit, violation.actual) == (1, kinds)


def test_instagram_carousel_may_mix_images_and_videos() -> None:
    assert validate("instagram", replace(VALID["instagram"], media=(IMAGE, VIDEO) * 5)) == []


def test_pinterest_video_needs_a_cover_image() -> None:
    post = replace(VALID["pinterest"], media=(IMAGE, BARE_VIDEO, VIDEO))
    violation = only(validate("pinterest", post))
    assert violation.code == ViolationCode.COVER_IMAGE_REQUIRED
    assert violation.field == "media[1].cover"
    assert violation.message == "Video 2 on Pinterest needs a cover image — add one."
    assert validate("pinterest", replace(post, media=(IMAGE, VIDEO))) == []


@pytest.mark.parametrize("title", [None, "", "   "])
def test_youtube_needs_a_title(title: str | None) -> None:
    violation = only(validate("youtube", replace(VALID["youtube"], title=title)))
    assert (violation.code, violation.field) == (ViolationCode.TITLE_REQUIRED, "title")


@pytest.mark.parametrize("delta", DELTAS)
def test_instagram_hashtags_default_30(delta: int) -> None:
    count = 30 + delta
    text = " ".join(f"#pizza{i}" for i in range(count))
    violations = validate("instagram", replace(VALID["instagram"], text=text))
    if delta <= 0:
        assert violations == []
        return
    violation = only(violations)
    assert (violation.code, violation.field) == (ViolationCode.TOO_MANY_HASHTAGS, "text")
    assert (violation.limit, violation.actual) == (30, 31)


def test_instagram_hashtag_limit_is_configurable() -> None:
    strict = instagram.Limits(max_hashtags=3)
    post = replace(VALID["instagram"], text="#one #two #three")
    assert instagram.validate(post, strict) == []
    violation = only(instagram.validate(replace(post, text=post.text + " #four"), strict))
    assert (violation.limit, violation.actual) == (3, 4)


def test_every_violation_is_reported_at_once() -> None:
    x_post = PostContent(text="a" * 291, media=(IMAGE,) * 5 + (VIDEO, VIDEO))
    assert [v.code for v in validate("x", x_post)] == [
        ViolationCode.TEXT_TOO_LONG,
        ViolationCode.MIXED_MEDIA,
        ViolationCode.TOO_MANY_IMAGES,
        ViolationCode.TOO_MANY_VIDEOS,
    ]
    pin = PostContent(title="t" * 101, text="d" * 501, media=(IMAGE,) * 4 + (BARE_VIDEO,) * 2)
    assert [(v.code, v.field) for v in validate("pinterest", pin)] == [
        (ViolationCode.TITLE_TOO_LONG, "title"),
        (ViolationCode.TEXT_TOO_LONG, "text"),
        (ViolationCode.TOO_MANY_MEDIA, "media"),
        (ViolationCode.COVER_IMAGE_REQUIRED, "media[4].cover"),
        (ViolationCode.COVER_IMAGE_REQUIRED, "media[5].cover"),
    ]
    youtube = PostContent(text="d" * 5_001, media=(IMAGE, GIF))
    assert {v.code for v in validate("youtube", youtube)} == {
        ViolationCode.TITLE_REQUIRED,
        ViolationCode.TEXT_TOO_LONG,
        ViolationCode.MEDIA_REQUIRED,
        ViolationCode.IMAGE_NOT_ALLOWED,
        ViolationCode.GIF_NOT_ALLOWED,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fresh #Pizza in #Lyon!", ["Pizza", "Lyon"]),
        ("#caf\u00e9 #cafe\u0301", ["caf\u00e9", "caf\u00e9"]),  # NFC: both are "café"
        ("#\u65e5\u672c #\u0928\u092e\u0938\u094d\u0924\u0947", ["\u65e5\u672c", "नमस्ते"]),
        ("\uff03\u30d4\u30b6", ["\u30d4\u30b6"]),  # full-width ＃ピザ
        ("#2026 #top_10 #_", ["top_10"]),  # all digits or underscores: not a tag
        ("C# and &#39; and a#b", []),  # preceded by a word character or &
        ("#pizza, #pizza.", ["pizza", "pizza"]),  # punctuation ends a tag; repeats are kept
        ("no tags here", []),
    ],
)
def test_hashtags(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected
    assert PostContent(text=text).hashtags == expected


def test_media_must_say_where_it_is() -> None:
    with pytest.raises(ValueError, match="url or a media_id"):
        Media(MediaKind.IMAGE)
