"""The template language: grammar, filters, every kind of rejected template with its position,
slots, rendering with missing values, and properties over arbitrary sources and values."""

from __future__ import annotations

import string
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.errors import AppError
from shared.templating import (
    LOCATION_FIELDS,
    MAX_SOURCE_LENGTH,
    MAX_VALUE_LENGTH,
    RenderContext,
    SlotSpec,
    TemplateError,
    compile_template,
    validate_slot_values,
)

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LOCATION = {
    "name": "Pizza Corner Lyon",
    "city": "Lyon",
    "address_line1": "12 Rue de la République",
    "phone": "+33 4 72 00 00 00",
    "website": "https://example.com/lyon",
    "custom": {"manager": "Ana", "floor": 2},
}


def render(source: str, **context: Mapping[str, object]) -> str:
    return compile_template(source).render(RenderContext.build(**context))


def problems(source: str, slots: Mapping[str, SlotSpec] | None = None) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        compile_template(source, slots=slots)
    return [str(p) for p in caught.value.problems]


# --- grammar -------------------------------------------------------------------------------


def test_plain_text_renders_as_written() -> None:
    text = "Fresh pizza — { curly } and }} closing braces, 100% tasty %}"
    assert render(text) == text


def test_the_brief_example_renders() -> None:
    source = (
        'Fresh pizza in {{ location.city }} — {{ slot.offer | default("come by") }}! '
        "Call {{ location.phone }}. {{ brand.name | upper }}"
    )
    out = render(source, location=LOCATION, brand={"name": "Uno"})
    assert out == "Fresh pizza in Lyon — come by! Call +33 4 72 00 00 00. UNO"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{location.city}}", "Lyon"),
        ("{{   location.city\n}}", "Lyon"),
        ("{{ location.custom.manager }} on floor {{ location.custom.floor }}", "Ana on floor 2"),
        ("{{ brand.name }}", "Uno"),
        ("{{ campaign.hashtag }}", "#pizzaweek"),
        ("{{ slot.offer }}", "2 for 1"),
        ("a\n{{ location.city }}\nb", "a\nLyon\nb"),
    ],
)
def test_each_root_of_the_namespace(source: str, expected: str) -> None:
    out = render(
        source,
        location=LOCATION,
        brand={"name": "Uno"},
        campaign={"hashtag": "#pizzaweek"},
        slots={"offer": "2 for 1"},
    )
    assert out == expected


def test_every_location_field_is_readable() -> None:
    location = {field: f"<{field}>" for field in LOCATION_FIELDS}
    source = " ".join(f"{{{{ location.{field} }}}}" for field in LOCATION_FIELDS)
    assert render(source, location=location) == " ".join(f"<{f}>" for f in LOCATION_FIELDS)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{{{ location.city }}", "{{ location.city }}"),
        ("{%% if %}", "{% if %}"),
        ("a {{{{{{ location.city }}", "a {{Lyon"),
        ("{ {{ location.city }} }", "{ Lyon }"),
    ],
)
def test_escaping_openers(source: str, expected: str) -> None:
    assert render(source, location=LOCATION) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("555 0100", "Call 555 0100."), ("", "Visit us."), ("   ", "Visit us."), (None, "Visit us.")],
)
def test_if_else_on_truthiness(phone: str | None, expected: str) -> None:
    source = "{% if location.phone %}Call {{ location.phone }}.{% else %}Visit us.{% endif %}"
    assert render(source, location={"phone": phone}) == expected


def test_if_not_and_nesting() -> None:
    source = (
        "{% if not location.website %}no site{% else %}"
        "{% if location.phone %}site+phone{% endif %}{% endif %}"
    )
    assert render(source, location={}) == "no site"
    assert render(source, location={"website": "w", "phone": "p"}) == "site+phone"
    assert render(source, location={"website": "w"}) == ""


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("upper", "Lyon Nord", "LYON NORD"),
        ("lower", "Lyon Nord", "lyon nord"),
        ("title", "pizza corner lyon", "Pizza Corner Lyon"),
        ("trim", "  Lyon \n", "Lyon"),
        ('default("come by")', "", "come by"),
        ('default("come by")', "2 for 1", "2 for 1"),
        ("truncate(10)", "short", "short"),
        ("truncate(10)", "exactly10!", "exactly10!"),
        ("truncate(10)", "Margherita pizza", "Margherit…"),
        ("truncate(10)", "Margheri  pizza", "Margheri…"),
        ('truncate(10, "...")', "Margherita pizza", "Margher..."),
        ('truncate(2, "...")', "Margherita", "Ma"),
        ('replace("Lyon", "Lille")', "Lyon, Lyon", "Lille, Lille"),
        ('replace("\\"", "\\\\")', 'say "hi"', "say \\hi\\"),
        ('replace("\\n", " ")', "a\nb", "a b"),
        ('trim | default("none") | upper', "   ", "NONE"),
        ("upper()", "x", "X"),
    ],
)
def test_filters(expression: str, value: str, expected: str) -> None:
    source = f"{{{{ campaign.v | {expression} }}}}"
    assert render(source, campaign={"v": value}) == expected


def test_default_filter_covers_a_missing_value() -> None:
    assert render('{{ location.region | default("—") }}', location={}) == "—"


def test_replace_cannot_blow_up_a_render() -> None:
    grow = '| replace("a", "aaaaaaaaaa") ' * 12
    out = render(f"{{{{ campaign.v {grow}}}}}", campaign={"v": "a" * 50})
    assert len(out) <= MAX_VALUE_LENGTH


# --- rejected templates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{{ ''.__class__ }}",
            "line 1, column 4: expected a variable such as location.city, got a string literal",
        ),
        (
            "{{ os.system }}",
            "line 1, column 4: unknown variable 'os'; "
            "use location.*, brand.*, campaign.* or slot.*",
        ),
        (
            "Hi\n  {{ location.floor }}",
            "line 2, column 15: unknown field 'location.floor'; location fields are: "
            "address_line1, address_line2, city, country, name, phone, postal_code, region, "
            "time_zone, website, custom.<key>",
        ),
        (
            "{{ location.city | shout }}",
            "line 1, column 20: unknown filter 'shout'; available filters: "
            "default, lower, replace, title, trim, truncate, upper",
        ),
        (
            "{{ location.city | truncate }}",
            "line 1, column 20: filter 'truncate' takes 1 or 2 arguments (got 0); "
            'use truncate(40) or truncate(40, "...")',
        ),
        (
            '{{ location.city | upper("x") }}',
            "line 1, column 20: filter 'upper' takes no arguments (got 1); use upper",
        ),
        (
            '{{ location.city | replace("a") }}',
            "line 1, column 20: filter 'replace' takes 2 arguments (got 1); "
            'use replace("old", "new")',
        ),
        (
            '{{ location.city | truncate("40") }}',
            "line 1, column 29: argument 1 of filter 'truncate' must be a whole number, "
            "got a string",
        ),
        (
            "{{ location.city | default(3) }}",
            "line 1, column 28: argument 1 of filter 'default' must be a string in double "
            'quotes ("..."), got a whole number',
        ),
        (
            "{{ location.city | truncate(0) }}",
            "line 1, column 29: filter 'truncate' needs a length between 1 and 100000",
        ),
        (
            '{{ location.city | replace("", "x") }}',
            "line 1, column 28: the text to replace must not be empty",
        ),
        (
            "{{ location.city | default('x') }}",
            'line 1, column 28: strings use double quotes: "like this"',
        ),
        (
            '{{ location.city | default("a\\q") }}',
            "line 1, column 30: unknown escape '\\q' in a string; use \\\", \\\\, \\n or \\t",
        ),
        (
            '{{ location.city | default("open }}',
            'line 1, column 28: unterminated string: close it with " on the same line',
        ),
        ("Hello {{ location.city", "line 1, column 7: unclosed '{{': end it with '}}'"),
        ("{% if location.city", "line 1, column 1: unclosed '{%': end it with '%}'"),
        ("{{ }}", "line 1, column 4: expected a variable such as location.city, got '}}'"),
        ("{{ location.city() }}", "line 1, column 17: expected '|' or '}}', got '('"),
        ("{{ location.city[0] }}", "line 1, column 17: unexpected character '['"),
        (
            "{{ location.city.__class__ }}",
            "line 1, column 18: 'location.city' has no fields; '.__class__' is not allowed",
        ),
        ("{{ location. }}", "line 1, column 14: expected a name after '.', got '}}'"),
        (
            "{{ location }}",
            "line 1, column 4: 'location' needs a field, e.g. location.city; "
            "location fields are: address_line1, address_line2, city, country, name, phone, "
            "postal_code, region, time_zone, website, custom.<key>",
        ),
        (
            "{{ brand.owner }}",
            "line 1, column 10: unknown field 'brand.owner'; brand fields are: name",
        ),
        (
            "{{ campaign }}",
            "line 1, column 4: 'campaign' needs a campaign variable name, e.g. campaign.example",
        ),
        (
            "{{ campaign.__globals__ }}",
            "line 1, column 13: '__globals__' is not a valid campaign "
            "variable name: use letters, digits and '_', starting with a letter",
        ),
        ("{{ location.city | }}", "line 1, column 20: expected a filter name after '|', got '}}'"),
        ("{{ location.city | truncate(5 }}", "line 1, column 31: expected ',' or ')', got '}}'"),
        ("{{ location.city | truncate(9999999999) }}", "line 1, column 29: number too large"),
        (
            "{% for x in locations %}",
            "line 1, column 4: unknown tag 'for'; only if, else and endif are allowed",
        ),
        (
            "{% if location.city | upper %}x{% endif %}",
            "line 1, column 21: expected '%}' after "
            "the condition, got '|' (conditions are a single variable, optionally with 'not')",
        ),
        ("{% endif %}", "line 1, column 1: '{% endif %}' without an open '{% if %}'"),
        ("{% else %}", "line 1, column 1: '{% else %}' without an open '{% if %}'"),
        (
            "{% if slot.offer %}{% else %}{% else %}{% endif %}",
            "line 1, column 30: a second '{% else %}' for the same '{% if %}'",
        ),
        (
            "{% if brand.name %}open",
            "line 1, column 1: '{% if %}' is never closed: add '{% endif %}'",
        ),
        ("{% endif now %}", "line 1, column 10: expected '%}' after 'endif', got the name 'now'"),
        (
            "{{ slot.coupon }}",
            "line 1, column 9: unknown slot 'coupon'; this template declares: offer",
        ),
    ],
)
def test_rejected_with_position_and_message(source: str, expected: str) -> None:
    assert problems(source, slots={"offer": SlotSpec("Offer")}) == [expected]


def test_every_problem_is_reported_in_one_pass() -> None:
    source = "{{ os.path }} ok {{ location.city | nope }}\n{% for %} {{ location.city }}"
    assert problems(source) == [
        "line 1, column 4: unknown variable 'os'; use location.*, brand.*, campaign.* or slot.*",
        "line 1, column 37: unknown filter 'nope'; available filters: "
        "default, lower, replace, title, trim, truncate, upper",
        "line 2, column 4: unknown tag 'for'; only if, else and endif are allowed",
    ]


def test_template_error_carries_the_first_position_and_is_an_app_error() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template("ok\n  {{ ''.__class__ }} {{ os.x }}")
    error = caught.value
    assert (error.line, error.column, error.offset) == (2, 6, 8)
    assert str(error) == (
        "line 2, column 6: expected a variable such as location.city, got a string literal"
    )
    assert isinstance(error, AppError)
    assert error.status_code == 422
    assert error.error_code == "template_invalid"
    assert [p.as_dict()["line"] for p in error.errors] == [2, 2]


def test_overlong_source_is_rejected() -> None:
    assert problems("x" * (MAX_SOURCE_LENGTH + 1)) == [
        f"line 1, column {MAX_SOURCE_LENGTH + 1}: the template is longer than "
        f"{MAX_SOURCE_LENGTH} characters ({MAX_SOURCE_LENGTH + 1})"
    ]


def test_deep_nesting_is_rejected() -> None:
    source = "{% if slot.a %}" * 17 + "{% endif %}" * 17
    assert "'if' nested deeper than 16 levels" in problems(source)[0]


# --- slots, missing values, introspection --------------------------------------------------

SPECS = {
    "offer": SlotSpec("Offer", help_text="Today's deal", max_length=40, required=True),
    "size": SlotSpec("Size", allowed_values=("small", "large"), default="small"),
    "note": SlotSpec("Note"),
}


def test_valid_slot_values_have_no_problems() -> None:
    assert validate_slot_values(SPECS, {"offer": "2 for 1", "size": "large"}) == []


def test_slot_problems_are_all_reported_with_clear_messages() -> None:
    found = validate_slot_values(SPECS, {"offer": "x" * 57, "size": "huge", "extra": "1"})
    assert [(p.slot, p.code, p.message) for p in found] == [
        ("offer", "slot_too_long", "template slot 'offer' is longer than 40 characters (57)"),
        (
            "size",
            "slot_not_allowed",
            "template slot 'size' must be one of 'small', 'large' (got 'huge')",
        ),
        ("extra", "slot_unknown", "'extra' is not a slot of this template"),
    ]


@pytest.mark.parametrize("offer", [None, "", "   "])
def test_required_slot_missing(offer: str | None) -> None:
    values = {} if offer is None else {"offer": offer}
    found = validate_slot_values(SPECS, values)
    assert [p.message for p in found] == ["template slot 'offer' is required"]


def test_required_slot_with_a_default_is_satisfied() -> None:
    specs = {"offer": SlotSpec("Offer", required=True, default="Come by")}
    assert validate_slot_values(specs, {}) == []


def test_slot_spec_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_length"):
        SlotSpec("Offer", max_length=0)
    with pytest.raises(ValueError, match="allowed_values"):
        SlotSpec("Offer", allowed_values=())


def test_missing_values_render_empty_and_slot_defaults_apply() -> None:
    template = compile_template(
        "[{{ location.city }}|{{ location.custom.x }}|{{ campaign.y }}|{{ brand.name }}|"
        '{{ slot.offer }}|{{ slot.size }}|{{ slot.note | default("-") }}]',
        slots=SPECS,
    )
    # A missing required slot renders empty; validate_slots is what stops it being published.
    assert template.render(RenderContext()) == "[|||||small|-]"
    assert template.validate_slots({}) == [
        validate_slot_values(SPECS, {})[0],
    ]
    filled = RenderContext().with_slots({"offer": "2 for 1", "size": "  "})
    assert template.render(filled) == "[||||2 for 1|small|-]"


def test_variables_and_slots_used_in_order_of_first_use() -> None:
    template = compile_template(
        "{{ slot.offer }} {{ location.city }} {% if slot.note %}{{ brand.name }}{% endif %} "
        "{{ location.city | upper }} {{ location.custom.manager }}",
        slots=SPECS,
    )
    assert template.variables() == [
        "slot.offer",
        "location.city",
        "slot.note",
        "brand.name",
        "location.custom.manager",
    ]
    assert template.slots_used() == ["offer", "note"]


def test_slots_are_unchecked_when_not_declared() -> None:
    assert compile_template("{{ slot.anything }}").slots_used() == ["anything"]


def test_context_takes_numbers_and_refuses_objects() -> None:
    context = RenderContext.build(location={"postal_code": 69001, "custom": {"seats": 4.5}})
    assert (
        render(
            "{{ location.postal_code }}/{{ location.custom.seats }}",
            location={"postal_code": 69001, "custom": {"seats": 4.5}},
        )
        == "69001/4.5"
    )
    assert context.values["location.postal_code"] == "69001"
    with pytest.raises(TypeError, match=r"location\.city must be a string or a number"):
        RenderContext.build(location={"city": object()})


def test_custom_fields_of_any_json_shape_render_or_read_as_missing() -> None:
    """Imported custom fields are the agency's JSON: a campaign must not fail on them."""
    custom = {"delivery": True, "patio": False, "days": ["Mon", "Fri"], "meta": {"a": 1}}
    text = render(
        "{{ location.custom.delivery }}/{{ location.custom.patio }}/{{ location.custom.days }}"
        '/{{ location.custom.meta | default("none") }}',
        location={"custom": custom},
    )
    assert text == "yes/no/Mon, Fri/none"


def test_with_slots_leaves_the_shared_context_alone() -> None:
    base = RenderContext.build(location=LOCATION)
    base.with_slots({"offer": "x"})
    assert "slot.offer" not in base.values


# --- properties ----------------------------------------------------------------------------

KEYS = [
    "location.city",
    "location.name",
    "location.phone",
    "location.custom.floor",
    "brand.name",
    "campaign.tag",
    "slot.offer",
]
FRAGMENTS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{{{{",
    "{%%",
    " ",
    "\n",
    ".",
    "|",
    "(",
    ")",
    ",",
    '"',
    "'",
    "location",
    "location.city",
    "location.custom.floor",
    "brand.name",
    "campaign.tag",
    "slot.offer",
    "location.phone",
    "os",
    "__class__",
    "__globals__",
    "''.__class__",
    "upper",
    "lower",
    "title",
    "trim",
    'default("d")',
    "truncate(3)",
    'truncate(4, "~")',
    'replace("a", "b")',
    "if",
    "else",
    "endif",
    "not",
    "{0.__globals__}",
    "%s",
    "\\",
    # Whole tags, so that a good share of the sources compile and print variables.
    "{{ location.city }}",
    "{{ slot.offer | upper }}",
    "{{ brand.name | truncate(3) }}",
    '{{ campaign.tag | default("d") | title }}',
    '{{ location.custom.floor | replace("1", "one") }}',
    "{{ location.phone | trim | lower }}",
    "{% if location.phone %}",
    "{% if not slot.offer %}",
    "{% else %}",
    "{% endif %}",
]
sources = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=24).map(
    "".join
)
SENTINELS = {key: f"⟦{n}⟧" for n, key in enumerate(KEYS)}


def _variants(text: str) -> set[str]:
    chars: set[str] = set()
    for char in text:
        for variant in (char, char.upper(), char.lower(), char.title()):
            chars.update(variant)
    return chars


@PROPERTY
@given(source=sources)
@example(source="{{ ''.__class__ }}")
@example(source='{{ location.city | default("{0.__globals__}") }}%s')
def test_arbitrary_source_is_rejected_or_only_prints_source_and_context(source: str) -> None:
    rejected: TemplateError | None = None
    try:
        template = compile_template(source)
    except TemplateError as error:
        rejected = error
    if rejected is not None:
        assert rejected.problems
        for problem in rejected.problems:
            assert 0 <= problem.offset <= len(source)
            assert problem.line == source.count("\n", 0, problem.offset) + 1
        return
    allowed = _variants(source) | _variants("".join(SENTINELS.values())) | {"…"}
    for context in (RenderContext(SENTINELS), RenderContext()):
        out = template.render(context)
        assert set(out) <= allowed
        for leak in ("<class", "object at 0x", "<function", "__globals__'", "builtins"):
            assert leak not in out or leak in source


literal_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_characters="{"), max_size=6).map(lambda t: (t, t)),
        st.sampled_from([("{{{{", "{{"), ("{%%", "{%"), ("{ ", "{ ")]),
    ),
    max_size=4,
).map(lambda parts: ("".join(p[0] for p in parts), "".join(p[1] for p in parts)))


@PROPERTY
@given(
    parts=st.lists(
        st.one_of(literal_text, st.sampled_from(KEYS).map(lambda k: (f"{{{{ {k} }}}}", k))),
        max_size=10,
    ),
    present=st.sets(st.sampled_from(KEYS)),
)
def test_output_is_exactly_source_literals_and_context_values(
    parts: list[tuple[str, str]], present: set[str]
) -> None:
    source = "".join(p[0] for p in parts)
    context = RenderContext({k: v for k, v in SENTINELS.items() if k in present})
    expected = "".join(
        context.values.get(p[1], "") if p[1] in SENTINELS and p[0].startswith("{{ ") else p[1]
        for p in parts
    )
    assert compile_template(source).render(context) == expected


hostile = st.one_of(
    st.text(),
    st.sampled_from(
        [
            "{{ location.city }}",
            "{{ ''.__class__.__mro__ }}",
            "__class__",
            "{0.__globals__}",
            "{location.city}",
            "%s%s%(x)s",
            "{% if brand.name %}x{% endif %}",
            "{{{{",
            "\\n\\x00",
        ]
    ),
)


@PROPERTY
@given(value=hostile)
def test_values_are_never_interpreted(value: str) -> None:
    for source, context in (
        ("{{ location.city }}", RenderContext.build(location={"city": value})),
        ("{{ location.custom.note }}", RenderContext.build(location={"custom": {"note": value}})),
        ("{{ campaign.v }}", RenderContext.build(campaign={"v": value})),
        ("{{ slot.offer }}", RenderContext.build(slots={"offer": value})),
        ("{{ brand.name | trim }}", RenderContext.build(brand={"name": value})),
    ):
        out = compile_template(source).render(context)
        assert out == (value.strip() if "trim" in source else value)


filter_names = st.sampled_from(
    [
        "upper",
        "lower",
        "title",
        "trim",
        'default("d")',
        "truncate(3)",
        'truncate(5, "..")',
        'replace("a", "")',
        'replace("a", "bb")',
        "truncate(1)",
    ]
)
expressions = st.builds(
    lambda key, fs: "{{ " + " | ".join([key, *fs]) + " }}",
    st.sampled_from(KEYS),
    st.lists(filter_names, max_size=3),
)
valid_templates = st.recursive(
    # Literal pieces lose their "{" before joining, so none can open a tag ("{" + "{ " would).
    st.lists(
        st.one_of(
            expressions, st.text(alphabet="ab {}%.|", max_size=5).map(lambda t: t.replace("{", ""))
        ),
        max_size=6,
    ).map("".join),
    lambda inner: st.builds(
        lambda key, negate, then, other: (
            f"{{% if {'not ' if negate else ''}{key} %}}{then}{{% else %}}{other}{{% endif %}}"
        ),
        st.sampled_from(KEYS),
        st.booleans(),
        inner,
        inner,
    ),
    max_leaves=6,
)


@PROPERTY
@given(source=valid_templates, values=st.dictionaries(st.sampled_from(KEYS), st.text()))
def test_render_never_raises_for_a_valid_template(source: str, values: dict[str, str]) -> None:
    template = compile_template(source)
    out = template.render(RenderContext(values))
    assert isinstance(out, str)


def test_sentinels_are_distinct_from_source_alphabet() -> None:
    # The first property relies on sentinel brackets no fragment contains.
    assert not any("⟦" in f for f in FRAGMENTS)
    assert set(string.printable).isdisjoint({"⟦", "⟧"})
