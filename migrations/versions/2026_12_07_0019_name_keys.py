"""Brand and template names unique case-insensitively, by one rule on every database locale.

A ``name_key`` column (``shared.brands.names.name_key``: NFKC, full case folding, NFKC),
computed by the application and backfilled here, under a plain unique index that replaces
the unique index on the name as typed: a collation-independent rule, where ``lower()`` in
PostgreSQL depends on the database's locale.

Existing names that now collide (``Straße`` and ``STRASSE``, say) cannot both keep their
name: the oldest keeps it, the others get `` (2)``, `` (3)``… appended.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.brands.names import name_key

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (the columns a name is unique within, the old unique constraint)
_TABLES = {
    "brand": (("agency_id",), "uq_brand_agency_id_name"),
    "template": (("agency_id", "brand_id"), "uq_template_agency_id_brand_id_name"),
}
_NAME_LENGTH = 200


def _free_name(name: str, scope: tuple[object, ...], taken: set[tuple[object, ...]]) -> str:
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = name[: _NAME_LENGTH - len(suffix)] + suffix
        if (*scope, name_key(candidate)) not in taken:
            return candidate
        number += 1


def _backfill(table_name: str, scope_columns: tuple[str, ...]) -> None:
    bind = op.get_bind()
    table = sa.table(
        table_name,
        sa.column("id"),
        sa.column("created_at"),
        sa.column("name"),
        sa.column("name_key"),
        *(sa.column(name) for name in scope_columns),
    )
    scope = [table.c[name] for name in scope_columns]
    rows = bind.execute(
        sa.select(table.c.id, table.c.name, *scope).order_by(table.c.created_at, table.c.id)
    ).all()
    taken: set[tuple[object, ...]] = set()
    updates = []
    for row in rows:
        row_scope = tuple(row[2:])
        name = row.name
        if (*row_scope, name_key(name)) in taken:
            name = _free_name(name, row_scope, taken)
        key = name_key(name)
        taken.add((*row_scope, key))
        updates.append({"row_id": row.id, "new_name": name, "key": key})
    if updates:
        bind.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values(name=sa.bindparam("new_name"), name_key=sa.bindparam("key")),
            updates,
        )


def upgrade() -> None:
    for table, (scope, old_unique) in _TABLES.items():
        op.add_column(table, sa.Column("name_key", sa.Text(), nullable=True))
        # Row-level security is forced on tenant tables; the owner reads every agency's rows
        # only while it is not.
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        _backfill(table, scope)
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.alter_column(table, "name_key", nullable=False)
        op.drop_constraint(old_unique, table, type_="unique")
        op.create_unique_constraint(
            op.f(f"uq_{table}_{'_'.join(scope)}_name_key"), table, [*scope, "name_key"]
        )


def downgrade() -> None:
    for table, (scope, old_unique) in _TABLES.items():
        op.drop_constraint(op.f(f"uq_{table}_{'_'.join(scope)}_name_key"), table, type_="unique")
        op.create_unique_constraint(op.f(old_unique), table, [*scope, "name"])
        op.drop_column(table, "name_key")
