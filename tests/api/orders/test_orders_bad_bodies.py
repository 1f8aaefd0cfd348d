"""Bodies the orders API must refuse (API.md §6.2), over real HTTP on both stores.

Each refusal is pinned whole: the status, the ``error`` and the exact ``parameter`` (the JSON path
at fault, absent when the body as a whole is). Whatever is refused, nothing changes: the order's
``updated_datetime`` is set back to a known past moment first, so any write would show, and the
order is read again after every refusal. A property then posts random JSON to every body-taking
endpoint: never a 5xx, every 4xx a JSON error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, update

from oms_export.db import schema
from tests.api.orders_support import (
    Api,
    created,
    item_ids,
    order_body,
    order_count,
    refusal,
    utcnow,
)

MiB = 1 << 20
LONG_AGO = datetime(2024, 1, 1, 0, 0, 0)


@pytest.fixture
def order(retailer: Api, store: Engine) -> dict[str, Any]:
    """WEB-1 (items of 2 units and 1), last changed long ago as far as the store knows, so a
    write by a refused request would move ``updated_datetime``."""
    order = created(retailer, order_body("WEB-1"))
    with store.begin() as conn:
        conn.execute(
            update(schema.orders)
            .where(schema.orders.c.id == order["id"])
            .values(updated_datetime=LONG_AGO)
        )
    order = retailer.order(order["id"])
    assert order["updated_datetime"] == "2024-01-01 00:00:00"
    return order


@pytest.fixture
def unchanged(retailer: Api, order: dict[str, Any], store: Engine) -> Iterator[Callable[[], None]]:
    """A check that the order and the store are as they were; called after each refusal, and
    once more at the end."""

    def check() -> None:
        assert retailer.order(order["id"]) == order, "a refused request changed the order"
        assert order_count(store) == 1, "a refused request created an order"

    yield check
    check()


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


# --- per endpoint: a valid body, and who sends it -----------------------------------------------

Endpoint = tuple[str, str, bytes, Api]
"""(method, path, a body that would succeed, the client that sends it)."""


def endpoint(name: str, order: dict[str, Any], retailer: Api, fulfiller: Api) -> Endpoint:
    first_item, _ = item_ids(order)
    one = {"items": [{"id": first_item, "quantity": 1}]}
    return {
        "create": ("POST", "/orders", dumps(order_body("WEB-2")), retailer),
        "status": ("PUT", f"/orders/{order['id']}/status", dumps({"status": 4}), fulfiller),
        "shipments": ("POST", f"/orders/{order['id']}/shipments", dumps(one), fulfiller),
        "cancellations": ("POST", f"/orders/{order['id']}/cancellations", dumps(one), fulfiller),
    }[name]


ENDPOINTS = ["create", "status", "shipments", "cancellations"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_body_not_sent_as_json_is_415(
    order: dict[str, Any],
    retailer: Api,
    fulfiller: Api,
    unchanged: Callable[[], None],
    name: str,
    content_type: str | None,
) -> None:
    """The bytes would be a valid body; the media type alone is refused."""
    method, path, body, api = endpoint(name, order, retailer, fulfiller)
    response = api.send(method, path, body, content_type)
    assert refusal(response)[:2] == (415, "unsupported_media_type")
    unchanged()


def test_json_with_a_utf8_charset_is_accepted(retailer: Api) -> None:
    response = retailer.send(
        "POST", "/orders", dumps(order_body("WEB-2")), "application/json; charset=utf-8"
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_one_mib_is_413(
    order: dict[str, Any],
    retailer: Api,
    fulfiller: Api,
    unchanged: Callable[[], None],
    name: str,
    chunked: bool,
) -> None:
    """A valid body padded with whitespace past 1 MiB: the size alone is refused, whether it is
    declared up front or only found while reading."""
    method, path, body, api = endpoint(name, order, retailer, fulfiller)
    padded = body + b" " * (MiB + 1 - len(body))

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(padded), 64 * 1024):
            yield padded[start : start + 64 * 1024]

    response = api.send(method, path, pieces() if chunked else padded)
    assert refusal(response)[:2] == (413, "payload_too_large")
    unchanged()


def test_a_body_of_exactly_one_mib_is_accepted(retailer: Api) -> None:
    body = dumps(order_body("WEB-2"))
    response = retailer.send("POST", "/orders", body + b" " * (MiB - len(body)))
    assert response.status_code == 201, response.text


# --- create ----------------------------------------------------------------------------------


def create_with(**changes: Any) -> bytes:
    """WEB-2's body with keys changed (``None``: the key left out)."""
    body = order_body("WEB-2")
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return dumps(body)


def create_with_item(**changes: Any) -> bytes:
    body = order_body("WEB-2")
    for key, value in changes.items():
        if value is None:
            body["items"][0].pop(key)
        else:
            body["items"][0][key] = value
    return dumps(body)


VALID = dumps(order_body("WEB-2"))

BAD_CREATES: list[tuple[str, bytes, str | None]] = [
    ("not UTF-8", VALID.replace(b"Ada Lovelace", b"Ada \xff\xfe Lovelace"), None),
    ("not JSON", VALID[:-1], None),
    ("empty", b"", None),
    ("an array", b"[]", None),
    ("null", b"null", None),
    ("NaN", VALID.replace(b"3.99", b"NaN"), None),
    ("10,000 deep", b"[" * 10_000 + b"]" * 10_000, None),
    ("a key twice", b'{"customer_name": "Eve", ' + VALID[1:], "customer_name"),
    ("a key twice in items[1]", VALID.replace(b'"sku":"SKU-1"', b'"sku":"SKU-1","sku":"SKU-X"'), "items[1].sku"),
    ("an unknown key", create_with(bogus=1), "bogus"),
    ("an unknown item key", create_with_item(bogus=1), "items[0].bogus"),
    ("a number for text", create_with(customer_name=5), "customer_name"),
    ("text for a flag", create_with(is_free_of_charge="yes"), "is_free_of_charge"),
    ("an object for items", create_with(items={}), "items"),
    ("text for attributes", create_with(attributes="web"), "attributes"),
    ("text for a company", create_with(company_ref_id="acme"), "company_ref_id"),
    ("a flag for a quantity", create_with_item(quantity=True), "items[0].quantity"),
    ("a quantity of 2**40", create_with_item(quantity=2**40), "items[0].quantity"),
    ("a quantity of 0", create_with_item(quantity=0), "items[0].quantity"),
    ("a quantity of -1", create_with_item(quantity=-1), "items[0].quantity"),
    ("a negative price", create_with(shipping_price=-1), "shipping_price"),
    ("no external_ref", create_with(external_ref=None), "external_ref"),
    ("no sku", create_with_item(sku=None), "items[0].sku"),
    *((f"the store's {key}", create_with(**{key: value}), key) for key, value in [
        ("id", 7),
        ("ref", "O7"),
        ("creation_datetime", "2024-05-01 09:00:00"),
        ("completion_datetime", "2024-05-03 16:00:00"),
        ("updated_datetime", "2024-05-03 16:00:00"),
    ]),
    ("status 4", create_with(status=4), "status"),
    ("status 8", create_with(status=8), "status"),
    ("an unknown status", create_with(status=999), "status"),
    ("an item at status 3", create_with_item(status=3), "items[0].status"),
    ("an unknown fulfiller", create_with(secondary_company_ref_id=9999), "secondary_company_ref_id"),
    ("an unknown product", create_with_item(product_id=999), "items[0].product_id"),
    ("a callback over http", create_with(status_callback_url="ftp://93.184.215.14/x"), "status_callback_url"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "parameter"),
    [pytest.param(body, parameter, id=name) for name, body, parameter in BAD_CREATES],
)
def test_a_bad_create_is_400_naming_the_path_at_fault(
    retailer: Api, unchanged: Callable[[], None], body: bytes, parameter: str | None
) -> None:
    response = retailer.send("POST", "/orders", body)
    assert refusal(response) == (400, "invalid_request", parameter)
    unchanged()


# --- status, shipments, cancellations -------------------------------------------------------

Body = Callable[[int, int], bytes]
"""A body built from the order's two item ids."""

BAD_MOVES: list[tuple[str, bytes, str | None]] = [
    ("not JSON", b'{"status": 4', None),
    ("an array", b"[4]", None),
    ("no status", b"{}", "status"),
    ("an unknown status", b'{"status": 999}', "status"),
    ("text for a status", b'{"status": "In Production"}', "status"),
    ("a flag for a status", b'{"status": true}', "status"),
    ("a status of 2**40", b'{"status": 1099511627776}', "status"),
    ("a status twice", b'{"status": 4, "status": 512}', "status"),
    ("an unknown key", b'{"status": 4, "bogus": 1}', "bogus"),
    ("a number for a carrier", b'{"status": 4, "shipping_carrier": 5}', "shipping_carrier"),
]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [pytest.param(body, parameter, id=name) for name, body, parameter in BAD_MOVES],
)
def test_a_bad_status_body_is_400_naming_the_path_at_fault(
    fulfiller: Api,
    order: dict[str, Any],
    unchanged: Callable[[], None],
    body: bytes,
    parameter: str | None,
) -> None:
    response = fulfiller.send("PUT", f"/orders/{order['id']}/status", body)
    assert refusal(response) == (400, "invalid_request", parameter)
    unchanged()


def lines(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    return {"items": [{"id": item, "quantity": units} for item, units in pairs]}


def in_an_hour() -> str:
    return (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")


BAD_LINES: list[tuple[str, Body, str | None]] = [
    ("more than the quantity", lambda a, b: dumps(lines((a, 3))), "items[0].quantity"),
    ("more than remains, second line", lambda a, b: dumps(lines((a, 1), (b, 2))), "items[1].quantity"),
    ("an unknown item", lambda a, b: dumps(lines((999_999, 1))), "items[0].id"),
    ("an item named twice", lambda a, b: dumps(lines((a, 1), (a, 1))), "items[1].id"),
    ("a quantity of 0", lambda a, b: dumps(lines((a, 0))), "items[0].quantity"),
    ("a quantity of -1", lambda a, b: dumps(lines((a, -1))), "items[0].quantity"),
    ("a quantity of 2**40", lambda a, b: dumps(lines((a, 2**40))), "items[0].quantity"),
    ("text for a quantity", lambda a, b: dumps(lines((a, "one"))), "items[0].quantity"),
    ("text for an id", lambda a, b: dumps(lines(("first", 1))), "items[0].id"),
    ("no quantity", lambda a, b: dumps({"items": [{"id": a}]}), "items[0].quantity"),
    ("no lines at all", lambda a, b: dumps({"items": []}), "items"),
    ("an object for items", lambda a, b: dumps({"items": {"id": a}}), "items"),
    ("an unknown line key", lambda a, b: dumps({"items": [{"id": a, "quantity": 1, "bogus": 1}]}), "items[0].bogus"),
    ("a line key twice", lambda a, b: f'{{"items": [{{"id": {a}, "quantity": 1, "quantity": 2}}]}}'.encode(), "items[0].quantity"),
    ("an unknown key", lambda a, b: dumps({**lines((a, 1)), "bogus": 1}), "bogus"),
    ("not JSON", lambda a, b: b'{"items": [', None),
    ("an array", lambda a, b: dumps([{"id": a, "quantity": 1}]), None),
]  # fmt: skip

BAD_SHIPMENTS: list[tuple[str, Body, str | None]] = [
    *BAD_LINES,
    ("a number for a carrier", lambda a, b: dumps({**lines((a, 1)), "carrier": 5}), "carrier"),
    ("a dispatch time that is no time", lambda a, b: dumps({**lines((a, 1)), "dispatch_datetime": "yesterday"}), "dispatch_datetime"),
    ("a dispatch time an hour ahead", lambda a, b: dumps({**lines((a, 1)), "dispatch_datetime": in_an_hour()}), "dispatch_datetime"),
]  # fmt: skip

BAD_CANCELLATIONS: list[tuple[str, Body, str | None]] = [
    *BAD_LINES,
    ("a number for a reason", lambda a, b: dumps({**lines((a, 1)), "reason": 5}), "reason"),
]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [pytest.param(body, parameter, id=name) for name, body, parameter in BAD_SHIPMENTS],
)
def test_a_bad_shipment_is_400_naming_the_path_at_fault(
    fulfiller: Api,
    order: dict[str, Any],
    unchanged: Callable[[], None],
    body: Body,
    parameter: str | None,
) -> None:
    response = fulfiller.send("POST", f"/orders/{order['id']}/shipments", body(*item_ids(order)))
    assert refusal(response) == (400, "invalid_request", parameter)
    unchanged()


@pytest.mark.parametrize(
    ("body", "parameter"),
    [pytest.param(body, parameter, id=name) for name, body, parameter in BAD_CANCELLATIONS],
)
def test_a_bad_cancellation_is_400_naming_the_path_at_fault(
    fulfiller: Api,
    order: dict[str, Any],
    unchanged: Callable[[], None],
    body: Body,
    parameter: str | None,
) -> None:
    response = fulfiller.send(
        "POST", f"/orders/{order['id']}/cancellations", body(*item_ids(order))
    )
    assert refusal(response) == (400, "invalid_request", parameter)
    unchanged()


def test_a_shipment_past_what_remains_after_an_earlier_one_names_the_line(
    fulfiller: Api, order: dict[str, Any], store: Engine
) -> None:
    """Shipped plus cancelled may never pass the quantity: what remains is what counts."""
    first_item, _ = item_ids(order)
    assert fulfiller.ship(order["id"], [(first_item, 1)]).status_code == 201
    assert fulfiller.cancel(order["id"], [(first_item, 1)]).status_code == 201
    before = fulfiller.order(order["id"])
    for response in (
        fulfiller.ship(order["id"], [(first_item, 1)]),
        fulfiller.cancel(order["id"], [(first_item, 1)]),
    ):
        assert refusal(response) == (400, "invalid_request", "items[0].quantity")
        assert str(first_item) in response.json()["error_description"]
    assert fulfiller.order(order["id"]) == before


# --- the property: random JSON never breaks the service -----------------------------------------

KEYS = st.sampled_from(
    ["external_ref", "company_ref_id", "items", "id", "quantity", "status", "sku", "attributes",
     "name", "value", "carrier", "tracking_url", "dispatch_datetime", "reason",
     "secondary_company_ref_id", "product_id", "status_callback_url", "shipping_price"]
) | st.text(max_size=8)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=20,
)


def near(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid body with a few keys replaced or added: random values that reach past the
    first checks."""
    return st.builds(
        lambda patch: {**valid, **patch}, st.dictionaries(KEYS, JSON_VALUES, max_size=3)
    )


@pytest.mark.parametrize("name", ENDPOINTS)
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_json_is_never_a_5xx_and_every_refusal_is_a_json_error(
    order: dict[str, Any], retailer: Api, fulfiller: Api, name: str, data: st.DataObject
) -> None:
    method, path, valid, api = endpoint(name, order, retailer, fulfiller)
    value = data.draw(JSON_VALUES | near(orjson.loads(valid)), label="body")
    body = json.dumps(value).encode()  # NaN, Infinity and lone surrogates go out as written
    response = api.send(method, path, body)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    if response.status_code >= 400:
        refusal(response)
