"""One engine factory for every database the store runs on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import partial
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


CONTROL_POOL_SIZE = 4
"""Connections of the service's second pool, for tokens, bearer checks and ``/health``: each
holds one for a few milliseconds, so a handful serve hundreds of requests a second."""


def make_engine(settings: Settings, *, pool_size: int | None = None) -> Engine:
    """An engine whose every connection is bounded by ``settings.statement_timeout_seconds``.

    Its pool holds ``pool_size`` connections (default ``settings.database_pool_size``) and never
    more; a request that finds none free within ``settings.database_pool_timeout_seconds`` gets
    SQLAlchemy's ``TimeoutError``, which the service answers with 503.
    """
    url = normalize_url(settings.database_url)
    timeout = settings.statement_timeout_seconds
    pool = {
        "pool_size": settings.database_pool_size if pool_size is None else pool_size,
        "max_overflow": 0,
        "pool_timeout": settings.database_pool_timeout_seconds,
    }
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            pool = {}  # one in-memory database per connection: SQLAlchemy picks its own pool
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        if timeout > 0:
            event.listen(engine, "connect", partial(_sqlite_statement_clock, timeout))
            event.listen(engine, "before_cursor_execute", _sqlite_statement_starts)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **pool)
    if timeout > 0 and engine.dialect.name == "postgresql":
        event.listen(engine, "connect", partial(_postgres_statement_timeout, timeout))
    return engine


def is_statement_timeout(exc: BaseException) -> bool:
    """Was this database error a query cut off by the statement timeout?"""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "57014":  # PostgreSQL query_canceled
        return True
    return isinstance(orig, sqlite3.OperationalError) and str(orig) == "interrupted"


def _postgres_statement_timeout(seconds: int, dbapi_connection: Any, _record: Any) -> None:
    # Session-wide, and committed at once: left in the connection's first transaction, the
    # pool's rollback on check-in would undo it.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {int(seconds) * 1000}")
    dbapi_connection.commit()


class SqliteStatementClock:
    """SQLite's statement timeout, as a progress handler that interrupts the running statement.

    It counts the time SQLite spends working on the statement: the handler runs every
    ``EVERY`` virtual-machine steps, and a pause longer than ``IDLE`` seconds between two runs
    is the caller away (a streamed export waiting for its client), not work, so a slow reader
    is never cut off. One very long single step (a big sort) is undercounted the same way.
    """

    EVERY = 10_000
    IDLE = 1.0

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self.start()

    def start(self) -> None:
        self.busy = 0.0
        self._last = self._clock()

    def __call__(self) -> int:
        now = self._clock()
        gap, self._last = now - self._last, now
        if gap < self.IDLE:
            self.busy += gap
        return 1 if self.busy > self.limit else 0


def _sqlite_statement_clock(seconds: int, dbapi_connection: Any, record: Any) -> None:
    clock = SqliteStatementClock(seconds)
    record.info["statement_clock"] = clock
    dbapi_connection.set_progress_handler(clock, SqliteStatementClock.EVERY)


def _sqlite_statement_starts(conn: Connection, *_args: Any) -> None:
    clock = conn.info.get("statement_clock")
    if clock is not None:
        clock.start()


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
