"""X's weighted post length, as twitter-text v3 counts it.

Implemented here rather than taken from a library: the Python ports on the package index are
unmaintained (``twitter-text`` 3.0 dates from 2017 and predates weighted counting;
``twitter-text-parser`` 3.0.0 from 2023 ships Unicode 12 emoji data and imports the deprecated
``pkg_resources``, which fails under ``filterwarnings = error``) and are slow.

The v3 configuration: NFC first; each code point weighs 200 (i.e. counts 2) except the ranges
U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037, which weigh 100 (count 1); a
URL counts 23 whatever its length; an emoji sequence (ZWJ families, flags, skin tones, keycaps,
tag sequences) counts 2 whatever its number of code points. The limit is 280.

Deliberate simplifications, each erring towards the count X itself shows for ordinary posts:
URL hosts must be ASCII (an internationalized host counts from its ASCII tail), and a bare
``©``/``®`` is text (1), becoming an emoji (2) only with the emoji presentation selector.
"""

import re
import unicodedata

from shared.content._emoji_data import EXTENDED_PICTOGRAPHIC
from shared.content._tlds import COUNTRY_TLDS, GENERIC_TLDS

MAX_WEIGHTED_LENGTH = 280
TRANSFORMED_URL_LENGTH = 23
EMOJI_LENGTH = 2

# Code points that count 2: everything outside the light (weight 100) ranges. Runs, not single
# characters, so that CJK text yields a few matches rather than one per character.
_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]+")


def _heavy_count(text: str) -> int:
    return sum(map(len, _HEAVY.findall(text)))


def _emoji_pattern() -> str:
    parts: list[str] = []
    for token in EXTENDED_PICTOGRAPHIC:
        start, _, end = token.partition("-")
        first, last = int(start, 16), int(end or start, 16)
        if last <= 0xFF:  # © and ®: text by default, emoji only with U+FE0F (below)
            continue
        parts.append(chr(first) if first == last else f"{chr(first)}-{chr(last)}")
    pictographic = "[" + "".join(parts) + "]"
    modifier = "[\U0001f3fb-\U0001f3ff]"
    regional = "[\U0001f1e6-\U0001f1ff]"
    tags = "[\U000e0020-\U000e007e]+\U000e007f"
    element = (
        f"(?:{regional}{regional}"
        f"|{pictographic}(?:{modifier}|\ufe0f)?(?:{tags})?"
        "|[\u00a9\u00ae]\ufe0f"
        "|[0-9#*]\ufe0f?\u20e3)"
    )
    return f"{element}(?:\u200d{element})*"


_EMOJI = re.compile(_emoji_pattern())
# Where a sequence can hinge: a superset of the pictographs (U+203C–U+2B55, U+3030–U+3299,
# U+1F000–U+1FFFD), regional indicators, and the U+FE0F / U+20E3 that turn a ©, ® or keycap
# base into an emoji. A few ranges keep the scan fast; a false hit only costs a failed match.
_EMOJI_TRIGGER = re.compile("[\u203c-\u2b55\u3030\u303d\u3297\u3299\ufe0f\U0001f000-\U0001fffd]")
_LIGHT_LEADS = frozenset("\u00a9\u00ae0123456789#*")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?"
_PATH_CHARS = r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff!*';:=+,.$/%#\[\]\-\u2013_~&|@()?]"
_URL = re.compile(
    rf"(?<![A-Za-z0-9@\uff20$#\uff03])"
    rf"(?P<protocol>https?://)?"
    rf"(?P<host>(?:{_LABEL}\.)+(?P<tld>[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?))"
    rf"(?![A-Za-z0-9@\uff20-])"
    rf"(?::[0-9]{{1,5}})?"
    rf"(?P<path>[/?]{_PATH_CHARS}*)?",
    re.IGNORECASE,
)
_PATH_END = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff=_#/+&\-]")
_SPECIAL_SHORT_TLDS = frozenset({"co", "tv"})
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = _ALPHA | frozenset("0123456789")
_SPACE = re.compile(r"\s")


def _trim_path(url: str, path_start: int) -> str:
    """Drop trailing punctuation that X leaves outside the link ("see pizza.com/menu.")."""
    end = len(url)
    while end > path_start:
        char = url[end - 1]
        if _PATH_END.match(char):
            break
        if char == ")" and url.count("(", path_start, end) >= url.count(")", path_start, end):
            break
        end -= 1
    return url[:end]


def extract_urls(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` spans of the URLs X would shorten to t.co links.

    Only the whitespace-delimited tokens around a "letter-or-digit, dot, letter" go through
    the full URL pattern, which keeps URL-free prose fast.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    last = len(text) - 1
    dot = text.find(".")
    while dot != -1:
        if position < dot < last and text[dot - 1] in _ALNUM and text[dot + 1] in _ALPHA:
            # Back to the token's start; a rarer space missed here only widens the scan.
            start = max(
                position,
                text.rfind(" ", position, dot) + 1,
                text.rfind("\n", position, dot) + 1,
                text.rfind("\t", position, dot) + 1,
            )
            space = _SPACE.search(text, dot)
            position = len(text) if space is None else space.start()
            spans.extend(_urls_in(text, start, position))
            dot = text.find(".", position)
        else:
            dot = text.find(".", dot + 1)
    return spans


def _urls_in(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _URL.finditer(text, start, end):
        tld = match.group("tld").lower()
        if tld not in GENERIC_TLDS and tld not in COUNTRY_TLDS:
            continue
        url_start, url_end = match.span()
        path = match.group("path")
        if match.group("protocol") is None:
            if url_start > 0 and text[url_start - 1] in "-_./":
                continue
            host = match.group("host")
            # "pizza.de" alone is not linked; "pizza.de/menu", "www.pizza.de", "pizza.co" are.
            if (
                not path
                and host.count(".") == 1
                and tld in COUNTRY_TLDS
                and tld not in _SPECIAL_SHORT_TLDS
            ):
                continue
        if path:
            url = text[url_start:url_end]
            url_end = url_start + len(_trim_path(url, match.start("path") - url_start))
        spans.append((url_start, url_end))
    return spans


def _unweighted_length(text: str) -> int:
    """Length with URLs already removed: code points, heavy ones twice, emoji sequences 2."""
    if text.isascii() or max(text) <= "\u10ff":  # Latin, Greek, Cyrillic, Arabic, Indic…
        return len(text)
    total = len(text) + _heavy_count(text)
    position = 0
    while (trigger := _EMOJI_TRIGGER.search(text, position)) is not None:
        index = trigger.start()
        if text[index] in "\ufe0f\u20e3":  # a selector: the sequence starts one earlier
            if index == position or text[index - 1] not in _LIGHT_LEADS:
                position = index + 1
                continue
            index -= 1
        match = _EMOJI.match(text, index)
        if match is None:
            position = trigger.end()
            continue
        sequence = match.group()
        total += EMOJI_LENGTH - len(sequence) - _heavy_count(sequence)
        position = match.end()
    return total


def normalize(text: str) -> str:
    """NFC, as X normalizes before counting (a decomposed "é" is one character, not two)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text)


def weighted_length(text: str) -> int:
    """The length X shows for ``text``; a post is accepted when it is at most 280."""
    if text.isascii() and "." not in text:
        return len(text)
    text = normalize(text)
    spans = extract_urls(text)
    if not spans:
        return _unweighted_length(text)
    total = TRANSFORMED_URL_LENGTH * len(spans)
    position = 0
    for start, end in spans:
        total += _unweighted_length(text[position:start])
        position = end
    return total + _unweighted_length(text[position:])


def is_within_limit(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> bool:
    """Whether X accepts ``text`` by length alone."""
    return weighted_length(text) <= limit
