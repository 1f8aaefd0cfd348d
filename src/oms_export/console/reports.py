"""The console's reports, each one SQL statement (SQLAlchemy Core) over the reports' totals.

Every report takes a ``Scope``: a half-open period ``[start, end)`` of whole UTC days (naive
datetimes at midnight, as the page forms them) and the internal ids of the companies whose
orders count (an order counts for a company when it is its company or its secondary company, as
in API.md §3.1), or ``None`` for every company (an admin's "all"). Who may ask for which
companies is the page's business (``report_pages``); a report only counts. Rows come back as
plain tuples, ready for a table, a chart and a CSV.

The reports read the per-day and per-month totals that every writer keeps in its transaction
(``orders/report_totals.py``, migration 0007), not the orders: a year is a dozen month rows and
a few dozen day rows per company pair and status or SKU, so it answers as fast as a week did.
Rows whose total fell to 0 are left out. The same counts over the raw tables are the tests'
reference (``tests/console/raw_reports.py``).

Example::

    scope = Scope(datetime(2024, 5, 1), datetime(2024, 6, 1), frozenset({1}))
    with engine.connect() as conn:
        orders_per_status(conn, scope)  # -> [StatusCount(status=1, orders=12), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, and_, false, func, or_, select, true

from oms_export.db.schema import (
    report_dispatch_totals,
    report_sku_totals,
    report_skus,
    report_status_totals,
)
from oms_export.orders.report_totals import DAY, MONTH

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


def _whole_day(moment: datetime) -> date:
    if moment.time() != time():
        raise ValueError(f"a report's period starts and ends at midnight UTC, not {moment}")
    return moment.date()


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def spans(scope: Scope) -> list[tuple[int, date, date]]:
    """The period as rows of the totals: ``(grain, first day, end day exclusive)``, whole months
    as ``MONTH`` rows and the days before and after them as ``DAY`` rows."""
    start, end = _whole_day(scope.start), _whole_day(scope.end)
    first = start if start.day == 1 else _next_month(start)
    last = end.replace(day=1)
    if first >= last:
        return [(DAY, start, end)] if start < end else []
    out = [(MONTH, first, last)]
    if start < first:
        out.append((DAY, start, first))
    if last < end:
        out.append((DAY, last, end))
    return out


def _in(table: Table, scope: Scope) -> Any:
    """The rows of ``table`` (with ``grain``) that make up the period, of the scope's companies."""
    period = or_(
        false(),
        *(
            and_(table.c.grain == grain, table.c.day >= first, table.c.day < end)
            for grain, first, end in spans(scope)
        ),
    )
    return and_(period, _of_companies(table, scope))


def _of_companies(table: Table, scope: Scope) -> Any:
    if scope.company_ids is None:
        return true()
    ids = sorted(scope.company_ids)
    return or_(table.c.company_id.in_(ids), table.c.secondary_company_id.in_(ids))


def orders_per_status(conn: Connection, scope: Scope) -> list[StatusCount]:
    """Orders created in the period, counted by their status now, lowest status first."""
    t = report_status_totals
    count = func.sum(t.c.orders)
    query = (
        select(t.c.status, count.label("orders"))
        .where(_in(t, scope))
        .group_by(t.c.status)
        .having(count > 0)
        .order_by(t.c.status)
    )
    return [StatusCount(int(s), int(n)) for s, n in conn.execute(query)]


def dispatched_per_day(conn: Connection, scope: Scope) -> list[DayUnits]:
    """Units shipped each (UTC) day of the period that saw a shipment, by dispatch time."""
    t = report_dispatch_totals
    units = func.sum(t.c.units)
    query = (
        select(t.c.day, units.label("units"))
        .where(
            t.c.day >= _whole_day(scope.start),
            t.c.day < _whole_day(scope.end),
            _of_companies(t, scope),
        )
        .group_by(t.c.day)
        .having(units > 0)
        .order_by(t.c.day)
    )
    return [DayUnits(d, int(n)) for d, n in conn.execute(query)]


def top_skus(conn: Connection, scope: Scope, limit: int = TOP_SKUS) -> list[SkuUnits]:
    """The ``limit`` SKUs with the most units ordered in orders created in the period; ties
    broken by SKU, so the list is the same on every run."""
    t = report_sku_totals
    units = func.sum(t.c.units)
    per_sku = (
        select(t.c.sku_id, units.label("units"))
        .where(_in(t, scope))
        .group_by(t.c.sku_id)
        .having(units > 0)
        .subquery()
    )
    query = (
        select(report_skus.c.sku, per_sku.c.units)
        .join(per_sku, per_sku.c.sku_id == report_skus.c.id)
        .order_by(per_sku.c.units.desc(), report_skus.c.sku)
        .limit(limit)
    )
    return [SkuUnits(str(s), int(n)) for s, n in conn.execute(query)]
