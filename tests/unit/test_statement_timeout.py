"""``OMS_EXPORT_STATEMENT_TIMEOUT_SECONDS`` cuts off any one slow query, on both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from oms_export.db.engine import SqliteStatementClock, is_statement_timeout, make_engine
from oms_export.settings import Settings

SLOW = {
    # pg_sleep longer than the timeout; on SQLite a recursive count far past what one second does
    "postgresql": "SELECT pg_sleep(30)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000)"
    " SELECT max(i) FROM n",
}


@pytest.fixture
def bounded(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.with_changes(statement_timeout_seconds=1))
    yield engine
    engine.dispose()


def test_a_query_longer_than_the_timeout_is_cut_off_with_an_error(bounded: Engine) -> None:
    started = time.monotonic()
    with bounded.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text(SLOW[bounded.dialect.name]))
    assert is_statement_timeout(caught.value)
    assert 0.9 < time.monotonic() - started < 10


def test_the_connection_works_again_after_a_timeout_and_keeps_the_bound(bounded: Engine) -> None:
    for _ in range(2):  # the second round runs on the pooled connection, after its rollback
        with bounded.connect() as conn:
            with pytest.raises(OperationalError):
                conn.execute(text(SLOW[bounded.dialect.name]))
            conn.rollback()
            assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_the_timeout_bounds_each_query_not_the_whole_connection(bounded: Engine) -> None:
    query = "SELECT pg_sleep(0.4)" if bounded.dialect.name == "postgresql" else "SELECT 1"
    with bounded.connect() as conn:
        for _ in range(4):  # 1.6 s in all, each query well under the 1 s bound
            conn.execute(text(query))


@pytest.mark.postgres_only
def test_postgres_connections_carry_the_timeout_from_the_first_query(bounded: Engine) -> None:
    with bounded.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1s"
    with bounded.connect() as conn:  # the same connection back from the pool, rolled back
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1s"


@pytest.mark.postgres_only
def test_zero_leaves_postgres_queries_unbounded(settings: Settings) -> None:
    engine = make_engine(settings.with_changes(statement_timeout_seconds=0))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        engine.dispose()


def test_an_unrelated_database_error_is_not_taken_for_a_timeout(bounded: Engine) -> None:
    with bounded.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT * FROM no_such_table_anywhere"))
    assert not is_statement_timeout(caught.value)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_clock_counts_work_but_not_pauses_while_the_reader_is_away() -> None:
    clock = Clock()
    bound = SqliteStatementClock(1.0, clock)
    for _ in range(9):  # 0.9 s of steady work
        clock.now += 0.1
        assert bound() == 0
    clock.now += 600  # a streamed export waits ten minutes for its client
    assert bound() == 0
    clock.now += 0.05
    assert bound() == 0
    clock.now += 0.1  # past 1 s of work in all
    assert bound() == 1
    bound.start()  # the next statement starts from zero
    clock.now += 0.1
    assert bound() == 0
