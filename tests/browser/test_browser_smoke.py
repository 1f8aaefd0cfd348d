"""The browser harness itself, on a page the service already has: Swagger UI at ``/docs``.

Proves Chromium is driven by path, the page renders and runs its script without errors, axe-core
scans it, and a phone-width screenshot comes out as a PNG of that width.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.browser.support import PHONE, axe_violations, describe, png_size, serious

SWAGGER_UI_SERIOUS_BASELINE = {"color-contrast", "html-has-lang", "nested-interactive"}
"""Swagger UI's own serious violations (axe-core 4.12, fastapi-offline's Swagger UI), not ours
to fix: the scan fails on any other serious rule, or on any critical one."""

ORDERS_OPERATIONS = {
    ("POST", "/orders"),
    ("GET", "/orders"),
    ("GET", "/orders/{order_id}"),
    ("PUT", "/orders/{order_id}/status"),
    ("POST", "/orders/{order_id}/shipments"),
    ("POST", "/orders/{order_id}/cancellations"),
    ("GET", "/orders/{order_id}/events"),
}


def _open_docs(page: Page, console: str) -> None:
    page.goto(f"{console}/docs")
    page.locator(".opblock").first.wait_for()


def test_docs_render_the_orders_operations(
    page: Page, page_errors: list[str], console: str
) -> None:
    _open_docs(page, console)
    operations = page.locator(".opblock-summary").evaluate_all(
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').dataset.path,
        ])"""
    )
    listed = {(method, path) for method, path in operations}
    assert listed >= ORDERS_OPERATIONS, sorted(ORDERS_OPERATIONS - listed)
    assert page_errors == []


def test_docs_have_no_critical_accessibility_violations(page: Page, console: str) -> None:
    _open_docs(page, console)
    violations = axe_violations(page)
    critical = [v for v in violations if v["impact"] == "critical"]
    assert critical == [], describe(critical)
    new = [v for v in serious(violations) if v["id"] not in SWAGGER_UI_SERIOUS_BASELINE]
    assert new == [], describe(new)


def test_docs_phone_screenshot_is_a_png_of_the_phone_width(
    page: Page, console: str, tmp_path: Path
) -> None:
    page.set_viewport_size(PHONE)
    _open_docs(page, console)
    path = tmp_path / "docs-phone.png"
    page.screenshot(path=path, full_page=True)
    width, height = png_size(path.read_bytes())
    assert width == PHONE["width"]
    assert height >= PHONE["height"]
