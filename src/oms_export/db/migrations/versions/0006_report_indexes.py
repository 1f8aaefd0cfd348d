"""report indexes: the console's reports (API.md §8) answered from indexes alone

- ``ix_orders_creation_datetime_status_companies``: orders per status of a period, with the
  company test, read from the index without visiting the table.
- No index holds ``order_items.sku``: a SKU is text of any length, and PostgreSQL refuses an
  index entry past 8 KB, so such an index would make a long SKU unstorable on one store only.
  Top SKUs reach the period's items through ``ix_order_items_order_id_id``.
- ``ix_shipments_dispatch_datetime_order_id`` and ``ix_shipment_items_shipment_id_quantity``:
  dispatched items per day, the period's shipments and their units without a scan of all.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_creation_datetime_status_companies",
        "orders",
        ["creation_datetime", "status", "company_id", "secondary_company_id"],
    )
    op.create_index(
        "ix_shipments_dispatch_datetime_order_id", "shipments", ["dispatch_datetime", "order_id"]
    )
    op.create_index(
        "ix_shipment_items_shipment_id_quantity", "shipment_items", ["shipment_id", "quantity"]
    )


def downgrade() -> None:
    op.drop_index("ix_shipment_items_shipment_id_quantity", table_name="shipment_items")
    op.drop_index("ix_shipments_dispatch_datetime_order_id", table_name="shipments")
    op.drop_index("ix_orders_creation_datetime_status_companies", table_name="orders")
