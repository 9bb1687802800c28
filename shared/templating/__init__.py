"""Chorus's template language: safe to run on text written by customers.

Syntax (see ``lexer``, ``namespace`` and ``filters`` for the details)::

    Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") | truncate(40) }}
    {% if location.phone %}Call {{ location.phone }}.{% else %}Visit us.{% endif %}

* ``{{ path | filter | filter(arg, …) }}`` prints a variable from the fixed namespace
  (``location.*``, ``location.custom.*``, ``brand.name``, ``campaign.*``, ``slot.*``).
* Filters: ``upper``, ``lower``, ``title``, ``trim``, ``default("text")``,
  ``truncate(n)`` / ``truncate(n, "…")``, ``replace("old", "new")``.
* ``{% if path %}…{% else %}…{% endif %}`` (also ``if not path``): a value is true when it is
  not blank. No loops, no expressions, no attribute access.
* ``{{{{`` is a literal ``{{`` and ``{%%`` a literal ``{%``.
* Values are never interpreted: a city named ``{{ brand.name }}`` prints as written.

``compile_template`` parses once and rejects anything else with a ``TemplateError`` listing
every problem with its line and column; ``CompiledTemplate.render`` is lookups and joins.
"""

from shared.templating.compiler import MAX_SOURCE_LENGTH, CompiledTemplate, compile_template
from shared.templating.context import RenderContext
from shared.templating.errors import TemplateError, TemplateProblem
from shared.templating.filters import FILTERS, MAX_VALUE_LENGTH
from shared.templating.namespace import BRAND_FIELDS, LOCATION_FIELDS, ROOTS
from shared.templating.slots import SlotProblem, SlotSpec, validate_slot_values

__all__ = [
    "BRAND_FIELDS",
    "FILTERS",
    "LOCATION_FIELDS",
    "MAX_SOURCE_LENGTH",
    "MAX_VALUE_LENGTH",
    "ROOTS",
    "CompiledTemplate",
    "RenderContext",
    "SlotProblem",
    "SlotSpec",
    "TemplateError",
    "TemplateProblem",
    "compile_template",
    "validate_slot_values",
]
