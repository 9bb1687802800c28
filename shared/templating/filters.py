"""The filters a template may apply, each a plain ``str -> str`` function built once at compile
time with its arguments bound. No filter can grow a value without bound: every result is capped
at ``MAX_VALUE_LENGTH`` characters, so a chain of ``replace`` cannot blow up a render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Filter = Callable[[str], str]
Arg = str | int

MAX_VALUE_LENGTH = 100_000
"""The longest string a filter returns."""
DEFAULT_ELLIPSIS = "…"


class FilterArgumentError(Exception):
    """Arguments that do not fit the filter; ``index`` is the faulty argument (or -1: count)."""

    def __init__(self, message: str, index: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


@dataclass(frozen=True, slots=True)
class FilterSpec:
    name: str
    kinds: tuple[type, ...]
    """The type of each argument, in order."""
    required: int
    """How many of ``kinds`` must be given."""
    build: Callable[..., Filter]
    usage: str


def _upper() -> Filter:
    return str.upper


def _lower() -> Filter:
    return str.lower


def _title() -> Filter:
    return str.title


def _trim() -> Filter:
    return str.strip


def _default(text: str) -> Filter:
    def default(value: str) -> str:
        return value or text

    return default


def _truncate(length: int, ellipsis: str = DEFAULT_ELLIPSIS) -> Filter:
    """At most ``length`` characters; a cut value ends with ``ellipsis`` (within the limit)."""
    if length <= len(ellipsis):
        return lambda value: value[:length]
    keep = length - len(ellipsis)

    def truncate(value: str) -> str:
        if len(value) <= length:
            return value
        return value[:keep].rstrip() + ellipsis

    return truncate


def _replace(old: str, new: str) -> Filter:
    if not old:
        raise FilterArgumentError("the text to replace must not be empty", 0)
    growth = len(new) - len(old)

    def replace(value: str) -> str:
        if growth > 0:
            room = (MAX_VALUE_LENGTH - len(value)) // growth
            if room <= 0:
                return value[:MAX_VALUE_LENGTH]
            return value.replace(old, new, room)
        return value.replace(old, new)

    return replace


FILTERS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        FilterSpec("upper", (), 0, _upper, "upper"),
        FilterSpec("lower", (), 0, _lower, "lower"),
        FilterSpec("title", (), 0, _title, "title"),
        FilterSpec("trim", (), 0, _trim, "trim"),
        FilterSpec("default", (str,), 1, _default, 'default("text")'),
        FilterSpec("truncate", (int, str), 1, _truncate, 'truncate(40) or truncate(40, "...")'),
        FilterSpec("replace", (str, str), 2, _replace, 'replace("old", "new")'),
    )
}
MAX_TRUNCATE = MAX_VALUE_LENGTH


def _describe(arg: Arg) -> str:
    return "a whole number" if isinstance(arg, int) else "a string"


def _count(n: int) -> str:
    return "no arguments" if n == 0 else ("1 argument" if n == 1 else f"{n} arguments")


def build_filter(name: str, args: list[Arg]) -> Filter:
    """The filter ``name`` with ``args`` bound; ``KeyError`` if unknown,
    ``FilterArgumentError`` if the arguments do not fit."""
    spec = FILTERS[name]
    if not spec.required <= len(args) <= len(spec.kinds):
        if spec.required == len(spec.kinds):
            takes = _count(spec.required)
        else:
            takes = f"{spec.required} or {len(spec.kinds)} arguments"
        raise FilterArgumentError(
            f"filter '{name}' takes {takes} (got {len(args)}); use {spec.usage}"
        )
    for index, (arg, kind) in enumerate(zip(args, spec.kinds, strict=False)):
        if not isinstance(arg, kind):
            wanted = "a whole number" if kind is int else 'a string in double quotes ("...")'
            raise FilterArgumentError(
                f"argument {index + 1} of filter '{name}' must be {wanted}, got {_describe(arg)}",
                index,
            )
    if name == "truncate" and not 0 < int(args[0]) <= MAX_TRUNCATE:
        raise FilterArgumentError(
            f"filter 'truncate' needs a length between 1 and {MAX_TRUNCATE}", 0
        )
    return spec.build(*args)
