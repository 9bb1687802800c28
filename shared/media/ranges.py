"""HTTP ``Range`` requests (RFC 9110, section 14) on one stored object: one byte range or none.

A header this does not understand (another unit, several ranges, bad syntax) is ignored, and
the whole object is answered, as the RFC allows; a range that starts past the end is
unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import AppError

_SPEC = re.compile(r"^(\d{1,19})?-(\d{1,19})?$")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``start`` inclusive, ``end`` exclusive (as storage reads take them)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class RangeNotSatisfiable(AppError):
    status_code = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"

    def __init__(self, header: str, size: int) -> None:
        super().__init__(
            f"the range {header!r} lies outside the file's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for within ``size`` bytes, clamped to the end; None for
    the whole object. :class:`RangeNotSatisfiable` when it asks for no byte there is."""
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in specs:
        return None
    match = _SPEC.match(specs.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first is None and last is None:
        return None
    if first is None:
        suffix = int(last or 0)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    if last is not None and int(last) < start:
        return None  # not a valid range: ignored
    if start >= size:
        raise RangeNotSatisfiable(header, size)
    end = size if last is None else min(int(last) + 1, size)
    return ByteRange(start, end)
