"""The export statement's rows, straight from the driver, in batches.

SQLAlchemy builds the statement and binds its parameters; reading goes around its Result,
because every column is already in exported form and wrapping 100 values per row in Row
objects cost more than the rest of the pipeline. On PostgreSQL the rows come through a
server-side cursor: the planner then picks a plan that yields its first rows at once (no sort
of the whole result before the first byte), and memory holds a few batches. Each FETCH is
decoded by the thread that encodes its rows, not the one that sent it, which goes straight
back to the database for the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Connection, Select

Batch = Sequence[Sequence[Any]]
Fetched = Iterable[Batch]
"""The batches of one read from the database; on PostgreSQL, iterating them decodes them."""

_BATCHES_PER_FETCH = 2
"""Batches one FETCH brings after the first (which is one batch, the sooner to send the first
byte). Each FETCH is a round trip that leaves PostgreSQL idle until the reading thread gets the
GIL back to send the next; fewer, larger FETCHes keep it busier (SQLite has no round trip)."""

_CURSOR = "oms_export"


def stream_batches(conn: Connection, statement: Select[Any], batch_rows: int) -> Iterator[Fetched]:
    """Run ``statement`` on ``conn``; yield each read's rows in batches of ``batch_rows``.

    On PostgreSQL a read is one FETCH, left undecoded: the thread that reads asks for the next
    FETCH at once, and the database works on it while the thread that iterates the batches
    decodes and encodes this one. On SQLite a read is one batch.
    """
    if conn.dialect.name != "postgresql":
        # SQLite's cursor reads lazily already; SQLAlchemy bound the parameters.
        cursor = conn.execute(statement).cursor
        while batch := cursor.fetchmany(batch_rows):
            yield [batch]
        return
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    driver = conn.connection.driver_connection
    assert driver is not None
    fetch_rows = batch_rows
    with driver.cursor(name=_CURSOR) as declared:
        declared.execute(str(compiled), compiled.params)  # DECLARE only: nothing read yet
        while True:
            # Binary results: PostgreSQL skips formatting numbers as text and psycopg skips
            # parsing them.
            fetch = driver.cursor(binary=True)
            fetch.execute(f"FETCH FORWARD {int(fetch_rows)} FROM {_CURSOR}")
            if not fetch.rowcount:
                return
            yield iter(partial(fetch.fetchmany, batch_rows), [])  # decoded as iterated
            fetch_rows = batch_rows * _BATCHES_PER_FETCH


def interrupt(conn: Connection) -> None:
    """Stop the statement running on ``conn`` from another thread, at once."""
    driver = conn.connection.driver_connection
    if driver is None:
        return
    if conn.dialect.name == "postgresql":
        driver.cancel_safe()
    else:
        driver.interrupt()
