"""Bring a database to the newest schema; every CLI command and the service call this first.

Migrations run under a lock (PostgreSQL advisory lock, SQLite write lock) so two processes that
start at once on a new database do not both try to create it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from oms_export.db.engine import writer

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x0E5E_0001


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; cheap when the database is already there."""
    target = head_revision() if revision == "head" else revision
    with engine.connect() as connection:
        if current_revision(connection) == target:
            return
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if current_revision(connection) != target:
            command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with writer(engine).begin() as connection:
        command.downgrade(alembic_config(connection), revision)
