"""The demo data set: deterministic, covering every level and status, loaded only once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select

from oms_export.admin.demo import (
    StoreNotEmpty,
    client_purposes,
    demo_credentials,
    load_demo,
)
from oms_export.admin.imports import import_orders
from oms_export.auth.clients import list_clients, revoke_client
from oms_export.auth.grant import TokenRequest
from oms_export.auth.tokens import issue_token
from oms_export.db.schema import (
    SUBSCRIPTION_LEVELS,
    cancellation_items,
    cancellations,
    companies,
    item_attributes,
    metadata,
    order_attributes,
    order_items,
    orders,
    product_ecommerce,
    product_prices,
    products,
    shipment_items,
    shipments,
)
from oms_export.errors import InvalidClient
from oms_export.orders import lifecycle
from oms_export.settings import Settings
from oms_export.statuses import ORDER_STATUSES

DATA_TABLES = (
    companies,
    products,
    product_prices,
    product_ecommerce,
    orders,
    order_items,
    order_attributes,
    item_attributes,
    shipments,
    shipment_items,
    cancellations,
    cancellation_items,
)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]
            for table in DATA_TABLES
        }


def empty_store(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


def values(engine: Engine, column: Any) -> set[Any]:
    with engine.connect() as conn:
        return set(conn.execute(select(column).distinct()).scalars())


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        found: int = conn.execute(
            select(func.count()).select_from(table).where(*where)
        ).scalar_one()
        return found


def test_the_same_seed_and_size_give_identical_rows(engine: Engine, settings: Settings) -> None:
    first = load_demo(engine, settings, orders=120, seed=7)
    rows = dump(engine)
    empty_store(engine)
    second = load_demo(engine, settings, orders=120, seed=7)
    assert dump(engine) == rows
    assert (first["orders"], first["items"]) == (second["orders"], second["items"])
    assert first["client_id"] != second["client_id"]


def test_another_seed_gives_other_rows(engine: Engine, settings: Settings) -> None:
    load_demo(engine, settings, orders=40, seed=1)
    rows = dump(engine)
    empty_store(engine)
    load_demo(engine, settings, orders=40, seed=2)
    assert dump(engine)["orders"] != rows["orders"]
    assert dump(engine)["companies"] == rows["companies"]


def test_a_smaller_demo_is_a_prefix_of_a_larger_one(engine: Engine, settings: Settings) -> None:
    load_demo(engine, settings, orders=30)
    small = dump(engine)["orders"]
    empty_store(engine)
    load_demo(engine, settings, orders=60)
    assert dump(engine)["orders"][:30] == small


def test_the_demo_covers_every_level_status_and_optional_part(
    engine: Engine, settings: Settings
) -> None:
    result = load_demo(engine, settings, orders=300)
    assert (result["companies"], result["orders"]) == (9, 300)
    assert result["items"] == count(engine, order_items)
    assert values(engine, companies.c.subscription) == set(SUBSCRIPTION_LEVELS)
    assert values(engine, orders.c.status) == set(ORDER_STATUSES)
    # Every item status the lifecycle gives (0 Unknown is never one: §6.3).
    assert values(engine, order_items.c.status) == {1, 2, 3, 7}
    assert values(engine, orders.c.ref) >= {"O1", "O2", "O8C"}
    has_items = select(order_items.c.order_id)
    assert count(engine, orders, orders.c.id.not_in(has_items)) > 0
    assert count(engine, orders, orders.c.completion_datetime.is_(None)) > 0
    assert count(engine, orders, orders.c.completion_datetime.is_not(None)) > 0
    assert count(engine, orders, orders.c.secondary_company_id.is_not(None)) > 0
    assert count(engine, orders, orders.c.secondary_company_id.is_(None)) > 0
    assert count(engine, orders, orders.c.billing_address_1.is_(None)) > 0
    assert count(engine, products, products.c.owner_company_id.is_(None)) > 0
    assert count(engine, products, products.c.owner_company_id.is_not(None)) > 0
    assert count(engine, products, products.c.id.not_in(select(product_prices.c.product_id))) > 0
    with_shop = select(product_ecommerce.c.product_id)
    assert count(engine, products, products.c.id.not_in(with_shop)) > 0
    assert count(engine, products, products.c.id.in_(with_shop)) > 0
    assert values(engine, product_prices.c.price_list) == {"product", "base"}
    assert values(engine, product_prices.c.quantity) == {1, 10, 50}
    assert count(engine, order_items, order_items.c.product_id.is_(None)) > 0
    assert values(engine, order_attributes.c.name) == {"channel", "gift_message"}
    assert values(engine, item_attributes.c.name) == {"print", "personalisation"}


def test_the_demo_orders_follow_the_lifecycle(engine: Engine, settings: Settings) -> None:
    load_demo(engine, settings, orders=400)
    with engine.connect() as conn:
        order_rows = {row.id: row for row in conn.execute(select(orders))}
        item_rows = conn.execute(select(order_items).order_by(order_items.c.id)).all()
        shipped = conn.execute(
            select(shipments, shipment_items.c.item_id, shipment_items.c.quantity).join(
                shipment_items, shipment_items.c.shipment_id == shipments.c.id
            )
        ).all()
        cancelled = conn.execute(
            select(cancellations, cancellation_items.c.item_id, cancellation_items.c.quantity).join(
                cancellation_items, cancellation_items.c.cancellation_id == cancellations.c.id
            )
        ).all()
    shipment_of = {row.item_id: row for row in shipped}
    cancellation_of = {row.item_id: row for row in cancelled}
    by_order: dict[int, list[lifecycle.Item]] = {}
    for item in item_rows:
        order = order_rows[item.order_id]
        done = lifecycle.Item(
            item.id, item.quantity, item.shipped_quantity, item.cancelled_quantity
        )
        by_order.setdefault(order.id, []).append(done)
        assert item.status == lifecycle.item_status(done, order.status), item.id
        if order.status in (8, 64):
            assert (item.shipped_quantity, item.cancelled_quantity) == (item.quantity, 0)
            assert item.status == 3
            if order.completion_datetime is not None:
                shipment = shipment_of[item.id]
                assert (shipment.order_id, shipment.quantity) == (order.id, item.quantity)
                assert shipment.dispatch_datetime == order.completion_datetime
                assert shipment.carrier == order.shipping_carrier
                assert shipment.tracking == order.shipping_tracking
            else:  # a dispatch time never given: its units shipped, no shipment to date
                assert item.id not in shipment_of
        elif order.status == 128:
            assert (item.shipped_quantity, item.cancelled_quantity) == (0, item.quantity)
            assert item.status == 7
            assert cancellation_of[item.id].quantity == item.quantity
            assert cancellation_of[item.id].cancelled_datetime == order.updated_datetime
        else:
            assert (item.shipped_quantity, item.cancelled_quantity) == (0, 0)
            assert item.status == (2 if order.status in (4, 600, 520, 515, 516) else 1)
    # The quantities give the order's own status back: nothing left to settle.
    for order_id, items in by_order.items():
        state = lifecycle.Order(order_id, order_rows[order_id].status, tuple(items))
        assert lifecycle.settle(state).status == state.status
    assert len({row.id for row in shipped}) == count(engine, shipments) > 0
    assert count(engine, shipments, shipments.c.order_id.in_(select(orders.c.id).where(
        orders.c.completion_datetime.is_(None)))) == 0  # fmt: skip
    assert len({row.id for row in cancelled}) == count(engine, cancellations) > 0
    assert {row.status for row in order_rows.values()} == set(ORDER_STATUSES)


def test_the_first_demo_orders_written_out(engine: Engine, settings: Settings) -> None:
    """The first orders of seed 0 in full: one of each of the first eight statuses, their items'
    values as before the lifecycle (the status once drawn for an item is drawn still, so every
    value after it stays) and the lifecycle's quantities, statuses, shipments, cancellation."""
    load_demo(engine, settings, orders=8)
    with engine.connect() as conn:
        got_orders = conn.execute(
            select(orders.c.id, orders.c.status, orders.c.completion_datetime).order_by(orders.c.id)
        ).all()
        got_items = conn.execute(
            select(
                order_items.c.order_id, order_items.c.sku, order_items.c.quantity,
                order_items.c.status, order_items.c.shipped_quantity,
                order_items.c.cancelled_quantity,
            ).order_by(order_items.c.id)
        ).all()  # fmt: skip
        got_shipments = conn.execute(select(shipments).order_by(shipments.c.id)).all()
        got_cancellations = conn.execute(select(cancellations)).all()
    assert [(o.id, o.status, o.completion_datetime) for o in got_orders] == [
        (1, 0, None), (2, 1, None), (3, 2, None), (4, 4, None),
        (5, 8, datetime(2023, 1, 2, 3, 9, 27)), (6, 32, None),
        (7, 64, datetime(2023, 1, 2, 18, 11, 27)), (8, 128, datetime(2023, 1, 3, 19, 13, 5)),
    ]  # fmt: skip
    assert [tuple(i) for i in got_items] == [
        (1, "CAP-509", 1, 1, 0, 0), (2, "CAP-509", 2, 1, 0, 0), (3, "CAP-671", 1, 1, 0, 0),
        (3, "T-S-552", 1, 1, 0, 0), (4, "POS-502", 3, 2, 0, 0), (4, "POS-646", 1, 2, 0, 0),
        (5, "T-S-504", 2, 3, 2, 0), (5, "TOT-614", 2, 3, 2, 0), (5, "T-S-540", 3, 3, 3, 0),
        (5, "MUG-531", 3, 3, 3, 0), (5, "T-S-666", 2, 3, 2, 0), (5, "TOT-572", 1, 3, 1, 0),
        (6, "CAP-635", 2, 1, 0, 0), (7, "POS-526", 1, 3, 1, 0), (7, "MUG-663", 2, 3, 2, 0),
        (8, "POS-670", 5, 7, 0, 5), (8, "POS-580", 5, 7, 0, 5), (8, "CAP-635", 3, 7, 0, 3),
        (8, "HOO-529", 1, 7, 0, 1), (8, "CUSTOM-762", 3, 7, 0, 3), (8, "POS-634", 5, 7, 0, 5),
    ]  # fmt: skip
    assert [tuple(row) for row in got_shipments] == [
        (1, 5, datetime(2023, 1, 2, 3, 9, 27), "UPS", "TRK0000000005",
         "https://tracking.example.com/TRK0000000005"),
        (2, 7, datetime(2023, 1, 2, 18, 11, 27), "DPD", "TRK0000000007",
         "https://tracking.example.com/TRK0000000007"),
    ]  # fmt: skip
    assert [tuple(row) for row in got_cancellations] == [
        (1, 8, "Cancelled by the customer", datetime(2023, 1, 3, 19, 13, 5))
    ]


def test_the_demo_client_sees_the_exporting_companies_and_one_free_one(
    engine: Engine, settings: Settings
) -> None:
    result = load_demo(engine, settings, orders=10)
    client = list_clients(engine)[0]
    assert (client["client_id"], client["name"]) == (result["client_id"], "demo")
    assert client["companies"] == [1001, 1002, 1004, 2001, 3001]
    assert client["scopes"] == ["export-api.order-item-details"]
    request = TokenRequest(result["client_id"], result["client_secret"], None, False)
    assert issue_token(engine, settings, request)["token_type"] == "Bearer"


def test_the_demo_has_a_retailer_and_a_fulfiller_client(engine: Engine, settings: Settings) -> None:
    result = load_demo(engine, settings, orders=10)
    assert list(result) == [
        "client_id", "client_secret", "companies", "orders", "items", "retailer", "fulfiller",
    ]  # fmt: skip
    clients = {c["name"]: c for c in list_clients(engine)}
    assert list(clients) == ["demo", "demo-retailer", "demo-fulfiller"]
    for key, name, scope, company in (
        ("retailer", "demo-retailer", "orders.write", 1001),
        ("fulfiller", "demo-fulfiller", "orders.fulfil", 3001),
    ):
        printed = result[key]
        assert list(printed) == ["client_id", "client_secret", "scope", "company_ref_id"]
        assert (printed["scope"], printed["company_ref_id"]) == (scope, company)
        assert clients[name]["client_id"] == printed["client_id"]
        assert (clients[name]["scopes"], clients[name]["companies"]) == ([scope], [company])
        request = TokenRequest(printed["client_id"], printed["client_secret"], (scope,), False)
        assert issue_token(engine, settings, request)["scope"] == scope


def test_each_demo_client_has_a_line_saying_what_it_is_for() -> None:
    lines = client_purposes()
    assert [line.split()[0] for line in lines] == ["client_id,", "retailer", "fulfiller"]
    assert "1001, 1002, 2001, 3001 (1004 may not export" in lines[0]
    assert "1001 Acme Prints (POST /orders)" in lines[1]
    assert lines[1].endswith("[orders.write]")
    assert "3001 DropShip Direct" in lines[2]
    assert lines[2].endswith("[orders.fulfil]")
    starts = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in lines}
    assert len(starts) == 1, "the purposes line up"


def test_loading_into_a_store_with_data_is_refused_and_changes_nothing(
    engine: Engine, settings: Settings
) -> None:
    load_demo(engine, settings, orders=10)
    before = dump(engine)
    with pytest.raises(StoreNotEmpty) as caught:
        load_demo(engine, settings, orders=10)
    assert caught.value.description == (
        "The database already holds data (9 companies, 200 products, 10 orders); the demo loads "
        "only into an empty store, since its ids are fixed. Point --database-url at a new database."
    )
    assert dump(engine) == before


def test_imports_after_the_demo_continue_its_ids(engine: Engine, settings: Settings) -> None:
    result = load_demo(engine, settings, orders=25)
    record = {
        "external_ref": "NEW-1",
        "company_ref_id": 1001,
        "items": [{"sku": "A", "quantity": 1}],
    }
    assert import_orders(engine, [(0, record)])["created"] == 1
    with engine.connect() as conn:
        order_id, ref = conn.execute(
            select(orders.c.id, orders.c.ref).where(orders.c.external_ref == "NEW-1")
        ).one()
        item_id = conn.execute(
            select(order_items.c.id).where(order_items.c.order_id == order_id)
        ).scalar_one()
    assert (order_id, ref, item_id) == (26, "OQ", result["items"] + 1)


def test_serve_demo_loads_once_then_renews_the_demo_clients_secret(
    engine: Engine, settings: Settings
) -> None:
    first = demo_credentials(engine, settings)
    assert count(engine, orders) == 1000
    second = demo_credentials(engine, settings)
    assert list(second) == ["client_id", "client_secret", "retailer", "fulfiller"]
    assert second["client_id"] == first["client_id"]
    assert second["client_secret"] != first["client_secret"]
    for key in ("retailer", "fulfiller"):
        assert second[key]["client_id"] == first[key]["client_id"]
        assert second[key]["client_secret"] != first[key]["client_secret"]
        assert second[key]["scope"] == first[key]["scope"]
        old = TokenRequest(first[key]["client_id"], first[key]["client_secret"], None, False)
        with pytest.raises(InvalidClient):
            issue_token(engine, settings, old)
        new = TokenRequest(second[key]["client_id"], second[key]["client_secret"], None, False)
        assert issue_token(engine, settings, new)["scope"] == second[key]["scope"]
    assert count(engine, orders) == 1000
    assert len(list_clients(engine)) == 3


def test_serve_demo_on_a_store_of_an_older_demo_creates_the_missing_role_clients(
    engine: Engine, settings: Settings
) -> None:
    first = load_demo(engine, settings, orders=5)
    revoke_client(engine, first["retailer"]["client_id"])  # as if it had never been made
    renewed = demo_credentials(engine, settings)
    assert renewed["retailer"]["client_id"] != first["retailer"]["client_id"]
    assert renewed["fulfiller"]["client_id"] == first["fulfiller"]["client_id"]
    live = [c["name"] for c in list_clients(engine) if not c["revoked"]]
    assert live == ["demo", "demo-fulfiller", "demo-retailer"]
