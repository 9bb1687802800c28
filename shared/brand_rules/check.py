"""Checking a rendered post against its brand's rules.

Banned words match whole words and phrases, ignoring case and accents ("Cheap" and "chéap"
both match "cheap"; "cheapest" does not).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from shared.content.text import hashtags
from shared.content.xtext import extract_urls


@dataclass(frozen=True, slots=True)
class RuleViolation:
    code: str
    platform: str
    field: str
    message: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """A brand's rules for one platform, overrides applied."""

    allowed_platforms: tuple[str, ...] | None = None
    banned_words: tuple[str, ...] = ()
    required_hashtags: tuple[str, ...] = ()
    required_disclaimer: str = ""
    allowed_link_domains: tuple[str, ...] | None = None
    max_hashtags: int | None = None


_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
"""The combining diacritical marks: stripping them makes "chéap" match "cheap" while the vowel
signs of Indic and other scripts (also combining marks) stay part of their words."""


def fold(text: str) -> str:
    """Lower case without accents, for comparisons a person would call 'the same word'."""
    if text.isascii():
        return text.lower()
    return _DIACRITICS.sub("", unicodedata.normalize("NFKD", text)).casefold()


@lru_cache(maxsize=256)
def _banned_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    phrases = [re.escape(fold(w).strip()) for w in words if w.strip()]
    if not phrases:
        return None
    phrases.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(phrases) + r")(?!\w)")


def _domain_allowed(host: str, allowed: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in (a.lower().strip(".") for a in allowed))


def check(
    rules: EffectiveRules, platform: str, text: str, link: str | None = None
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    if rules.allowed_platforms is not None and platform not in rules.allowed_platforms:
        out.append(
            RuleViolation(
                "platform_not_allowed",
                platform,
                "platform",
                f"the brand does not post on {platform}",
            )
        )
    folded = fold(text)
    pattern = _banned_pattern(rules.banned_words)
    if pattern is not None:
        for found in sorted({m.group(1) for m in pattern.finditer(folded)}):
            out.append(
                RuleViolation(
                    "banned_word",
                    platform,
                    "text",
                    f"the text contains '{found}', which the brand does not allow; reword it",
                    found,
                )
            )
    tags = hashtags(text)
    present = {fold(tag) for tag in tags}
    for tag in rules.required_hashtags:
        bare = tag.lstrip("#")
        if fold(bare) not in present:
            out.append(
                RuleViolation(
                    "missing_hashtag",
                    platform,
                    "text",
                    f"the brand requires the hashtag #{bare}; add it",
                    bare,
                )
            )
    if rules.max_hashtags is not None and len(tags) > rules.max_hashtags:
        count = len(tags)
        out.append(
            RuleViolation(
                "too_many_hashtags_for_brand",
                platform,
                "text",
                f"the brand allows at most {rules.max_hashtags} hashtags; this has {count}",
            )
        )
    disclaimer = rules.required_disclaimer.strip()
    if disclaimer and fold(disclaimer) not in folded:
        out.append(
            RuleViolation(
                "missing_disclaimer",
                platform,
                "text",
                f'the brand requires this disclaimer in every post: "{disclaimer}"',
            )
        )
    if rules.allowed_link_domains is not None:
        urls = [text[start:end] for start, end in extract_urls(text)]
        if link:
            urls.append(link)
        for url in urls:
            host = urlsplit(url if "://" in url else f"https://{url}").hostname or ""
            if not _domain_allowed(host, rules.allowed_link_domains):
                allowed = ", ".join(rules.allowed_link_domains) or "none"
                out.append(
                    RuleViolation(
                        "link_domain_not_allowed",
                        platform,
                        "text" if url != link else "link",
                        f"links to {host} are not allowed by the brand (allowed: {allowed})",
                        host,
                    )
                )
    return out
