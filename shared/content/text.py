"""Length and hashtags for every platform but X (whose weighting lives in ``xtext``).

Lengths are Unicode code points after NFC normalization: what Meta, LinkedIn, Google,
Pinterest, TikTok and YouTube document as "characters" for ordinary text. Where a platform's
own counter differs (Facebook's and LinkedIn's web composers count UTF-16 code units, so an
emoji outside the BMP shows as 2 there), code points are the more lenient reading; X is the
one platform whose rejection depends on a different count, hence ``xtext``.
"""

import re
import unicodedata

_ASCII_TAG = re.compile(r"(?<![A-Za-z0-9_&])#([A-Za-z0-9_]+)")
_DIGITS_ONLY = re.compile(r"[0-9_]+")
_HASHTAG_START = re.compile(r"(?<![\w&])[#\uff03](?=[^\s#\uff03])")


def normalize(text: str) -> str:
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text)


def length(text: str) -> int:
    """Characters as the platforms count them: code points after NFC."""
    return len(normalize(text))


def _is_tag_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LNM" or char in "\u200c\u200d"


def hashtags(text: str) -> list[str]:
    """Every hashtag in ``text``, in order and as written, without the ``#``.

    A hashtag is ``#`` (or the full-width ``＃``) not preceded by a word character or ``&`` (so
    "C#" and "&#39;" are not), then letters, marks, digits and underscores in any script, with
    at least one that is not a digit ("#1" is not a tag). Duplicates are kept: platforms count
    each occurrence.
    """
    if "#" not in text and "\uff03" not in text:
        return []
    if text.isascii():  # the common case, one regex pass instead of a loop per character
        return [t for t in _ASCII_TAG.findall(text) if not _DIGITS_ONLY.fullmatch(t)]
    text = normalize(text)
    tags: list[str] = []
    for match in _HASHTAG_START.finditer(text):
        end = start = match.end()
        while end < len(text) and _is_tag_char(text[end]):
            end += 1
        tag = text[start:end]
        if tag and not all(char.isdigit() or char == "_" for char in tag):
            tags.append(tag)
    return tags
