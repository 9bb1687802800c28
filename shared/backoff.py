"""Exponential back-off with jitter, one formula for everything Chorus retries.

The ceiling doubles with each failure up to a cap; the wait is drawn from its upper half, so
retries of many items that failed together spread out instead of arriving together, and
never come sooner than half the ceiling. A platform's ``Retry-After`` is a floor."""

from __future__ import annotations

import random


def wait_seconds(
    failures: int, *, base_s: float, max_s: float, retry_after: float | None = None
) -> float:
    """The wait before the next try after ``failures`` failed ones (1 = the first failed)."""
    ceiling = min(max_s, base_s * 2 ** max(failures - 1, 0))
    return max(random.uniform(ceiling / 2, ceiling), retry_after or 0.0)
