"""The reports page: three reports for a period and a company, each a chart, a table and a CSV.

``/console/reports?from=2024-05-01&to=2024-05-31&company=1001`` (dates inclusive, UTC; the last
30 days and all of the user's companies by default). A viewer may choose only its companies
that may export (API.md §3.1); naming any other company is refused (403), as the export refuses
``filter[company_ref_id]``. An admin may choose any company. The same numbers are served as CSV
at ``/console/reports/<name>.csv`` with the same query.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection, Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oms_export.console import reports
from oms_export.console.pages import PageError, console, render, signed_in
from oms_export.console.users import ConsoleUser
from oms_export.db.schema import companies
from oms_export.statuses import ORDER_STATUSES

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    """The table's and the CSV's header."""
    label: str
    """What the chart's bars count."""
    run: Callable[[Connection, reports.Scope], Sequence[tuple[Any, ...]]]
    cells: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    """A row as the table and the CSV show it."""
    chart: str = "bar"
    horizontal: bool = False


REPORTS = (
    Report(
        "orders-per-status",
        "Orders per status",
        ("status", "status_name", "orders"),
        "Orders",
        reports.orders_per_status,
        lambda r: (r[0], ORDER_STATUSES.get(r[0], "Unknown"), r[1]),
    ),
    Report(
        "dispatched-per-day",
        "Dispatched items per day",
        ("day", "units"),
        "Units dispatched",
        reports.dispatched_per_day,
        lambda r: (r[0].isoformat(), r[1]),
    ),
    Report(
        "top-skus",
        "Top SKUs by units ordered",
        ("sku", "units"),
        "Units ordered",
        reports.top_skus,
        lambda r: (r[0], r[1]),
        horizontal=True,
    ),
)
BY_NAME = {report.name: report for report in REPORTS}


def _bad(message: str) -> PageError:
    return PageError(400, "Bad report query", message)


def _day(text: str, name: str, default: date) -> date:
    if not text.strip():
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _bad(f"“{name}” must be a date as YYYY-MM-DD, not “{text[:40]}”.") from None


def choices(engine: Engine, user: ConsoleUser) -> list[dict[str, Any]]:
    """The companies ``user`` may report on: every one for an admin, else its own that may
    export (``ConsoleUser.company_ids`` holds only those)."""
    query = select(companies.c.id, companies.c.ref_id, companies.c.name).order_by(
        companies.c.ref_id
    )
    if not user.is_admin:
        query = query.where(companies.c.id.in_(sorted(user.company_ids)))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    """Inclusive."""
    company: str
    """The chosen company's ref id, or ``""`` for all."""
    scope: reports.Scope

    @property
    def params(self) -> str:
        return f"from={self.start}&to={self.end}&company={self.company}"


def parse(user: ConsoleUser, options: list[dict[str, Any]], params: dict[str, str]) -> Query:
    """The period and company asked for, checked against what ``user`` may see."""
    today = datetime.now(UTC).date()
    end = _day(params.get("to", ""), "to", today)
    start = _day(params.get("from", ""), "from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise _bad("The period's “from” date is after its “to” date.")
    if not user.is_admin and not options:
        raise PageError(
            403,
            "Subscription required",
            "None of your companies has an Order Manager subscription or higher, "
            "which reports require.",
        )
    company = params.get("company", "").strip()
    ids: frozenset[int] | None = None if user.is_admin else frozenset(o["id"] for o in options)
    if company:
        chosen = [o["id"] for o in options if str(o["ref_id"]) == company]
        if not chosen:
            if user.is_admin:
                raise PageError(404, "Not found", "No such company.")
            raise PageError(403, "Company not allowed", "You may report only on your companies.")
        ids = frozenset(chosen)
    scope = reports.Scope(
        datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time()), ids
    )
    return Query(start, end, company, scope)


def run_all(engine: Engine, scope: reports.Scope) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {r.name: [r.cells(row) for row in r.run(conn, scope)] for r in REPORTS}


def run_one(engine: Engine, report: Report, scope: reports.Scope) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [report.cells(row) for row in report.run(conn, scope)]


def chart_data(report: Report, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """What static/reports.js draws: labels (the first cell but the count) and the counts."""
    label_cell = 1 if report.name == "orders-per-status" else 0
    return {
        "type": report.chart,
        "horizontal": report.horizontal,
        "label": report.label,
        "labels": [str(row[label_cell]) for row in rows],
        "values": [row[-1] for row in rows],
    }


async def _prepare(request: Request) -> tuple[Any, ConsoleUser, list[dict[str, Any]], Query]:
    session, user = await signed_in(request)
    engine = console(request).engine
    options = await run_in_threadpool(choices, engine, user)
    query = parse(user, options, dict(request.query_params))
    return session, user, options, query


@router.get("/console/reports")
async def reports_page(request: Request) -> Response:
    session, user, options, query = await _prepare(request)
    results = await run_in_threadpool(run_all, console(request).engine, query.scope)
    return await render(
        request,
        "reports.html",
        session,
        user=user,
        options=options,
        query=query,
        reports=[
            {
                "report": report,
                "rows": results[report.name],
                "chart": chart_data(report, results[report.name]),
            }
            for report in REPORTS
        ],
    )


@router.get("/console/reports/{name}.csv")
async def report_csv(request: Request, name: str) -> Response:
    report = BY_NAME.get(name)
    if report is None:
        raise PageError(404, "Not found", "No such report.")
    _, _, _, query = await _prepare(request)
    rows = await run_in_threadpool(run_one, console(request).engine, report, query.scope)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    writer.writerows(rows)
    filename = f"{name}_{query.start}_{query.end}{'_' + query.company if query.company else ''}"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
