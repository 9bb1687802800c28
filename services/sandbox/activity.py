"""Plausible reviews and daily metrics per account, the same on every run.

Everything is derived from the account id (a seeded RNG), so a re-collection sees the same
reviews and numbers; what changes does so through the state (a reply, an edit, a new review
added by a test through ``/_sandbox``), never by chance. Every platform module uses these, so
the numbers Chorus collects look alike whichever platform they come from.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from services.sandbox.state import PlatformState, Post

REVIEWS_PER_ACCOUNT = 12
REVIEW_SPAN_DAYS = 90

_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai")
_LAST = ("Smith", "Okafor", "Nguyen", "Garcia", "Kowalski", "Haddad", "Rossi", "Tanaka")
_TEXTS = {
    5: ("Best pizza in town, friendly staff and quick service!", "Absolutely loved it."),
    4: ("Good food, a bit of a wait on Friday night.", "Nice place, would come back."),
    3: ("It was fine. Nothing special but okay for the price.", "Average experience."),
    2: ("Cold food and we waited 40 minutes.", "Not great, the order was wrong."),
    1: ("Terrible service, rude staff. Never again.", "Awful. Found a hair in my salad."),
}


@dataclass(slots=True)
class Review:
    id: str
    account_id: str
    rating: int
    text: str
    author: str
    created_at: float
    updated_at: float
    reply_text: str | None = None
    reply_updated_at: float | None = None
    reply_id: str | None = None
    """The reply's own id where the platform gives it one (a Facebook comment)."""
    reply_writes: int = 0
    """How many times the reply was posted, edited or deleted (tests count side effects)."""

    def set_reply(self, text: str | None, now: float, reply_id: str | None = None) -> None:
        self.reply_text = text
        self.reply_updated_at = now if text is not None else None
        self.reply_id = reply_id if text is not None else None
        self.reply_writes += 1


@dataclass(frozen=True, slots=True)
class DailyMetrics:
    day: date
    followers: int
    impressions: int
    reach: int
    engagements: int
    clicks: int
    posts_published: int


@dataclass(slots=True)
class AccountActivity:
    """What a platform keeps per account beyond posts: its reviews, newest last."""

    reviews: dict[str, Review] = field(default_factory=dict)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _activity(state: PlatformState, account_id: str) -> AccountActivity:
    found = state.activity.get(account_id)
    if isinstance(found, AccountActivity):
        return found
    activity = AccountActivity()
    state.activity[account_id] = activity
    return activity


def reviews(state: PlatformState, account_id: str, now: float) -> list[Review]:
    """The account's reviews, oldest first; the first call creates a stable history of
    ``REVIEWS_PER_ACCOUNT`` reviews over the last ``REVIEW_SPAN_DAYS`` days."""
    activity = _activity(state, account_id)
    if not activity.reviews:
        rng = _rng("reviews", account_id)
        start = now - REVIEW_SPAN_DAYS * 86_400
        times = sorted(rng.uniform(start, now - 3600) for _ in range(REVIEWS_PER_ACCOUNT))
        for i, at in enumerate(times):
            rating = rng.choices((5, 4, 3, 2, 1), weights=(45, 25, 12, 8, 10))[0]
            add_review(
                state,
                account_id,
                rating=rating,
                text=rng.choice(_TEXTS[rating]),
                author=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                at=at,
                review_id=f"{account_id}-r{i + 1}",
            )
    return sorted(activity.reviews.values(), key=lambda r: (r.created_at, r.id))


def add_review(
    state: PlatformState,
    account_id: str,
    *,
    rating: int,
    text: str,
    author: str,
    at: float,
    review_id: str | None = None,
) -> Review:
    activity = _activity(state, account_id)
    rid = review_id or f"{account_id}-r{len(activity.reviews) + 1}-{state.next_seq()}"
    review = Review(rid, account_id, rating, text, author, at, at)
    activity.reviews[rid] = review
    return review


def find_review(state: PlatformState, account_id: str, review_id: str, now: float) -> Review | None:
    for review in reviews(state, account_id, now):
        if review.id == review_id:
            return review
    return None


def daily_metrics(state: PlatformState, account_id: str, day: date) -> DailyMetrics:
    """One day's numbers: followers grow slowly from a per-account base; the rest vary by day.
    ``posts_published`` counts the posts actually stored for the account on that (UTC) day."""
    base = _rng("base", account_id)
    followers0 = base.randint(300, 20_000)
    growth = base.uniform(0.5, 6.0)
    epoch_day = day.toordinal() - date(2024, 1, 1).toordinal()
    rng = _rng("day", account_id, day.isoformat())
    impressions = int(followers0 * rng.uniform(0.2, 1.6))
    reach = int(impressions * rng.uniform(0.55, 0.9))
    engagements = int(reach * rng.uniform(0.01, 0.08))
    clicks = int(engagements * rng.uniform(0.1, 0.5))
    lo = datetime.combine(day, datetime.min.time(), UTC).timestamp()
    hi = lo + 86_400
    published = sum(
        1
        for p in state.posts.values()
        if p.account_id == account_id and lo <= p.created_at < hi and p.deleted_at is None
    )
    return DailyMetrics(
        day=day,
        followers=followers0 + int(growth * max(epoch_day, 0)),
        impressions=impressions,
        reach=reach,
        engagements=engagements,
        clicks=clicks,
        posts_published=published,
    )


def post_numbers(
    kind: str, post: Post, now: float, growth_days: int
) -> tuple[random.Random, float]:
    """What every platform's per-post numbers start from: a generator seeded by the post (the
    same numbers on every call) and how grown the post is (1/growth_days on its first day,
    whole from then on)."""
    age_days = max(0, int((now - post.created_at) // 86_400))
    return _rng(kind, post.id), min(age_days + 1, growth_days) / growth_days


def days(since: date, until: date) -> list[date]:
    """Every day from ``since`` to ``until``, both included."""
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


def utc_day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()
