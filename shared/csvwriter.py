"""The one CSV writer of every export Chorus writes (locations, analytics, reviews).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or a carriage return before one) as a formula: a location named ``=HYPERLINK("http://evil",
"Open")`` in an export becomes a link, or worse, in the brand manager's spreadsheet. Every
text cell starting with one of those characters is written with a single quote in front, as
OWASP recommends for CSV injection: spreadsheets show the text and run nothing.

Only text is neutralised. Numbers given as numbers (``int``, ``float``, ``Decimal``) are
written as they are, and so is text that is just a plain decimal number (``-5``, ``+3.5``,
``1e6``): a spreadsheet reads it as that number and runs nothing, so a negative count stays a
number. The location import strips the quote again (``unneutralise``), so an export edited
and imported back keeps each value as it was."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

Cell = str | int | float | Decimal | None


def safe_cell(value: Cell) -> str:
    """The cell as text, with a quote in front of text a spreadsheet would run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return QUOTE + value
    return value


def unneutralise(text: str) -> str:
    """What ``safe_cell`` was given, for a cell read back from one of Chorus's exports."""
    if text.startswith(QUOTE) and text[1:2] and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def write_rows(rows: Iterable[Sequence[Cell]]) -> str:
    """RFC 4180 text (CRLF line ends, quotes only where needed) for a batch of rows, every
    cell through ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
