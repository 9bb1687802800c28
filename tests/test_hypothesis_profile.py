"""Property tests must be replayable: CI draws the same examples every run."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st


def test_ci_runs_derandomized_and_a_failure_prints_how_to_replay_it() -> None:
    assert settings.default.print_blob
    if os.environ.get("CI") and not os.environ.get("HYPOTHESIS_PROFILE"):
        assert settings.default.derandomize
        assert settings.default.database is None


def test_the_same_examples_every_run_under_the_ci_profile() -> None:
    def drawn() -> list[int]:
        seen: list[int] = []

        @settings(settings.get_profile("ci"), max_examples=20)
        @given(st.integers())
        def record(value: int) -> None:
            seen.append(value)

        record()
        return seen

    assert drawn() == drawn()
