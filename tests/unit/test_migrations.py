from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, delete, insert, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from oms_export.db.engine import make_engine, normalize_url
from oms_export.db.migrate import current_revision, downgrade, head_revision, upgrade
from oms_export.db.schema import (
    cancellation_items,
    cancellations,
    metadata,
    order_items,
    orders,
    shipment_items,
    shipments,
)
from oms_export.settings import Settings
from tests import factories as f
from tests.conftest import POSTGRES_URL


def test_migrations_reach_head_and_build_every_table(engine: Engine) -> None:
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_on_a_current_database_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_migrations_build_exactly_the_schema_the_code_declares(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_order_ids_are_never_reused_after_a_delete(engine: Engine) -> None:
    from sqlalchemy import delete

    from oms_export.db.schema import orders
    from tests import factories as f

    company = f.company(engine, 1001)
    first = f.order(engine, company, "A")
    with engine.begin() as conn:
        conn.execute(delete(orders).where(orders.c.id == first))
    assert f.order(engine, company, "B") > first


# --- 0003: the write side, on a database that already holds data -----------------------------


@pytest.fixture
def at_0002(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own, migrated to 0002 only (the one of ``database_url`` is at head)."""
    if database_url.startswith("sqlite"):
        engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'at-0002.db'}"))
        upgrade(engine, "0002")
        yield engine
        engine.dispose()
        return
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"oms_export_migration_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(POSTGRES_URL)).set(database=name)
    engine = make_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    try:
        upgrade(engine, "0002")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill_0002(engine: Engine) -> None:
    """Two orders (one without a creation time), three items, attributes; order 3 deleted."""
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO companies (id, ref_id, name, subscription) VALUES (1, 1001, 'A', 'free')",
            "INSERT INTO orders (id, ref, external_ref, company_id, status, is_free_of_charge, "
            "creation_datetime) VALUES (1, 'O1', 'WEB-1', 1, 4, false, '2024-05-01 08:00:00')",
            "INSERT INTO orders (id, ref, external_ref, company_id, status, is_free_of_charge) "
            "VALUES (2, 'O2', 'WEB-2', 1, 1, false)",
            "INSERT INTO orders (id, ref, external_ref, company_id, status, is_free_of_charge) "
            "VALUES (3, 'O3', 'WEB-3', 1, 1, false)",
            "INSERT INTO order_items (id, ref, order_id, position, status, sku, quantity) "
            "VALUES (1, 'I1', 1, 0, 2, 'A', 2), (2, 'I2', 1, 1, 2, 'B', 1), "
            "(3, 'I3', 2, 0, 1, 'C', 5)",
            "INSERT INTO order_attributes (order_id, name, value) VALUES (1, 'channel', 'web')",
            "INSERT INTO item_attributes (item_id, name, value) VALUES (3, 'print', 'front')",
            "DELETE FROM orders WHERE id = 3",
        ):
            conn.execute(text(statement))
        if conn.dialect.name == "postgresql":
            for table in ("companies", "orders", "order_items"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 3)"))


def _dump(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = text(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 - fixed names
        return [tuple(r) for r in conn.execute(query)]


def test_0003_upgrades_a_populated_database_and_fills_the_new_columns(at_0002: Engine) -> None:
    _fill_0002(at_0002)
    before = {t: _dump(at_0002, t) for t in ("orders", "order_items", "order_attributes", "item_attributes")}  # fmt: skip
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    upgrade(at_0002)
    finished = datetime.now(UTC).replace(tzinfo=None)
    after = {t: _dump(at_0002, t) for t in before}
    assert [r[:-3] for r in after["orders"]] == before["orders"]
    assert [r[:-2] for r in after["order_items"]] == before["order_items"]
    assert after["order_attributes"] == before["order_attributes"]
    assert after["item_attributes"] == before["item_attributes"]
    with at_0002.connect() as conn:
        assert current_revision(conn) == head_revision()
        filled = dict(conn.execute(select(orders.c.id, orders.c.updated_datetime)).tuples().all())
        held = conn.execute(select(orders.c.held_from, orders.c.status_callback_url)).all()
        quantities = conn.execute(
            select(order_items.c.shipped_quantity, order_items.c.cancelled_quantity)
        ).all()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert filled[1] == datetime(2024, 5, 1, 8, 0, 0)  # its creation time
    assert started <= filled[2] <= finished  # none: the migration's time
    assert set(held) == {(None, None)}
    assert set(quantities) == {(0, 0)}
    assert diff == []
    # The rebuilt SQLite tables still refuse orphans and never reuse an id.
    with at_0002.connect() as conn, pytest.raises(IntegrityError):
        conn.execute(
            insert(order_items).values(order_id=99, position=0, status=1, sku="X", quantity=1)
        )
    assert f.order(at_0002, 1, "WEB-4") == 4


def test_0003_downgrades_keeping_the_rows_and_upgrades_again(at_0002: Engine) -> None:
    _fill_0002(at_0002)
    before = {t: _dump(at_0002, t) for t in ("orders", "order_items", "item_attributes")}
    upgrade(at_0002)
    downgrade(at_0002, "0002")
    with at_0002.connect() as conn:
        assert current_revision(conn) == "0002"
    names = inspect(at_0002).get_table_names()
    assert not {"shipments", "shipment_items", "cancellations", "cancellation_items"} & set(names)
    assert {t: _dump(at_0002, t) for t in before} == before
    order_columns = {c["name"] for c in inspect(at_0002).get_columns("orders")}
    assert not {"updated_datetime", "held_from", "status_callback_url"} & order_columns
    upgrade(at_0002)
    with at_0002.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_item_quantities_are_bounded_by_the_store(engine: Engine) -> None:
    company = f.company(engine, 1001)
    order_id = f.order(engine, company, "A", items=[{"quantity": 3}])
    item = order_items.c
    with engine.begin() as conn:
        item_id = conn.execute(select(item.id)).scalar_one()
        conn.execute(update(order_items).values(shipped_quantity=2, cancelled_quantity=1))
        shipment = conn.execute(
            insert(shipments).values(order_id=order_id, dispatch_datetime=datetime(2024, 5, 2))
        ).inserted_primary_key[0]  # type: ignore[index]
        cancellation = conn.execute(
            insert(cancellations).values(order_id=order_id, cancelled_datetime=datetime(2024, 5, 2))
        ).inserted_primary_key[0]  # type: ignore[index]
    refused = [
        update(order_items).values(shipped_quantity=3),
        update(order_items).values(cancelled_quantity=-1, shipped_quantity=4),
        update(order_items).values(quantity=2),
        insert(shipment_items).values(shipment_id=shipment, item_id=item_id, quantity=0),
        insert(cancellation_items).values(
            cancellation_id=cancellation, item_id=item_id, quantity=0
        ),
        insert(shipment_items).values(shipment_id=shipment, item_id=999, quantity=1),
        insert(shipments).values(order_id=999, dispatch_datetime=datetime(2024, 5, 2)),
    ]
    for statement in refused:
        with engine.begin() as conn, pytest.raises(IntegrityError):
            conn.execute(statement)
    with engine.begin() as conn:
        conn.execute(
            insert(shipment_items).values(shipment_id=shipment, item_id=item_id, quantity=2)
        )
        conn.execute(
            insert(cancellation_items).values(
                cancellation_id=cancellation, item_id=item_id, quantity=1
            )
        )
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(delete(order_items).where(item.id == item_id))


def test_orders_need_an_updated_datetime_from_their_writer(engine: Engine) -> None:
    company = f.company(engine, 1001)
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(
            insert(orders).values(
                external_ref="A", company_id=company, status=1, is_free_of_charge=False
            )
        )


def test_0004_downgrades_to_0003_keeping_companies_and_upgrades_again(at_0002: Engine) -> None:
    _fill_0002(at_0002)
    upgrade(at_0002)
    companies_before = _dump(at_0002, "companies")
    downgrade(at_0002, "0003")
    names = set(inspect(at_0002).get_table_names())
    assert not {"events", "event_attempts"} & names
    columns = {c["name"] for c in inspect(at_0002).get_columns("companies")}
    assert not {"push_url", "callback_secret"} & columns
    assert [row[:-2] for row in companies_before] == _dump(at_0002, "companies")
    assert f.order(at_0002, 1, "WEB-5") == 4, "children still attached, ids not reused"
    upgrade(at_0002)
    with at_0002.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
