"""report totals: the console's reports read per-day and per-month totals (issue 13 item 8)

- ``report_status_totals``: orders per (grain, UTC creation day, company, secondary company or
  0, status); ``grain`` 0 is a day, 1 a month (its ``day`` the month's first).
- ``report_skus``: each SKU once, with an id and the SHA-256 of its text as its unique key (a SKU
  may be too long for an index entry).
- ``report_sku_totals``: units ordered per (grain, day, company, secondary, SKU id).
- ``report_dispatch_totals``: units dispatched per (UTC dispatch day, company, secondary).

The writers keep them (``orders/report_totals.py``); this revision backfills them from the rows
already stored, with its own copy of the queries so that it never changes. Rows are inserted in
key order, so a period's rows sit together on disk.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEY = ("grain", "day", "company_id", "secondary_company_id")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    op.create_table(
        "report_status_totals",
        sa.Column("grain", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("secondary_company_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, "status", name="pk_report_status_totals"),
    )
    op.create_table(
        "report_skus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku_hash", sa.String(64), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_skus"),
        sa.UniqueConstraint("sku_hash", name="uq_report_skus_sku_hash"),
    )
    op.create_table(
        "report_sku_totals",
        sa.Column("grain", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("secondary_company_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, "sku_id", name="pk_report_sku_totals"),
    )
    op.create_table(
        "report_dispatch_totals",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("secondary_company_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "company_id", "secondary_company_id", name="pk_report_dispatch_totals"
        ),
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        created = "CAST(o.creation_datetime AS DATE)"
        dispatched = "CAST(s.dispatch_datetime AS DATE)"
        digest = "encode(sha256(convert_to(i.sku, 'UTF8')), 'hex')"
        month = "CAST(date_trunc('month', day) AS DATE)"
        same_sku = "k.sku = i.sku"  # a hash join
    else:
        conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "oms_sha256_0007", 1, _sha256, deterministic=True
        )
        created = "date(o.creation_datetime)"
        dispatched = "date(s.dispatch_datetime)"
        digest = "oms_sha256_0007(i.sku)"
        month = "date(day, 'start of month')"
        same_sku = f"k.sku_hash = {digest}"  # through the unique index
    secondary = "COALESCE(o.secondary_company_id, 0)"
    statements = [
        f"INSERT INTO report_status_totals "  # noqa: S608 -- fixed SQL, no input
        f"(grain, day, company_id, secondary_company_id, status, orders) "
        f"SELECT 0, {created}, o.company_id, {secondary}, o.status, count(*) FROM orders o "
        f"WHERE o.creation_datetime IS NOT NULL "
        f"GROUP BY {created}, o.company_id, {secondary}, o.status ORDER BY 2, 3, 4, 5",
        f"INSERT INTO report_status_totals "  # noqa: S608 -- fixed SQL, no input
        f"(grain, day, company_id, secondary_company_id, status, orders) "
        f"SELECT 1, {month}, company_id, secondary_company_id, status, sum(orders) "
        f"FROM report_status_totals WHERE grain = 0 "
        f"GROUP BY {month}, company_id, secondary_company_id, status ORDER BY 2, 3, 4, 5",
        f"INSERT INTO report_skus (sku_hash, sku) "  # noqa: S608 -- fixed SQL, no input
        f"SELECT {digest}, min(i.sku) FROM order_items i GROUP BY {digest} ORDER BY 2",
        f"INSERT INTO report_sku_totals "  # noqa: S608 -- fixed SQL, no input
        f"(grain, day, company_id, secondary_company_id, sku_id, units) "
        f"SELECT 0, {created}, o.company_id, {secondary}, k.id, sum(i.quantity) "
        f"FROM orders o JOIN order_items i ON i.order_id = o.id JOIN report_skus k ON {same_sku} "
        f"WHERE o.creation_datetime IS NOT NULL "
        f"GROUP BY {created}, o.company_id, {secondary}, k.id ORDER BY 2, 3, 4, 5",
        f"INSERT INTO report_sku_totals "  # noqa: S608 -- fixed SQL, no input
        f"(grain, day, company_id, secondary_company_id, sku_id, units) "
        f"SELECT 1, {month}, company_id, secondary_company_id, sku_id, sum(units) "
        f"FROM report_sku_totals WHERE grain = 0 "
        f"GROUP BY {month}, company_id, secondary_company_id, sku_id ORDER BY 2, 3, 4, 5",
        f"INSERT INTO report_dispatch_totals "  # noqa: S608 -- fixed SQL, no input
        f"(day, company_id, secondary_company_id, units) "
        f"SELECT {dispatched}, o.company_id, {secondary}, sum(si.quantity) "
        f"FROM shipments s JOIN shipment_items si ON si.shipment_id = s.id "
        f"JOIN orders o ON o.id = s.order_id "
        f"GROUP BY {dispatched}, o.company_id, {secondary} ORDER BY 1, 2, 3",
    ]
    for statement in statements:
        conn.execute(sa.text(statement))
    if conn.dialect.name == "postgresql":  # the reports' plans need the new tables' statistics
        tables = "report_status_totals, report_skus, report_sku_totals, report_dispatch_totals"
        conn.execute(sa.text(f"ANALYZE {tables}"))


def downgrade() -> None:
    op.drop_table("report_dispatch_totals")
    op.drop_table("report_sku_totals")
    op.drop_table("report_skus")
    op.drop_table("report_status_totals")
