"""Slots: the named parts of a template a location may fill, and the check of its values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One slot. ``default`` stands in for a missing or blank value (when rendering and when
    validating), so a required slot with a default is always satisfied."""

    label: str
    help_text: str = ""
    max_length: int | None = None
    required: bool = False
    allowed_values: tuple[str, ...] | None = None
    default: str | None = None

    def __post_init__(self) -> None:
        if self.max_length is not None and self.max_length < 1:
            raise ValueError("max_length must be at least 1")
        if self.allowed_values is not None and not self.allowed_values:
            raise ValueError("allowed_values, when given, must not be empty")


@dataclass(frozen=True, slots=True)
class SlotProblem:
    slot: str
    code: str
    """``slot_required``, ``slot_too_long``, ``slot_not_allowed`` or ``slot_unknown``."""
    message: str


def validate_slot_values(
    specs: Mapping[str, SlotSpec], values: Mapping[str, str]
) -> list[SlotProblem]:
    """Every problem with a location's slot values, in the order of ``specs`` (unknown slots
    last). An empty list means the values may be rendered."""
    problems: list[SlotProblem] = []
    for name, spec in specs.items():
        value = values.get(name) or ""
        if not value.strip() and spec.default is not None:
            value = spec.default
        if not value.strip():
            if spec.required:
                problems.append(
                    SlotProblem(name, "slot_required", f"template slot '{name}' is required")
                )
            continue
        if spec.max_length is not None and len(value) > spec.max_length:
            problems.append(
                SlotProblem(
                    name,
                    "slot_too_long",
                    f"template slot '{name}' is longer than {spec.max_length} characters "
                    f"({len(value)})",
                )
            )
        if spec.allowed_values is not None and value not in spec.allowed_values:
            choices = ", ".join(f"'{v}'" for v in spec.allowed_values)
            problems.append(
                SlotProblem(
                    name,
                    "slot_not_allowed",
                    f"template slot '{name}' must be one of {choices} (got '{value}')",
                )
            )
    for name in values:
        if name not in specs:
            problems.append(
                SlotProblem(name, "slot_unknown", f"'{name}' is not a slot of this template")
            )
    return problems
