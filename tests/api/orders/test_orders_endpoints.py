"""Each endpoint of the orders API (API.md §6.2) over real HTTP, on both stores: what a retailer
and its fulfiller get back when they do what the contract lets them, from create to dispatch,
and the order showing up in the export's changes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.api.orders_support import (
    CALLBACK_URL,
    EXPORT,
    FULFILLER,
    RETAILER,
    Api,
    api_for,
    assert_store_consistent,
    created,
    item_ids,
    moment,
    order_body,
    orders_named,
    refusal,
    utcnow,
)

ORDER_KEYS = {
    "id", "ref", "external_ref", "company_ref_id", "secondary_company_ref_id", "status",
    "status_name", "creation_datetime", "completion_datetime", "updated_datetime",
    "status_callback_url", "customer_name", "company", "secondary_company", "attributes", "items",
}  # fmt: skip
ITEM_KEYS = {
    "id", "ref", "external_ref", "order_id", "status", "status_name", "sku", "quantity",
    "unit_sale_price", "shipped_quantity", "cancelled_quantity", "shipments",
}  # fmt: skip
SHIPMENT_KEYS = {"id", "dispatch_datetime", "carrier", "tracking", "tracking_url", "quantity"}


@pytest.fixture
def order(retailer: Api) -> dict[str, Any]:
    """1001's order WEB-1, fulfilled by 2001: two items, of 2 units and 1."""
    return created(retailer, order_body("WEB-1"))


def counts(order: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """Each item as (quantity, shipped, cancelled, item status)."""
    return [
        (i["quantity"], i["shipped_quantity"], i["cancelled_quantity"], i["status"])
        for i in order["items"]
    ]


# --- create ---------------------------------------------------------------------------------


def test_create_answers_201_with_its_location_and_the_whole_order(retailer: Api) -> None:
    """The answer is the order as every later read gives it, so a channel needs no second call."""
    before = utcnow()
    response = retailer.create(order_body("WEB-1", status_callback_url=CALLBACK_URL))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    order = response.json()
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert set(order) >= ORDER_KEYS, ORDER_KEYS - set(order)
    assert (order["external_ref"], order["company_ref_id"], order["secondary_company_ref_id"]) == (
        "WEB-1",
        RETAILER,
        FULFILLER,
    )
    assert (order["status"], order["status_name"]) == (1, "Received")
    assert order["completion_datetime"] is None
    assert order["status_callback_url"] == CALLBACK_URL
    assert before <= moment(order["updated_datetime"]) <= utcnow()
    assert order["company"]["company_name"] == "Acme Prints"
    assert order["secondary_company"]["company_name"] == "Drop Co"
    assert order["attributes"] == {"channel": "web"}
    assert isinstance(order["ref"], str)
    assert order["ref"]
    for item in order["items"]:
        assert set(item) >= ITEM_KEYS, ITEM_KEYS - set(item)
        assert item["order_id"] == order["id"]
        assert (item["status"], item["shipped_quantity"], item["cancelled_quantity"]) == (1, 0, 0)
        assert item["shipments"] == []
    assert [(i["sku"], i["quantity"], i["unit_sale_price"]) for i in order["items"]] == [
        ("SKU-0", 2, 12.5),
        ("SKU-1", 1, 12.5),
    ]


def test_an_order_and_each_item_carry_attributes_even_when_they_have_none(retailer: Api) -> None:
    """§3.5's order object gives the order and each item an ``attributes`` object; a client reads
    ``item["attributes"]`` without first asking whether the key is there."""
    body = order_body("WEB-A")
    body["items"][0]["attributes"] = [{"name": "print", "value": "front"}]
    with_one = created(retailer, body)
    assert [item.get("attributes") for item in with_one["items"]] == [{"print": "front"}, {}]
    bare = order_body("WEB-B")
    del bare["attributes"]
    without = created(retailer, bare)
    assert without.get("attributes") == {}
    assert [item.get("attributes") for item in without["items"]] == [{}, {}]


def test_an_order_created_on_hold_starts_at_256_with_ready_items(retailer: Api) -> None:
    """§6.2: a channel may hold an order from the start (a fraud check, say)."""
    order = created(retailer, order_body("WEB-H", status=256))
    assert (order["status"], order["status_name"]) == (256, "On Hold")
    assert [item["status"] for item in order["items"]] == [1, 1]


def test_the_same_order_again_is_200_with_the_stored_order_and_changes_nothing(
    retailer: Api, store: Engine
) -> None:
    """A channel retrying after a lost answer must not create a second order."""
    first = retailer.create(order_body("WEB-1"))
    time.sleep(1.1)  # a second write would show in updated_datetime
    again = retailer.create(order_body("WEB-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert orders_named(store, RETAILER, "WEB-1") == 1


def test_key_order_and_number_spelling_do_not_make_another_order(
    retailer: Api, store: Engine
) -> None:
    """Content is compared as parsed JSON: another serializer's spelling of the same order is
    the same order."""
    body = order_body("WEB-2", quantities=(2,))
    first = retailer.send("POST", "/orders", orjson.dumps(body))
    assert first.status_code == 201, first.text
    reordered = dict(reversed(list(body.items())))
    reordered["items"] = [dict(reversed(list(item.items()))) for item in body["items"]]
    text = (
        orjson.dumps(reordered)
        .decode()
        .replace('"unit_sale_price":12.5', '"unit_sale_price":12.50')
    )
    assert "12.50" in text
    again = retailer.send("POST", "/orders", text.encode())
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert orders_named(store, RETAILER, "WEB-2") == 1


def test_the_same_external_ref_with_other_content_is_409_duplicate_order_naming_it(
    retailer: Api, order: dict[str, Any]
) -> None:
    """Two different orders under one external ref is a channel's bug; the answer says which
    order holds the ref so it can be looked at."""
    response = retailer.create(order_body("WEB-1", customer_name="Somebody Else"))
    assert refusal(response)[:2] == (409, "duplicate_order")
    body = response.json()
    assert body["order_id"] == order["id"]
    assert str(order["id"]) in body["error_description"]
    assert retailer.order(order["id"]) == order


def test_an_answer_after_a_move_is_the_order_as_it_is_now(
    retailer: Api, fulfiller: Api, order: dict[str, Any]
) -> None:
    """The same create after the order moved on answers with the stored order as it is now."""
    assert fulfiller.move(order["id"], 4).status_code == 200
    again = retailer.create(order_body("WEB-1"))
    assert again.status_code == 200, again.text
    assert again.json()["status"] == 4
    assert again.json() == retailer.order(order["id"])


# --- read -------------------------------------------------------------------------------------


def test_an_order_is_read_by_id_and_by_external_ref_by_its_retailer_and_its_fulfiller(
    retailer: Api, fulfiller: Api, order: dict[str, Any]
) -> None:
    for api in (retailer, fulfiller):
        by_id = api.get(order["id"])
        assert by_id.status_code == 200, by_id.text
        assert by_id.json() == order
        by_ref = api.find(RETAILER, "WEB-1")
        assert by_ref.status_code == 200, by_ref.text
        assert by_ref.json() == order


def test_an_unknown_external_ref_is_404_not_found(retailer: Api, order: dict[str, Any]) -> None:
    assert refusal(retailer.find(RETAILER, "WEB-404"))[:2] == (404, "not_found")


# --- status -----------------------------------------------------------------------------------


def test_a_status_moves_forward_any_number_of_steps_and_items_follow_production(
    fulfiller: Api, order: dict[str, Any]
) -> None:
    """§6.3: forward moves are free; items are In Production (2) from the order's 4 onward."""
    moved = fulfiller.move(order["id"], 512)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["status_name"]) == (512, "Sent to Supplier")
    assert [item["status"] for item in moved.json()["items"]] == [1, 1]
    jumped = fulfiller.move(order["id"], 600, shipping_carrier="DPD", shipping_method="Express")
    assert jumped.status_code == 200, jumped.text
    assert jumped.json()["status"] == 600
    assert (jumped.json()["shipping_carrier"], jumped.json()["shipping_method"]) == (
        "DPD",
        "Express",
    )
    assert [item["status"] for item in jumped.json()["items"]] == [2, 2]
    assert moment(jumped.json()["updated_datetime"]) >= moment(order["updated_datetime"])


def test_a_move_backward_is_409_invalid_transition_naming_both_statuses(
    fulfiller: Api, order: dict[str, Any]
) -> None:
    """A late update from the fulfiller cannot undo progress, and the answer says why."""
    now = fulfiller.move(order["id"], 4).json()
    response = fulfiller.move(order["id"], 512)
    assert refusal(response)[:2] == (409, "invalid_transition")
    description = response.json()["error_description"]
    assert "In Production (4)" in description
    assert "Sent to Supplier (512)" in description
    assert fulfiller.order(order["id"]) == now


def test_the_same_status_again_is_200_and_leaves_updated_datetime(
    fulfiller: Api, order: dict[str, Any]
) -> None:
    """A repeated update is answered, not refused, and writes nothing."""
    first = fulfiller.move(order["id"], 4)
    assert first.status_code == 200, first.text
    time.sleep(1.1)  # any write now would carry a later second
    again = fulfiller.move(order["id"], 4)
    assert again.status_code == 200, again.text
    assert again.json()["updated_datetime"] == first.json()["updated_datetime"]
    assert again.json() == first.json()


def test_status_8_ships_every_unit_now_and_sets_completion_datetime(
    fulfiller: Api, order: dict[str, Any], store: Engine
) -> None:
    before = utcnow()
    response = fulfiller.move(order["id"], 8, shipping_tracking="TRK-1")
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["status"], done["status_name"]) == (8, "Dispatched")
    assert counts(done) == [(2, 2, 0, 3), (1, 1, 0, 3)]
    shipments = [shipment for item in done["items"] for shipment in item["shipments"]]
    assert [s["quantity"] for s in shipments] == [2, 1]
    assert all(set(s) >= SHIPMENT_KEYS for s in shipments), shipments
    assert len({s["id"] for s in shipments}) == 1, "one shipment carries every remaining unit"
    dispatched = moment(shipments[0]["dispatch_datetime"])
    assert before <= dispatched <= utcnow()
    assert done["completion_datetime"] == shipments[0]["dispatch_datetime"]
    assert_store_consistent(store, order["id"])


def test_status_128_cancels_every_unit(
    fulfiller: Api, order: dict[str, Any], store: Engine
) -> None:
    response = fulfiller.move(order["id"], 128)
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["status"], done["status_name"]) == (128, "Cancelled")
    assert counts(done) == [(2, 0, 2, 7), (1, 0, 1, 7)]
    assert done["completion_datetime"] is None
    assert_store_consistent(store, order["id"])


# --- shipments --------------------------------------------------------------------------------


def test_two_parcels_dispatch_the_order_with_the_second_at_the_latest_dispatch_time(
    fulfiller: Api, order: dict[str, Any], store: Engine
) -> None:
    """8 only when every unit left; completion_datetime is the latest dispatch, not the last
    parcel recorded (the second here left earlier), and it never changes afterwards."""
    first_item, second_item = item_ids(order)
    first = fulfiller.ship(
        order["id"],
        [(first_item, 2)],
        carrier="DPD",
        tracking="TRK-1",
        tracking_url="https://track.example/TRK-1",
        dispatch_datetime="2024-05-03 16:00:00",
    )
    assert first.status_code == 201, first.text
    shipment, partly = first.json()["shipment"], first.json()["order"]
    assert (shipment["carrier"], shipment["tracking"], shipment["dispatch_datetime"]) == (
        "DPD",
        "TRK-1",
        "2024-05-03 16:00:00",
    )
    assert shipment["tracking_url"] == "https://track.example/TRK-1"
    assert shipment["items"] == [{"id": first_item, "quantity": 2}]
    assert partly["status"] == 1
    assert partly["completion_datetime"] is None
    assert counts(partly) == [(2, 2, 0, 3), (1, 0, 0, 1)]
    assert partly["items"][0]["shipments"] == [
        {
            "id": shipment["id"],
            "dispatch_datetime": "2024-05-03 16:00:00",
            "carrier": "DPD",
            "tracking": "TRK-1",
            "tracking_url": "https://track.example/TRK-1",
            "quantity": 2,
        }
    ]

    second = fulfiller.ship(
        order["id"], carrier="Royal Mail", dispatch_datetime="2024-05-02 09:00:00"
    )
    assert second.status_code == 201, second.text
    assert second.json()["shipment"]["items"] == [{"id": second_item, "quantity": 1}]
    done = second.json()["order"]
    assert done["status"] == 8
    assert counts(done) == [(2, 2, 0, 3), (1, 1, 0, 3)]
    assert done["completion_datetime"] == "2024-05-03 16:00:00"

    assert fulfiller.move(order["id"], 8).status_code == 200
    assert refusal(fulfiller.ship(order["id"]))[:2] == (409, "invalid_transition")
    assert refusal(fulfiller.cancel(order["id"], [(second_item, 1)]))[:2] == (
        409,
        "invalid_transition",
    )
    assert fulfiller.order(order["id"])["completion_datetime"] == "2024-05-03 16:00:00"
    assert_store_consistent(store, order["id"])


# --- cancellations ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [1, 256, 32])
def test_a_retailer_cancels_units_while_the_order_is_received_or_held(
    retailer: Api, fulfiller: Api, order: dict[str, Any], status: int
) -> None:
    if status != 1:
        assert fulfiller.move(order["id"], status).status_code == 200
    first_item, _ = item_ids(order)
    response = retailer.cancel(order["id"], [(first_item, 1)], reason="customer asked")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == status
    assert counts(response.json()) == [(2, 0, 1, 1), (1, 0, 0, 1)]


def test_a_retailer_may_not_cancel_once_production_started(
    retailer: Api, fulfiller: Api, order: dict[str, Any]
) -> None:
    """Cancelling units in production costs the fulfiller: only it may decide to."""
    now = fulfiller.move(order["id"], 4).json()
    first_item, _ = item_ids(order)
    response = retailer.cancel(order["id"], [(first_item, 1)])
    assert refusal(response)[:2] == (409, "invalid_transition")
    assert "In Production (4)" in response.json()["error_description"]
    assert retailer.order(order["id"]) == now


def test_the_fulfiller_cancels_in_production_and_cancelling_everything_cancels_the_order(
    fulfiller: Api, order: dict[str, Any], store: Engine
) -> None:
    assert fulfiller.move(order["id"], 4).status_code == 200
    first_item, _ = item_ids(order)
    some = fulfiller.cancel(order["id"], [(first_item, 1)], reason="misprint")
    assert some.status_code == 201, some.text
    assert some.json()["status"] == 4
    assert counts(some.json()) == [(2, 0, 1, 2), (1, 0, 0, 2)]
    rest = fulfiller.cancel(order["id"])
    assert rest.status_code == 201, rest.text
    assert rest.json()["status"] == 128
    assert counts(rest.json()) == [(2, 0, 2, 7), (1, 0, 1, 7)]
    assert rest.json()["completion_datetime"] is None
    assert_store_consistent(store, order["id"])


def test_cancelling_what_was_not_shipped_dispatches_the_order(
    fulfiller: Api, order: dict[str, Any]
) -> None:
    """Shipped plus cancelled covers every unit, one shipped: the order is dispatched, and it
    completed when its parcel left, not when the rest was cancelled."""
    first_item, second_item = item_ids(order)
    shipped = fulfiller.ship(
        order["id"], [(first_item, 2)], dispatch_datetime="2024-05-02 10:00:00"
    )
    assert shipped.status_code == 201, shipped.text
    response = fulfiller.cancel(order["id"], [(second_item, 1)])
    assert response.status_code == 201, response.text
    done = response.json()
    assert done["status"] == 8
    assert counts(done) == [(2, 2, 0, 3), (1, 0, 1, 7)]
    assert done["completion_datetime"] == "2024-05-02 10:00:00"


# --- events and the export --------------------------------------------------------------------


def test_the_events_of_an_order_nobody_listens_to_are_an_empty_list(
    retailer: Api, fulfiller: Api, order: dict[str, Any]
) -> None:
    """§7: events are status callbacks and order pushes, oldest first, as a JSON array; an order
    without a callback URL whose fulfiller has no push URL has none."""
    for api in (retailer, fulfiller):
        response = api.events(order["id"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == []


def test_a_new_order_is_in_the_exports_changes_since_its_updated_datetime(
    store: Engine, settings: Settings, http: httpx.Client, retailer: Api, order: dict[str, Any]
) -> None:
    """§6.4: a report kept in sync by updated_datetime finds the order the API just wrote."""
    reporting = api_for(store, settings, http, [RETAILER], [EXPORT], name="reporting")
    since = order["updated_datetime"]
    found = http.get(
        "/export-api/order-item-details",
        params={"filter[updated_datetime:gte]": since},
        headers=reporting.auth,
    )
    assert found.status_code == 200, (
        f"the export's filter[updated_datetime:gte] (§6.4) is not answering: {found.text}"
    )
    assert [(row["external_ref"], row["items__sku"]) for row in found.json()] == [
        ("WEB-1", "SKU-0"),
        ("WEB-1", "SKU-1"),
    ], "filter[updated_datetime:gte] must return the order the API just created"
    later = http.get(
        "/export-api/order-item-details",
        params={"filter[updated_datetime:gt]": since},
        headers=reporting.auth,
    )
    assert later.status_code == 200, later.text
    assert later.json() == [], "filter[updated_datetime:gt] its own time must leave it out"
