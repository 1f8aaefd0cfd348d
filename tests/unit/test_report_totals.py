"""The reports' totals (``orders/report_totals.py``) stay equal to the orders they total.

Every write goes through the real code paths: the import and the orders API's create
(``admin.imports.write_order``), status moves, shipments and cancellations
(``orders.store.write``), and the events worker's 8→64 (``events.outbox.retailer_notified``).
After any sequence of them the reports read from the totals equal the same reports counted over
the raw tables (``tests/console/raw_reports.py``), for any whole-day period and company set; the
migration's backfill and ``rebuild`` give the very totals the writers kept; a write that rolls
back moves no total; concurrent writers on PostgreSQL neither deadlock nor lose a unit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis.strategies import DrawFn
from sqlalchemy import Connection, Engine, delete, select

from oms_export.admin.companies import add_company
from oms_export.admin.demo import load_demo
from oms_export.admin.imports import import_orders, write_order
from oms_export.admin.records import parse_order
from oms_export.console import reports
from oms_export.db.engine import writer
from oms_export.db.migrate import downgrade, upgrade
from oms_export.db.schema import companies, metadata, orders
from oms_export.errors import InvalidTransition, OmsExportError
from oms_export.events.outbox import retailer_notified
from oms_export.orders import lifecycle, report_totals, store
from oms_export.orders.requests import parse_create
from oms_export.settings import Settings
from tests.console import raw_reports

COMPANY_REFS = (1001, 1002, 2001)
LONG_SKU = "L" * 3000  # past PostgreSQL's largest index entry: the key is the SKU's hash
SKUS = ("RED", "BLUE", "green", "Ω-ü", LONG_SKU)
FIRST_DAY = datetime(2024, 1, 27)  # periods cross the ends of January, February and March
DAYS = 70

_REPORTS: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
    (reports.orders_per_status, raw_reports.orders_per_status),
    (reports.dispatched_per_day, raw_reports.dispatched_per_day),
    (reports.top_skus, raw_reports.top_skus),
]


@pytest.fixture
def shop(engine: Engine) -> dict[int, int]:
    """Companies 1001, 1002 (merchants) and 2001 (a sales channel): ref id → internal id."""
    for ref in COMPANY_REFS:
        add_company(engine, ref_id=ref, name=f"Company {ref}", subscription="order_manager")
    with engine.connect() as conn:
        return {int(r): int(i) for r, i in conn.execute(select(companies.c.ref_id, companies.c.id))}


def _clear(engine: Engine) -> None:
    """Every row but the companies', for the next example."""
    with writer(engine).begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table is not companies:
                conn.execute(delete(table))


def _totals(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return report_totals.stored(conn)


def _rebuilt(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """The totals recomputed from the orders, without keeping them."""
    with writer(engine).connect() as conn, conn.begin() as transaction:
        report_totals.rebuild(conn)
        rebuilt = report_totals.stored(conn)
        transaction.rollback()
    return rebuilt


# --- the operations -------------------------------------------------------------------------


def _moment(draw: DrawFn) -> datetime:
    return FIRST_DAY + timedelta(seconds=draw(st.integers(0, DAYS * 86400 - 1)))


@st.composite
def _record(draw: DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_ref": f"WEB-{draw(st.integers(0, 5))}",
        "company_ref_id": draw(st.sampled_from((1001, 1002))),
        "secondary_company_ref_id": draw(st.none() | st.just(2001)),
        "status": draw(st.sampled_from((1, 2, 4, 8, 32, 128, 256))),
        "items": [
            {"sku": draw(st.sampled_from(SKUS)), "quantity": draw(st.integers(1, 9))}
            for _ in range(draw(st.sampled_from((0, 1, 2, 2, 3))))
        ],
    }
    if draw(st.booleans()):
        record["creation_datetime"] = _moment(draw).isoformat(sep=" ")
    return record


@st.composite
def _operation(draw: DrawFn) -> tuple[Any, ...]:
    kind = draw(
        st.sampled_from(("import", "import", "create", "move", "ship", "ship", "cancel", "notify"))
    )
    if kind in ("import", "create"):
        return (kind, draw(_record()))
    target = draw(st.sampled_from((2, 4, 8, 32, 128, 256)))
    return (kind, draw(st.integers(0, 9)), target, _moment(draw), draw(st.booleans()))


def _import(engine: Engine, record: dict[str, Any]) -> None:
    import_orders(engine, [(0, record)])  # a rejected record is a write that rolled back


def _create(engine: Engine, ids: dict[int, int], record: dict[str, Any]) -> None:
    body = {k: v for k, v in record.items() if k != "status"}
    body["items"] = [dict(item) for item in record["items"]]
    try:
        request = parse_create(body)
        with writer(engine).begin() as conn:
            store.create(conn, request, ids[record["company_ref_id"]], datetime(2024, 3, 1))
    except OmsExportError:
        pass


def _change(engine: Engine, operation: tuple[Any, ...]) -> None:
    kind, n, target, at, partial = operation
    with engine.connect() as conn:
        stored = conn.execute(select(orders.c.id).order_by(orders.c.id)).scalars().all()
    if not stored:
        return
    order_id = stored[n % len(stored)]
    try:
        with writer(engine).begin() as conn:
            if kind == "notify":
                retailer_notified(conn, order_id, at)
                return
            loaded = store.load(conn, order_id)
            first = [(loaded.order.items[0].id, 1)] if partial and loaded.order.items else None
            if kind == "move":
                change = lifecycle.move(loaded.order, target, by=lifecycle.Role.FULFILLER, now=at)
            elif kind == "ship":
                change = lifecycle.ship(loaded.order, first, dispatch_datetime=at)
            else:
                change = lifecycle.cancel(loaded.order, first, by=lifecycle.Role.FULFILLER)
            store.write(conn, loaded, change, now=at)
    except (InvalidTransition, OmsExportError):
        pass


def _run(engine: Engine, ids: dict[int, int], operations: list[tuple[Any, ...]]) -> None:
    for operation in operations:
        if operation[0] == "import":
            _import(engine, operation[1])
        elif operation[0] == "create":
            _create(engine, ids, operation[1])
        else:
            _change(engine, operation)


@st.composite
def _scope(draw: DrawFn, ids: dict[int, int]) -> reports.Scope:
    start = FIRST_DAY - timedelta(days=3) + timedelta(days=draw(st.integers(0, DAYS + 3)))
    end = start + timedelta(days=draw(st.integers(0, DAYS)))
    chosen = draw(st.none() | st.frozensets(st.sampled_from(sorted(ids.values()))))
    return reports.Scope(start, end, chosen)


def _assert_reports_match(engine: Engine, scope: reports.Scope) -> None:
    with engine.connect() as conn:
        for from_totals, from_orders in _REPORTS:
            assert from_totals(conn, scope) == from_orders(conn, scope), (from_totals, scope)


# --- the tests ------------------------------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_reports_from_totals_equal_reports_from_orders_after_any_writes(
    engine: Engine, shop: dict[int, int], data: st.DataObject
) -> None:
    _clear(engine)
    operations = data.draw(st.lists(_operation(), min_size=3, max_size=16), label="operations")
    _run(engine, shop, operations)
    for _ in range(6):
        scope = data.draw(_scope(shop), label="scope")
        note(repr(scope))
        _assert_reports_match(engine, scope)
    assert _totals(engine) == _rebuilt(engine)


def test_a_year_reads_months_and_the_days_at_its_ends() -> None:
    scope = reports.Scope(datetime(2025, 1, 28), datetime(2026, 1, 28), None)
    assert reports.spans(scope) == [
        (report_totals.MONTH, datetime(2025, 2, 1).date(), datetime(2026, 1, 1).date()),
        (report_totals.DAY, datetime(2025, 1, 28).date(), datetime(2025, 2, 1).date()),
        (report_totals.DAY, datetime(2026, 1, 1).date(), datetime(2026, 1, 28).date()),
    ]
    inside = reports.Scope(datetime(2025, 3, 2), datetime(2025, 3, 30), None)
    assert reports.spans(inside) == [(0, datetime(2025, 3, 2).date(), datetime(2025, 3, 30).date())]


def test_a_period_that_is_not_whole_days_is_refused(engine: Engine) -> None:
    scope = reports.Scope(datetime(2024, 5, 1, 12), datetime(2024, 6, 1), None)
    with engine.connect() as conn, pytest.raises(ValueError, match="midnight"):
        reports.top_skus(conn, scope)


def _some_writes(engine: Engine, ids: dict[int, int]) -> None:
    at = FIRST_DAY + timedelta(hours=5)
    _run(
        engine,
        ids,
        [
            ("import", {"external_ref": "A", "company_ref_id": 1001, "status": 1,
                        "creation_datetime": "2024-01-31 23:59:59",
                        "items": [{"sku": "RED", "quantity": 3}, {"sku": LONG_SKU, "quantity": 2}]}),
            ("import", {"external_ref": "B", "company_ref_id": 1002, "status": 4,
                        "secondary_company_ref_id": 2001, "creation_datetime": "2024-02-01 00:00:00",
                        "items": [{"sku": "RED", "quantity": 1}, {"sku": "RED", "quantity": 4}]}),
            ("ship", 0, 0, at + timedelta(days=10), True),
            ("move", 1, 8, at + timedelta(days=11), False),
            ("notify", 1, 0, at + timedelta(days=12), False),
            ("import", {"external_ref": "A", "company_ref_id": 1001, "status": 4,
                        "creation_datetime": "2024-03-01 10:00:00",
                        "secondary_company_ref_id": 2001,
                        "items": [{"sku": "RED", "quantity": 3}, {"sku": LONG_SKU, "quantity": 2},
                                  {"sku": "BLUE", "quantity": 7}]}),
            ("create", {"external_ref": "C", "company_ref_id": 1001,
                        "items": [{"sku": "green", "quantity": 2}]}),
            ("cancel", 2, 0, at, False),
        ],
    )  # fmt: skip


def test_writers_keep_the_totals_a_recomputation_gives(
    engine: Engine, shop: dict[int, int]
) -> None:
    _some_writes(engine, shop)
    kept = _totals(engine)
    assert kept == _rebuilt(engine)
    statuses = kept["report_status_totals"]
    assert (0, datetime(2024, 3, 1).date(), shop[1001], shop[2001], 4, 1) in statuses  # moved
    assert not any(row[1] == datetime(2024, 1, 31).date() for row in statuses)  # and left
    scope = reports.Scope(datetime(2024, 1, 1), datetime(2024, 4, 1), frozenset({shop[2001]}))
    with engine.connect() as conn:
        assert reports.top_skus(conn, scope) == [("RED", 8), ("BLUE", 7), (LONG_SKU, 2)]
        assert [n for _, n in reports.dispatched_per_day(conn, scope)] == [1, 5]


def test_the_migration_backfills_the_totals_the_writers_kept(
    engine: Engine, shop: dict[int, int]
) -> None:
    _some_writes(engine, shop)
    kept = _totals(engine)
    downgrade(engine, "0006")
    try:
        upgrade(engine)
    finally:
        upgrade(engine)  # the store stays at head for the tests after this one
    assert _totals(engine) == kept


def test_a_write_that_rolls_back_moves_no_total(engine: Engine, shop: dict[int, int]) -> None:
    _some_writes(engine, shop)
    kept = _totals(engine)
    record = parse_order(
        {"external_ref": "D", "company_ref_id": 1001, "status": 1,
         "items": [{"sku": "RED", "quantity": 5}]}
    )  # fmt: skip
    with writer(engine).connect() as conn, conn.begin() as transaction:
        write_order(conn, record, shop[1001], None, datetime(2024, 2, 2))
        order_id = conn.execute(select(orders.c.id).where(orders.c.external_ref == "A"))
        loaded = store.load(conn, order_id.scalar_one())
        now = datetime(2024, 2, 3)
        store.write(conn, loaded, lifecycle.ship(loaded.order, None, dispatch_datetime=now),
                    now=now)  # fmt: skip
        assert report_totals.pending(conn)
        assert _uncommitted(conn) == kept  # written only as the transaction commits
        transaction.rollback()
        assert not report_totals.pending(conn)
    assert _totals(engine) == kept
    # A re-import that would undo a dispatch is rejected whole, its totals with it.
    _import(engine, {"external_ref": "B", "company_ref_id": 1002, "status": 1,
                     "items": [{"sku": "RED", "quantity": 99}]})  # fmt: skip
    assert _totals(engine) == kept


def _uncommitted(conn: Connection) -> dict[str, set[tuple[Any, ...]]]:
    return report_totals.stored(conn)


def test_the_demo_load_keeps_the_totals(engine: Engine, settings: Settings) -> None:
    load_demo(engine, settings, orders=300)
    assert _totals(engine) == _rebuilt(engine)
    with engine.connect() as conn:
        first, last = conn.execute(
            select(orders.c.creation_datetime).order_by(orders.c.id).limit(1)
        ).scalar_one(), conn.execute(select(orders.c.creation_datetime).order_by(orders.c.id.desc()).limit(1)).scalar_one()  # fmt: skip
    start = datetime.combine(first.date(), datetime.min.time())
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time())
    for ids in (None, frozenset({1}), frozenset({5, 7})):
        _assert_reports_match(engine, reports.Scope(start, end, ids))
        _assert_reports_match(engine, reports.Scope(start + timedelta(days=1), end, ids))


@pytest.mark.postgres_only  # SQLite's writers queue at BEGIN IMMEDIATE: they never overlap
def test_concurrent_creates_and_moves_keep_exact_totals_without_deadlock(
    engine: Engine, shop: dict[int, int]
) -> None:
    threads, per_thread = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            skus = list(SKUS) if n % 2 else list(reversed(SKUS))  # opposite orders
            for k in range(per_thread):
                _import(
                    engine,
                    {"external_ref": f"T{n}-{k}", "company_ref_id": (1001, 1002)[k % 2],
                     "secondary_company_ref_id": 2001 if n % 3 else None, "status": 1,
                     "creation_datetime": f"2024-01-31 2{k % 4}:00:00",
                     "items": [{"sku": sku, "quantity": 1 + n} for sku in skus]},
                )  # fmt: skip
                _change(engine, ("move", k, 4, datetime(2024, 2, 1), False))
                _change(engine, ("ship", k, 0, datetime(2024, 2, 2), bool(n % 2)))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    with engine.connect() as conn:
        ids = conn.execute(select(orders.c.id).order_by(orders.c.id)).scalars().all()
    assert len(ids) == threads * per_thread
    assert _totals(engine) == _rebuilt(engine)

    def notify_many(mine: list[int]) -> None:
        """As the events worker records a batch: many orders to 64 in one transaction."""
        try:
            start.wait()
            for _ in range(3):
                with writer(engine).begin() as conn:
                    for order_id in mine:
                        retailer_notified(conn, order_id, datetime(2024, 2, 3))
                mine.reverse()
        except BaseException as exc:
            errors.append(exc)

    dispatched = [i for i in ids if _status(engine, i) == lifecycle.DISPATCHED]
    assert len(dispatched) > threads
    shares = [dispatched[n::threads][:: 1 if n % 2 else -1] for n in range(threads)]
    workers = [threading.Thread(target=notify_many, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert all(_status(engine, i) == 64 for i in dispatched)
    assert _totals(engine) == _rebuilt(engine)
    scope = reports.Scope(datetime(2024, 1, 1), datetime(2024, 3, 1), None)
    _assert_reports_match(engine, scope)


def _status(engine: Engine, order_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar_one()
        )


def test_totals_past_the_largest_integer_are_stored_and_counted(
    engine: Engine, shop: dict[int, int]
) -> None:
    largest = 2**31 - 1  # the largest quantity an item may have
    for ref in ("BIG-1", "BIG-2"):
        summary = import_orders(
            engine,
            [(0, {"external_ref": ref, "company_ref_id": 1001, "status": 1,
                  "creation_datetime": "2024-02-10 10:00:00",
                  "items": [{"sku": "RED", "quantity": largest}]})],
        )  # fmt: skip
        assert summary["created"] == 1, summary
    scope = reports.Scope(datetime(2024, 2, 1), datetime(2024, 3, 1), None)
    with engine.connect() as conn:
        assert reports.top_skus(conn, scope) == [("RED", 2 * largest)]
    _assert_reports_match(engine, scope)
