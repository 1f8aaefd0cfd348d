"""The scopes of API.md §6.1 over real HTTP, on every store: a token carries what it asked for,
and the export still requires its own scope whatever else the token holds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.auth.scopes import (
    EXPORT_SCOPE,
    KNOWN_SCOPES,
    ORDERS_FULFIL_SCOPE,
    ORDERS_WRITE_SCOPE,
    SCOPES,
)
from oms_export.settings import Settings
from tests import factories as f

PATH = "/export-api/order-item-details"


@pytest.fixture
def every_scope(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Company 1001 (order_manager, so it may export) with one order, and a client holding every
    scope."""
    acme = f.company(engine, 1001, "order_manager")
    f.order(engine, acme, "A-1", items=[{"sku": "TS", "quantity": 2}])
    return create_client(
        engine, settings, name="all", company_ref_ids=[1001], scopes=sorted(KNOWN_SCOPES)
    )


def token(http: httpx.Client, client: dict[str, Any], scope: str | None) -> httpx.Response:
    form = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "grant_type": "client_credentials",
    }
    if scope is not None:
        form["scope"] = scope
    return http.post("/token", data=form)


def export_with(http: httpx.Client, client: dict[str, Any], scope: str) -> httpx.Response:
    issued = token(http, client, scope)
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == " ".join(sorted(scope.split()))
    return http.get(PATH, headers={"Authorization": f"Bearer {issued.json()['access_token']}"})


@pytest.mark.parametrize(
    "scope",
    [
        ORDERS_WRITE_SCOPE,
        ORDERS_FULFIL_SCOPE,
        f"{ORDERS_WRITE_SCOPE} {ORDERS_FULFIL_SCOPE}",
    ],
)
def test_a_token_without_the_export_scope_is_403_insufficient_scope_on_the_export(
    http: httpx.Client, every_scope: dict[str, Any], scope: str
) -> None:
    response = export_with(http, every_scope, scope)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert EXPORT_SCOPE in response.json()["error_description"]


@pytest.mark.parametrize("scope", [EXPORT_SCOPE, f"{ORDERS_WRITE_SCOPE} {EXPORT_SCOPE}"])
def test_a_token_with_the_export_scope_exports_whatever_else_it_carries(
    http: httpx.Client, every_scope: dict[str, Any], scope: str
) -> None:
    response = export_with(http, every_scope, scope)
    assert response.status_code == 200, response.text
    assert [row["external_ref"] for row in response.json()] == ["A-1"]


def test_a_token_asked_without_scope_carries_every_scope_the_client_holds(
    http: httpx.Client, every_scope: dict[str, Any]
) -> None:
    response = token(http, every_scope, None)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == " ".join(sorted(KNOWN_SCOPES))


def test_a_default_client_cannot_get_an_order_scope(
    http: httpx.Client, every_scope: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    reporting = create_client(engine, settings, name="reporting", company_ref_ids=[1001])
    for scope in (ORDERS_WRITE_SCOPE, ORDERS_FULFIL_SCOPE, f"{EXPORT_SCOPE} {ORDERS_WRITE_SCOPE}"):
        response = token(http, reporting, scope)
        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope"
    assert token(http, reporting, None).json()["scope"] == EXPORT_SCOPE


def test_openapi_lists_every_scope_with_its_description(http: httpx.Client) -> None:
    schemes = http.get("/openapi.json").json()["components"]["securitySchemes"]
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["scopes"] == dict(SCOPES)
    assert all(description for description in flow["scopes"].values())
