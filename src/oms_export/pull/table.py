"""Rows upserted into a SQLite or PostgreSQL table that stays equal to the export, order by order.

``pull --to URL --table NAME`` keeps a reporting table without a server-side library: the stdlib
``sqlite3``, or ``psycopg`` imported only for a PostgreSQL URL. Each batch replaces its orders:
their rows are deleted, then the batch is upserted by ``items__id``, so an item removed upstream,
or the one null-item row of an order that has since gained items, goes too.

Each ``write`` is one transaction, committed when it returns: a pull of millions of rows never
holds a long transaction, nor a lock while it waits on the network, and a batch that fails rolls
back whole. Delivering rows again changes nothing, so a pull that died half-way is just rerun.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Protocol

from oms_export.pull.columns import ColumnType, column_type

if TYPE_CHECKING:
    import psycopg

Row = dict[str, Any]

ORDER_KEY: Final = "id"
ITEM_KEY: Final = "items__id"

TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""A plain identifier: no schema prefix, and at most PostgreSQL's 63 bytes."""

URL_FORMS: Final = (
    "sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://user@host:port/db"
)

POSTGRES_SCHEMES: Final = ("postgresql", "postgresql+psycopg", "postgres")

POSTGRES_NAME_BYTES: Final = 63
"""Longer identifiers are silently truncated by PostgreSQL, so two long attributes could merge."""

SQLITE_TYPES: Final[dict[ColumnType, str]] = {
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "BOOLEAN",  # stored as 0/1
    "datetime": "DATETIME",  # 'YYYY-MM-DD HH:MM:SS' text, UTC: what SQLite's date functions read
    "date": "DATE",
    "text": "TEXT",
}

POSTGRES_TYPES: Final[dict[ColumnType, str]] = {
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "datetime": "timestamp",  # without time zone: the values are UTC
    "date": "date",
    "text": "text",
}


def quote(name: str) -> str:
    """An identifier as SQL writes it, whatever it holds, as attribute names come from data:
    in double quotes, an embedded double quote doubled."""
    if "\0" in name:
        raise ValueError(f"column {name!r} holds a NUL character, which no database accepts")
    return '"' + name.replace('"', '""') + '"'


class TableError(Exception):
    """The database of ``--to`` failed: cannot be opened, or refused a batch."""


class Database(Protocol):
    """What the table output needs of one database: its columns, DDL, and the batch upsert."""

    error: type[Exception]
    """The driver's base error class."""

    def transaction(self) -> AbstractContextManager[object]: ...

    def columns(self, table: str) -> list[str]: ...

    def create(self, table: str, keys: Sequence[str]) -> None: ...

    def add_columns(self, table: str, keys: Sequence[str]) -> None: ...

    def replace(self, table: str, keys: Sequence[str], rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


class TableOutput:
    """Rows upserted into ``table`` at ``url``; the table and new columns created as needed.

    Example: ``TableOutput("sqlite:///reports.db", "order_item_details")``.
    """

    def __init__(self, url: str, table: str) -> None:
        if not TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"--table: {table!r} is not accepted; use letters, digits and underscores, "
                "not starting with a digit, at most 63 characters"
            )
        self.description = f"table {table} in {public_url(url)}"
        self.written: int | None = None  # rows, not bytes, are what a table takes
        self._table = table
        try:
            self._db = connect(url)
        except (ValueError, ModuleNotFoundError):
            raise
        except Exception as exc:  # the driver's error class is only known once it is loaded
            raise TableError(f"cannot open {self.description}: {exc}") from None

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        keys = list(rows[0])
        for key in (ORDER_KEY, ITEM_KEY):
            if key not in rows[0]:
                raise ValueError(f"{self.description}: rows have no {key!r}, which keys the table")
        try:
            with self._db.transaction():
                existing = self._db.columns(self._table)
                if not existing:
                    self._db.create(self._table, keys)
                else:
                    known = set(existing)
                    new = [key for key in keys if key not in known]
                    if new:
                        self._db.add_columns(self._table, new)
                self._db.replace(self._table, keys, rows)
        except self._db.error as exc:
            raise TableError(f"{self.description}: {exc}") from None

    def commit(self) -> None:
        """Every batch was committed by its ``write``: only the connection is left to close."""
        self._db.close()

    def abort(self) -> None:
        """A batch whose ``write`` failed was rolled back there; earlier batches stay, as
        delivering them again changes nothing."""
        self._db.close()


def public_url(url: str) -> str:
    """``url`` fit for a log: no password, nor the query string, where one may be given too.

    The user part ends at the last ``@``, so a password holding ``@`` or ``/`` goes whole.
    """
    scheme, separator, rest = url.partition("://")
    if scheme == "sqlite" or not separator:
        return url
    user_info, at, location = rest.partition("?")[0].rpartition("@")
    return f"{scheme}://{user_info.partition(':')[0]}{at}{location}"


def connect(url: str) -> Database:
    scheme, separator, rest = url.partition("://")
    if scheme == "sqlite" and separator and rest.startswith("/") and len(rest) > 1:
        return Sqlite(rest[1:])
    if scheme in POSTGRES_SCHEMES and separator:
        return Postgres("postgresql://" + rest)
    given = scheme + separator  # not the whole URL: it may hold a password
    raise ValueError(f"--to: {given!r} is not a database URL it takes; use {URL_FORMS}")


def _column_definitions(keys: Sequence[str], types: dict[ColumnType, str]) -> str:
    return ", ".join(f"{quote(key)} {types[column_type(key)]}" for key in keys)


def _upsert_assignments(keys: Sequence[str]) -> str:
    return ", ".join(f"{quote(k)} = excluded.{quote(k)}" for k in keys if k != ITEM_KEY)


class Sqlite:
    """The stdlib driver: executemany on prepared statements is as fast as SQLite takes rows."""

    error: type[Exception] = sqlite3.Error

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)  # transactions are ours

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")  # the write lock now, not half-way through
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):  # the cause, not a failed rollback, is the news
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def columns(self, table: str) -> list[str]:
        found = self._conn.execute("SELECT name FROM pragma_table_info(?)", (table,))
        return [name for (name,) in found]

    def create(self, table: str, keys: Sequence[str]) -> None:
        self._conn.execute(
            f"CREATE TABLE {quote(table)} ({_column_definitions(keys, SQLITE_TYPES)}, "
            f"UNIQUE ({quote(ITEM_KEY)}))"
        )
        self._conn.execute(
            f"CREATE INDEX {quote(table + '_' + ORDER_KEY)} ON {quote(table)} ({quote(ORDER_KEY)})"
        )

    def add_columns(self, table: str, keys: Sequence[str]) -> None:
        for key in keys:
            definition = _column_definitions([key], SQLITE_TYPES)
            self._conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {definition}")

    def replace(self, table: str, keys: Sequence[str], rows: Sequence[Row]) -> None:
        order_ids = dict.fromkeys(row[ORDER_KEY] for row in rows)
        self._conn.executemany(
            f"DELETE FROM {quote(table)} WHERE {quote(ORDER_KEY)} = ?",  # noqa: S608 -- identifiers all pass quote()
            [(order_id,) for order_id in order_ids],
        )
        names = ", ".join(quote(key) for key in keys)
        self._conn.executemany(
            f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' * len(keys))}) "  # noqa: S608 -- identifiers all pass quote()
            f"ON CONFLICT ({quote(ITEM_KEY)}) DO UPDATE SET {_upsert_assignments(keys)}",
            map(itemgetter(*keys), rows),
        )

    def close(self) -> None:
        self._conn.close()


class Postgres:
    """psycopg 3: a batch is one DELETE and one COPY."""

    def __init__(self, conninfo: str) -> None:
        import psycopg  # only a PostgreSQL URL needs the driver

        self._conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(conninfo, autocommit=True)
        self._unanalyzed = False
        self.error: type[Exception] = psycopg.Error

    def transaction(self) -> AbstractContextManager[object]:
        return self._conn.transaction()

    def columns(self, table: str) -> list[str]:
        found = self._conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (quote(table),),
        )
        return [name for (name,) in found]

    def create(self, table: str, keys: Sequence[str]) -> None:
        _check_lengths(keys)
        # Unnamed indexes: PostgreSQL names them, never colliding with another table's.
        self._conn.execute(
            f"CREATE TABLE {quote(table)} ({_column_definitions(keys, POSTGRES_TYPES)}, "
            f"UNIQUE ({quote(ITEM_KEY)}))"
        )
        self._conn.execute(f"CREATE INDEX ON {quote(table)} ({quote(ORDER_KEY)})")
        self._unanalyzed = True

    def add_columns(self, table: str, keys: Sequence[str]) -> None:
        _check_lengths(keys)
        additions = ", ".join(
            f"ADD COLUMN {_column_definitions([key], POSTGRES_TYPES)}" for key in keys
        )
        self._conn.execute(f"ALTER TABLE {quote(table)} {additions}")

    def replace(self, table: str, keys: Sequence[str], rows: Sequence[Row]) -> None:
        # Rows of these orders, and rows holding these items under another order, go first:
        # no conflict is left for ON CONFLICT to settle, so COPY writes straight into the
        # table; staging the batch in a temporary table to INSERT ... ON CONFLICT from it
        # writes every row twice, and measured 20-40% slower.
        order_ids = list(dict.fromkeys(row[ORDER_KEY] for row in rows))
        item_ids = [row[ITEM_KEY] for row in rows if row[ITEM_KEY] is not None]
        self._conn.execute(
            f"DELETE FROM {quote(table)} WHERE {quote(ORDER_KEY)} = ANY(%s::bigint[]) "  # noqa: S608 -- identifiers all pass quote()
            f"OR {quote(ITEM_KEY)} = ANY(%s::bigint[])",
            (order_ids, item_ids),
        )
        # No parameters from here: a '%' in a column name is never taken for a placeholder.
        names = ", ".join(quote(key) for key in keys)
        values = itemgetter(*keys)
        with (
            self._conn.cursor() as cursor,
            cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(values(row))
        if self._unanalyzed:
            # Without statistics the planner takes "id = ANY(...)" to match a fair share of
            # the table and scans all of it, each batch, as the first pull fills it. One
            # sample of the first batch tells it an order has a few rows, however big it grows.
            self._conn.execute(f"ANALYZE {quote(table)}")
            self._unanalyzed = False

    def close(self) -> None:
        self._conn.close()


def _check_lengths(keys: Sequence[str]) -> None:
    for key in keys:
        if len(key.encode()) > POSTGRES_NAME_BYTES:
            raise ValueError(
                f"column {key!r} is longer than the {POSTGRES_NAME_BYTES} bytes PostgreSQL "
                "keeps of a name; it would be cut short and could merge with another column"
            )
