"""X's weighted length: twitter-text v3 known cases, then properties over generated text."""

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.content.xtext import (
    MAX_WEIGHTED_LENGTH,
    TRANSFORMED_URL_LENGTH,
    extract_urls,
    is_within_limit,
    weighted_length,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦
FLAG_FR = "\U0001f1eb\U0001f1f7"  # 🇫🇷
THUMB_MEDIUM = "\U0001f44d\U0001f3fd"  # 👍🏽
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈
KEYCAP_ONE = "1\ufe0f\u20e3"  # 1️⃣
WOMAN_TECHNOLOGIST_DARK = "\U0001f469\U0001f3ff\u200d\U0001f4bb"  # 👩🏿‍💻
EMOJI_SEQUENCES = [
    "\U0001f355",  # 🍕
    "\u2764\ufe0f",  # ❤️
    FAMILY,
    FLAG_FR,
    THUMB_MEDIUM,
    SCOTLAND,
    RAINBOW_FLAG,
    KEYCAP_ONE,
    WOMAN_TECHNOLOGIST_DARK,
    "\u00a9\ufe0f",  # ©️
]

light_text = st.text(alphabet=st.characters(max_codepoint=0x10FF, exclude_categories=("Cs",)))
ascii_words = st.text(alphabet=string.ascii_letters + string.digits + " !?,'", max_size=300)
url_strategy = st.builds(
    lambda host, path: f"https://{host}.com/{path}",
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=30),
    st.text(alphabet=string.ascii_lowercase + string.digits, max_size=200),
)


@pytest.fixture(autouse=True, scope="module")
def _clean_state() -> None:
    """These tests touch no storage; override the suite's per-test database reset."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a" * 280, 280),
        ("a" * 281, 281),
        ("Fresh pizza in Lyon today!", 26),
        ("\u4f60\u597d", 4),  # 你好: CJK counts 2 each
        ("\u3053\u3093\u306b\u3061\u306f", 10),  # こんにちは
        ("\ud55c\uad6d", 4),  # 한국
        ("caf\u00e9", 4),  # Latin-1: 1 each
        ("\u041f\u0440\u0438\u0432\u0435\u0442", 6),  # Cyrillic: 1 each
        ("\u201cquoted\u201d \u2014 dash", 15),  # curly quotes and em dash are light
        ("\u2026", 2),  # the ellipsis (U+2026) lies outside the light ranges
        ("cafe\u0301", 4),  # decomposed é, NFC-normalized to one character
        ("\u1100\u1161\u11a8", 2),  # Hangul jamo (light) compose to one heavy syllable 각
        ("\u00a9 2026", 6),  # a bare © is text
        ("\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", 6),  # Thai lies in the light range
        ("it\u2019s \u20ac5", 8),  # ’ is light, € is not
    ],
)
def test_known_lengths(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_limit_is_280() -> None:
    assert MAX_WEIGHTED_LENGTH == 280
    assert is_within_limit("a" * 280)
    assert not is_within_limit("a" * 281)
    assert is_within_limit("\u4f60" * 140)
    assert not is_within_limit("\u4f60" * 141)


@pytest.mark.parametrize("emoji", EMOJI_SEQUENCES)
def test_each_emoji_sequence_counts_two(emoji: str) -> None:
    assert weighted_length(emoji) == 2
    assert weighted_length(f"Hi {emoji}!") == 6


def test_emoji_sequences_side_by_side_count_separately() -> None:
    assert weighted_length(FLAG_FR + FLAG_FR + FAMILY) == 6
    assert weighted_length(THUMB_MEDIUM * 140) == 280
    assert weighted_length(THUMB_MEDIUM * 141) == 282


@pytest.mark.parametrize(
    "url",
    [
        "https://t.co",
        "http://example.com",
        "https://pizza.example.com/offers/lyon?utm_source=chorus&utm_medium=social",
        "https://example.com/" + "x" * 500,
        "pizza.com",
        "www.pizza.de",
        "pizza.de/menu",
        "https://en.wikipedia.org/wiki/Pizza_(dish)",
    ],
)
def test_a_url_counts_23_whatever_its_length(url: str) -> None:
    assert weighted_length(url) == TRANSFORMED_URL_LENGTH
    assert weighted_length(f"Menu: {url} today") == 6 + 23 + 6


def test_several_urls_count_23_each() -> None:
    text = "Order at https://a.example.com/x, or https://b.example.org/" + "y" * 80 + " !"
    assert weighted_length(text) == len("Order at ") + 23 + len(", or ") + 23 + 2


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see pizza.com/menu.", ["pizza.com/menu"]),  # trailing full stop is not the link's
        ("(https://pizza.com)", ["https://pizza.com"]),
        ("pizza.de", []),  # a short ccTLD domain without a path is not linked
        ("pizza.co", ["pizza.co"]),  # .co and .tv are the exceptions
        ("mail info@pizza.com", []),  # an e-mail address is not a link
        ("e.g. the U.S. today", []),
        ("pizza.notatld", []),
        (
            "http://twitter.com/\u3053\u308c\u3002example.com\u4e2d",
            ["http://twitter.com/", "example.com"],
        ),
    ],
)
def test_which_urls_x_links(text: str, urls: list[str]) -> None:
    assert [text[start:end] for start, end in extract_urls(text)] == urls


def test_cjk_around_urls() -> None:
    # twitter-text conformance case: URLs 23 each, 9 + 3 CJK characters at 2 each.
    text = (
        "http://twitter.com/"
        "\u3053\u308c\u306f\u65e5\u672c\u8a9e\u3067\u3059\u3002"
        "example.com\u4e2d\u56fd\u8a9e"
    )
    assert weighted_length(text) == 23 + 18 + 23 + 6


@settings(max_examples=150, deadline=None)
@given(ascii_words, ascii_words)
def test_ascii_without_urls_is_additive(a: str, b: str) -> None:
    assert weighted_length(a) == len(a)
    assert weighted_length(a + b) == weighted_length(a) + weighted_length(b)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=100), st.text(max_size=100))
def test_a_space_separates_counts(a: str, b: str) -> None:
    """Nothing (emoji, URL, composition) reaches across a space."""
    assert weighted_length(f"{a} {b}") == weighted_length(a) + 1 + weighted_length(b)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_never_negative_and_at_most_two_per_character_without_urls(text: str) -> None:
    length = weighted_length(text)
    assert length >= 0
    normalized = unicodedata.normalize("NFC", text)
    if not extract_urls(normalized):
        assert length <= 2 * len(normalized)


@settings(max_examples=150, deadline=None)
@given(light_text)
def test_light_text_counts_at_least_its_code_points(text: str) -> None:
    normalized = unicodedata.normalize("NFC", text)
    if extract_urls(normalized):
        return
    assert weighted_length(text) >= len(normalized)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(EMOJI_SEQUENCES), max_size=60))
def test_emoji_only_text_counts_two_per_sequence(sequences: list[str]) -> None:
    assert weighted_length("".join(sequences)) == 2 * len(sequences)


@settings(max_examples=100, deadline=None)
@given(url_strategy, url_strategy, ascii_words)
def test_replacing_a_url_by_another_keeps_the_length(first: str, second: str, words: str) -> None:
    prefix = words.rstrip(".") + " "
    assert weighted_length(prefix + first + " ok") == weighted_length(prefix + second + " ok")
    assert weighted_length(prefix + first) == len(prefix) + TRANSFORMED_URL_LENGTH
