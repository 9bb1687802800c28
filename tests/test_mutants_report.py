"""The mutation-testing report stays in step with what ``make mutants`` runs (issue #14).

``tools/mutants/guards.toml`` lists the guard modules and their tests; docs/MUTANTS.md reports
on them, one row of the results table and one section each. A module added to the one and not
the other, or a file renamed under it, fails here (cheaply, in CI), not months later in a report
that silently stopped covering a guard.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutants" / "guards.toml"
REPORT = ROOT / "docs" / "MUTANTS.md"


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Nothing here touches PostgreSQL or Redis: nothing to empty after each test."""


def configured() -> dict[str, dict[str, list[str]]]:
    modules: dict[str, dict[str, list[str]]] = tomllib.loads(CONFIG.read_text())["modules"]
    return modules


def table_rows(report: str) -> list[str]:
    """The first cells of the results table (the rows under the ``| module |`` header)."""
    rows: list[str] = []
    in_table = False
    for line in report.splitlines():
        if line.startswith("| module |"):
            in_table, rows = True, []
        elif in_table and line.startswith("|"):
            cell = line.strip("|").split("|")[0].strip()
            if not set(cell) <= {"-", ":", " "}:
                rows.append(cell)
        elif in_table:
            break
    return rows


def sections(report: str) -> list[str]:
    return re.findall(r"^### `?([a-z_]+)`?", report, flags=re.MULTILINE)


def test_the_report_has_one_row_and_one_section_per_configured_module() -> None:
    report = REPORT.read_text()
    names = sorted(configured())
    assert sorted(table_rows(report)) == names
    assert sorted(sections(report)) == names


def test_every_configured_file_exists_and_the_report_names_it() -> None:
    report = REPORT.read_text()
    for name, spec in configured().items():
        for path in spec["files"] + [test.split("::")[0] for test in spec["tests"]]:
            assert (ROOT / path).is_file(), f"guards.toml, {name}: no file {path}"
        for path in spec["files"]:
            assert path in report, f"docs/MUTANTS.md does not name {path} ({name})"


def test_the_checks_read_a_table_and_sections_as_written() -> None:
    report = "\n".join(
        [
            "| module | mutants | killed |",
            "| --- | ---: | ---: |",
            "| tenancy | 21 | 21 |",
            "| dispatcher | 90 | 88 |",
            "",
            "### tenancy",
            "### `dispatcher`",
        ]
    )
    assert table_rows(report) == ["tenancy", "dispatcher"]
    assert sections(report) == ["tenancy", "dispatcher"]
