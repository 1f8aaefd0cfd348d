"""``pull --to``: the table stays equal to the export, on a real SQLite file and a real PostgreSQL.

Each test writes rows as the export sends them and reads the table back with the plain driver,
values turned back into their exported form (timestamps as ``YYYY-MM-DD HH:MM:SS``, SQLite's
0/1 as booleans), so "the table holds the export" is one equality.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from oms_export.pull.columns import column_type
from oms_export.pull.table import TableError, TableOutput, public_url
from tests.conftest import BACKENDS, POSTGRES_URL, REQUIRE_POSTGRES

Row = dict[str, Any]

TABLE = "order_item_details"


def order(order_id: int, item_ids: Sequence[int] = (), **changes: Any) -> list[Row]:
    """An order's export rows: one per item, or one row with null item fields when it has none.

    Keyword arguments override fields, or add keys after the others (a new attribute).
    """
    head: Row = {
        "id": order_id,
        "ref": f"SO-{order_id}",
        "completion_datetime": "2024-03-01 12:30:00",
        "is_free_of_charge": False,
        "shipping_price": 4.95,
        "required_dispatch_date": "2024-03-04",
        "status": 8,
    }
    no_item: Row = {
        "items__id": None,
        "items__sku": None,
        "items__quantity": None,
        "items__unit_sale_price": None,
    }
    tail: Row = {"attributes__channel": "web"}
    if not item_ids:
        return [head | no_item | tail | changes]
    return [
        head
        | {
            "items__id": item_id,
            "items__sku": f"SKU-{item_id}",
            "items__quantity": 2,
            "items__unit_sale_price": 12.5,
        }
        | tail
        | changes
        for item_id in item_ids
    ]


def pull_into(url: str, *batches: list[Row]) -> None:
    """One pull: the batches written in turn, then committed."""
    output = TableOutput(url, TABLE)
    for batch in batches:
        output.write(batch)
    output.commit()


@dataclass
class Target:
    """A database for one test, and plain-driver access to what landed in it."""

    backend: str
    url: str

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        if self.backend == "sqlite":
            with closing(sqlite3.connect(make_url(self.url).database or "")) as lite:
                found = lite.execute(sql)
                return [d[0] for d in found.description], found.fetchall()
        with psycopg.connect(self.url) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return [d.name for d in cursor.description or ()], cursor.fetchall()

    def rows(self) -> list[Row]:
        """Every row in the export's own form, by order then item (an item-less row first)."""
        names, found = self.query(f'SELECT * FROM "{TABLE}"')  # noqa: S608 -- a constant
        rows = [
            {name: exported(name, value) for name, value in zip(names, values, strict=True)}
            for values in found
        ]
        return sorted(rows, key=lambda row: (row["id"], row["items__id"] or 0))

    def column_types(self) -> dict[str, str]:
        if self.backend == "sqlite":
            _, found = self.query(f"SELECT name, type FROM pragma_table_info('{TABLE}')")  # noqa: S608 -- a constant
        else:
            _, found = self.query(
                "SELECT column_name, data_type FROM information_schema.columns "  # noqa: S608 -- a constant
                f"WHERE table_name = '{TABLE}' ORDER BY ordinal_position"
            )
        return dict(found)

    def integrity_error(self) -> type[Exception]:
        return sqlite3.IntegrityError if self.backend == "sqlite" else psycopg.IntegrityError

    def binding_error(self) -> type[Exception]:
        """What the driver raises for a value it cannot store (a dict), under our TableError."""
        return sqlite3.ProgrammingError if self.backend == "sqlite" else psycopg.ProgrammingError


def exported(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        assert value.tzinfo is None  # timestamp without time zone, holding UTC
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if value is not None and column_type(name) == "boolean":
        assert value in (0, 1)
        return bool(value)
    return value


def padded(rows: list[Row], names: Sequence[str]) -> list[Row]:
    """Rows as the table holds them: null in the columns their pull did not bring."""
    return [{name: row.get(name) for name in names} for row in rows]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this worker's own on the test PostgreSQL server, dropped at the end."""
    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin_url = server.render_as_string(hide_password=False)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"oms_export_test_table_{worker}_{os.getpid()}"  # the pid: sessions run side by side
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_URL} ({exc.__class__.__name__}); start one "
            "or set OMS_EXPORT_TEST_POSTGRES_URL to run the PostgreSQL half of the table tests"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (OMS_EXPORT_TEST_REQUIRE_POSTGRES=1 forbids skipping)")
        pytest.skip(message)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", f"sqlite:///{tmp_path / 'reports.db'}")
        return
    url: str = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{TABLE}"')
    yield Target("postgresql", url)


def test_the_first_batch_creates_a_typed_column_per_key_in_order(target: Target) -> None:
    pull_into(target.url, order(1, [11]))
    sqlite = {
        "id": "INTEGER",
        "ref": "TEXT",
        "completion_datetime": "DATETIME",
        "is_free_of_charge": "BOOLEAN",
        "shipping_price": "REAL",
        "required_dispatch_date": "DATE",
        "status": "INTEGER",
        "items__id": "INTEGER",
        "items__sku": "TEXT",
        "items__quantity": "INTEGER",
        "items__unit_sale_price": "REAL",
        "attributes__channel": "TEXT",
    }
    postgresql = {
        "id": "bigint",
        "ref": "text",
        "completion_datetime": "timestamp without time zone",
        "is_free_of_charge": "boolean",
        "shipping_price": "double precision",
        "required_dispatch_date": "date",
        "status": "bigint",
        "items__id": "bigint",
        "items__sku": "text",
        "items__quantity": "bigint",
        "items__unit_sale_price": "double precision",
        "attributes__channel": "text",
    }
    types = target.column_types()
    assert types == (sqlite if target.backend == "sqlite" else postgresql)
    assert list(types) == list(order(1, [11])[0])


def test_item_ids_are_unique_in_the_table(target: Target) -> None:
    pull_into(target.url, order(1, [11]))
    with pytest.raises(target.integrity_error()):
        target.query(f'INSERT INTO "{TABLE}" (id, items__id) VALUES (2, 11)')  # noqa: S608 -- a constant


def test_every_type_round_trips_nulls_included(target: Target) -> None:
    rows = [
        *order(1, [11, 12], is_free_of_charge=True, completion_datetime="2024-12-31 23:59:59"),
        *order(2, shipping_price=None, required_dispatch_date=None, completion_datetime=None),
        *order(3, [31], is_free_of_charge=None, ref="Ünïcödé \"quoted\" 'single'\nline"),
    ]
    pull_into(target.url, rows)
    assert target.rows() == rows


def test_a_changed_row_is_updated_in_place(target: Target) -> None:
    pull_into(target.url, order(1, [11, 12]) + order(2, [21]))
    changed = order(1, [11, 12], ref="SO-1-amended", shipping_price=0.0)
    changed[1]["items__quantity"] = 5
    pull_into(target.url, changed)
    assert target.rows() == changed + order(2, [21])


def test_delivering_the_same_rows_again_changes_nothing(target: Target) -> None:
    batches = [order(1, [11, 12]) + order(2), order(3, [31, 32, 33])]
    pull_into(target.url, *batches)
    first = target.rows()
    pull_into(target.url, *batches)
    pull_into(target.url, batches[1], batches[0])
    assert target.rows() == first == [row for batch in batches for row in batch]


def test_an_item_removed_upstream_loses_its_row(target: Target) -> None:
    pull_into(target.url, order(1, [11, 12, 13]) + order(2, [21]))
    pull_into(target.url, order(1, [11, 13]))
    assert target.rows() == order(1, [11, 13]) + order(2, [21])


def test_an_item_less_order_is_one_row_and_gains_items_without_its_null_row(
    target: Target,
) -> None:
    pull_into(target.url, order(3) + order(4))
    assert target.rows() == order(3) + order(4)  # two null item ids live with the unique index
    pull_into(target.url, order(3, [31, 32]))
    assert target.rows() == order(3, [31, 32]) + order(4)


def test_an_item_moved_to_another_order_is_kept_once(target: Target) -> None:
    pull_into(target.url, order(1, [11, 12]))
    pull_into(target.url, order(2, [12]))
    assert target.rows() == order(1, [11]) + order(2, [12])


def test_a_new_attribute_key_adds_a_column_null_in_older_rows(target: Target) -> None:
    pull_into(target.url, order(1, [11]))
    later = order(2, [21], attributes__gift_message="Happy birthday")
    pull_into(target.url, later)
    types = target.column_types()
    assert list(types)[-1] == "attributes__gift_message"
    assert types["attributes__gift_message"] in ("TEXT", "text")
    assert target.rows() == padded(order(1, [11]) + later, list(types))
    assert target.rows()[0]["attributes__gift_message"] is None


ODD_NAMES = [
    'attributes__say "hi"',
    "attributes__two words",
    "attributes__Größe",
    "attributes__50% off",
    "attributes__semi;colon -- comment",
    "attributes__?",
    "attributes__CamelCase",
]


def test_odd_column_names_are_quoted_not_mangled(target: Target) -> None:
    first = order(1, [11], **{name: f"value of {name}" for name in ODD_NAMES[:4]})
    later = order(2, [21], **{name: f"value of {name}" for name in ODD_NAMES})
    pull_into(target.url, first)
    pull_into(target.url, later)
    names = list(target.column_types())
    assert names[-len(ODD_NAMES) :] == ODD_NAMES
    assert target.rows() == padded(first + later, names)


def test_a_column_name_holding_a_nul_is_refused(target: Target) -> None:
    output = TableOutput(target.url, TABLE)
    with pytest.raises(ValueError, match="NUL"):
        output.write(order(1, [11], **{"attributes__bad\0name": "x"}))
    output.abort()


@pytest.mark.postgres_only
def test_a_column_name_postgresql_would_truncate_is_refused(target: Target) -> None:
    long_name = "items__attributes__" + "x" * 45  # 64 bytes
    output = TableOutput(target.url, TABLE)
    with pytest.raises(ValueError, match="63 bytes"):
        output.write(order(1, [11], **{long_name: "x"}))
    output.abort()


@pytest.mark.postgres_only
def test_a_new_postgresql_table_is_analyzed_so_each_batch_deletes_by_index(
    target: Target,
) -> None:
    pull_into(target.url, [row for n in range(1, 700) for row in order(n, [n * 10, n * 10 + 1])])
    _, plan = target.query(
        f'EXPLAIN DELETE FROM "{TABLE}" WHERE id = ANY(ARRAY(SELECT generate_series(1, 600)))'  # noqa: S608 -- a constant
    )
    assert "Seq Scan" not in "\n".join(line for (line,) in plan)


def test_a_failed_batch_and_abort_leave_the_table_as_before_that_batch(target: Target) -> None:
    output = TableOutput(target.url, TABLE)
    output.write(order(1, [11, 12]))
    before = target.rows()
    broken = order(2, [21]) + order(1, [11], attributes__channel={"not": "storable"})
    with pytest.raises(TableError, match=f"table {TABLE} in ") as raised:
        output.write(broken)  # fails after deleting order 1's rows: the delete is undone
    assert isinstance(raised.value.__context__, target.binding_error())
    output.abort()
    assert target.rows() == before == order(1, [11, 12])


def test_a_failed_first_batch_leaves_no_table(target: Target) -> None:
    output = TableOutput(target.url, TABLE)
    with pytest.raises(TableError) as raised:
        output.write(order(1, [11], attributes__channel={"not": "storable"}))
    assert isinstance(raised.value.__context__, target.binding_error())
    output.abort()
    assert target.column_types() == {}


def test_rows_without_an_item_id_key_are_refused(target: Target) -> None:
    output = TableOutput(target.url, TABLE)
    rows = [{"id": 1, "ref": "SO-1"}]
    with pytest.raises(ValueError, match="'items__id'"):
        output.write(rows)
    output.abort()


@pytest.mark.parametrize(
    "table",
    ["", "1orders", "orders; DROP TABLE x", 'order"s', "public.orders", "or ders", "x" * 64],
)
def test_a_bad_table_name_is_refused_naming_the_option(tmp_path: Path, table: str) -> None:
    db = tmp_path / "reports.db"
    with pytest.raises(ValueError, match=r"^--table: .*letters, digits and underscores"):
        TableOutput(f"sqlite:///{db}", table)
    assert not db.exists()  # refused before anything was opened


@pytest.mark.parametrize(
    "url",
    [
        "mysql://report:secret@db/reports",
        "sqlite:/reports.db",
        "sqlite://",
        "sqlite:///",
        "reports.db",
        "postgresql+psycopg2://report:secret@db/reports",
        "https://report:secret@example.com/",
    ],
)
def test_an_unsupported_url_is_refused_naming_the_option_and_the_forms(url: str) -> None:
    with pytest.raises(ValueError, match=r"^--to: ") as raised:
        TableOutput(url, TABLE)
    message = str(raised.value)
    assert "sqlite:///" in message
    assert "postgresql://user@host:port/db" in message
    assert "secret" not in message


def test_a_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pull_into("sqlite:///reports.db", order(1, [11]))
    absolute = Target("sqlite", f"sqlite:///{tmp_path / 'reports.db'}")
    assert absolute.url.startswith("sqlite:////")
    assert absolute.rows() == order(1, [11])


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg", "postgres"])
def test_every_postgresql_spelling_reaches_the_server(postgres_url: str, scheme: str) -> None:
    url = scheme + postgres_url.removeprefix("postgresql")
    output = TableOutput(url, "spelling_" + scheme.replace("+", "_"))
    output.write(order(1, [11]))
    output.commit()
    assert output.description.startswith(
        f"table spelling_{scheme.replace('+', '_')} in {scheme}://"
    )


def test_the_description_names_the_table_and_database(target: Target) -> None:
    output = TableOutput(target.url, TABLE)
    output.abort()
    assert output.description == f"table {TABLE} in {public_url(target.url)}"
    if target.backend == "sqlite":
        assert output.description == f"table {TABLE} in {target.url}"


@pytest.mark.postgres
def test_the_description_hides_the_password(postgres_url: str) -> None:
    # The test server trusts local users, so any password connects.
    parts = make_url(postgres_url)
    url = parts.set(password="s3cr:et@/x").render_as_string(hide_password=False)
    output = TableOutput(url + "?application_name=pull&password=leak", TABLE)
    output.abort()
    assert output.description == (
        f"table {TABLE} in postgresql://{parts.username}@{parts.host}:{parts.port}/{parts.database}"
    )


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("postgresql://report:pw@db:5432/reports", "postgresql://report@db:5432/reports"),
        ("postgres://report:p@ss/w:rd@db/reports", "postgres://report@db/reports"),
        ("postgresql+psycopg://db/reports?password=pw", "postgresql+psycopg://db/reports"),
        ("postgresql://report@[::1]:5432/reports", "postgresql://report@[::1]:5432/reports"),
        ("sqlite:////srv/reports.db", "sqlite:////srv/reports.db"),
    ],
)
def test_public_url_drops_every_password(url: str, public: str) -> None:
    assert public_url(url) == public
