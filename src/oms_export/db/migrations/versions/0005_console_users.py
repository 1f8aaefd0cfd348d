"""console users: who may sign in to the console, and a viewer's companies (API.md §8)

- ``console_users``: email, argon2 password hash, role ``admin`` or ``viewer``, disabled flag.
- ``console_user_companies``: the companies a viewer reports on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'viewer')", name="ck_console_users_role"),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("email", name="uq_console_users_email"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "console_user_companies",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name="fk_console_user_companies_user_id_console_users",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_console_user_companies_company_id_companies",
        ),
        sa.PrimaryKeyConstraint("user_id", "company_id", name="pk_console_user_companies"),
    )


def downgrade() -> None:
    op.drop_table("console_user_companies")
    op.drop_table("console_users")
