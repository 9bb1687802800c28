"""Row-level security, table by table, from the catalog (issue #14).

The tables come from ``pg_catalog``, not from a list in the code, so a tenant table added
later is covered without editing this file: every table with an ``agency_id`` is filled
with a row of agency A and a row of agency B (tests/support/catalog_rows.py), and then, as
the application role inside A's transaction and with raw SQL (none of the app's own
filters), A sees its own row and none of B's, and cannot insert, update or delete B's.
The policies themselves are read too: each must depend on the transaction's agency, bar
the cross-agency ones listed, with their reasons, in tests/support/rls_exceptions.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from tests.support.catalog_rows import Table, copy_with_new_key, fill, read_catalog
from tests.support.rls_exceptions import (
    CROSS_AGENCY_POLICIES,
    TABLES_WITHOUT_RLS,
    TENANT_POLICY,
)

REFUSED = ("row-level security", "permission denied")
"""How PostgreSQL refuses a write: a policy's WITH CHECK, or a revoked privilege."""


@pytest.fixture
async def owner(database_url: URL) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection as the tables' owner (exempt from row-level security)."""
    conn = await asyncpg.connect(
        host=database_url.host,
        port=database_url.port,
        user=database_url.username,
        password=database_url.password,
        database=database_url.database,
    )
    try:
        yield conn
    finally:
        await conn.close()


def tenant_tables(tables: dict[str, Table]) -> dict[str, Table]:
    return {
        name: table
        for name, table in tables.items()
        if table.tenant_column is not None and name not in TABLES_WITHOUT_RLS
    }


async def test_every_table_with_an_agency_is_under_forced_row_level_security(
    owner: asyncpg.Connection,
) -> None:
    tables = await read_catalog(owner)
    unprotected = sorted(
        name for name, table in tenant_tables(tables).items() if not (table.rls and table.forced)
    )
    assert unprotected == [], (
        f"{unprotected} carry agency_id without ENABLE and FORCE ROW LEVEL SECURITY; add a "
        "tenant_isolation policy in a migration, or list the table in "
        "tests/support/rls_exceptions.py TABLES_WITHOUT_RLS with the reason"
    )
    for name in TABLES_WITHOUT_RLS:
        assert name in tables, f"{name} is listed in TABLES_WITHOUT_RLS but gone"
        assert tables[name].tenant_column, f"{name} is listed but has no agency_id now"
        assert not tables[name].rls, f"{name} has row-level security now: unlist it"
    # RLS on a table with no tenant column would need an entry of its own here.
    orphans = sorted(n for n, t in tables.items() if t.rls and t.tenant_column is None)
    assert orphans == [], f"{orphans} are under RLS but have no agency_id to test it with"


async def _deparsed(owner: asyncpg.Connection, table: str, command: str, sql: str | None) -> Any:
    """``sql`` as PostgreSQL prints a policy expression (pg_policies.qual), read from a
    probe policy created and dropped in a savepoint: the comparison is then exact and
    independent of the server version's spelling."""
    if sql is None:
        return None
    name = f"probe_{uuid.uuid4().hex[:12]}"
    try:
        async with owner.transaction():
            await owner.execute(f'CREATE POLICY {name} ON "{table}" FOR {command} USING ({sql})')
            qual = await owner.fetchval(
                "SELECT qual FROM pg_policies WHERE tablename = $1 AND policyname = $2",
                table,
                name,
            )
            raise _Undo(qual)
    except _Undo as undo:
        return undo.qual


class _Undo(Exception):
    def __init__(self, qual: str) -> None:
        self.qual = qual


async def test_every_policy_depends_on_the_transactions_agency(
    owner: asyncpg.Connection,
) -> None:
    tables = tenant_tables(await read_catalog(owner))
    policies = await owner.fetch(
        "SELECT tablename, policyname, permissive, cmd, qual, with_check FROM pg_policies "
        "WHERE schemaname = 'public' ORDER BY tablename, policyname"
    )
    wrong: list[str] = []
    isolated: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for policy in policies:
        table, name = policy["tablename"], policy["policyname"]
        seen.add((table, name))
        listed = CROSS_AGENCY_POLICIES.get((table, name))
        if listed is not None:
            using = await _deparsed(owner, table, listed.command, listed.using)
            check = await _deparsed(owner, table, listed.command, listed.check)
            actual = (policy["cmd"], policy["qual"], policy["with_check"])
            if actual != (listed.command, using, check):
                wrong.append(f"{table}.{name} is {actual}, listed as {(listed.command, using)}")
            continue
        column = tables[table].tenant_column if table in tables else None
        if column is None:
            wrong.append(f"{table}.{name}: a policy on a table with no agency_id")
            continue
        tenant = await _deparsed(owner, table, "ALL", TENANT_POLICY.format(column=column))
        if policy["qual"] != tenant or policy["with_check"] not in (None, tenant):
            wrong.append(
                f"{table}.{name} ({policy['cmd']}) USING {policy['qual']} WITH CHECK "
                f"{policy['with_check']} does not depend on the transaction's agency"
            )
        elif policy["permissive"] == "PERMISSIVE" and policy["cmd"] == "ALL":
            isolated.add(table)
    assert wrong == [], (
        "policies other than the tenant's must be listed, with why, in "
        f"tests/support/rls_exceptions.py CROSS_AGENCY_POLICIES: {wrong}"
    )
    assert sorted(set(tables) - isolated) == [], "tables without a tenant_isolation policy"
    stale = sorted(set(CROSS_AGENCY_POLICIES) - seen)
    assert stale == [], f"listed cross-agency policies that no longer exist: {stale}"


async def test_an_agency_reads_and_writes_none_of_another_agencys_rows(
    owner: asyncpg.Connection, app_db: Database
) -> None:
    tables = await read_catalog(owner)
    tenants = tenant_tables(tables)
    agencies = [uuid.uuid4(), uuid.uuid4()]
    async with owner.transaction():
        filled = await fill(owner, tables, set(tenants), agencies)
    assert set(tenants) <= set(filled.rows)

    for current, other in (agencies, agencies[::-1]):
        problems: list[str] = []
        async with app_db.transaction(current) as session:
            for name, table in sorted(tenants.items()):
                problems += await _isolation_problems(
                    session, table, current, other, filled.rows[name][other]
                )
        assert problems == [], "\n".join(problems)

    # And the owner still finds every one of B's rows (nothing was changed or deleted).
    for name, table in tenants.items():
        column = table.tenant_column
        count = await owner.fetchval(
            f'SELECT count(*) FROM "{name}" WHERE "{column}" = ANY($1::uuid[])', agencies
        )
        assert count >= 2, f"{name} lost a row to another agency's transaction"


async def _isolation_problems(
    session: AsyncSession,
    table: Table,
    current: uuid.UUID,
    other: uuid.UUID,
    others_row: dict[str, Any],
) -> list[str]:
    name, column = table.name, table.tenant_column
    problems: list[str] = []
    seen = {r[0] for r in (await session.execute(text(f'SELECT "{column}" FROM "{name}"'))).all()}
    if current not in seen:
        problems.append(f"{name}: the agency's own row is invisible to it")
    if seen - {current}:
        problems.append(f"{name}: SELECT shows another agency's rows")

    by_other = {"other": other}
    for verb, sql in (
        ("UPDATE", f'UPDATE "{name}" SET "{column}" = "{column}" WHERE "{column}" = :other'),
        ("DELETE", f'DELETE FROM "{name}" WHERE "{column}" = :other'),
    ):
        outcome = await _attempt(session, sql, by_other)
        if isinstance(outcome, int) and outcome != 0:
            problems.append(f"{name}: {verb} reached {outcome} of another agency's rows")
        elif isinstance(outcome, str) and not _refused(outcome):
            problems.append(f"{name}: {verb} failed otherwise than refused: {outcome}")

    row = copy_with_new_key(table, others_row)
    columns = ", ".join(f'"{c}"' for c in row)
    values = ", ".join(f":p{i}" for i in range(len(row)))
    params = {f"p{i}": value for i, value in enumerate(row.values())}
    outcome = await _attempt(session, f'INSERT INTO "{name}" ({columns}) VALUES ({values})', params)
    if isinstance(outcome, int):
        problems.append(f"{name}: INSERT of another agency's row succeeded")
    elif not _refused(outcome):
        # PostgreSQL checks a policy's WITH CHECK before constraints and unique keys: any
        # other error means row-level security let the row through.
        problems.append(f"{name}: INSERT of another agency's row passed RLS, then: {outcome}")
    return problems


def _refused(message: str) -> bool:
    return any(reason in message for reason in REFUSED)


async def _attempt(session: AsyncSession, sql: str, params: dict[str, Any]) -> int | str:
    """Rows affected, or the refusal's message; a savepoint keeps the transaction usable."""
    try:
        async with session.begin_nested():
            result = await session.execute(text(sql), params)
            return int(result.rowcount)  # type: ignore[attr-defined]
    except DBAPIError as error:
        message = str(error.orig)
        return message.split(": ", 1)[-1] if ": " in message else message
