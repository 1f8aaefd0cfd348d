"""Who may act on which order (API.md §6.1), attacked over real HTTP on both stores.

An order a client may not act on must look exactly like one that does not exist: the answer to
another company's order is compared, byte for byte once the id is put aside, with the answer to
an id nobody has. Scopes are checked before any lookup, so a token lacking them learns nothing
either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests import factories as f
from tests.api.orders_support import (
    EXPORT,
    FULFIL,
    FULFILLER,
    RETAILER,
    RIVAL,
    WRITE,
    Api,
    api_for,
    created,
    item_ids,
    order_body,
    order_count,
    refusal,
    without_id,
)

MISSING = 987654
"""An id no order has in these tests."""

Call = Callable[[Api, int], httpx.Response]
"""One endpoint acting on one order id, with a body that would succeed on an order of one's own."""

CALLS: dict[str, Call] = {
    "GET /orders/{id}": lambda api, order_id: api.get(order_id),
    "PUT /orders/{id}/status": lambda api, order_id: api.move(order_id, 4),
    "POST /orders/{id}/shipments": lambda api, order_id: api.ship(order_id),
    "POST /orders/{id}/cancellations": lambda api, order_id: api.cancel(order_id),
    "GET /orders/{id}/events": lambda api, order_id: api.events(order_id),
}


@pytest.fixture
def rival(store: Engine, settings: Settings, http: httpx.Client) -> Api:
    """4001's client with every orders scope; it fulfils its own orders."""
    return api_for(store, settings, http, [RIVAL], [WRITE, FULFIL], name="rival")


@pytest.fixture
def rivals_order(rival: Api) -> dict[str, Any]:
    return created(rival, order_body("RIV-1", RIVAL, fulfiller=None))


@pytest.fixture
def attacker(store: Engine, settings: Settings, http: httpx.Client) -> Api:
    """1001's client with every scope: it passes every scope check and owns nothing of 4001."""
    return api_for(store, settings, http, [RETAILER], [WRITE, FULFIL, EXPORT], name="attacker")


def same_as_missing(api: Api, call: Call, order_id: int) -> None:
    """The answer about ``order_id`` is the answer about an id nobody has: 404 ``not_found``,
    same headers that matter, same body once the id is put aside."""
    hidden, missing = call(api, order_id), call(api, MISSING)
    assert refusal(hidden)[:2] == (404, "not_found"), hidden.text
    assert refusal(missing)[:2] == (404, "not_found"), missing.text
    assert without_id(hidden.text, order_id) == without_id(missing.text, MISSING)
    assert hidden.headers["content-type"] == missing.headers["content-type"]


@pytest.mark.parametrize("endpoint", list(CALLS))
def test_another_companys_order_is_404_exactly_as_a_missing_one(
    attacker: Api, rival: Api, rivals_order: dict[str, Any], endpoint: str
) -> None:
    same_as_missing(attacker, CALLS[endpoint], rivals_order["id"])
    assert rival.order(rivals_order["id"]) == rivals_order, "the attempt changed nothing"


def test_a_client_cannot_create_an_order_for_another_company(
    attacker: Api, rival: Api, store: Engine
) -> None:
    response = attacker.create(order_body("RIV-2", RIVAL, fulfiller=None))
    assert refusal(response) == (403, "company_not_allowed", "company_ref_id")
    assert order_count(store) == 0
    assert refusal(rival.find(RIVAL, "RIV-2"))[:2] == (404, "not_found")


def test_finding_another_companys_external_ref_is_404_as_an_unknown_one(
    attacker: Api, rivals_order: dict[str, Any]
) -> None:
    hidden, missing = attacker.find(RIVAL, "RIV-1"), attacker.find(RIVAL, "RIV-9")
    assert refusal(hidden)[:2] == (404, "not_found")
    assert hidden.text.replace("RIV-1", "REF") == missing.text.replace("RIV-9", "REF")


def test_guessing_ids_reveals_nothing_beyond_ones_own_orders(
    attacker: Api, rival: Api, store: Engine, settings: Settings, http: httpx.Client
) -> None:
    """Walk ids past every order that exists: the attacker's own answer 200, every other id
    answers as if it did not exist, whoever's it is."""
    fulfiller = api_for(store, settings, http, [FULFILLER], [FULFIL], name="fulfiller")
    own = {created(attacker, order_body(f"OWN-{n}", fulfiller=None))["id"] for n in range(2)} | {
        created(attacker, order_body("OWN-F"))["id"]
    }
    theirs = {created(rival, order_body(f"RIV-{n}", RIVAL, fulfiller=None))["id"] for n in range(3)}
    assert fulfiller.get(max(own)).status_code == 200, "the fulfiller of OWN-F reads it"
    for order_id in range(1, max(own | theirs) + 5):
        for name in ("GET /orders/{id}", "GET /orders/{id}/events"):
            response = CALLS[name](attacker, order_id)
            if order_id in own:
                assert response.status_code == 200, (name, order_id, response.text)
            else:
                same_as_missing(attacker, CALLS[name], order_id)


def test_a_retailer_without_the_fulfil_scope_cannot_move_or_ship(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    """Its own order, fulfilled by itself: the scope is what is missing, and the answer says so."""
    retailer = api_for(store, settings, http, [RETAILER], [WRITE], name="retailer")
    order = created(retailer, order_body("SELF-1", fulfiller=None))
    for response in (retailer.move(order["id"], 4), retailer.ship(order["id"])):
        assert refusal(response)[:2] == (403, "insufficient_scope"), response.text
        assert FULFIL in response.json()["error_description"]
    assert retailer.order(order["id"]) == order


@pytest.mark.parametrize("endpoint", ["PUT /orders/{id}/status", "POST /orders/{id}/shipments"])
def test_a_retailer_with_the_fulfil_scope_cannot_fulfil_an_order_another_company_fulfils(
    attacker: Api, endpoint: str
) -> None:
    """1001 holds orders.fulfil, but 2001 fulfils this order: to the fulfilment endpoints the
    order is not there, although 1001 reads it as its retailer."""
    order = created(attacker, order_body("FUL-1"))
    same_as_missing(attacker, CALLS[endpoint], order["id"])
    assert attacker.order(order["id"]) == order


def test_a_fulfiller_sees_the_orders_it_fulfils_and_none_of_the_retailers_others(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    retailer = api_for(store, settings, http, [RETAILER], [WRITE], name="retailer")
    fulfiller = api_for(store, settings, http, [FULFILLER], [FULFIL], name="fulfiller")
    fulfilled = created(retailer, order_body("FUL-1"))
    own = created(retailer, order_body("SELF-1", fulfiller=None))
    f.company(store, 5001, "enterprise")
    elsewhere = created(retailer, order_body("ELSE-1", fulfiller=5001))
    assert fulfiller.order(fulfilled["id"]) == fulfilled
    assert fulfiller.find(RETAILER, "FUL-1").json() == fulfilled
    for order in (own, elsewhere):
        for call in CALLS.values():
            same_as_missing(fulfiller, call, order["id"])
        assert refusal(fulfiller.find(RETAILER, order["external_ref"]))[:2] == (404, "not_found")
    assert fulfiller.move(fulfilled["id"], 4).status_code == 200


def test_a_fulfiller_cannot_create_orders(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    """orders.fulfil reads and works orders; creating them is orders.write."""
    fulfiller = api_for(store, settings, http, [FULFILLER], [FULFIL], name="fulfiller")
    response = fulfiller.create(order_body("F-1", FULFILLER, fulfiller=None))
    assert refusal(response)[:2] == (403, "insufficient_scope")
    assert order_count(store) == 0


def every_endpoint(api: Api, order_id: int) -> dict[str, httpx.Response]:
    return {
        "POST /orders": api.create(order_body("EXP-1")),
        "GET /orders?…": api.find(RETAILER, "WEB-1"),
        **{name: call(api, order_id) for name, call in CALLS.items()},
    }


def test_an_export_only_token_is_403_insufficient_scope_on_every_orders_endpoint(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    """The default client of §6.1 reports; it neither writes nor, here, reads orders — even
    its own company's."""
    retailer = api_for(store, settings, http, [RETAILER], [WRITE], name="retailer")
    order = created(retailer, order_body("WEB-1"))
    reporting = api_for(store, settings, http, [RETAILER, FULFILLER], [EXPORT], name="reporting")
    for name, response in every_endpoint(reporting, order["id"]).items():
        assert refusal(response)[:2] == (403, "insufficient_scope"), (name, response.text)
    assert retailer.order(order["id"]) == order
    assert order_count(store) == 1


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_without_a_valid_token_every_orders_endpoint_is_401(
    store: Engine, settings: Settings, http: httpx.Client, token: str | None
) -> None:
    retailer = api_for(store, settings, http, [RETAILER], [WRITE], name="retailer")
    order = created(retailer, order_body("WEB-1"))
    anonymous = Api(http, token or "")  # "": no Authorization header at all
    for name, response in every_endpoint(anonymous, order["id"]).items():
        assert response.status_code == 401, (name, response.text)
        assert refusal(response)[1] == "invalid_token", (name, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer"), name
    assert retailer.order(order["id"]) == order


@pytest.mark.parametrize("subscription", ["free", "oms_lite"])
def test_every_subscription_level_may_create_and_fulfil(
    store: Engine, settings: Settings, http: httpx.Client, subscription: str
) -> None:
    """§6.1: only the export is gated by subscription, not the write side."""
    f.company(store, 6001, subscription)
    shop = api_for(store, settings, http, [6001], [WRITE, FULFIL], name="small shop")
    order = created(shop, order_body("SMALL-1", 6001, fulfiller=None))
    assert shop.move(order["id"], 4).status_code == 200
    shipped = shop.ship(order["id"])
    assert shipped.status_code == 201, shipped.text
    assert shipped.json()["order"]["status"] == 8
    assert shop.find(6001, "SMALL-1").json()["status"] == 8
    assert [i["shipped_quantity"] for i in shop.order(order["id"])["items"]] == [2, 1]
    assert item_ids(order) == item_ids(shop.order(order["id"]))
