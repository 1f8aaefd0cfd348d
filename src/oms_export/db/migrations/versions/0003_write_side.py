"""the write side: updated_datetime, item quantities, shipments and cancellations (API.md §6)

- ``orders``: ``updated_datetime`` (NOT NULL; existing rows get their ``creation_datetime``, or
  the migration's time where that is null) with an index on (``updated_datetime``, ``id``) for the
  changes-since export; ``held_from``; ``status_callback_url``.
- ``order_items``: ``shipped_quantity`` and ``cancelled_quantity`` (NOT NULL, server default 0),
  bounded by the CHECK ``ck_order_items_quantities``.
- ``shipments`` / ``shipment_items`` and ``cancellations`` / ``cancellation_items``.

SQLite can neither make a column NOT NULL nor add a table CHECK in place, so there ``orders`` and
``order_items`` are rebuilt (``_sqlite_rebuild``). Alembic's batch mode cannot be used for that:
it drops the old table after copying into the new one, and with ``PRAGMA foreign_keys=ON`` (which
cannot be switched off inside the migration's transaction) that drop orphans every child row for
good. The rebuild here defers the foreign keys, stashes the rows, drops and re-creates the table,
and inserts the rows back, which re-attaches the children before the commit checks them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

QUANTITIES_CHECK = (
    "shipped_quantity >= 0 AND cancelled_quantity >= 0 "
    "AND shipped_quantity + cancelled_quantity <= quantity"
)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    op.add_column("orders", sa.Column("updated_datetime", sa.DateTime(), nullable=True))
    op.add_column("orders", sa.Column("held_from", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("status_callback_url", sa.Text(), nullable=True))
    orders = sa.table(
        "orders",
        sa.column("updated_datetime", sa.DateTime()),
        sa.column("creation_datetime", sa.DateTime()),
    )
    conn.execute(
        orders.update().values(
            updated_datetime=sa.func.coalesce(
                orders.c.creation_datetime, sa.literal(now, sa.DateTime())
            )
        )
    )
    for name in ("shipped_quantity", "cancelled_quantity"):
        op.add_column(
            "order_items",
            sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False),
        )
    if sqlite:
        _sqlite_rebuild("orders", not_null={"updated_datetime"})
        _sqlite_rebuild("order_items", checks={"ck_order_items_quantities": QUANTITIES_CHECK})
    else:
        op.alter_column("orders", "updated_datetime", nullable=False)
        op.create_check_constraint("ck_order_items_quantities", "order_items", QUANTITIES_CHECK)
    op.create_index("ix_orders_updated_datetime_id", "orders", ["updated_datetime", "id"])

    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("dispatch_datetime", sa.DateTime(), nullable=False),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("tracking", sa.Text(), nullable=True),
        sa.Column("tracking_url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_shipments_order_id", "shipments", ["order_id"])
    op.create_table(
        "shipment_items",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_shipment_items_quantity"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["order_items.id"], name=op.f("fk_shipment_items_item_id_order_items")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_items_shipment_id_shipments"),
        ),
        sa.PrimaryKeyConstraint("shipment_id", "item_id", name=op.f("pk_shipment_items")),
    )
    op.create_index("ix_shipment_items_item_id", "shipment_items", ["item_id"])
    op.create_table(
        "cancellations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cancelled_datetime", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_cancellations_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_cancellations_order_id", "cancellations", ["order_id"])
    op.create_table(
        "cancellation_items",
        sa.Column("cancellation_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_cancellation_items_quantity"),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_cancellation_items_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["order_items.id"],
            name=op.f("fk_cancellation_items_item_id_order_items"),
        ),
        sa.PrimaryKeyConstraint("cancellation_id", "item_id", name=op.f("pk_cancellation_items")),
    )
    op.create_index("ix_cancellation_items_item_id", "cancellation_items", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_cancellation_items_item_id", table_name="cancellation_items")
    op.drop_table("cancellation_items")
    op.drop_index("ix_cancellations_order_id", table_name="cancellations")
    op.drop_table("cancellations")
    op.drop_index("ix_shipment_items_item_id", table_name="shipment_items")
    op.drop_table("shipment_items")
    op.drop_index("ix_shipments_order_id", table_name="shipments")
    op.drop_table("shipments")
    op.drop_index("ix_orders_updated_datetime_id", table_name="orders")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(
            "order_items",
            drop={"shipped_quantity", "cancelled_quantity"},
            drop_checks={"ck_order_items_quantities"},
        )
        _sqlite_rebuild("orders", drop={"updated_datetime", "held_from", "status_callback_url"})
        return
    op.drop_constraint("ck_order_items_quantities", "order_items", type_="check")
    op.drop_column("order_items", "cancelled_quantity")
    op.drop_column("order_items", "shipped_quantity")
    op.drop_column("orders", "status_callback_url")
    op.drop_column("orders", "held_from")
    op.drop_column("orders", "updated_datetime")


def _sqlite_rebuild(
    name: str,
    *,
    not_null: Collection[str] = (),
    drop: Collection[str] = (),
    checks: dict[str, str] | None = None,
    drop_checks: Collection[str] = (),
) -> None:
    """Re-create SQLite table ``name`` as it is, but for the changes named, keeping its rows.

    Constraints, indexes, AUTOINCREMENT and the table's ``sqlite_sequence`` value (ids are never
    reused) are carried over. Foreign keys are deferred to the commit: dropping the table orphans
    its children for a moment, and inserting the rows back re-attaches them.
    """
    conn = op.get_bind()
    meta = sa.MetaData()
    meta.reflect(conn)
    old = meta.tables[name]
    created_sql = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
    ).scalar_one()
    autoincrement = "AUTOINCREMENT" in created_sql.upper()
    sequence = None
    if autoincrement:
        sequence = conn.execute(
            sa.text("SELECT seq FROM sqlite_sequence WHERE name = :n"), {"n": name}
        ).scalar()
    indexes = [
        (index.name, [c.name for c in index.columns], bool(index.unique))
        for index in old.indexes
        if not {c.name for c in index.columns} & set(drop)
    ]
    columns: list[sa.Column[object]] = []
    for column in old.columns:
        if column.name in drop:
            continue
        copy = column._copy()
        if column.name in not_null:
            copy.nullable = False
        columns.append(copy)
    constraints: list[sa.Constraint] = []
    for constraint in old.constraints:
        names = [c.name for c in getattr(constraint, "columns", ())]
        kept_name = constraint.name if isinstance(constraint.name, str) else None
        if set(names) & set(drop):
            continue
        if isinstance(constraint, sa.PrimaryKeyConstraint):
            constraints.append(sa.PrimaryKeyConstraint(*names, name=kept_name))
        elif isinstance(constraint, sa.ForeignKeyConstraint):
            targets = [element.target_fullname for element in constraint.elements]
            constraints.append(sa.ForeignKeyConstraint(names, targets, name=kept_name))
        elif isinstance(constraint, sa.UniqueConstraint):
            constraints.append(sa.UniqueConstraint(*names, name=kept_name))
        elif isinstance(constraint, sa.CheckConstraint) and constraint.name not in drop_checks:
            constraints.append(sa.CheckConstraint(constraint.sqltext, name=kept_name))
    for check_name, sqltext in (checks or {}).items():
        constraints.append(sa.CheckConstraint(sa.text(sqltext), name=check_name))
    kept = ", ".join(f'"{c.name}"' for c in columns)

    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until this transaction commits
    conn.exec_driver_sql(f'CREATE TEMP TABLE "_stash_{name}" AS SELECT * FROM "{name}"')  # noqa: S608
    meta.remove(old)
    conn.exec_driver_sql(f'DROP TABLE "{name}"')
    new = sa.Table(name, meta, *columns, *constraints, sqlite_autoincrement=autoincrement)
    new.create(conn)
    conn.exec_driver_sql(
        f'INSERT INTO "{name}" ({kept}) SELECT {kept} FROM "_stash_{name}"'  # noqa: S608 - names from the schema
    )
    conn.exec_driver_sql(f'DROP TABLE "_stash_{name}"')
    for index_name, index_columns, unique in indexes:
        op.create_index(index_name, name, index_columns, unique=unique)
    if sequence is not None:  # the rows put back set it to their largest id, maybe lower
        conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :n"), {"n": name})
        conn.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:n, :s)"),
            {"n": name, "s": max(sequence, _largest_id(name))},
        )


def _largest_id(name: str) -> int:
    largest = op.get_bind().exec_driver_sql(f'SELECT MAX(id) FROM "{name}"').scalar()  # noqa: S608
    return int(largest or 0)
