"""Compiles a parsed template into a flat tuple of closures, once per template version.

Rendering is then ``"".join(op(values) for op in ops)``: dictionary lookups, bound filter
functions and joins; no parsing, no attribute access, nothing from the template is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shared.templating.context import RenderContext
from shared.templating.errors import TemplateError, problem_at
from shared.templating.filters import Filter
from shared.templating.parser import If, Node, Output, parse
from shared.templating.slots import SlotProblem, SlotSpec, validate_slot_values

Op = Callable[[dict[str, str]], str]

MAX_SOURCE_LENGTH = 20_000


def _literal(text: str) -> Op:
    def literal(_values: dict[str, str]) -> str:
        return text

    return literal


def _getter(key: str, default: str | None) -> Op:
    if default is None:

        def get(values: dict[str, str]) -> str:
            return values.get(key, "")

        return get

    def get_or_default(values: dict[str, str]) -> str:
        value = values.get(key, "")
        return value if value.strip() else default

    return get_or_default


def _output(get: Op, filters: tuple[Filter, ...]) -> Op:
    if not filters:
        return get
    if len(filters) == 1:
        only = filters[0]

        def filtered(values: dict[str, str]) -> str:
            return only(get(values))

        return filtered

    def chained(values: dict[str, str]) -> str:
        text = get(values)
        for apply in filters:
            text = apply(text)
        return text

    return chained


def _if(get: Op, negate: bool, then: tuple[Op, ...], otherwise: tuple[Op, ...]) -> Op:
    def branch(values: dict[str, str]) -> str:
        chosen = then if bool(get(values).strip()) is not negate else otherwise
        return "".join([op(values) for op in chosen])

    return branch


class CompiledTemplate:
    """A parsed, checked template version. Immutable and safe to share across threads."""

    __slots__ = ("_ops", "_variables", "slots", "source")

    def __init__(
        self, source: str, nodes: list[Node], variables: list[str], slots: Mapping[str, SlotSpec]
    ) -> None:
        self.source = source
        self.slots: Mapping[str, SlotSpec] = dict(slots)
        self._variables = tuple(variables)
        self._ops = self._compile(nodes)

    def _get(self, key: str) -> Op:
        spec = self.slots.get(key[5:]) if key.startswith("slot.") else None
        return _getter(key, spec.default if spec is not None else None)

    def _compile(self, nodes: list[Node]) -> tuple[Op, ...]:
        ops: list[Op] = []
        pending: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                pending.append(node)
                continue
            if pending:
                ops.append(_literal("".join(pending)))
                pending = []
            if isinstance(node, Output):
                ops.append(_output(self._get(node.key), node.filters))
            elif isinstance(node, If):
                then, otherwise = self._compile(node.then), self._compile(node.otherwise)
                ops.append(_if(self._get(node.key), node.negate, then, otherwise))
        if pending:
            ops.append(_literal("".join(pending)))
        return tuple(ops)

    def render(self, context: RenderContext) -> str:
        """The rendered text. Never raises for a context of strings: a missing value renders
        as an empty string (or its slot's default, or the ``default`` filter's text). A
        missing *required* slot is not an error here: check ``validate_slots`` first."""
        values = context.values
        return "".join([op(values) for op in self._ops])

    def variables(self) -> list[str]:
        """Every variable the template reads (``location.city``, ``slot.offer`` …), once each,
        in order of first use."""
        return list(self._variables)

    def slots_used(self) -> list[str]:
        """The names of the slots the template reads, in order of first use."""
        return [key[5:] for key in self._variables if key.startswith("slot.")]

    def validate_slots(self, values: Mapping[str, str]) -> list[SlotProblem]:
        return validate_slot_values(self.slots, values)


def compile_template(
    source: str, *, slots: Mapping[str, SlotSpec] | None = None
) -> CompiledTemplate:
    """Parses and checks ``source`` once. ``slots`` declares the template's slots: a
    ``slot.<name>`` not declared there is an error. With ``slots=None`` any slot name is
    accepted (for checking a body before its slots are defined).

    Raises ``TemplateError`` listing every problem found, each with its line and column."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise TemplateError(
            [
                problem_at(
                    source,
                    MAX_SOURCE_LENGTH,
                    f"the template is longer than {MAX_SOURCE_LENGTH} characters ({len(source)})",
                )
            ]
        )
    parsed = parse(source, None if slots is None else set(slots))
    if parsed.problems:
        raise TemplateError(parsed.problems)
    return CompiledTemplate(source, parsed.nodes, parsed.variables, slots or {})
