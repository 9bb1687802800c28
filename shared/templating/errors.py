"""Errors of the template language: every problem carries its position in the source."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import FieldProblem, ValidationFailed


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One problem in a template source. ``line`` and ``column`` are 1-based (what an editor
    shows); ``offset`` is the 0-based character index into the source."""

    line: int
    column: int
    offset: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def position(source: str, offset: int) -> tuple[int, int]:
    """The 1-based (line, column) of ``offset`` in ``source``."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def problem_at(source: str, offset: int, message: str) -> TemplateProblem:
    line, column = position(source, offset)
    return TemplateProblem(line=line, column=column, offset=offset, message=message)


class TemplateError(ValidationFailed):
    """A template that cannot be saved. ``problems`` lists every problem found in one pass, in
    source order; ``line``, ``column``, ``offset`` and ``str(error)`` describe the first."""

    code = "template_invalid"
    title = "Invalid template"

    def __init__(self, problems: list[TemplateProblem], *, field: str = "body") -> None:
        if not problems:
            raise ValueError("a TemplateError needs at least one problem")
        self.problems = sorted(problems, key=lambda p: p.offset)
        first = self.problems[0]
        self.line = first.line
        self.column = first.column
        self.offset = first.offset
        super().__init__(
            str(first),
            errors=[
                FieldProblem(field=field, message=str(p), code="template_invalid", line=p.line)
                for p in self.problems
            ],
        )
