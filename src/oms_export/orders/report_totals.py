"""The reports' daily and monthly totals, kept exact by every writer in its own transaction.

Why: summing raw orders and items for a year of a million-order store takes most of a second
(issue 13 item 8); the reports (``console/reports.py``) read these totals instead, a few rows a
day. Four tables (migration 0007, which also backfills them):

- ``report_status_totals``: orders per (grain, day, company, secondary company, status);
- ``report_sku_totals``: units ordered per (grain, day, company, secondary company, SKU id),
  the SKU's text kept once in ``report_skus`` under the SHA-256 of the text (a SKU may be too
  long for an index entry) so that the totals' rows stay narrow and quick to sum;
- ``report_dispatch_totals``: units dispatched per (UTC dispatch day, company, secondary).

``day`` is the UTC day of the order's ``creation_datetime`` (an order without one counts in no
report, as in the raw reports); a ``MONTH`` row holds the sum of its month's ``DAY`` rows and
sits at the month's first day, so a long period reads months in its middle and days at its
ends. ``secondary_company_id`` is 0 for an order without one (a key column cannot be NULL).

Writers call ``contribution`` before and after their change and ``add`` the difference (or
build the difference themselves, as ``orders.store.write`` does). ``add`` only notes it on the
connection; the transaction's differences, summed, are written just before it commits (a
``commit`` listener on the connection) and forgotten if it rolls back. So every transaction
takes its total rows last, after whatever order rows it locks, and all at once in one sorted
order (SKUs, then each table, key order): no two writers can wait on each other in a cycle, not
even the events worker, which moves many orders to 64 in one transaction. A transaction does
not see its own differences before it commits, and a savepoint rolled back does not take back
what was added inside it (no writer uses one). Rows that fall to 0 stay; the reports leave
them out.

Example::

    before = contribution(conn, order_id)
    ...  # the change
    add(conn, contribution(conn, order_id) - before)
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Table,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from oms_export.db.schema import (
    order_items,
    orders,
    report_dispatch_totals,
    report_sku_totals,
    report_skus,
    report_status_totals,
    shipment_items,
    shipments,
)

DAY = 0
"""``grain`` of a row that totals one UTC day."""
MONTH = 1
"""``grain`` of a row that totals one calendar month (its ``day`` is the month's first)."""

StatusKey = tuple[int, int, date, int]
"""(company_id, secondary_company_id or 0, creation day, status)"""
SkuKey = tuple[int, int, date, str]
"""(company_id, secondary_company_id or 0, creation day, sku)"""
DispatchKey = tuple[int, int, date]
"""(company_id, secondary_company_id or 0, dispatch day)"""


def sku_hash(sku: str) -> str:
    """The key of a SKU's rows: hex SHA-256 of its UTF-8 text (PostgreSQL's ``sha256`` too)."""
    return hashlib.sha256(sku.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Totals:
    """What some orders add to the totals (or, as a difference, what a change moves)."""

    statuses: dict[StatusKey, int] = field(default_factory=lambda: defaultdict(int))
    skus: dict[SkuKey, int] = field(default_factory=lambda: defaultdict(int))
    dispatched: dict[DispatchKey, int] = field(default_factory=lambda: defaultdict(int))

    def __sub__(self, other: Totals) -> Totals:
        return Totals(
            _minus(self.statuses, other.statuses),
            _minus(self.skus, other.skus),
            _minus(self.dispatched, other.dispatched),
        )

    def __add__(self, other: Totals) -> Totals:
        return self - (Totals() - other)

    def __bool__(self) -> bool:
        return any(any(values.values()) for values in (self.statuses, self.skus, self.dispatched))


def _minus(a: Mapping[Any, int], b: Mapping[Any, int]) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for key in a.keys() | b.keys():
        if n := a.get(key, 0) - b.get(key, 0):
            out[key] = n
    return out


def _day(value: datetime | date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def contribution(conn: Connection, order_id: int) -> Totals:
    """What the order adds to the totals as stored now (nothing when it does not exist)."""
    totals = Totals()
    row = conn.execute(
        select(
            orders.c.company_id,
            orders.c.secondary_company_id,
            orders.c.creation_datetime,
            orders.c.status,
        ).where(orders.c.id == order_id)
    ).first()
    if row is None:
        return totals
    company, secondary = row.company_id, row.secondary_company_id or 0
    if row.creation_datetime is not None:
        created = _day(row.creation_datetime)
        totals.statuses[(company, secondary, created, row.status)] += 1
        for sku, units in conn.execute(
            select(order_items.c.sku, func.sum(order_items.c.quantity))
            .where(order_items.c.order_id == order_id)
            .group_by(order_items.c.sku)
        ):
            totals.skus[(company, secondary, created, sku)] += int(units)
    for dispatched_at, units in conn.execute(
        select(shipments.c.dispatch_datetime, shipment_items.c.quantity)
        .join(shipment_items, shipment_items.c.shipment_id == shipments.c.id)
        .where(shipments.c.order_id == order_id)
    ):
        totals.dispatched[(company, secondary, _day(dispatched_at))] += int(units)
    return totals


@dataclass(frozen=True)
class OrderKey:
    """What places an order's rows: its companies and its creation day (``None``: no day)."""

    company_id: int
    secondary_company_id: int
    created: date | None


def order_key(conn: Connection, order_id: int) -> OrderKey:
    row = conn.execute(
        select(orders.c.company_id, orders.c.secondary_company_id, orders.c.creation_datetime)
        .where(orders.c.id == order_id)
    ).one()  # fmt: skip
    created = None if row.creation_datetime is None else _day(row.creation_datetime)
    return OrderKey(row.company_id, row.secondary_company_id or 0, created)


def change(
    key: OrderKey,
    *,
    status: tuple[int, int] | None = None,
    dispatched: tuple[datetime, int] | None = None,
) -> Totals:
    """The difference of a status move ``(from, to)`` and of ``units`` shipped at a moment,
    for a change that leaves the order's items and companies as they are."""
    totals = Totals()
    company, secondary = key.company_id, key.secondary_company_id
    if status is not None and status[0] != status[1] and key.created is not None:
        totals.statuses[(company, secondary, key.created, status[0])] -= 1
        totals.statuses[(company, secondary, key.created, status[1])] += 1
    if dispatched is not None and dispatched[1]:
        totals.dispatched[(company, secondary, _day(dispatched[0]))] += dispatched[1]
    return totals


def _month(day: date) -> date:
    return day.replace(day=1)


def _grains(values: Mapping[Any, int]) -> dict[tuple[Any, ...], int]:
    """Each day's difference as a ``DAY`` row and a ``MONTH`` row: (grain, day, company,
    secondary, rest…) → n, zeros dropped."""
    out: dict[tuple[Any, ...], int] = defaultdict(int)
    for (company, secondary, day, *rest), n in values.items():
        if n:
            out[(DAY, day, company, secondary, *rest)] += n
            out[(MONTH, _month(day), company, secondary, *rest)] += n
    return {key: n for key, n in out.items() if n}


def _upsert(conn: Connection, table: Table, count: str, rows: list[dict[str, Any]]) -> None:
    """Add each row's ``count`` to the stored one, in the rows' (sorted) order."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={count: table.c[count] + statement.excluded[count]},
        ),
        rows,
    )


def _sku_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Each SKU's id in ``report_skus``, adding the SKUs it lacks (in hash order)."""
    by_hash = {sku_hash(name): name for name in names}
    wanted = select(report_skus.c.sku_hash, report_skus.c.id).where(
        report_skus.c.sku_hash.in_(sorted(by_hash))
    )
    ids = {by_hash[h]: i for h, i in conn.execute(wanted)}
    missing = sorted((h, n) for h, n in by_hash.items() if n not in ids)
    if missing:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(report_skus).on_conflict_do_nothing(index_elements=["sku_hash"]),
            [{"sku_hash": h, "sku": n} for h, n in missing],
        )
        ids = {by_hash[h]: i for h, i in conn.execute(wanted)}
    return ids


_PENDING = "oms_export.report_totals.pending"
"""Key in ``Connection.info`` of the transaction's differences not yet written."""


def add(conn: Connection, difference: Totals) -> None:
    """Add ``difference`` to the totals when the caller's transaction commits."""
    if not difference:
        return
    if not event.contains(conn, "commit", _flush):
        event.listen(conn, "commit", _flush)
        event.listen(conn, "rollback", _forget)
        event.listen(conn, "begin", _forget)  # nothing left over reaches the next one
    held = conn.info.get(_PENDING)
    conn.info[_PENDING] = difference if held is None else held + difference


def pending(conn: Connection) -> Totals:
    """What the transaction will add to the totals when it commits."""
    held = conn.info.get(_PENDING)
    return Totals() if held is None else held


def _flush(conn: Connection) -> None:
    held = conn.info.pop(_PENDING, None)
    if held:
        _apply(conn, held)


def _forget(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)


def _apply(conn: Connection, difference: Totals) -> None:
    """Add ``difference`` to the stored totals now, every row in one order."""
    skus = _grains(difference.skus)
    ids = _sku_ids(conn, {key[4] for key in skus}) if skus else {}
    statuses = _grains(difference.statuses)
    _upsert(
        conn,
        report_status_totals,
        "orders",
        [
            {"grain": g, "day": d, "company_id": c, "secondary_company_id": s, "status": st,
             "orders": n}
            for (g, d, c, s, st), n in sorted(statuses.items())
        ],
    )  # fmt: skip
    _upsert(
        conn,
        report_sku_totals,
        "units",
        [
            {"grain": g, "day": d, "company_id": c, "secondary_company_id": s, "sku_id": k,
             "units": n}
            for (g, d, c, s, k), n in sorted(
                ((g, d, c, s, ids[sku]), n) for (g, d, c, s, sku), n in skus.items()
            )
        ],
    )  # fmt: skip
    dispatched = sorted(((day, c, s), n) for (c, s, day), n in difference.dispatched.items() if n)
    _upsert(
        conn,
        report_dispatch_totals,
        "units",
        [
            {"day": d, "company_id": c, "secondary_company_id": s, "units": n}
            for (d, c, s), n in dispatched
        ],
    )


def stored(conn: Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Every non-zero row of the three tables (a SKU by its text, not its id), for tests and
    checks that compare totals."""
    sku_rows = (
        select(*(c for c in report_sku_totals.c if c.name != "sku_id"), report_skus.c.sku)
        .join(report_skus, report_skus.c.id == report_sku_totals.c.sku_id)
        .where(report_sku_totals.c.units != 0)
    )
    return {
        "report_status_totals": set(
            map(tuple, conn.execute(select(report_status_totals).where(
                report_status_totals.c.orders != 0)))
        ),
        "report_sku_totals": set(map(tuple, conn.execute(sku_rows))),
        "report_dispatch_totals": set(
            map(tuple, conn.execute(select(report_dispatch_totals).where(
                report_dispatch_totals.c.units != 0)))
        ),
    }  # fmt: skip


# --- rebuild --------------------------------------------------------------------------------


def rebuild(conn: Connection) -> None:
    """Recompute every total from the orders, in the caller's transaction: for bulk loads that
    bypass the writers (the demo), while nothing else writes. Migration 0007 backfills with its
    own copy of these queries, as migrations must not change when this module does."""
    for table in (report_status_totals, report_sku_totals, report_skus, report_dispatch_totals):
        conn.execute(delete(table))
    if conn.dialect.name == "postgresql":
        created: Any = cast(orders.c.creation_datetime, Date)
        dispatched: Any = cast(shipments.c.dispatch_datetime, Date)
        digest: Any = func.encode(func.sha256(func.convert_to(order_items.c.sku, "UTF8")), "hex")
    else:
        created = func.date(orders.c.creation_datetime)
        dispatched = func.date(shipments.c.dispatch_datetime)
        conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "oms_sha256", 1, sku_hash, deterministic=True
        )
        digest = func.oms_sha256(order_items.c.sku)
    secondary = func.coalesce(orders.c.secondary_company_id, 0)
    dated = orders.c.creation_datetime.is_not(None)
    status_days = (
        select(literal(DAY), created, orders.c.company_id, secondary, orders.c.status,
               func.count())
        .where(dated)
        .group_by(created, orders.c.company_id, secondary, orders.c.status)
        .order_by(created, orders.c.company_id, secondary, orders.c.status)
    )  # fmt: skip
    _insert_with_months(conn, report_status_totals, status_days, "status", "orders")
    conn.execute(
        insert(report_skus).from_select(
            ["sku_hash", "sku"],
            select(digest, func.min(order_items.c.sku)).group_by(digest).order_by(
                func.min(order_items.c.sku)),
        )
    )  # fmt: skip
    sku_days = (
        select(literal(DAY), created, orders.c.company_id, secondary, report_skus.c.id,
               func.sum(order_items.c.quantity))
        .select_from(
            orders.join(order_items, order_items.c.order_id == orders.c.id)
            .join(report_skus, report_skus.c.sku_hash == digest)
        )
        .where(dated)
        .group_by(created, orders.c.company_id, secondary, report_skus.c.id)
        .order_by(created, orders.c.company_id, secondary, report_skus.c.id)
    )  # fmt: skip
    _insert_with_months(conn, report_sku_totals, sku_days, "sku_id", "units")
    conn.execute(
        insert(report_dispatch_totals).from_select(
            ["day", "company_id", "secondary_company_id", "units"],
            select(dispatched, orders.c.company_id, secondary, func.sum(shipment_items.c.quantity))
            .select_from(
                shipments.join(shipment_items, shipment_items.c.shipment_id == shipments.c.id)
                .join(orders, orders.c.id == shipments.c.order_id)
            )
            .group_by(dispatched, orders.c.company_id, secondary),
        )
    )  # fmt: skip


def _insert_with_months(conn: Connection, table: Table, days: Any, key: str, count: str) -> None:
    """Insert the ``DAY`` rows of ``days``, then the ``MONTH`` rows that sum them."""
    columns = ["grain", "day", "company_id", "secondary_company_id", key, count]
    conn.execute(insert(table).from_select(columns, days))
    if conn.dialect.name == "postgresql":
        month: Any = cast(func.date_trunc("month", table.c.day), Date)
    else:
        month = func.date(table.c.day, "start of month")
    group = [month, table.c.company_id, table.c.secondary_company_id, table.c[key]]
    months = (
        select(literal(MONTH), *group, func.sum(table.c[count]))
        .where(table.c.grain == DAY)
        .group_by(*group)
        .order_by(*group)
    )
    conn.execute(insert(table).from_select(columns, months))


__all__ = [
    "DAY",
    "MONTH",
    "OrderKey",
    "Totals",
    "add",
    "change",
    "contribution",
    "order_key",
    "pending",
    "rebuild",
    "sku_hash",
    "stored",
]
