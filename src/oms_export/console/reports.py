"""The console's reports, each one SQL statement (SQLAlchemy Core) that the database aggregates.

Every report takes a ``Scope``: a half-open period ``[start, end)`` of naive UTC datetimes and
the internal ids of the companies whose orders count (an order counts for a company when it is
its company or its secondary company, as in API.md §3.1), or ``None`` for every company (an
admin's "all"). Who may ask for which companies is the page's business (``report_pages``); a
report only counts. Rows come back as plain tuples, ready for a table, a chart and a CSV.

Example::

    scope = Scope(datetime(2024, 5, 1), datetime(2024, 6, 1), frozenset({1}))
    with engine.connect() as conn:
        orders_per_status(conn, scope)  # -> [StatusCount(status=1, orders=12), ...]

The indexes that keep them fast at a million orders on PostgreSQL come with migration 0006.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Date, and_, cast, func, or_, select

from oms_export.db.schema import order_items, orders, shipment_items, shipments

TOP_SKUS = 10


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    """Exclusive."""
    company_ids: frozenset[int] | None
    """``None``: every company."""


class StatusCount(NamedTuple):
    status: int
    orders: int


class DayUnits(NamedTuple):
    day: date
    units: int


class SkuUnits(NamedTuple):
    sku: str
    units: int


def _of_companies(scope: Scope) -> Any:
    if scope.company_ids is None:
        return None
    ids = sorted(scope.company_ids)
    return or_(orders.c.company_id.in_(ids), orders.c.secondary_company_id.in_(ids))


def _created_in(scope: Scope) -> Any:
    return and_(orders.c.creation_datetime >= scope.start, orders.c.creation_datetime < scope.end)


def orders_per_status(conn: Connection, scope: Scope) -> list[StatusCount]:
    """Orders created in the period, counted by their status now, lowest status first."""
    query = (
        select(orders.c.status, func.count().label("orders"))
        .where(_created_in(scope))
        .group_by(orders.c.status)
        .order_by(orders.c.status)
    )
    if (companies := _of_companies(scope)) is not None:
        query = query.where(companies)
    return [StatusCount(int(s), int(n)) for s, n in conn.execute(query)]


def dispatched_per_day(conn: Connection, scope: Scope) -> list[DayUnits]:
    """Units shipped each (UTC) day of the period that saw a shipment, by dispatch time."""
    if conn.dialect.name == "sqlite":
        day: Any = func.date(shipments.c.dispatch_datetime)
    else:
        day = cast(shipments.c.dispatch_datetime, Date)
    query = (
        select(day.label("day"), func.sum(shipment_items.c.quantity).label("units"))
        .select_from(shipments.join(shipment_items, shipment_items.c.shipment_id == shipments.c.id))
        .where(
            shipments.c.dispatch_datetime >= scope.start,
            shipments.c.dispatch_datetime < scope.end,
        )
        .group_by(day)
        .order_by(day)
    )
    if (companies := _of_companies(scope)) is not None:
        query = query.join(orders, orders.c.id == shipments.c.order_id).where(companies)
    return [
        DayUnits(d if isinstance(d, date) else date.fromisoformat(d), int(n))
        for d, n in conn.execute(query)
    ]


def top_skus(conn: Connection, scope: Scope, limit: int = TOP_SKUS) -> list[SkuUnits]:
    """The ``limit`` SKUs with the most units ordered in orders created in the period; ties
    broken by SKU, so the list is the same on every run."""
    units = func.sum(order_items.c.quantity)
    query = (
        select(order_items.c.sku, units.label("units"))
        .select_from(orders.join(order_items, order_items.c.order_id == orders.c.id))
        .where(_created_in(scope))
        .group_by(order_items.c.sku)
        .order_by(units.desc(), order_items.c.sku)
        .limit(limit)
    )
    if (companies := _of_companies(scope)) is not None:
        query = query.where(companies)
    return [SkuUnits(str(s), int(n)) for s, n in conn.execute(query)]
