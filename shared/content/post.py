"""The rendered content of one post for one platform, as the platform rules see it."""

from dataclasses import dataclass

from shared.content.media import Media
from shared.content.text import hashtags


@dataclass(frozen=True, slots=True)
class PostContent:
    """Text is the body (X, Facebook, LinkedIn, GBP), caption (Instagram, TikTok) or description
    (Pinterest, YouTube). ``title`` is the pin/video title or a GBP event/offer title.
    ``link`` is a link sent beside the text (a Facebook link preview, a GBP button, a pin's
    destination); a link written in the text is part of the text and counted there.
    """

    text: str = ""
    title: str | None = None
    link: str | None = None
    media: tuple[Media, ...] = ()

    @property
    def hashtags(self) -> list[str]:
        return hashtags(self.text)
