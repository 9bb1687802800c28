"""Checks shared by the platform modules; each returns a violation or ``None``."""

from collections.abc import Callable

from shared.content.media import MediaCounts, MediaKind
from shared.content.post import PostContent
from shared.content.text import hashtags, length
from shared.content.violations import Violation, ViolationCode, plural

_KIND_NOUNS = {MediaKind.IMAGE: "image", MediaKind.VIDEO: "video", MediaKind.GIF: "GIF"}
_NOT_ALLOWED = {
    MediaKind.IMAGE: ViolationCode.IMAGE_NOT_ALLOWED,
    MediaKind.VIDEO: ViolationCode.VIDEO_NOT_ALLOWED,
    MediaKind.GIF: ViolationCode.GIF_NOT_ALLOWED,
}


def text_length(
    platform: str,
    display: str,
    text: str,
    limit: int,
    *,
    noun: str = "post",
    field: str = "text",
    counter: Callable[[str], int] = length,
) -> Violation | None:
    actual = counter(text)
    if actual <= limit:
        return None
    code = ViolationCode.TITLE_TOO_LONG if field == "title" else ViolationCode.TEXT_TOO_LONG
    return Violation(
        code=code,
        platform=platform,
        field=field,
        limit=limit,
        actual=actual,
        message=(
            f"The {display} {noun} is {plural(actual, 'character')}; the limit is {limit:,}"
            f" — shorten it by {actual - limit:,}."
        ),
    )


def title_length(platform: str, display: str, title: str | None, limit: int) -> Violation | None:
    if title is None:
        return None
    return text_length(platform, display, title, limit, noun="title", field="title")


def title_required(platform: str, display: str, title: str | None) -> Violation | None:
    if title is not None and title.strip():
        return None
    return Violation(
        code=ViolationCode.TITLE_REQUIRED,
        platform=platform,
        field="title",
        limit=1,
        actual=0,
        message=f"{display} needs a title for this post — add one.",
    )


def hashtag_count(platform: str, display: str, text: str, limit: int) -> Violation | None:
    actual = len(hashtags(text))
    if actual <= limit:
        return None
    return Violation(
        code=ViolationCode.TOO_MANY_HASHTAGS,
        platform=platform,
        field="text",
        limit=limit,
        actual=actual,
        message=(
            f"The {display} post has {plural(actual, 'hashtag')}; the limit is {limit:,}"
            f" — remove {actual - limit:,}."
        ),
    )


def media_required(
    platform: str, display: str, present: int, what: str = "an image or a video"
) -> Violation | None:
    if present > 0:
        return None
    return Violation(
        code=ViolationCode.MEDIA_REQUIRED,
        platform=platform,
        field="media",
        limit=1,
        actual=0,
        message=f"{display} posts need {what} — add one.",
    )


def too_many(
    platform: str, display: str, code: ViolationCode, noun: str, actual: int, limit: int
) -> Violation | None:
    if actual <= limit:
        return None
    return Violation(
        code=code,
        platform=platform,
        field="media",
        limit=limit,
        actual=actual,
        message=(
            f"The {display} post has {plural(actual, noun)}; the limit is {limit:,}"
            f" — remove {actual - limit:,}."
        ),
    )


def not_allowed(platform: str, display: str, kind: MediaKind, actual: int) -> Violation | None:
    if actual == 0:
        return None
    noun = _KIND_NOUNS[kind]
    return Violation(
        code=_NOT_ALLOWED[kind],
        platform=platform,
        field="media",
        limit=0,
        actual=actual,
        message=(f"{display} posts can't include {noun}s — remove the {plural(actual, noun)}."),
    )


def mixed(platform: str, display: str, counts: MediaCounts, allowed: str) -> Violation | None:
    if counts.kinds <= 1:
        return None
    return Violation(
        code=ViolationCode.MIXED_MEDIA,
        platform=platform,
        field="media",
        limit=1,
        actual=counts.kinds,
        message=f"{display} posts can't mix media kinds: use {allowed}.",
    )


def covers(platform: str, display: str, post: PostContent) -> list[Violation]:
    """One violation per video without a cover image, pointing at that video."""
    return [
        Violation(
            code=ViolationCode.COVER_IMAGE_REQUIRED,
            platform=platform,
            field=f"media[{index}].cover",
            limit=1,
            actual=0,
            message=f"Video {index + 1} on {display} needs a cover image — add one.",
        )
        for index, item in enumerate(post.media)
        if item.kind is MediaKind.VIDEO and item.cover is None
    ]


def collect(*found: Violation | None) -> list[Violation]:
    return [violation for violation in found if violation is not None]
