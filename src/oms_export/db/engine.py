"""One engine factory for every database the store runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from oms_export.settings import Settings

WRITE_LOCK = "oms_export_write_lock"
"""Execution option for connections that will write: SQLite then begins with BEGIN IMMEDIATE."""


def writer(engine: Engine) -> Engine:
    """The engine, set so each transaction takes SQLite's write lock when it begins."""
    return engine.execution_options(**{WRITE_LOCK: True})


def normalize_url(url: str) -> str:
    """Let users write ``postgresql://…`` as they always do; psycopg 3 is the driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(settings: Settings) -> Engine:
    url = normalize_url(settings.database_url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling skips DDL and breaks SAVEPOINT; we emit BEGIN
    # ourselves (SQLAlchemy's documented recipe) so migrations and per-record imports are atomic.
    dbapi_connection.isolation_level = None
    # WAL lets exports read while an import writes; busy_timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writers ask for the write lock up front, so two writers queue instead of deadlocking.
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
