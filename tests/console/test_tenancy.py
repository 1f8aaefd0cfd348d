"""A viewer sees its companies' orders under API.md §3.1 and nothing else: another company's
order is 404 by id and absent from search, as if it did not exist."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from oms_export.console.users import add_user
from tests import factories
from tests.console.conftest import PASSWORD, Store, browser, sign_in
from tests.live import LiveServer


def test_a_viewer_sees_its_own_order(viewer_http: httpx.Client, store: Store) -> None:
    page = viewer_http.get(f"/console/orders/{store.acme_order}")
    assert page.status_code == 200
    assert "ACME-1" in page.text
    assert "A-SKU" in page.text
    assert "Event timeline" in page.text
    found = viewer_http.get("/console/orders", params={"q": "ACME-1"})
    assert f'href="/console/orders/{store.acme_order}"' in found.text


def test_a_viewer_reaching_another_companys_order_gets_404(
    viewer_http: httpx.Client, store: Store
) -> None:
    for url in (
        f"/console/orders/{store.beta_order}",
        "/console/orders/999999",
        "/console/orders/x",
    ):
        page = viewer_http.get(url)
        assert page.status_code == 404, url
        assert "BETA-1" not in page.text


def test_a_viewer_searching_another_companys_order_finds_nothing(
    viewer_http: httpx.Client, store: Store
) -> None:
    for q in ("BETA-1", f"O{store.beta_order}"):
        page = viewer_http.get("/console/orders", params={"q": q})
        assert page.status_code == 200
        assert f"/console/orders/{store.beta_order}" not in page.text
        assert "No order has" in page.text


def test_a_secondary_company_sees_the_order_too(
    live_server: LiveServer, engine: Engine, store: Store
) -> None:
    shared = factories.order(engine, store.beta, "SHARED-1", secondary_company_id=store.acme)
    with browser(live_server) as http:
        sign_in(http, "viewer@example.com")
        assert http.get(f"/console/orders/{shared}").status_code == 200


def test_a_company_without_an_exporting_subscription_is_hidden(
    live_server: LiveServer, engine: Engine, store: Store
) -> None:
    lite = factories.company(engine, 1003, subscription="oms_lite")
    hidden = factories.order(engine, lite, "LITE-1")
    add_user(engine, "lite@example.com", PASSWORD, role="viewer", company_ref_ids=[1003])
    with browser(live_server) as http:
        sign_in(http, "lite@example.com")
        assert http.get(f"/console/orders/{hidden}").status_code == 404
        assert "/console/orders/" not in http.get("/console/orders", params={"q": "LITE-1"}).text


def test_an_admin_sees_every_order(admin_http: httpx.Client, store: Store) -> None:
    for order_id in (store.acme_order, store.beta_order):
        assert admin_http.get(f"/console/orders/{order_id}").status_code == 200
