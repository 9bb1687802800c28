"""What a template reads: one flat dictionary of prepared strings per location, keyed by the
variable's dotted path (``location.city``, ``location.custom.floor``, ``slot.offer``).

Build it once per location and reuse it for every platform; slot values, which vary per post,
are layered on with ``with_slots`` (a shallow copy of a few dozen entries)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from shared.templating.namespace import BRAND_FIELDS, LOCATION_FIELDS

Scalar = str | int | float | Decimal | None


def _text(value: object, where: str) -> str | None:
    """Only plain scalars become text: an arbitrary object's ``str()`` could leak a repr."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{where} must be a string or a number, not {type(value).__name__}")


def _put(values: dict[str, str], prefix: str, items: Mapping[str, object]) -> None:
    for key, raw in items.items():
        text = _text(raw, f"{prefix}{key}")
        if text is not None:
            values[f"{prefix}{key}"] = text


def _custom_text(value: object) -> str | None:
    """A custom field is whatever JSON the agency imported: a yes/no reads as such, a list
    as its items; what has no sensible text (an object) is left out, so it renders as
    missing (``default`` applies) instead of breaking every post of the location."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        items = [_custom_text(v) for v in value]
        return ", ".join(i for i in items if i)
    if value is None or isinstance(value, str | int | float | Decimal):
        return _text(value, "")
    return None


class RenderContext:
    """Immutable by convention: ``values`` is shared by every render that uses the context."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})

    @classmethod
    def build(
        cls,
        *,
        location: Mapping[str, object] | None = None,
        brand: Mapping[str, object] | None = None,
        campaign: Mapping[str, object] | None = None,
        slots: Mapping[str, object] | None = None,
    ) -> RenderContext:
        """``location`` holds the documented fields and ``custom`` (a mapping); unknown keys
        are ignored, ``None`` means missing (renders as an empty string)."""
        values: dict[str, str] = {}
        if location is not None:
            _put(values, "location.", {f: location.get(f) for f in LOCATION_FIELDS})
            custom = location.get("custom")
            if isinstance(custom, Mapping):
                for key, raw in custom.items():
                    text = _custom_text(raw)
                    if text is not None:
                        values[f"location.custom.{key}"] = text
        if brand is not None:
            _put(values, "brand.", {f: brand.get(f) for f in BRAND_FIELDS})
        if campaign is not None:
            _put(values, "campaign.", campaign)
        if slots is not None:
            _put(values, "slot.", slots)
        context = cls.__new__(cls)
        context.values = values
        return context

    def with_slots(self, slots: Mapping[str, object]) -> RenderContext:
        values = dict(self.values)
        _put(values, "slot.", slots)
        context = RenderContext.__new__(RenderContext)
        context.values = values
        return context
