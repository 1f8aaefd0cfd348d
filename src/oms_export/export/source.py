"""The export statement's rows, straight from the driver, in batches.

SQLAlchemy builds the statement and binds its parameters; reading goes around its Result,
because every column is already in exported form and wrapping 100 values per row in Row
objects cost more than the rest of the pipeline. On PostgreSQL the rows come through a
server-side cursor: the planner then picks a plan that yields its first rows at once (no sort
of the whole result before the first byte), and memory holds one batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select

Batch = Sequence[Sequence[Any]]


def stream_batches(conn: Connection, statement: Select[Any], batch_rows: int) -> Iterator[Batch]:
    """Run ``statement`` on ``conn`` and yield its rows as tuples, ``batch_rows`` at a time."""
    if conn.dialect.name != "postgresql":
        # SQLite's cursor reads lazily already; SQLAlchemy bound the parameters.
        cursor = conn.execute(statement).cursor
        while batch := cursor.fetchmany(batch_rows):
            yield batch
        return
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    driver = conn.connection.driver_connection
    assert driver is not None
    # Binary results: PostgreSQL skips formatting numbers as text and psycopg skips parsing them.
    with driver.cursor(name="oms_export", binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        while batch := cursor.fetchmany(batch_rows):
            yield batch


def interrupt(conn: Connection) -> None:
    """Stop the statement running on ``conn`` from another thread, at once."""
    driver = conn.connection.driver_connection
    if driver is None:
        return
    if conn.dialect.name == "postgresql":
        driver.cancel_safe()
    else:
        driver.interrupt()
