"""Splits a template source into literal text and tags, and a tag into tokens.

Literal text is everything outside ``{{ … }}`` (output) and ``{% … %}`` (block) tags. To write
the openers literally, double them: ``{{{{`` is a literal ``{{`` and ``{%%`` a literal ``{%``.
A lone ``{``, ``}`` or ``}}`` in text is literal as it stands.

Inside a tag: names (``location``, ``upper``), ``.``, ``|``, ``(``, ``)``, ``,``, whole numbers,
and strings in double quotes with the escapes ``\\"``, ``\\\\``, ``\\n`` and ``\\t``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

OPENERS = re.compile(r"\{\{\{\{|\{%%|\{\{|\{%")
CLOSERS = {"{{": "}}", "{%": "%}"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[0-9]+")
_SPACE = re.compile(r"\s*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "'": "'"}
_PUNCTUATION = frozenset(".|(),")
MAX_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """``name``, ``int``, ``string``, ``sq_string`` (single quotes), one of ``.|(),``, or
    ``end`` (the tag's closer)."""
    value: str
    offset: int

    def describe(self) -> str:
        if self.kind == "name":
            return f"the name '{self.value}'"
        if self.kind == "int":
            return "a number"
        if self.kind in ("string", "sq_string"):
            return "a string literal"
        return f"'{self.value}'"


@dataclass(frozen=True, slots=True)
class Text:
    value: str
    offset: int


@dataclass(frozen=True, slots=True)
class Tag:
    opener: str
    offset: int
    tokens: tuple[Token, ...]


@dataclass(frozen=True, slots=True)
class LexProblem:
    offset: int
    message: str


Piece = Text | Tag | LexProblem


def _string(source: str, start: int) -> tuple[str, int]:
    """The value of the string starting at ``start`` (a quote) and the offset after it."""
    quote = source[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(source):
        char = source[pos]
        if char == quote:
            return "".join(out), pos + 1
        if char == "\n":
            break
        if char == "\\":
            escaped = source[pos + 1 : pos + 2]
            if escaped not in _ESCAPES:
                raise _LexError(
                    pos,
                    f"unknown escape '\\{escaped}' in a string; use \\\", \\\\, \\n or \\t",
                )
            out.append(_ESCAPES[escaped])
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise _LexError(start, "unterminated string: close it with " + quote + " on the same line")


class _LexError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _tag(source: str, opener_at: int, opener: str) -> tuple[Tag, int]:
    closer = CLOSERS[opener]
    tokens: list[Token] = []
    pos = opener_at + 2
    while True:
        match = _SPACE.match(source, pos)
        pos = match.end() if match else pos
        if pos >= len(source):
            raise _LexError(opener_at, f"unclosed '{opener}': end it with '{closer}'")
        if source.startswith(closer, pos):
            tokens.append(Token("end", closer, pos))
            return Tag(opener, opener_at, tuple(tokens)), pos + 2
        char = source[pos]
        if (name := _NAME.match(source, pos)) is not None:
            tokens.append(Token("name", name.group(), pos))
            pos = name.end()
        elif (number := _INT.match(source, pos)) is not None:
            if len(number.group()) > MAX_DIGITS:
                raise _LexError(pos, "number too large")
            tokens.append(Token("int", number.group(), pos))
            pos = number.end()
        elif char in "\"'":
            value, end = _string(source, pos)
            tokens.append(Token("string" if char == '"' else "sq_string", value, pos))
            pos = end
        elif char in _PUNCTUATION:
            tokens.append(Token(char, char, pos))
            pos += 1
        else:
            raise _LexError(pos, f"unexpected character {char!r}")


def pieces(source: str) -> Iterator[Piece]:
    """Text, tags and problems in source order. After a problem inside a tag, scanning resumes
    after that tag's closer, so one pass finds the problems of every tag."""
    pos = 0
    text: list[str] = []
    text_at = 0
    while True:
        found = OPENERS.search(source, pos)
        if found is None:
            text.append(source[pos:])
            break
        text.append(source[pos : found.start()])
        opener = found.group()
        if opener in ("{{{{", "{%%"):
            text.append(opener[:2])
            pos = found.end()
            continue
        joined = "".join(text)
        if joined:
            yield Text(joined, text_at)
        text = []
        try:
            tag, pos = _tag(source, found.start(), opener)
        except _LexError as error:
            yield LexProblem(error.offset, error.message)
            closer_at = source.find(CLOSERS[opener], error.offset)
            if closer_at < 0:
                if error.offset != found.start():
                    yield LexProblem(
                        found.start(), f"unclosed '{opener}': end it with '{CLOSERS[opener]}'"
                    )
                return
            pos = closer_at + 2
        else:
            yield tag
        text_at = pos
    joined = "".join(text)
    if joined:
        yield Text(joined, text_at)
