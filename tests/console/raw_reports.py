"""The console's reports counted over the raw tables: the reference the totals must equal.

These were ``oms_export.console.reports`` before the reports read the totals kept by the writers
(``orders/report_totals.py``); the tests keep them to check every total against the orders.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, and_, cast, func, or_, select

from oms_export.console.reports import DayUnits, Scope, SkuUnits, StatusCount
from oms_export.db.schema import order_items, orders, shipment_items, shipments

TOP_SKUS = 10


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
