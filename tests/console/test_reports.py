"""The reports page: each report's numbers against an independent count made here in SQL, over
rows inserted here (and the reports' totals rebuilt from them, as the demo does); the period and
the company narrow them; a viewer gets only its companies; each CSV holds exactly its table's
numbers. That the writers keep the totals exact is ``tests/unit/test_report_totals.py``'s."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, text

from oms_export.console import reports
from oms_export.db.engine import writer
from oms_export.db.schema import order_items, shipment_items, shipments
from oms_export.orders import report_totals
from tests import factories
from tests.console.conftest import Store

MAY = {"from": "2024-05-01", "to": "2024-05-31"}


def ship(engine: Engine, order_id: int, at: str, units: int) -> None:
    """A shipment of ``order_id``'s first item, ``units`` of it, dispatched ``at``."""
    with engine.begin() as conn:
        item_id = conn.execute(
            text("SELECT min(id) FROM order_items WHERE order_id = :o"), {"o": order_id}
        ).scalar_one()
        shipment_id = conn.execute(
            insert(shipments)
            .values(order_id=order_id, dispatch_datetime=factories.utc(at))
            .returning(shipments.c.id)
        ).scalar_one()
        conn.execute(
            insert(shipment_items).values(shipment_id=shipment_id, item_id=item_id, quantity=units)
        )
        conn.execute(
            order_items.update()
            .where(order_items.c.id == item_id)
            .values(shipped_quantity=order_items.c.shipped_quantity + units)
        )


@pytest.fixture
def data(engine: Engine, store: Store) -> Store:
    """Orders of both companies in May 2024 (and some outside it), items and shipments."""
    make = factories.order
    at = factories.utc
    acme, beta = store.acme, store.beta  # each has one order of 2024-05-01 08:00 already
    a1 = make(
        engine,
        acme,
        "A-1",
        status=1,
        creation_datetime=at("2024-05-02 10:00:00"),
        items=[{"sku": "RED", "quantity": 5}, {"sku": "BLUE", "quantity": 2}],
    )
    a2 = make(
        engine,
        acme,
        "A-2",
        status=4,
        creation_datetime=at("2024-05-31 23:59:59"),
        items=[{"sku": "RED", "quantity": 3}],
    )
    make(
        engine,
        acme,
        "A-OLD",
        status=4,
        creation_datetime=at("2024-04-30 23:59:59"),
        items=[{"sku": "OLD", "quantity": 50}],
    )
    make(
        engine,
        acme,
        "A-JUNE",
        status=1,
        creation_datetime=at("2024-06-01 00:00:00"),
        items=[{"sku": "JUNE", "quantity": 40}],
    )
    b1 = make(
        engine,
        beta,
        "B-1",
        status=1,
        creation_datetime=at("2024-05-03 09:00:00"),
        items=[{"sku": "GREEN", "quantity": 7}, {"sku": "RED", "quantity": 1}],
    )
    shared = make(engine, beta, "S-1", status=128, secondary_company_id=acme,
                  creation_datetime=at("2024-05-04 12:00:00"),
                  items=[{"sku": "SHARED", "quantity": 4}])  # fmt: skip
    ship(engine, a1, "2024-05-03 10:00:00", 2)
    ship(engine, a1, "2024-05-03 18:00:00", 1)
    ship(engine, a2, "2024-05-20 07:00:00", 3)
    ship(engine, b1, "2024-05-20 08:00:00", 6)
    ship(engine, shared, "2024-05-21 08:00:00", 4)
    ship(engine, a1, "2024-06-01 00:00:00", 2)  # outside May
    with writer(engine).begin() as conn:
        report_totals.rebuild(conn)  # the rows above bypass the writers that keep the totals
    return store


def independent(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


COMPANY = "(o.company_id IN ({ids}) OR o.secondary_company_id IN ({ids}))"
PERIOD = "o.creation_datetime >= '2024-05-01' AND o.creation_datetime < '2024-06-01'"


def expected(engine: Engine, ids: list[int] | None) -> dict[str, list[tuple[str, ...]]]:
    """Each report's table as strings, counted here by hand-written SQL."""
    where = PERIOD + (" AND " + COMPANY.format(ids=",".join(map(str, ids))) if ids else "")
    status = independent(
        engine,
        f"SELECT o.status, count(*) FROM orders o WHERE {where} GROUP BY 1 ORDER BY 1",  # noqa: S608 -- the test's own ints
    )
    skus = independent(
        engine,
        "SELECT i.sku, sum(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id "  # noqa: S608 -- the test's own ints
        f"WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
    )
    shipped_where = "s.dispatch_datetime >= '2024-05-01' AND s.dispatch_datetime < '2024-06-01'"
    if ids:
        shipped_where += " AND " + COMPANY.format(ids=",".join(map(str, ids)))
    per_day: dict[str, int] = {}
    for dispatched, units in independent(
        engine,
        "SELECT s.dispatch_datetime, si.quantity FROM shipments s "  # noqa: S608 -- the test's own ints
        "JOIN shipment_items si ON si.shipment_id = s.id JOIN orders o ON o.id = s.order_id "
        f"WHERE {shipped_where}",
    ):
        day = str(dispatched)[:10]
        per_day[day] = per_day.get(day, 0) + units
    from oms_export.statuses import ORDER_STATUSES

    return {
        "orders-per-status": [(str(s), ORDER_STATUSES[s], str(n)) for s, n in status],
        "dispatched-per-day": [(d, str(n)) for d, n in sorted(per_day.items())],
        "top-skus": [(s, str(n)) for s, n in skus],
    }


def tables(page: httpx.Response) -> dict[str, list[tuple[str, ...]]]:
    """Each report's table on the page, as the rows of its body."""
    assert page.status_code == 200, page.text
    found: dict[str, list[tuple[str, ...]]] = {}
    for name in ("orders-per-status", "dispatched-per-day", "top-skus"):
        table = re.search(rf'<table id="{name}-table">(.*?)</table>', page.text, re.S)
        body = table.group(1).split("<tbody>")[1] if table else ""
        found[name] = [
            tuple(unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row))
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        ]
    return found


def csv_rows(http: httpx.Client, name: str, params: dict[str, str]) -> list[tuple[str, ...]]:
    answer = http.get(f"/console/reports/{name}.csv", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = [tuple(row) for row in csv.reader(io.StringIO(answer.text))]
    assert rows[0] == reports_columns(name)
    return rows[1:]


def reports_columns(name: str) -> tuple[str, ...]:
    from oms_export.console.report_pages import BY_NAME

    return BY_NAME[name].columns


def test_an_admin_sees_every_companys_numbers(
    admin_http: httpx.Client, engine: Engine, data: Store
) -> None:
    shown = tables(admin_http.get("/console/reports", params=MAY))
    want = expected(engine, None)
    assert shown == want
    assert want["top-skus"][0] == ("RED", "9")
    assert want["dispatched-per-day"] == [
        ("2024-05-03", "3"),
        ("2024-05-20", "9"),
        ("2024-05-21", "4"),
    ]
    for name, rows in shown.items():
        assert csv_rows(admin_http, name, MAY) == rows


def test_the_company_narrows_the_numbers(
    admin_http: httpx.Client, engine: Engine, data: Store
) -> None:
    params = {**MAY, "company": "1002"}
    shown = tables(admin_http.get("/console/reports", params=params))
    assert shown == expected(engine, [data.beta])
    assert ("SHARED", "4") in shown["top-skus"]
    assert all(sku != "BLUE" for sku, _ in shown["top-skus"])
    for name, rows in shown.items():
        assert csv_rows(admin_http, name, params) == rows


def test_the_period_narrows_the_numbers(admin_http: httpx.Client, data: Store) -> None:
    shown = tables(
        admin_http.get("/console/reports", params={"from": "2024-05-20", "to": "2024-05-20"})
    )
    assert shown["dispatched-per-day"] == [("2024-05-20", "9")]
    assert shown["orders-per-status"] == []
    assert shown["top-skus"] == []
    june = tables(
        admin_http.get("/console/reports", params={"from": "2024-06-01", "to": "2024-06-01"})
    )
    assert june["top-skus"] == [("JUNE", "40")]
    assert june["dispatched-per-day"] == [("2024-06-01", "2")]


def test_a_viewer_sees_its_companies_only(
    viewer_http: httpx.Client, engine: Engine, data: Store
) -> None:
    shown = tables(viewer_http.get("/console/reports", params=MAY))
    assert shown == expected(engine, [data.acme])  # the shared order's secondary is acme
    assert all(sku != "GREEN" for sku, _ in shown["top-skus"])
    page = viewer_http.get("/console/reports", params=MAY)
    assert 'value="1002"' not in page.text
    for name, rows in shown.items():
        assert csv_rows(viewer_http, name, MAY) == rows


def test_a_viewer_naming_another_company_is_refused(viewer_http: httpx.Client, data: Store) -> None:
    for url in ("/console/reports", "/console/reports/top-skus.csv"):
        for company in ("1002", "999999"):
            answer = viewer_http.get(url, params={**MAY, "company": company})
            assert answer.status_code == 403, (url, company)
            assert "GREEN" not in answer.text


def test_bad_queries_are_refused(admin_http: httpx.Client, data: Store) -> None:
    assert admin_http.get("/console/reports", params={"from": "May"}).status_code == 400
    reversed_period = {"from": "2024-05-31", "to": "2024-05-01"}
    assert admin_http.get("/console/reports", params=reversed_period).status_code == 400
    assert admin_http.get("/console/reports/nothing.csv").status_code == 404
    assert admin_http.get("/console/reports", params={"company": "999999"}).status_code == 404


def test_the_default_period_is_the_last_30_days(admin_http: httpx.Client, data: Store) -> None:
    page = admin_http.get("/console/reports")
    assert page.status_code == 200
    assert "Nothing in this period." in page.text  # the data is of 2024
    assert '<script src="/console/static/vendor/chart.umd.min.js"></script>' in page.text
    assert 'href="/console/reports"' in page.text  # in the navigation


def test_signed_out_visitors_are_sent_to_sign_in(live_server: Any, data: Store) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        for url in ("/console/reports", "/console/reports/top-skus.csv"):
            assert http.get(url).headers["location"] == "/console/sign-in"


def test_report_functions_return_plain_rows(engine: Engine, data: Store) -> None:
    scope = reports.Scope(datetime(2024, 5, 1), datetime(2024, 6, 1), frozenset({data.acme}))
    with engine.connect() as conn:
        assert reports.top_skus(conn, scope, limit=2) == [("RED", 8), ("SHARED", 4)]
        assert next(tuple(r) for r in reports.dispatched_per_day(conn, scope))[1] == 3
