"""Library media (issue #17) against each platform's media rules: which placement a post's
files go to, what Chorus will actually send there, and every rule that file breaks.

Pure: the facts come in (``LibraryFile``, read from the media library by the caller), the
problems go out. Not imported by ``shared.content`` itself, because ``shared.media`` builds on
``shared.content.media``.

What is checked is what will be sent, not what was uploaded: an image goes out as its
derivative for the placement (cropped into the placement's aspect ratio around its focal point,
shrunk, re-encoded under the byte ceiling), so a 12 MP photo in the wrong shape is fine where
its derivative fits; a GIF and a video go out as they are (a video is never re-encoded), so a
video that breaks a limit is a problem.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.content.media import MediaKind
from shared.media.derivatives import FocalPoint, plan
from shared.media.facts import MediaFacts, MediaType
from shared.media.platform_rules import Placement, Problem, check_item, placement

_SINGLE_PLACEMENT = {
    "facebook": "feed",
    "x": "post",
    "linkedin": "post",
    "google_business": "post",
    "pinterest": "pin",
    "youtube": "video",
}


@dataclass(frozen=True, slots=True)
class LibraryFile:
    """One ready media of the library, as the checks and the publisher need it."""

    media_id: uuid.UUID
    name: str
    facts: MediaFacts
    """The clean copy's facts (what is served)."""
    focal: FocalPoint = FocalPoint()
    has_poster: bool = False

    @property
    def kind(self) -> MediaKind:
        return self.facts.kind


def placement_for(platform: str, kinds: Sequence[MediaKind]) -> str:
    """Where a post's files go on ``platform``, decided from its content: on Instagram one
    video is a Reel (its API publishes feed videos only as Reels) and anything else the feed
    (one photo, or a carousel); on TikTok a video post or a photo post; elsewhere the one
    placement Chorus publishes to."""
    if platform == "instagram":
        return "reel" if list(kinds) == [MediaKind.VIDEO] else "feed"
    if platform == "tiktok":
        return "video" if MediaKind.VIDEO in kinds else "photo"
    try:
        return _SINGLE_PLACEMENT[platform]
    except KeyError:
        raise KeyError(f"no media placement known for platform {platform!r}") from None


def sent_facts(file: LibraryFile, where: Placement) -> MediaFacts:
    """The facts of the file Chorus will send to ``where``: an image's derivative as
    ``derivatives.plan`` lays it out (its size, its type, at most the byte ceiling), a GIF or
    a video as it is."""
    spec = where.derivative
    facts = file.facts
    if file.kind is not MediaKind.IMAGE or spec is None or where.image is None:
        return facts
    width, height = plan(facts.width, facts.height, spec, file.focal).size
    keeps_alpha = facts.has_alpha and MediaType.PNG in spec.types
    media_type = MediaType.PNG if keeps_alpha else spec.types[0]
    size = min(facts.size_bytes, spec.max_bytes)
    return replace(
        facts,
        type=media_type,
        width=width,
        height=height,
        size_bytes=max(size, spec.min_bytes),
        has_alpha=keeps_alpha,
        frame_count=1,
    )


def file_problems(
    platform: str, placement_name: str, index: int, file: LibraryFile
) -> list[Problem]:
    """Every limit of the placement that what Chorus sends for ``file`` (item ``index`` of
    the post) breaks, each naming its field (``media[1].duration_seconds``), the limit and
    the actual value. The count and kinds of the whole post are the content rules' part
    (``shared.content.validate``); a kind the placement does not take is reported there."""
    where = placement(platform, placement_name)
    rule = where.rule_for(file.kind)
    if rule is None:
        return []
    found = check_item(rule, sent_facts(file, where), where.display)
    prefix = f"media[{index}]"
    return [
        replace(
            problem,
            platform=platform,
            placement=placement_name,
            field=prefix + problem.field.removeprefix("media"),
            message=problem.message.replace("the file", f"file {index + 1} ({file.name})", 1),
        )
        for problem in found
    ]


def post_problems(
    platform: str, items: Sequence[tuple[MediaKind, LibraryFile | None]]
) -> list[Problem]:
    """The problems of a post's files on ``platform``: ``items`` in the post's order, each
    its kind and its library file, or None for an item given by URL (Chorus knows nothing of
    it beyond what the client declared)."""
    where = placement_for(platform, [kind for kind, _ in items])
    return [
        problem
        for index, (_, file) in enumerate(items)
        if file is not None
        for problem in file_problems(platform, where, index, file)
    ]
