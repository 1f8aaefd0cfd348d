"""A real browser for the console's tests: Debian's Chromium, driven by Playwright.

Playwright's own browser download cannot reach its host from our machines, so the browser is
the ``chromium`` that ``.ci/run`` and ``scripts/test`` install with apt, launched by path.
Each xdist worker starts one browser for its whole session; each test gets a fresh context
(its own cookies and storage), which costs milliseconds.

Example::

    def test_docs(page: Page, console: str) -> None:
        page.goto(f"{console}/docs")
        page.get_by_role("heading", name="OMS Export").wait_for()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.live import LiveServer

CHROMIUM_ENV = "OMS_EXPORT_TEST_CHROMIUM"
"""Path of the browser to drive, where ``chromium`` on the PATH is not the one wanted."""

TIMEOUT_MS = 30_000
"""How long any one wait (a selector, a navigation) may take before the test fails: long, as a
loaded 2-core CI machine can take 10 s to render Swagger UI, and waits end as soon as they may."""
expect.set_options(timeout=TIMEOUT_MS)  # the same for expect(...) (its own default is 5 s)


def chromium_path() -> str:
    """The Chromium to launch: ``$OMS_EXPORT_TEST_CHROMIUM``, else ``chromium`` on the PATH."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not path:
        pytest.fail(
            "no chromium to drive: install Debian's package (apt-get install chromium; "
            f"scripts/test does it as root) or set {CHROMIUM_ENV} to a Chromium binary"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running in the main thread while
    it is started, so any later test of the same worker that calls ``asyncio.run`` would fail.
    Stopped at the end of each browser module, it leaves the other tests a thread without one.
    """
    args = ["--disable-dev-shm-usage"]
    if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root
        args.append("--no-sandbox")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=args
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context: no cookies or storage from any other test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """What ``page`` reports as errors from now on: console errors and uncaught exceptions."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium asks for /favicon.ico by itself, whatever the page says: not the page's error.
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            errors.append(f"console: {message.text} ({url})")

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return errors


@pytest.fixture
def console(settings: Settings, engine: Engine, browser: Browser) -> Iterator[str]:
    """Base URL of the service over real HTTP, on this test's database (SQLite, PostgreSQL)."""
    with LiveServer(settings, engine) as server:
        yield server.url
        # The browser's kept-alive connections would hold the server's shutdown until its
        # timeout: close this test's contexts first (the page fixture's close is then a no-op).
        for context in browser.contexts:
            context.close()
