"""The console over real HTTP: a live service, people to sign in as, and a browser-like client.

Passwords are hashed with argon2 at its default cost, so each user is made once per test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.console.users import add_user
from tests import factories
from tests.live import LiveServer

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Store:
    """Two companies that may export, each with an order, and a viewer of the first."""

    acme: int
    beta: int
    acme_order: int
    beta_order: int


@pytest.fixture
def store(engine: Engine) -> Store:
    acme = factories.company(engine, 1001)
    beta = factories.company(engine, 1002)
    acme_order = factories.order(engine, acme, "ACME-1", items=[{"sku": "A-SKU"}])
    beta_order = factories.order(engine, beta, "BETA-1", items=[{"sku": "B-SKU"}])
    add_user(engine, "admin@example.com", PASSWORD, role="admin")
    add_user(engine, "viewer@example.com", PASSWORD, role="viewer", company_ref_ids=[1001])
    return Store(acme, beta, acme_order, beta_order)


def browser(server: LiveServer) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects, as tests want to see them."""
    return httpx.Client(base_url=server.url, timeout=30)


def csrf_token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_in(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_token(http.get("/console/sign-in"))
    return http.post(
        "/console/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )


@pytest.fixture
def admin_http(live_server: LiveServer, store: Store) -> Iterator[httpx.Client]:
    with browser(live_server) as http:
        assert sign_in(http, "admin@example.com").status_code == 303
        yield http


@pytest.fixture
def viewer_http(live_server: LiveServer, store: Store) -> Iterator[httpx.Client]:
    with browser(live_server) as http:
        assert sign_in(http, "viewer@example.com").status_code == 303
        yield http
