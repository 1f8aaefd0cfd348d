"""attribute name indexes

Let an export list the distinct attribute names of its result from an index instead of
scanning every attribute row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_order_attributes_name_order_id", "order_attributes", ["name", "order_id"])
    op.create_index("ix_item_attributes_name_item_id", "item_attributes", ["name", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_item_attributes_name_item_id", table_name="item_attributes")
    op.drop_index("ix_order_attributes_name_order_id", table_name="order_attributes")
