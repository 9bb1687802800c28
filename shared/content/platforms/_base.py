"""What the registry knows about each platform."""

from collections.abc import Callable
from dataclasses import dataclass

from shared.content.post import PostContent
from shared.content.violations import Violation


@dataclass(frozen=True, slots=True)
class PlatformRules:
    """A platform's content rules: its ``Limits`` (a frozen dataclass in the platform's module)
    and ``validate``, which checks a post against those default limits.
    """

    platform: str
    display_name: str
    limits: object
    validate: Callable[[PostContent], list[Violation]]
