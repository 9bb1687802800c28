"""Turns the lexer's pieces into a small tree, checking every variable against the namespace
and every filter against its signature. Problems are collected, one per faulty tag, so a
brand manager sees them all at once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from shared.templating.errors import TemplateProblem, problem_at
from shared.templating.filters import FILTERS, Arg, Filter, FilterArgumentError, build_filter
from shared.templating.lexer import LexProblem, Tag, Text, Token, pieces
from shared.templating.namespace import NamespaceError, resolve

MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Output:
    key: str
    filters: tuple[Filter, ...]


@dataclass(slots=True)
class If:
    key: str
    negate: bool
    offset: int
    then: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)
    in_else: bool = False


Node = str | Output | If


class _Problem(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@dataclass(slots=True)
class Parsed:
    nodes: list[Node]
    variables: list[str]
    problems: list[TemplateProblem]


class _Parser:
    def __init__(self, source: str, slots: Collection[str] | None) -> None:
        self.source = source
        self.slots = slots
        self.variables: dict[str, None] = {}
        self.problems: list[TemplateProblem] = []

    def problem(self, offset: int, message: str) -> None:
        self.problems.append(problem_at(self.source, offset, message))

    def path(self, tokens: tuple[Token, ...], i: int) -> tuple[str, int]:
        """The context key of the dotted path at ``tokens[i]`` and the index after it."""
        first = tokens[i]
        if first.kind != "name":
            raise _Problem(
                first.offset, f"expected a variable such as location.city, got {first.describe()}"
            )
        parts, offsets = [first.value], [first.offset]
        i += 1
        while tokens[i].kind == ".":
            name = tokens[i + 1]
            if name.kind != "name":
                raise _Problem(name.offset, f"expected a name after '.', got {name.describe()}")
            parts.append(name.value)
            offsets.append(name.offset)
            i += 2
        try:
            key = resolve(parts)
        except NamespaceError as error:
            raise _Problem(offsets[error.index], error.message) from None
        if parts[0] == "slot" and self.slots is not None and parts[1] not in self.slots:
            declared = ", ".join(sorted(self.slots)) or "none"
            raise _Problem(
                offsets[1], f"unknown slot '{parts[1]}'; this template declares: {declared}"
            )
        self.variables.setdefault(key, None)
        return key, i

    def filter(self, tokens: tuple[Token, ...], i: int) -> tuple[Filter, int]:
        name = tokens[i]
        if name.kind != "name":
            raise _Problem(name.offset, f"expected a filter name after '|', got {name.describe()}")
        if name.value not in FILTERS:
            raise _Problem(
                name.offset,
                f"unknown filter '{name.value}'; available filters: {', '.join(sorted(FILTERS))}",
            )
        i += 1
        args: list[Arg] = []
        arg_offsets: list[int] = []
        if tokens[i].kind == "(":
            i += 1
            if tokens[i].kind == ")":
                i += 1
            else:
                while True:
                    arg = tokens[i]
                    if arg.kind == "string":
                        args.append(arg.value)
                    elif arg.kind == "int":
                        args.append(int(arg.value))
                    elif arg.kind == "sq_string":
                        raise _Problem(arg.offset, 'strings use double quotes: "like this"')
                    else:
                        raise _Problem(
                            arg.offset,
                            f"expected a string or a whole number, got {arg.describe()}",
                        )
                    arg_offsets.append(arg.offset)
                    i += 1
                    if tokens[i].kind == ",":
                        i += 1
                    elif tokens[i].kind == ")":
                        i += 1
                        break
                    else:
                        raise _Problem(
                            tokens[i].offset, f"expected ',' or ')', got {tokens[i].describe()}"
                        )
        try:
            return build_filter(name.value, args), i
        except FilterArgumentError as error:
            at = arg_offsets[error.index] if 0 <= error.index < len(arg_offsets) else name.offset
            raise _Problem(at, error.message) from None

    def output(self, tag: Tag) -> Output:
        tokens = tag.tokens
        key, i = self.path(tokens, 0)
        filters: list[Filter] = []
        while tokens[i].kind == "|":
            built, i = self.filter(tokens, i + 1)
            filters.append(built)
        if tokens[i].kind != "end":
            raise _Problem(tokens[i].offset, f"expected '|' or '}}}}', got {tokens[i].describe()}")
        return Output(key, tuple(filters))

    def block(self, tag: Tag, stack: list[If]) -> If | None:
        """Applies an ``if``/``else``/``endif`` tag to ``stack``; returns a new ``If`` to add."""
        tokens = tag.tokens
        word = tokens[0]
        if word.kind != "name" or word.value not in ("if", "else", "endif"):
            shown = f"'{word.value}'" if word.kind == "name" else word.describe()
            raise _Problem(word.offset, f"unknown tag {shown}; only if, else and endif are allowed")
        if word.value == "if":
            negate = tokens[1].kind == "name" and tokens[1].value == "not"
            key, i = self.path(tokens, 2 if negate else 1)
            if tokens[i].kind != "end":
                raise _Problem(
                    tokens[i].offset,
                    f"expected '%}}' after the condition, got {tokens[i].describe()} "
                    "(conditions are a single variable, optionally with 'not')",
                )
            if len(stack) >= MAX_DEPTH:
                raise _Problem(word.offset, f"'if' nested deeper than {MAX_DEPTH} levels")
            return If(key, negate, tag.offset)
        if tokens[1].kind != "end":
            raise _Problem(
                tokens[1].offset, f"expected '%}}' after '{word.value}', got {tokens[1].describe()}"
            )
        if not stack:
            raise _Problem(tag.offset, f"'{{% {word.value} %}}' without an open '{{% if %}}'")
        if word.value == "else":
            if stack[-1].in_else:
                raise _Problem(tag.offset, "a second '{% else %}' for the same '{% if %}'")
            stack[-1].in_else = True
        else:
            stack.pop()
        return None

    def parse(self) -> Parsed:
        root: list[Node] = []
        stack: list[If] = []

        def current() -> list[Node]:
            if not stack:
                return root
            top = stack[-1]
            return top.otherwise if top.in_else else top.then

        for piece in pieces(self.source):
            if isinstance(piece, Text):
                current().append(piece.value)
            elif isinstance(piece, LexProblem):
                self.problem(piece.offset, piece.message)
            else:
                try:
                    if piece.opener == "{{":
                        current().append(self.output(piece))
                    elif (opened := self.block(piece, stack)) is not None:
                        current().append(opened)
                        stack.append(opened)
                except _Problem as error:
                    self.problem(error.offset, error.message)
                    first = piece.tokens[0]
                    if piece.opener == "{%" and (first.kind, first.value) == ("name", "if"):
                        # A broken 'if' still opens a block, so its endif is no second error.
                        stack.append(If("", False, piece.offset))
        for unclosed in stack:
            self.problem(unclosed.offset, "'{% if %}' is never closed: add '{% endif %}'")
        return Parsed(root, list(self.variables), self.problems)


def parse(source: str, slots: Collection[str] | None = None) -> Parsed:
    return _Parser(source, slots).parse()
