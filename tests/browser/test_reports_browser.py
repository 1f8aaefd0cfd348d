"""The reports page in Chromium: Chart.js (served by the package) draws each chart, and the
numbers it draws are the ones SQL counts; the page passes an accessibility scan and fits a
phone's width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from oms_export.console.users import add_user
from oms_export.db.engine import writer
from oms_export.orders import report_totals
from tests import factories
from tests.browser.support import PHONE, axe_violations, describe, serious

EMAIL = "rita.reports@example.com"
PASSWORD = "correct horse battery staple"
PERIOD = "from=2024-05-01&to=2024-05-31"


@pytest.fixture
def orders(engine: Engine) -> int:
    """Orders of May 2024 in several statuses and SKUs, one shipped; an admin to read them."""
    acme = factories.company(engine, 1001)
    at = factories.utc
    made = []
    for n, (status, sku, quantity) in enumerate(
        [(1, "RED", 5), (1, "BLUE", 2), (4, "RED", 3), (8, "GREEN", 7), (128, "BLUE", 1)]
    ):
        made.append(
            factories.order(
                engine,
                acme,
                f"R-{n}",
                status=status,
                creation_datetime=at(f"2024-05-{n + 2:02d} 10:00:00"),
                items=[{"sku": sku, "quantity": quantity}],
            )
        )
    first = made[0]
    with engine.begin() as conn:  # two parcels of the first order on one day, one the next
        for shipment_id, at_time, units in (
            (1, "2024-05-03 09:00:00", 2),
            (2, "2024-05-03 17:00:00", 1),
            (3, "2024-05-04 08:00:00", 2),
        ):
            conn.execute(
                text("INSERT INTO shipments (id, order_id, dispatch_datetime) VALUES (:s, :o, :t)"),
                {"s": shipment_id, "o": first, "t": at(at_time)},
            )
            conn.execute(
                text(
                    "INSERT INTO shipment_items (shipment_id, item_id, quantity) "
                    "SELECT :s, min(id), :q FROM order_items WHERE order_id = :o"
                ),
                {"s": shipment_id, "o": first, "q": units},
            )
    with writer(engine).begin() as conn:
        report_totals.rebuild(conn)  # the rows above bypass the writers that keep the totals
    add_user(engine, EMAIL, PASSWORD, role="admin")
    return acme


def _sign_in(page: Page, console: str) -> None:
    page.goto(f"{console}/console/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{console}/console")


def _chart(page: Page, name: str) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        """(name) => {
            const canvas = document.getElementById(name + "-chart");
            const chart = Chart.getChart(canvas);
            const box = canvas.getBoundingClientRect();
            return {width: box.width, height: box.height,
                    labels: chart.data.labels, values: chart.data.datasets[0].data};
        }""",
        name,
    )
    return data


def test_the_charts_draw_the_numbers_sql_counts(
    page: Page, page_errors: list[str], console: str, engine: Engine, orders: int
) -> None:
    _sign_in(page, console)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    page.goto(f"{console}/console/reports?{PERIOD}")
    expect(page.locator("#orders-per-status-chart")).to_be_visible()

    with engine.connect() as conn:
        per_status = conn.execute(
            text(
                "SELECT status, count(*) FROM orders WHERE creation_datetime >= '2024-05-01' "
                "AND creation_datetime < '2024-06-01' GROUP BY status ORDER BY status"
            )
        ).all()
        skus = conn.execute(
            text(
                "SELECT i.sku, sum(i.quantity) FROM order_items i JOIN orders o "
                "ON o.id = i.order_id GROUP BY i.sku ORDER BY 2 DESC, 1 LIMIT 10"
            )
        ).all()
        per_day = conn.execute(
            text(
                "SELECT substr(CAST(s.dispatch_datetime AS TEXT), 1, 10), sum(si.quantity) "
                "FROM shipments s JOIN shipment_items si ON si.shipment_id = s.id "
                "GROUP BY 1 ORDER BY 1"
            )
        ).all()
    from oms_export.statuses import ORDER_STATUSES

    status_chart = _chart(page, "orders-per-status")
    assert status_chart["width"] > 0
    assert status_chart["height"] > 0
    assert status_chart["labels"] == [ORDER_STATUSES[s] for s, _ in per_status]
    assert status_chart["values"] == [n for _, n in per_status]
    sku_chart = _chart(page, "top-skus")
    assert sku_chart["width"] > 0
    assert sku_chart["height"] > 0
    assert list(zip(sku_chart["labels"], sku_chart["values"], strict=True)) == [
        (sku, units) for sku, units in skus
    ]
    assert sku_chart["labels"][0] == "RED"
    day_chart = _chart(page, "dispatched-per-day")
    assert day_chart["width"] > 0
    assert day_chart["height"] > 0
    assert list(zip(day_chart["labels"], day_chart["values"], strict=True)) == [
        (str(day)[:10], int(units)) for day, units in per_day
    ]
    assert day_chart["values"] == [3, 2]
    assert page_errors == []


def test_the_reports_page_passes_the_accessibility_scan(
    page: Page, console: str, orders: int
) -> None:
    _sign_in(page, console)
    page.goto(f"{console}/console/reports?{PERIOD}")
    expect(page.locator("#top-skus-chart")).to_be_visible()
    found = serious(axe_violations(page))
    assert found == [], describe(found)


def test_the_reports_page_fits_a_phone(page: Page, console: str, orders: int) -> None:
    _sign_in(page, console)
    page.set_viewport_size(PHONE)
    page.goto(f"{console}/console/reports?{PERIOD}")
    expect(page.locator("#top-skus-chart")).to_be_visible()
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    assert _chart(page, "top-skus")["width"] <= PHONE["width"]
