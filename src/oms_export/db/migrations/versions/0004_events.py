"""events: the outbox of status callbacks and order pushes, and their attempts (API.md §7)

- ``companies``: ``push_url`` and ``callback_secret``.
- ``events``: one row per message to deliver, written in the transaction of the change it tells
  of; ``event_attempts``: one row per delivery attempt.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("companies", sa.Column("push_url", sa.Text(), nullable=True))
    op.add_column("companies", sa.Column("callback_secret", sa.String(128), nullable=True))
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_events_company_id_companies"
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_events_order_id_orders"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_order_id_id", "events", ["order_id", "id"])
    op.create_index("ix_events_state_next_attempt_at", "events", ["state", "next_attempt_at"])
    op.create_table(
        "event_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Numeric(10, 3), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_attempts_event_id_events"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_event_attempts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_attempts_event_id", "event_attempts", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_event_attempts_event_id", table_name="event_attempts")
    op.drop_table("event_attempts")
    op.drop_index("ix_events_state_next_attempt_at", table_name="events")
    op.drop_index("ix_events_order_id_id", table_name="events")
    op.drop_table("events")
    # Plain ALTER TABLE on both stores (SQLite 3.35+): batch mode would rebuild ``companies``,
    # which its children's foreign keys forbid (see 0003).
    op.execute("ALTER TABLE companies DROP COLUMN callback_secret")
    op.execute("ALTER TABLE companies DROP COLUMN push_url")
