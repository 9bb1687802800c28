"""LinkedIn: 3,000 characters of commentary."""

from dataclasses import dataclass

from shared.content.platforms import _checks as check
from shared.content.platforms._base import PlatformRules
from shared.content.post import PostContent
from shared.content.violations import Violation

PLATFORM = "linkedin"
DISPLAY = "LinkedIn"


@dataclass(frozen=True, slots=True)
class Limits:
    """Content limits. Publishing caps (posts per window) will join these as new fields."""

    max_text_length: int = 3_000


LIMITS = Limits()


def validate(post: PostContent, limits: Limits = LIMITS) -> list[Violation]:
    return check.collect(check.text_length(PLATFORM, DISPLAY, post.text, limits.max_text_length))


RULES = PlatformRules(PLATFORM, DISPLAY, LIMITS, validate)
