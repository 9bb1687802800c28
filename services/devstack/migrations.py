"""Whether the database is already at the newest migration, found without starting Alembic.

Why: ``alembic upgrade head`` costs a second even when there is nothing to do (a Python
process importing every model), and on the second ``make run`` there is nothing to do. The
heads are read from the migration files' ``revision`` / ``down_revision`` lines (the same
lines Alembic reads) and compared with the ``alembic_version`` table over one connection.
Any doubt (a file we cannot read that way, no table, a server that does not answer) answers
"not at head", and Alembic runs as before and reports whatever is wrong.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

CONNECT_TIMEOUT = 5.0


def heads(versions_dir: Path) -> frozenset[str] | None:
    """The head revisions of the migration files in `versions_dir`; None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions_dir.glob("*.py")):
        try:
            values = _assignments(ast.parse(path.read_text(), str(path)))
        except (OSError, SyntaxError, ValueError):
            return None
        revision = values.get("revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        down = values.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple):
            parents.update(d for d in down if isinstance(d, str))
        elif down is not None:
            return None
    found = frozenset(revisions - parents)
    return found or None


def _assignments(tree: ast.Module) -> dict[str, object]:
    values: dict[str, object] = {}
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
            values[target.id] = ast.literal_eval(value)
    return values


def at_head(database_url: str, versions_dir: Path) -> bool:
    """True only when the database's ``alembic_version`` holds exactly the files' heads."""
    wanted = heads(versions_dir)
    if wanted is None:
        return False
    try:
        current = asyncio.run(_current(database_url))
    except Exception:  # any failure: let Alembic run and say what is wrong
        return False
    return current == wanted


async def _current(database_url: str) -> frozenset[str]:
    import asyncpg  # here: the other devstack commands do not pay for the import

    scheme, sep, rest = database_url.partition("://")
    url = f"{scheme.split('+')[0]}{sep}{rest}"
    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    try:
        rows = await connection.fetch("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    return frozenset(str(row["version_num"]) for row in rows)
