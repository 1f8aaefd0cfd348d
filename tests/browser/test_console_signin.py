"""Signing in to the console and out again, in a real browser, as a person would.

Covers the sign-in form by mouse and by keyboard alone, a wrong password, an accessibility
scan of the page, and its phone-width screenshot (docs/images/console-signin.png, rewritten
only with ``OMS_EXPORT_UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from oms_export.console.users import add_user
from tests.browser.support import PHONE, axe_violations, describe, png_size, serious
from tests.browser.support import update_screenshots as should_update_screenshots

ADMIN_EMAIL = "ann.admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "console-signin.png"
MAX_TABS = 10
"""Tab presses allowed to reach the email field from the top of the page (skip link, brand)."""


@pytest.fixture
def admin(engine: Engine) -> str:
    """An admin added through the store, as ``oms-export users add --role admin`` does."""
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
    return ADMIN_EMAIL


def _sign_in_page(page: Page, console: str) -> None:
    page.goto(f"{console}/")  # / leads to the console, which asks an anonymous visitor to sign in
    expect(page).to_have_url(f"{console}/console/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def _expect_signed_out(page: Page, console: str) -> None:
    page.goto(f"{console}/console")
    expect(page).to_have_url(f"{console}/console/sign-in")


def _focused(page: Page) -> str:
    """What has the keyboard focus: ``tag#id`` or ``tag[type]``."""
    described: str = page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return "";
            const tag = el.tagName.toLowerCase();
            return el.id ? `${tag}#${el.id}` : `${tag}[${el.getAttribute("type") || ""}]`;
        }"""
    )
    return described


def test_admin_signs_in_lands_on_the_console_and_signs_out(
    page: Page, page_errors: list[str], console: str, admin: str
) -> None:
    _sign_in_page(page, console)
    page.get_by_label("Email").fill(admin)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{console}/console")
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {admin}, admin.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{console}/console/sign-in")
    _expect_signed_out(page, console)
    assert page_errors == []


def test_wrong_password_shows_an_error_and_signs_nobody_in(
    page: Page, console: str, admin: str
) -> None:
    _sign_in_page(page, console)
    page.get_by_label("Email").fill(admin)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")
    expect(page.get_by_label("Email")).to_have_value(admin)
    expect(page.get_by_label("Password")).to_have_value("")
    _expect_signed_out(page, console)


def test_sign_in_by_keyboard_alone(page: Page, console: str, admin: str) -> None:
    _sign_in_page(page, console)
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if _focused(page) == "input#email":
            break
    assert _focused(page) == "input#email", (
        f"Tab never reached the email field ({MAX_TABS} presses)"
    )
    page.keyboard.type(admin)
    page.keyboard.press("Tab")
    assert _focused(page) == "input#password"
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Tab")
    assert _focused(page) == "button[submit]"
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{console}/console")
    expect(page.get_by_text(f"Signed in as {admin}, admin.")).to_be_visible()


def test_sign_in_page_has_no_serious_accessibility_violations(
    page: Page, console: str, admin: str
) -> None:
    _sign_in_page(page, console)
    found = serious(axe_violations(page))
    assert found == [], describe(found)

    page.get_by_label("Email").fill(admin)  # and with the error of a wrong password showing
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    found = serious(axe_violations(page))
    assert found == [], describe(found)


def test_sign_in_page_at_phone_width(page: Page, console: str, tmp_path: Path) -> None:
    page.set_viewport_size(PHONE)
    _sign_in_page(page, console)
    image = page.screenshot(full_page=True)
    width, height = png_size(image)
    assert width == PHONE["width"], "the page is wider than a phone: it scrolls sideways"
    assert height >= PHONE["height"]
    if should_update_screenshots():
        # Both stores' runs write the same picture: a rename, so a reader never sees half a file.
        partial = tmp_path / SCREENSHOT.name
        partial.write_bytes(image)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        os.replace(partial, SCREENSHOT)
