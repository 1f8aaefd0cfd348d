"""PostgreSQL streams the export's statement; the statement timeout bounds each read of it.

A streamed statement is one query for as long as its client reads, so the session's timeout is
lifted for it and each read (one batch) is held to the timeout instead: waiting on the database
longer cuts the statement off, waiting for a slow client does not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import ColumnElement, Engine, func, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from oms_export.db.engine import is_statement_timeout, make_engine
from oms_export.export.source import Fetched, ReadWatch, stream_batches
from oms_export.settings import Settings

pytestmark = pytest.mark.postgres_only

SERIES = text("generate_series(1, 3000) AS n")
N: ColumnElement[int] = literal_column("n")


@pytest.fixture
def bounded(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.with_changes(statement_timeout_seconds=1))
    yield engine
    engine.dispose()


def rows_of(reads: Iterator[Fetched], pause: float = 0.0) -> list[int]:
    seen: list[int] = []
    for fetched in reads:
        for batch in fetched:
            seen.extend(row[0] for row in batch)
        time.sleep(pause)
    return seen


def test_a_stream_read_slower_than_the_timeout_by_its_client_is_not_cut_off(
    bounded: Engine,
) -> None:
    with bounded.connect() as conn, conn.begin():
        reads = stream_batches(conn, select(N).select_from(SERIES), 1000)
        assert rows_of(reads, pause=0.6) == list(range(1, 3001))  # 1.8 s in all
        # The lift is the transaction's: the session keeps its bound.
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    with bounded.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1s"


def test_a_read_that_waits_on_the_database_past_the_timeout_is_cut_off(bounded: Engine) -> None:
    # Row 2500 takes 3 s to make: the first two batches arrive, the wait for the third is cut.
    slow_row: ColumnElement[str] = func.coalesce(
        literal_column("CASE WHEN n = 2500 THEN pg_sleep(3)::text END"), "fast"
    )
    statement = select(N, slow_row).select_from(SERIES)
    started = time.monotonic()
    with bounded.connect() as conn, conn.begin():
        reads = stream_batches(conn, statement, 1000)
        seen: list[int] = []

        def read_all() -> None:
            for fetched in reads:
                for batch in fetched:
                    seen.extend(row[0] for row in batch)

        with pytest.raises(DBAPIError) as caught:
            read_all()
    assert is_statement_timeout(caught.value)
    assert seen == list(range(1, 2001))
    assert time.monotonic() - started < 2.5


def test_a_statement_slow_before_its_first_row_is_cut_off_at_the_first_read(
    bounded: Engine,
) -> None:
    with bounded.connect() as conn, conn.begin():
        reads = stream_batches(conn, select(func.pg_sleep(30)), 1000)
        started = time.monotonic()
        with pytest.raises(DBAPIError) as caught:
            next(reads)
    assert is_statement_timeout(caught.value)
    assert time.monotonic() - started < 5


def test_a_stream_left_early_frees_its_connection_for_the_next_query(bounded: Engine) -> None:
    with bounded.connect() as conn:
        with conn.begin():
            reads = stream_batches(conn, select(N).select_from(SERIES), 100)
            next(reads)
            reads.close()
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_the_watch_fires_once_per_overdue_read_and_not_between_reads() -> None:
    fired: list[float] = []
    watch = ReadWatch(0.2, lambda: fired.append(time.monotonic()))
    try:
        time.sleep(0.4)  # no read in progress: nothing to cut off
        assert fired == []
        with watch:
            time.sleep(0.05)
        assert fired == []
        with watch:
            time.sleep(0.5)
        assert len(fired) == 1
        assert watch.fired
    finally:
        watch.stop()
