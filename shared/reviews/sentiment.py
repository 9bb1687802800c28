"""Sentiment of a review's text with VADER: offline, deterministic, no model to download.

VADER's compound score runs from -1 to 1; its authors' thresholds label it (>= 0.05 positive,
<= -0.05 negative, neutral between). A review without text takes its sentiment from its stars,
so a silent one-star review still reads as negative.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
_BY_RATING = {1: -0.6, 2: -0.3, 3: 0.0, 4: 0.3, 5: 0.6}


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float
    label: str


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads its lexicon once per process


def label_of(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def analyze(text: str, rating: int | None = None) -> Sentiment:
    if text.strip():
        score = float(_analyzer().polarity_scores(text)["compound"])
    else:
        score = _BY_RATING.get(rating or 3, 0.0)
    return Sentiment(round(score, 4), label_of(score))
