"""The export statement's rows, straight from the driver, in batches.

SQLAlchemy builds the statement and binds its parameters; reading goes around its Result,
because every column is already in exported form and wrapping 100 values per row in Row
objects cost more than the rest of the pipeline.

On PostgreSQL the statement is streamed (libpq's chunked rows): the server sends rows as it
makes them, with no FETCH round trips and no cursor storing each FETCH's rows before sending
them, which made the database do a fifth more work for the same rows (docs/performance.md).
A streamed statement is one query however long the client takes to read it, so the session's
``statement_timeout`` is lifted for it and enforced per read instead (``ReadWatch``): a read
of one batch that waits on the database longer than the timeout cancels the statement, while
time spent waiting for a slow client counts for nothing, as when each batch was a FETCH.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.exc import DBAPIError

Batch = Sequence[Sequence[Any]]
Fetched = Iterable[Batch]
"""The batches of one read from the database."""


class ReadWatch:
    """Cancels a statement when one read waits on it longer than ``seconds``.

    One thread per export, asleep until the deadline of the read in progress; between reads
    (the export waiting for its client) there is no deadline.
    """

    def __init__(self, seconds: float, cancel: Callable[[], None]) -> None:
        self.seconds = seconds
        self.fired = False
        self._cancel = cancel
        self._deadline: float | None = None
        self._stopped = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name="export-read-watch", daemon=True)
        self._thread.start()

    def __enter__(self) -> None:
        with self._changed:
            self._deadline = time.monotonic() + self.seconds
            self._changed.notify()

    def __exit__(self, *_exc: object) -> None:
        with self._changed:
            self._deadline = None

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        with self._changed:
            while not self._stopped:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self.fired = True
                self._deadline = None
                self._cancel()


def stream_batches(
    conn: Connection, statement: Select[Any], batch_rows: int
) -> Generator[Fetched, None, None]:
    """Run ``statement`` on ``conn``; yield each read's rows in batches of ``batch_rows``."""
    if conn.dialect.name != "postgresql":
        # SQLite's cursor reads lazily already; SQLAlchemy bound the parameters.
        cursor = conn.execute(statement).cursor
        while batch := cursor.fetchmany(batch_rows):
            yield [batch]
        return
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql, params = str(compiled), compiled.params
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as settings:
        settings.execute("SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'")
        row = settings.fetchone()
        timeout_ms = int(row[0]) if row else 0
        settings.execute("SET LOCAL statement_timeout = 0")  # this transaction only
    watch = ReadWatch(timeout_ms / 1000, driver.cancel_safe) if timeout_ms > 0 else None
    try:
        # Binary results: PostgreSQL skips formatting numbers as text and psycopg parsing them.
        with driver.cursor(binary=True) as cursor:
            rows = cursor.stream(sql, params, binary=True, size=batch_rows)
            try:
                while True:
                    try:
                        if watch is None:
                            batch = list(islice(rows, batch_rows))
                        else:
                            with watch:
                                batch = list(islice(rows, batch_rows))
                    except driver.Error as exc:
                        # As SQLAlchemy raises it, so the API tells a timeout from a fault.
                        raise DBAPIError.instance(sql, params, exc, type(driver).Error) from exc
                    if not batch:
                        return
                    yield [batch]
            finally:
                rows.close()  # left early: psycopg cancels the statement and drains it
    finally:
        if watch is not None:
            watch.stop()


def interrupt(conn: Connection) -> None:
    """Stop the statement running on ``conn`` from another thread, at once."""
    driver = conn.connection.driver_connection
    if driver is None:
        return
    if conn.dialect.name == "postgresql":
        driver.cancel_safe()
    else:
        driver.interrupt()
