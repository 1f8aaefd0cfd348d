"""``options[includeFulfilment]`` and ``filter[updated_datetime:OP]`` (API.md §6.4), against a
real store: the six fields' values, the latest shipment chosen, where the keys go, the filter."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import Engine, insert, select, update

from oms_export.auth.clients import create_client
from oms_export.db import schema
from oms_export.errors import InvalidRequest
from oms_export.export.formats import FORMATS
from oms_export.export.params import parse_export_query
from oms_export.export.query import build_plan
from oms_export.export.run import start_export
from oms_export.export.tenancy import entitlement
from oms_export.fields import OPTIONS, field_names
from oms_export.settings import Settings
from tests import factories as f
from tests.live import LiveServer, bearer
from tests.unit.test_export_rows import principal_for

FULFILMENT = "options[includeFulfilment]=1"
SIX = (
    "updated_datetime",
    "items__shipped_quantity",
    "items__cancelled_quantity",
    "items__dispatch_datetime",
    "items__tracking",
    "items__tracking_url",
)


def ship(
    engine: Engine, order_id: int, quantities: dict[int, int], dispatched: str, tracking: str
) -> int:
    """One shipment of ``quantities`` (item id: units), written as the store keeps it."""
    with engine.begin() as conn:
        shipment_id = int(
            conn.execute(
                insert(schema.shipments).values(
                    order_id=order_id,
                    dispatch_datetime=f.utc(dispatched),
                    carrier="DPD",
                    tracking=tracking,
                    tracking_url=f"https://track.example/{tracking}",
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for item_id, quantity in quantities.items():
            conn.execute(
                insert(schema.shipment_items).values(
                    shipment_id=shipment_id, item_id=item_id, quantity=quantity
                )
            )
            conn.execute(
                update(schema.order_items)
                .where(schema.order_items.c.id == item_id)
                .values(shipped_quantity=schema.order_items.c.shipped_quantity + quantity)
            )
    return shipment_id


def item_ids(engine: Engine, order_id: int) -> list[int]:
    items = schema.order_items
    with engine.connect() as conn:
        found = conn.scalars(
            select(items.c.id).where(items.c.order_id == order_id).order_by(items.c.id)
        )
        return list(found)


@pytest.fixture
def store(engine: Engine) -> dict[str, int]:
    """Company 1001 with three orders changed at different times:

    - A (updated 2024-05-02 10:00:00): item 1 shipped in two shipments, the later one written
      first; item 2 in three, the last two dispatched at the same second; item 3 cancelled.
    - B (updated 2024-05-03 00:00:00): no items.
    - C (updated 2024-05-04 12:00:00): one item, nothing shipped yet.
    """
    acme = f.company(engine, 1001, "order_manager")
    a = f.order(
        engine,
        acme,
        "A",
        updated_datetime=f.utc("2024-05-02 10:00:00"),
        attributes={"channel": "web"},
        items=[
            {"sku": "TEE", "quantity": 3, "attributes": {"print": "front"}},
            {"sku": "MUG", "quantity": 3},
            {"sku": "CAP", "quantity": 1, "cancelled_quantity": 1},
        ],
    )
    b = f.order(engine, acme, "B", status=1, updated_datetime=f.utc("2024-05-03 00:00:00"))
    c = f.order(
        engine,
        acme,
        "C",
        status=4,
        updated_datetime=f.utc("2024-05-04 12:00:00"),
        items=[{"sku": "TEE", "quantity": 5}],
    )
    tee, mug, _cap = item_ids(engine, a)
    ship(engine, a, {tee: 1}, "2024-05-02 09:30:00", "LATER")  # the lower id, the later time
    ship(engine, a, {tee: 2, mug: 1}, "2024-05-02 08:00:00", "EARLIER")
    ship(engine, a, {mug: 1}, "2024-05-02 09:45:00", "TIE-FIRST")
    ship(engine, a, {mug: 1}, "2024-05-02 09:45:00", "TIE-SECOND")  # the same second: the later
    return {"acme": acme, "a": a, "b": b, "c": c}


def export_rows(engine: Engine, query_string: str = "") -> list[dict[str, Any]]:
    query = parse_export_query(parse_qsl(query_string, keep_blank_values=True))
    export = start_export(
        engine,
        query,
        entitlement(principal_for(engine, 1001), query),
        client_id="c",
        cursor_key=b"k",
    )
    return [row for batch in export.records() for row in batch]


def test_the_six_fields_carry_quantities_and_each_items_latest_shipment(
    store: dict[str, int], engine: Engine
) -> None:
    rows = export_rows(engine, FULFILMENT)
    assert [tuple(row[key] for key in ("external_ref", *SIX)) for row in rows] == [
        ("A", "2024-05-02 10:00:00", 3, 0, "2024-05-02 09:30:00", "LATER", "https://track.example/LATER"),
        ("A", "2024-05-02 10:00:00", 3, 0, "2024-05-02 09:45:00", "TIE-SECOND", "https://track.example/TIE-SECOND"),
        ("A", "2024-05-02 10:00:00", 0, 1, None, None, None),
        ("B", "2024-05-03 00:00:00", None, None, None, None, None),
        ("C", "2024-05-04 12:00:00", 0, 0, None, None, None),
    ]  # fmt: skip


def test_an_item_shipped_once_has_that_shipment_and_no_other_orders(
    store: dict[str, int], engine: Engine
) -> None:
    (tee,) = item_ids(engine, store["c"])
    ship(engine, store["c"], {tee: 5}, "2024-05-05 07:00:00", "ONLY")
    rows = export_rows(engine, f"{FULFILMENT}&filter[external_ref]=C")
    assert [(r["items__shipped_quantity"], r["items__tracking"]) for r in rows] == [(5, "ONLY")]


def test_every_option_on_puts_the_six_after_the_articles_fields_before_attributes(
    store: dict[str, int], engine: Engine
) -> None:
    every = "&".join(f"options[{name}]=1" for name in OPTIONS)
    rows = export_rows(engine, every)
    article = field_names(frozenset(OPTIONS) - {"includeFulfilment"})
    expected = [*article, *SIX, "attributes__channel", "items__attributes__print"]
    assert all(list(row) == expected for row in rows)
    assert len(expected) == 63 + 4 + 14 + 10 + 6 + 2


@pytest.mark.parametrize(
    ("options", "joins_shipments"),
    [("", False), ("options[includeProductOwner]=1&options[includeProductPrice]=1", False),
     (FULFILMENT, True)],
)  # fmt: skip
def test_with_the_option_off_the_keys_and_joins_are_the_articles(
    store: dict[str, int], engine: Engine, options: str, joins_shipments: bool
) -> None:
    query = parse_export_query(parse_qsl(options))
    expected = field_names(query.options)
    assert all(list(row) == list(expected) for row in export_rows(engine, options))
    assert (set(expected) & set(SIX) != set()) == joins_shipments
    with engine.connect() as conn:
        plan = build_plan(conn, query, entitlement(principal_for(engine, 1001), query))
        sql = str(plan.statement.compile(conn))
    assert ("shipment" in sql) == joins_shipments


@pytest.mark.parametrize(
    ("parameter", "value", "orders"),
    [
        ("filter[updated_datetime:gt]", "2024-05-02 10:00:00", ["B", "C"]),
        ("filter[updated_datetime:gte]", "2024-05-02 10:00:00", ["A", "B", "C"]),
        ("filter[updated_datetime:lt]", "2024-05-03 00:00:00", ["A"]),
        ("filter[updated_datetime:lte]", "2024-05-03", ["A", "B"]),
        ("filter[updated_datetime:gte]", "2024-05-04T14:00:00%2B02:00", ["C"]),
        ("filter[updated_datetime:gt]", "2024-05-04 12:00:00", []),
    ],
)
@pytest.mark.parametrize("options", ["", FULFILMENT])
def test_the_updated_datetime_filter_selects_exactly_the_orders_changed_in_range(
    store: dict[str, int],
    engine: Engine,
    parameter: str,
    value: str,
    orders: list[str],
    options: str,
) -> None:
    query = "&".join(filter(None, [f"{parameter}={value}", options]))
    rows = export_rows(engine, query)
    assert list(dict.fromkeys(row["external_ref"] for row in rows)) == orders


@pytest.mark.parametrize(
    ("query_string", "parameter", "says"),
    [
        ("filter[updated_datetime:gt]=yesterday", "filter[updated_datetime:gt]", "it accepts a datetime"),
        ("filter[updated_datetime:gte]=2024-02-30", "filter[updated_datetime:gte]", "got '2024-02-30'"),
        ("filter[updated_datetime:eq]=2024-05-02", "filter[updated_datetime:eq]", "accepted: gt, gte, lt, lte"),
        ("filter[updated_datetime:lt]=", "filter[updated_datetime:lt]", "empty value"),
        ("filter[updated_datetime:lte]=0001-01-01T00:00:00%2B01:00", "filter[updated_datetime:lte]", "out of range"),
        ("options[includeFulfilment]=yes", "options[includeFulfilment]", "must be 1 or true"),
    ],
)  # fmt: skip
def test_a_bad_filter_or_option_value_is_refused_naming_the_parameter(
    query_string: str, parameter: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_export_query(parse_qsl(query_string, keep_blank_values=True))
    assert caught.value.parameter == parameter
    assert says in caught.value.description


def test_over_http_a_bad_updated_datetime_is_a_400_naming_the_parameter(
    store: dict[str, int], engine: Engine, settings: Settings, live_server: LiveServer
) -> None:
    credentials = create_client(engine, settings, name="reports", company_ref_ids=[1001])
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get(
            "/export-api/order-item-details",
            params={"filter[updated_datetime:gte]": "soon", "options[includeFulfilment]": "1"},
            headers={"Authorization": f"Bearer {bearer(http, credentials)}"},
        )
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["parameter"]) == ("invalid_request", "filter[updated_datetime:gte]")


def test_csv_heads_and_fills_the_six_columns(store: dict[str, int], engine: Engine) -> None:
    query = parse_export_query(parse_qsl(f"{FULFILMENT}&filter[external_ref:in]=A,B&format=csv"))
    export = start_export(
        engine,
        query,
        entitlement(principal_for(engine, 1001), query),
        client_id="c",
        cursor_key=b"k",
    )
    table = list(csv.reader(io.StringIO(b"".join(export.chunks(FORMATS["csv"])).decode())))
    header, *lines = table
    assert header[-6:] == list(SIX)
    assert [line[-6:] for line in lines] == [
        ["2024-05-02 10:00:00", "3", "0", "2024-05-02 09:30:00", "LATER", "https://track.example/LATER"],
        ["2024-05-02 10:00:00", "3", "0", "2024-05-02 09:45:00", "TIE-SECOND", "https://track.example/TIE-SECOND"],
        ["2024-05-02 10:00:00", "0", "1", "", "", ""],
        ["2024-05-03 00:00:00", "", "", "", "", ""],
    ]  # fmt: skip


def test_shape_orders_puts_updated_datetime_on_the_order_and_the_rest_on_each_item(
    store: dict[str, int], engine: Engine
) -> None:
    orders = export_rows(engine, f"{FULFILMENT}&shape=orders&filter[external_ref:in]=A,B")
    assert [order["updated_datetime"] for order in orders] == [
        "2024-05-02 10:00:00",
        "2024-05-03 00:00:00",
    ]
    first_item = orders[0]["items"][0]
    assert {key: first_item[key] for key in (name.removeprefix("items__") for name in SIX[1:])} == {
        "shipped_quantity": 3,
        "cancelled_quantity": 0,
        "dispatch_datetime": "2024-05-02 09:30:00",
        "tracking": "LATER",
        "tracking_url": "https://track.example/LATER",
    }
    assert orders[1]["items"] == []


def test_a_change_moves_updated_datetime_and_the_filter_finds_it(
    store: dict[str, int], engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(schema.orders)
            .where(schema.orders.c.id == store["a"])
            .values(status=128, updated_datetime=datetime(2024, 5, 6, 9, 0, 0))
        )
    rows = export_rows(engine, f"{FULFILMENT}&filter[updated_datetime:gt]=2024-05-05")
    assert {(row["external_ref"], row["updated_datetime"], row["status"]) for row in rows} == {
        ("A", "2024-05-06 09:00:00", 128)
    }
