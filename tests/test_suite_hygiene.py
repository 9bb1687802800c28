"""The suite's own rules (issue #14): no test module imports from another test module.

Importing one test module from another ties them together: a helper renamed in one file breaks
unrelated files, and an imported ``test_*`` function is collected and run twice. Shared fixtures
live in ``conftest.py`` (or a support module registered there as a plugin), shared helpers in
``tests/support/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(dotted: str) -> bool:
    return dotted.split(".")[-1].startswith("test_")


def imports_of_test_modules(source: str) -> list[str]:
    """The test modules ``source`` imports from, as written (``tests.test_x``, ``.test_x``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.module and _is_test_module(node.module):
                found.append(module)
            elif not node.module:  # ``from . import test_x``
                found += [module + a.name for a in node.names if _is_test_module(a.name)]
    return found


def test_the_check_sees_every_way_of_importing_a_test_module() -> None:
    source = "\n".join(
        [
            "import tests.test_campaigns",
            "from tests.test_publishing import shop",
            "from .test_reviews import open_shop",
            "from . import test_metrics",
            "from tests.support.publishing import post",
            "from tests.factories import sign_up",
            "from tests.conftest import ROOT",
        ]
    )
    assert imports_of_test_modules(source) == [
        "tests.test_campaigns",
        "tests.test_publishing",
        ".test_reviews",
        ".test_metrics",
    ]


def test_no_test_module_imports_from_another_test_module() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for module in imports_of_test_modules(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "move what is shared to tests/support/ (fixtures: a plugin listed in tests/conftest.py):\n"
        + "\n".join(offenders)
    )
