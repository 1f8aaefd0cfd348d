"""The console's pages in a real browser: what a person could do with it, on both stores.

Covers a tampered CSRF token (refused, nothing changed), a viewer editing URLs to reach another
company's orders (404, no search result), an OAuth client's secret shown exactly once, an
accessibility scan of every page an admin reaches, phone-width pages that never scroll sideways
(docs/images/console-*.png, rewritten only with ``OMS_EXPORT_UPDATE_SCREENSHOTS=1``), and
signing out from a phone with the keyboard alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, insert

from oms_export.auth.clients import create_client, list_clients
from oms_export.console.users import add_user
from oms_export.db.schema import event_attempts, events
from oms_export.settings import Settings
from tests import factories
from tests.browser.support import PHONE, axe_violations, describe, png_size, serious
from tests.browser.support import update_screenshots as should_update_screenshots

PASSWORD = "correct horse battery staple"
ADMIN = "ann.admin@example.com"
VIEWER = "vic.viewer@example.com"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
MAX_TABS = 20
"""Tab presses allowed to reach *Sign out* from the top of a page (skip link, brand, nav)."""


@dataclass
class Shop:
    """Two companies that may export, an order of each, a failed event, an admin, and a
    viewer of the first company alone."""

    acme_order: int
    beta_order: int


@pytest.fixture
def shop(engine: Engine) -> Shop:
    acme = factories.company(engine, 1001)
    beta = factories.company(engine, 1002)
    acme_order = factories.order(
        engine, acme, "ACME-1", items=[{"sku": "ACME-SKU"}], attributes={"channel": "web"}
    )
    beta_order = factories.order(engine, beta, "BETA-SECRET-1", items=[{"sku": "BETA-SKU"}])
    _failed_event(engine, acme_order, acme)
    add_user(engine, ADMIN, PASSWORD, role="admin")
    add_user(engine, VIEWER, PASSWORD, role="viewer", company_ref_ids=[1001])
    return Shop(acme_order, beta_order)


def _failed_event(engine: Engine, order_id: int, company_id: int) -> None:
    moment = datetime(2024, 5, 1, 9, 0, 0)
    with engine.begin() as conn:
        row = conn.execute(
            insert(events)
            .values(
                event_id="evt_failed_1",
                order_id=order_id,
                company_id=company_id,
                kind="status_callback",
                occurred_at=moment,
                status=8,
                url="https://example.com/hook",
                body="{}",
                state="failed",
                attempts=3,
                next_attempt_at=moment,
            )
            .returning(events.c.id)
        ).scalar_one()
        conn.execute(
            insert(event_attempts).values(
                event_id=row, at=moment, status_code=500, error="receiver answered 500"
            )
        )


def _sign_in(page: Page, console: str, email: str) -> None:
    page.goto(f"{console}/console/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{console}/console")


def _status(page: Page, url: str) -> int:
    """Go to ``url``; the HTTP status it answered with."""
    answer = page.goto(url)
    assert answer is not None
    return answer.status


def _expect_signed_in(page: Page, console: str) -> None:
    page.goto(f"{console}/console")
    expect(page).to_have_url(f"{console}/console")
    expect(page.get_by_role("heading", name="Console")).to_be_visible()


def _tamper(page: Page, form: str) -> None:
    """Change the hidden CSRF token of the form matching the CSS selector ``form``."""
    page.evaluate(
        """(selector) => {
            const input = document.querySelector(selector + ' input[name="csrf_token"]');
            input.value = input.value.slice(0, -4) + (input.value.endsWith("AAAA") ? "BBBB" : "AAAA");
        }""",
        form,
    )


def _expect_refused(page: Page) -> None:
    expect(page.get_by_role("heading", name="Form expired")).to_be_visible()
    expect(page.get_by_text("reload the page and send it again")).to_be_visible()


# --- CSRF ------------------------------------------------------------------------------------


def test_a_revoke_form_with_a_tampered_token_is_refused_and_revokes_nothing(
    page: Page, console: str, engine: Engine, settings: Settings, shop: Shop
) -> None:
    client = create_client(engine, settings, name="reporting", company_ref_ids=[1001])
    _sign_in(page, console, ADMIN)
    page.goto(f"{console}/console/admin/clients")
    revoke = f'form[action="/console/admin/clients/{client["client_id"]}/revoke"]'
    _tamper(page, revoke)
    with page.expect_response(f"{console}/console/admin/clients/*/revoke") as answer:
        page.get_by_role("button", name="Revoke reporting").click()
    assert answer.value.status == 403
    _expect_refused(page)

    (stored,) = list_clients(engine)
    assert stored["client_id"] == client["client_id"]
    assert not stored["revoked"]
    token = httpx.post(
        f"{console}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    _expect_signed_in(page, console)


def test_a_sign_out_with_a_tampered_token_is_refused_and_the_session_lives_on(
    page: Page, console: str, shop: Shop
) -> None:
    _sign_in(page, console, ADMIN)
    _tamper(page, "form.sign-out")
    with page.expect_response(f"{console}/console/sign-out") as answer:
        page.get_by_role("button", name="Sign out").click()
    assert answer.value.status == 403
    _expect_refused(page)
    _expect_signed_in(page, console)


# --- A viewer tampering with URLs -------------------------------------------------------------


def _never_shows_beta(page: Page) -> None:
    content = page.content()
    for text in ("BETA-SECRET-1", "BETA-SKU", "1002"):
        assert text not in content, text


def test_a_viewer_editing_urls_never_reaches_another_companys_order(
    page: Page, console: str, shop: Shop
) -> None:
    _sign_in(page, console, VIEWER)
    assert _status(page, f"{console}/console/orders/{shop.acme_order}") == 200
    expect(page.get_by_role("heading", name=f"Order {shop.acme_order}")).to_be_visible()
    expect(page.get_by_text("ACME-SKU").first).to_be_visible()

    assert _status(page, f"{console}/console/orders/{shop.beta_order}") == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("No such order.")).to_be_visible()
    _never_shows_beta(page)

    for q in ("BETA-SECRET-1", f"O{shop.beta_order}"):
        assert _status(page, f"{console}/console/orders?q={q}") == 200
        expect(page.get_by_role("status")).to_have_text(
            f"No order has the ref or external ref “{q}”."
        )
        expect(page.locator(f'a[href="/console/orders/{shop.beta_order}"]')).to_have_count(0)
        assert "BETA-SKU" not in page.content()

    page.goto(f"{console}/console/orders?q=ACME-1")  # the viewer's own order is found
    page.get_by_role("link", name=str(shop.acme_order)).click()
    expect(page).to_have_url(f"{console}/console/orders/{shop.acme_order}")


# --- An OAuth client's secret, shown once -----------------------------------------------------

EVERY_PAGE = [
    "/console",
    "/console/orders?q=ACME-1",
    "/console/orders/{acme_order}",
    "/console/admin/companies",
    "/console/admin/clients",
    "/console/admin/users",
    "/console/admin/events",
]


def test_a_new_clients_secret_is_shown_exactly_once_and_works(
    page: Page, page_errors: list[str], console: str, engine: Engine, shop: Shop
) -> None:
    _sign_in(page, console, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="OAuth clients").click()
    page.get_by_label("Name").fill("warehouse reports")
    page.get_by_label("Company ref ids").fill("1001 1002")
    page.get_by_role("button", name="Create client").click()

    expect(page.get_by_role("status")).to_have_text("Client warehouse reports created.")
    expect(page.get_by_role("heading", name="Copy this secret now")).to_be_visible()
    secret = page.locator("code.client-secret").inner_text().strip()
    assert len(secret) >= 20
    assert page.content().count(secret) == 1
    (stored,) = list_clients(engine)
    client_id = stored["client_id"]
    assert stored["name"] == "warehouse reports"

    # Away and back: the list, a reload of it, and every other page show the secret nowhere.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="OAuth clients").click()
    expect(page.get_by_role("cell", name=client_id)).to_be_visible()
    assert secret not in page.content()
    expect(page.locator("code.client-secret")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("cell", name=client_id)).to_be_visible()
    assert secret not in page.content()
    for path in EVERY_PAGE:
        page.goto(console + path.format(acme_order=shop.acme_order))
        assert secret not in page.content(), path
    assert len(list_clients(engine)) == 1  # nothing sent the form again

    token = httpx.post(
        f"{console}/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    assert token.json()["access_token"]
    assert page_errors == []


# --- Accessibility -----------------------------------------------------------------------------


AXE_PAGES = list(EVERY_PAGE)


@pytest.mark.parametrize("path", AXE_PAGES)
def test_every_admin_page_has_no_serious_accessibility_violations(
    page: Page, console: str, engine: Engine, settings: Settings, shop: Shop, path: str
) -> None:
    create_client(engine, settings, name="reporting", company_ref_ids=[1001])  # a filled table
    _sign_in(page, console, ADMIN)
    assert _status(page, console + path.format(acme_order=shop.acme_order)) == 200
    found = serious(axe_violations(page))
    assert found == [], describe(found)


def test_the_secret_answer_and_a_refusal_have_no_serious_accessibility_violations(
    page: Page, console: str, shop: Shop
) -> None:
    _sign_in(page, console, ADMIN)
    page.goto(f"{console}/console/admin/clients")
    page.get_by_label("Name").fill("reporting")
    page.get_by_label("Company ref ids").fill("1001")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", name="Copy this secret now")).to_be_visible()
    found = serious(axe_violations(page))
    assert found == [], describe(found)

    page.goto(f"{console}/console/orders/999999999")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    found = serious(axe_violations(page))
    assert found == [], describe(found)


# --- Phone width -------------------------------------------------------------------------------

PHONE_PAGES = {
    "home": "/console",
    "orders": "/console/orders?q=ACME-1",
    "order": "/console/orders/{acme_order}",
    "companies": "/console/admin/companies",
    "clients": "/console/admin/clients",
    "users": "/console/admin/users",
    "events": "/console/admin/events",
}


@pytest.mark.parametrize(
    "name",
    list(PHONE_PAGES),
)
def test_main_pages_fit_a_phone_without_scrolling_sideways(
    page: Page,
    console: str,
    engine: Engine,
    settings: Settings,
    shop: Shop,
    tmp_path: Path,
    name: str,
) -> None:
    create_client(engine, settings, name="reporting", company_ref_ids=[1001])
    page.set_viewport_size(PHONE)
    _sign_in(page, console, ADMIN)
    assert _status(page, console + PHONE_PAGES[name].format(acme_order=shop.acme_order)) == 200
    scroll_width: int = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"{name} scrolls sideways: {scroll_width} CSS px wide"
    image = page.screenshot(full_page=True)
    width, height = png_size(image)
    assert width == PHONE["width"]
    assert height >= PHONE["height"]
    if should_update_screenshots():
        # Both stores' runs write the same page: a rename, so a reader never sees half a file.
        target = IMAGES / f"console-{name}.png"
        partial = tmp_path / target.name
        partial.write_bytes(image)
        target.parent.mkdir(exist_ok=True)
        os.replace(partial, target)


def _focused_is_sign_out(page: Page) -> bool:
    found: bool = page.evaluate(
        """() => {
            const el = document.activeElement;
            return !!el && el.tagName === "BUTTON" && !!el.closest("form.sign-out");
        }"""
    )
    return found


@pytest.mark.parametrize("email", [ADMIN, VIEWER])
def test_signing_out_from_a_phone_by_keyboard_alone(
    page: Page, console: str, shop: Shop, email: str
) -> None:
    page.set_viewport_size(PHONE)
    _sign_in(page, console, email)
    page.goto(f"{console}/console/orders/{shop.acme_order}")
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if _focused_is_sign_out(page):
            break
    assert _focused_is_sign_out(page), f"Tab never reached Sign out ({MAX_TABS} presses)"
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{console}/console/sign-in")
    page.goto(f"{console}/console")
    expect(page).to_have_url(f"{console}/console/sign-in")
