"""Rendering 10,000 locations x 3 platforms (30,000 posts) from one compiled template version.

    python bench/render.py            (no database needed)

1. Build 10,000 location contexts (varied names, cities, phones, custom fields), once each,
   as the fan-out does: one ``RenderContext`` per location, reused for every platform.
2. Time compile-once + render-all: ``compile_template`` for the version, then per location a
   slot value is layered on and the post is rendered for each of 3 platforms (and passed to
   ``validate_post``: the platform's limits and the brand's rules, as the fan-out checks every
   post). Median of 3 runs.
3. The floor: the same text with ``str.format_map`` over the same contexts (filters and the
   ``if`` done by hand beforehand, so this is pure substitution), validated the same way.
   For reference, Jinja2's ``SandboxedEnvironment`` when jinja2 happens to be installed.

Ends with ``RESULT render seconds=<s> us_per_post=<us> format_ratio=<ours/format_map>``.
Target: seconds <= 0.75, us_per_post <= 25.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.brand_rules.check import EffectiveRules, check
from shared.content import Media, MediaKind, PostContent, validate
from shared.templating import RenderContext, SlotSpec, compile_template

LOCATIONS = 10_000
PLATFORMS = ("x", "instagram", "google_business")
PHOTO = (Media(kind=MediaKind.IMAGE, url="https://cdn.example/pizza.jpg", width=1080, height=1080),)
RULES = EffectiveRules(
    banned_words=("cheap", "free pizza", "guaranteed"),
    required_hashtags=("pizzaweek",),
    allowed_link_domains=("pizzeria-uno.example",),
    max_hashtags=5,
)
RUNS = 3

SOURCE = (
    'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by today") }} at '
    "{{ location.name | title }}, {{ location.address_line1 }}. "
    "{% if location.phone %}Call {{ location.phone }}.{% else %}See you soon.{% endif %} "
    "Ask for {{ location.custom.manager }}. #{{ brand.name | upper }} {{ campaign.hashtag }}"
)
SLOTS = {"offer": SlotSpec("Offer", help_text="Today's local deal", max_length=60)}
FORMAT_SOURCE = (
    "Fresh pizza in {city}! {offer} at {name}, {address}. {call} Ask for {manager}. "
    "#{brand} {hashtag}"
)
CITIES = ("Lyon", "Porto", "Graz", "Bergen", "Tartu", "Cork", "Gdańsk", "Zürich", "Ghent", "Split")
OFFERS = ("2 for 1 on Margheritas", "", "Free garlic bread", "10% off after 6pm")


def _locations() -> list[dict[str, object]]:
    rng = random.Random(4)
    rows: list[dict[str, object]] = []
    for n in range(LOCATIONS):
        city = rng.choice(CITIES)
        rows.append(
            {
                "name": f"pizza corner {city.lower()} {n}",
                "city": city,
                "address_line1": f"{rng.randint(1, 300)} Market Street",
                "phone": "" if n % 7 == 0 else f"+33 4 {rng.randint(10, 99)} {n:05d}",
                "custom": {"manager": rng.choice(("Ana", "Ben", "Chloé", "Dev")), "floor": "1"},
            }
        )
    return rows


def validate_post(platform: str, text: str) -> None:
    """Platform limits and brand rules, as the fan-out runs them on every post."""
    limits = validate(platform, PostContent(text=text, media=PHOTO))
    rules = check(RULES, platform, text)
    if limits or rules:
        raise AssertionError(f"the bench template should be clean: {limits} {rules}")


def _ours(rows: list[dict[str, object]]) -> tuple[float, list[str]]:
    brand = {"name": "Pizzeria Uno"}
    campaign = {"hashtag": "#pizzaweek"}
    contexts = [RenderContext.build(location=r, brand=brand, campaign=campaign) for r in rows]
    started = time.perf_counter()
    template = compile_template(SOURCE, slots=SLOTS)
    posts: list[str] = []
    append = posts.append
    for n, context in enumerate(contexts):
        filled = context.with_slots({"offer": OFFERS[n % len(OFFERS)]})
        for platform in PLATFORMS:
            text = template.render(filled)
            validate_post(platform, text)
            append(text)
    return time.perf_counter() - started, posts


def _format_map(rows: list[dict[str, object]]) -> tuple[float, list[str]]:
    prepared = []
    for n, r in enumerate(rows):
        custom = r["custom"]
        assert isinstance(custom, dict)
        prepared.append(
            {
                "city": r["city"],
                "offer": OFFERS[n % len(OFFERS)] or "Come by today",
                "name": str(r["name"]).title(),
                "address": r["address_line1"],
                "call": f"Call {r['phone']}." if r["phone"] else "See you soon.",
                "manager": custom["manager"],
                "brand": "PIZZERIA UNO",
                "hashtag": "#pizzaweek",
            }
        )
    started = time.perf_counter()
    posts: list[str] = []
    append = posts.append
    fmt = FORMAT_SOURCE.format_map
    for values in prepared:
        for platform in PLATFORMS:
            text = fmt(values)
            validate_post(platform, text)
            append(text)
    return time.perf_counter() - started, posts


def _jinja(rows: list[dict[str, object]]) -> float | None:
    try:
        from jinja2.sandbox import SandboxedEnvironment  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    source = SOURCE.replace("slot.offer", "slot_offer")
    brand = {"name": "Pizzeria Uno"}
    campaign = {"hashtag": "#pizzaweek"}
    started = time.perf_counter()
    template = SandboxedEnvironment().from_string(source)
    for n, r in enumerate(rows):
        variables = {"location": r, "brand": brand, "campaign": campaign}
        variables["slot_offer"] = OFFERS[n % len(OFFERS)]
        for platform in PLATFORMS:
            validate_post(platform, template.render(variables))
    return time.perf_counter() - started


def _median(run: Callable[[], tuple[float, list[str]]]) -> tuple[float, list[str]]:
    results = sorted((run() for _ in range(RUNS)), key=lambda r: r[0])
    return results[len(results) // 2]


def main() -> None:
    rows = _locations()
    seconds, posts = _median(lambda: _ours(rows))
    floor, expected = _median(lambda: _format_map(rows))
    assert posts == expected, (posts[0], expected[0])
    posts_count = len(posts)
    print(f"ours: compile once + render {posts_count} posts: {seconds:.3f} s (median of {RUNS})")
    print(f"str.format_map over the same contexts: {floor:.3f} s (median of {RUNS})")
    jinja = _jinja(rows)
    if jinja is None:
        print("jinja2 not installed: no SandboxedEnvironment column")
    else:
        print(f"jinja2 SandboxedEnvironment: {jinja:.3f} s (one run)")
    print(f"sample: {posts[0]!r}")
    print(
        f"RESULT render seconds={seconds:.3f} us_per_post={seconds / posts_count * 1e6:.2f} "
        f"format_ratio={seconds / floor:.1f}"
    )


if __name__ == "__main__":
    main()
