"""The demo data set: deterministic, covering every level and status, loaded only once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select

from oms_export.admin.demo import StoreNotEmpty, demo_credentials, load_demo
from oms_export.admin.imports import import_orders
from oms_export.auth.clients import list_clients
from oms_export.auth.grant import TokenRequest
from oms_export.auth.tokens import issue_token
from oms_export.db.schema import (
    SUBSCRIPTION_LEVELS,
    companies,
    item_attributes,
    metadata,
    order_attributes,
    order_items,
    orders,
    product_ecommerce,
    product_prices,
    products,
)
from oms_export.settings import Settings
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

DATA_TABLES = (
    companies,
    products,
    product_prices,
    product_ecommerce,
    orders,
    order_items,
    order_attributes,
    item_attributes,
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
    assert values(engine, order_items.c.status) == set(ITEM_STATUSES)
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


def test_the_demo_client_sees_the_exporting_companies_and_one_free_one(
    engine: Engine, settings: Settings
) -> None:
    result = load_demo(engine, settings, orders=10)
    [client] = list_clients(engine)
    assert (client["client_id"], client["name"]) == (result["client_id"], "demo")
    assert client["companies"] == [1001, 1002, 1004, 2001, 3001]
    request = TokenRequest(result["client_id"], result["client_secret"], None, False)
    assert issue_token(engine, settings, request)["token_type"] == "Bearer"


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
    assert second["client_id"] == first["client_id"]
    assert second["client_secret"] != first["client_secret"]
    assert count(engine, orders) == 1000
