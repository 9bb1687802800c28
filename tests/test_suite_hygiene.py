"""The suite's own rules (issue #14).

No test module imports from another test module. Importing one test module from another ties
them together: a helper renamed in one file breaks unrelated files, and an imported ``test_*``
function is collected and run twice. Shared fixtures live in ``conftest.py`` (or a support
module registered there as a plugin), shared helpers in ``tests/support/``.

No test waits for wall-clock time to pass. A deadline, due time, back-off, lease or expiry is
reached by moving the clock (the ``clock`` fixture, tests/support/clock.py), not by sleeping:
``asyncio.sleep`` / ``time.sleep`` of half a second or more is refused outside an allow-list
that says, per place, why it must be real time. Short sleeps in a loop that polls for another
task or process to finish its work are fine.
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


LONG_SLEEP_S = 0.5
SLEEPS_ALLOWED: dict[tuple[str, str], str] = {
    ("tests/chaos/harness.py", "run"): (
        "the chaos run polls its worker processes' progress every half second (it waits for "
        "their work, not for a time to pass)"
    ),
}
"""(file, enclosing function) → why a sleep of half a second or more must stay real there."""


def _number(node: ast.expr, constants: dict[str, float]) -> float | None:
    """The value of a sleep's argument when the source fixes it: a literal, a module-level
    constant, or arithmetic on those; None when it is computed at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand, constants)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp):
        left, right = _number(node.left, constants), _number(node.right, constants)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div) and right:
            return left / right
    return None


def _sleep_names(tree: ast.Module) -> set[str]:
    """How this module can call a sleep: ``asyncio.sleep``, ``time.sleep``, and the names
    ``from asyncio import sleep`` (``as …``) binds."""
    names = {"asyncio.sleep", "time.sleep"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("asyncio", "time"):
            names |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    return names


def _called(func: ast.expr) -> str | None:
    """``name`` or ``module.name`` of a call's target, or None for anything else."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return None


def long_sleeps(source: str) -> list[tuple[str, int, float]]:
    """Each sleep of ``LONG_SLEEP_S`` or more whose length the source fixes: (the enclosing
    function, or ``<module>``; line; seconds)."""
    tree = ast.parse(source)
    constants: dict[str, float] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and (n := _number(value, constants)) is not None:
                constants[target.id] = n
    sleeps = _sleep_names(tree)
    found: list[tuple[str, int, float]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call) and child.args and _called(child.func) in sleeps:
                seconds = _number(child.args[0], constants)
                if seconds is not None and seconds >= LONG_SLEEP_S:
                    found.append((where, child.lineno, seconds))
            visit(child, where)

    visit(tree, "<module>")
    return found


def test_the_check_sees_every_way_of_sleeping_for_a_fixed_time() -> None:
    source = "\n".join(
        [
            "import asyncio, time",
            "from asyncio import sleep as nap",
            "WAIT_S = 3",
            "async def test_a():",
            "    await asyncio.sleep(1.0)",
            "    await asyncio.sleep(0.1)",
            "    await nap(WAIT_S)",
            "def test_b():",
            "    time.sleep(2 * 0.5)",
            "    time.sleep(delay)",  # computed at run time: not the check's to judge
            "    def inner():",
            "        time.sleep(0.5)",
            "time.sleep(0.49)",
        ]
    )
    assert long_sleeps(source) == [
        ("test_a", 5, 1.0),
        ("test_a", 7, 3.0),
        ("test_b", 9, 1.0),
        ("inner", 12, 0.5),
    ]


def test_no_test_waits_for_wall_clock_time_to_pass() -> None:
    offenders: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in sorted(TESTS.rglob("*.py")):
        name = path.relative_to(TESTS.parent).as_posix()
        for where, line, seconds in long_sleeps(path.read_text(encoding="utf-8")):
            if (name, where) in SLEEPS_ALLOWED:
                used.add((name, where))
            else:
                offenders.append(f"{name}:{line} ({where}) sleeps {seconds:g} s")
    assert offenders == [], (
        "move the clock instead of waiting (the clock fixture in tests/support/clock.py), or, "
        "if real time must pass, add the place to SLEEPS_ALLOWED with the reason:\n"
        + "\n".join(offenders)
    )
    assert set(SLEEPS_ALLOWED) == used, "an allowed sleep is gone: drop it from the list"
