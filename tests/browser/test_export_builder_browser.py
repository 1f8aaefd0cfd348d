"""The export builder in Chromium: filled by keyboard alone, previewed, downloaded, scanned.

The form is driven with Tab, Space and Enter only (no mouse, no typing): Tab to a control,
Space to tick it, Enter to send the form and to follow the download link. The downloaded file
must hold the API's bytes for the same query, fetched with an OAuth client of the same companies.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.console.users import add_user
from oms_export.settings import Settings
from tests import factories
from tests.browser.support import axe_violations, describe, serious
from tests.live import bearer

EMAIL = "vera.viewer@example.com"
PASSWORD = "correct horse battery staple"
MAX_TABS = 80
"""Tab presses allowed to reach one control from the previous one."""


@pytest.fixture
def viewer(engine: Engine) -> str:
    acme = factories.company(engine, 1001)
    beta = factories.company(engine, 1002)
    for n, status in enumerate((1, 8, 64)):
        factories.order(
            engine,
            acme,
            f"ACME-{n}",
            status=status,
            completion_datetime=datetime(2024, 5, 1 + n, 12, 0, 0),
            attributes={"channel": "web"},
            items=[{"sku": f"S{n}", "quantity": 2, "attributes": {"gift": "y"}}],
        )
    factories.order(engine, beta, "BETA-1", status=8, items=[{"sku": "B"}])
    add_user(engine, EMAIL, PASSWORD, role="viewer", company_ref_ids=[1001])
    return EMAIL


def _sign_in(page: Page, console: str) -> None:
    page.goto(f"{console}/console/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{console}/console")


def _focused_id(page: Page) -> str:
    found: str = page.evaluate("() => document.activeElement ? document.activeElement.id : ''")
    return found


def _tab_to(page: Page, element_id: str) -> None:
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if _focused_id(page) == element_id:
            return
    pytest.fail(f"Tab never reached #{element_id}")


def _api_bytes(console: str, engine: Engine, settings: Settings, query: str) -> bytes:
    client = create_client(engine, settings, name="same", company_ref_ids=[1001])
    with httpx.Client(base_url=console, timeout=30) as http:
        answer = http.get(
            f"/export-api/order-item-details?{query}",
            headers={"Authorization": f"Bearer {bearer(http, client)}"},
        )
    assert answer.status_code == 200, answer.text
    return answer.content


def test_keyboard_only_build_preview_and_download_equal_the_api(
    page: Page,
    page_errors: list[str],
    console: str,
    engine: Engine,
    settings: Settings,
    viewer: str,
    tmp_path: Path,
) -> None:
    _sign_in(page, console)
    page.goto(f"{console}/console")
    # From the top of the page: the navigation's link to the builder, then the form.
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        name = page.evaluate("() => document.activeElement.textContent")
        if name == "Export builder":
            break
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{console}/console/export")
    expect(page.get_by_role("heading", name="Export builder")).to_be_visible()

    for element_id in ("status-8", "status-64", "option-includeAttributes"):
        _tab_to(page, element_id)
        page.keyboard.press("Space")
        expect(page.locator(f"#{element_id}")).to_be_checked()
    _tab_to(page, "format-json")  # the checked radio of its group; json stays the choice
    page.keyboard.press("Enter")  # sends the form

    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    link = page.locator("#download")
    href = link.get_attribute("href")
    assert href is not None
    query = html.unescape(href).split("?", 1)[1]
    assert query == (
        "filter%5Bstatus%3Ain%5D=8%2C64&options%5BincludeAttributes%5D=1&format=json&shape=rows"
    )
    api = _api_bytes(console, engine, settings, query)
    headers = [h.strip() for h in page.locator("table.preview thead th").all_inner_texts()]
    rows = json.loads(api)
    assert headers == list(rows[0])
    expect(page.locator("table.preview tbody tr")).to_have_count(len(rows))
    curl = page.locator("pre.curl").inner_text()
    assert f"/export-api/order-item-details?{query}" in curl

    _tab_to(page, "download")
    with page.expect_download() as started:
        page.keyboard.press("Enter")
    saved = tmp_path / "export.json"
    started.value.save_as(saved)
    assert saved.read_bytes() == api
    assert re.fullmatch(r"order-item-details-\d{8}-\d{6}\.json", started.value.suggested_filename)
    assert page_errors == []


def test_csv_download_and_accessibility_scan(
    page: Page, console: str, engine: Engine, settings: Settings, viewer: str, tmp_path: Path
) -> None:
    _sign_in(page, console)
    page.goto(f"{console}/console/export")
    found = serious(axe_violations(page))
    assert found == [], describe(found)

    page.get_by_label("Dispatched (8)").check()
    page.get_by_label("csv").check()
    page.get_by_label("Completed at or after").fill("2024-05-02")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    found = serious(axe_violations(page))
    assert found == [], describe(found)

    href = page.locator("#download").get_attribute("href")
    assert href is not None
    api = _api_bytes(console, engine, settings, html.unescape(href).split("?", 1)[1])
    with page.expect_download() as started:
        page.locator("#download").click()
    saved = tmp_path / "export.csv"
    started.value.save_as(saved)
    assert saved.read_bytes() == api
    assert b"ACME-1" in api
    assert b"BETA-1" not in api

    page.get_by_label("Completed at or after").fill("not a date")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("filter[completion_datetime:gte]")
    expect(page.get_by_label("Completed at or after")).to_have_attribute("aria-invalid", "true")
    found = serious(axe_violations(page))
    assert found == [], describe(found)
