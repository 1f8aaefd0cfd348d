"""The export pipeline against a real store: keys, values, order, options, attributes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from oms_export.auth.principal import CompanyGrant, Principal
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.export.fields import FIELDS, field_names
from oms_export.export.params import parse_export_query
from oms_export.export.run import start_export
from oms_export.export.tenancy import entitlement
from tests import factories as f

ALL_OPTIONS = (
    "options[includeProductOwner]=1&options[includeProductPrice]=1"
    "&options[includeProductEcommerceInfo]=1&options[includeAttributes]=1"
)


def principal_for(engine: Engine, *ref_ids: int) -> Principal:
    from sqlalchemy import select

    from oms_export.db.schema import companies

    with engine.connect() as conn:
        rows = conn.execute(
            select(companies.c.id, companies.c.ref_id, companies.c.subscription).where(
                companies.c.ref_id.in_(ref_ids)
            )
        ).all()
    return Principal(
        client_pk=1,
        client_id="test-client",
        scopes=frozenset({EXPORT_SCOPE}),
        companies=tuple(CompanyGrant(r.id, r.ref_id, r.subscription) for r in rows),
    )


def export_rows(
    engine: Engine, principal: Principal, query_string: str = ""
) -> list[dict[str, Any]]:
    from urllib.parse import parse_qsl

    query = parse_export_query(parse_qsl(query_string, keep_blank_values=True))
    export = start_export(
        engine, query, entitlement(principal, query), client_id="c", cursor_key=b"k", batch_rows=2
    )
    return [row for batch in export.row_batches() for row in batch]


@pytest.fixture
def store(engine: Engine) -> Engine:
    """Retailer 1001 with dropshipper 2001; a product with owner, prices, e-commerce data."""
    retailer = f.company(engine, 1001, "order_manager", name="Acme Prints")
    dropship = f.company(engine, 2001, "enterprise", name="Drop Co", customer_ref_id=None)
    f.product(
        engine,
        501,
        owner_company_id=dropship,
        prices=[
            {"price_list": "product", "company_id": retailer, "currency": "GBP", "quantity": 1, "rrp": 19.99, "price": 8.5},
            {"price_list": "product", "company_id": retailer, "currency": "GBP", "quantity": 10, "rrp": 19.99, "price": 7.25},
            {"price_list": "base", "company_id": retailer, "currency": "GBP", "quantity": 1, "rrp": 19.99, "price": 6.0},
        ],
        ecommerce={"sales_description": "Tee", "weight": 0.25, "hs_code": "6109100010", "barcode": "5012345678900"},
    )  # fmt: skip
    f.order(
        engine,
        retailer,
        "WEB-1001",
        secondary_company_id=dropship,
        status=8,
        sale_datetime=f.utc("2024-05-01 09:30:00"),
        completion_datetime=f.utc("2024-05-03 16:00:00"),
        required_dispatch_date=f.day("2024-05-04"),
        customer_name="Ada",
        shipping_price=3.99,
        shipping_price_inc_tax=4.79,
        shipping_tax_rate=0.2,
        attributes={"channel": "web"},
        items=[
            {"external_ref": "WEB-1001-1", "sku": "TS-BLK-M", "product_id": 501, "quantity": 2,
             "status": 3, "unit_sale_price": 12.5, "sale_vat_rate": 0.2, "attributes": {"print": "front"}},
            {"external_ref": "WEB-1001-2", "sku": "MUG", "quantity": 12, "status": 7, "product_id": 501},
        ],
    )  # fmt: skip
    f.order(engine, retailer, "WEB-1002", status=1)  # no items
    return engine


def test_one_row_per_item_with_order_fields_repeated_and_itemless_order_once(store: Engine) -> None:
    rows = export_rows(store, principal_for(store, 1001))
    assert [(r["external_ref"], r["items__external_ref"]) for r in rows] == [
        ("WEB-1001", "WEB-1001-1"),
        ("WEB-1001", "WEB-1001-2"),
        ("WEB-1002", None),
    ]
    assert all(r["items__id"] is None for r in rows[2:])
    assert rows[2]["items__status_name"] is None


@pytest.mark.parametrize(("batch_rows", "sizes"), [(1, [1, 1, 1]), (2, [2, 1]), (1000, [3])])
def test_batches_hold_at_most_batch_rows_and_together_every_row_in_order(
    store: Engine, batch_rows: int, sizes: list[int]
) -> None:
    # On PostgreSQL, FETCHes after the first bring two batches; they still come one by one.
    principal = principal_for(store, 1001)
    query = parse_export_query([])
    entitled = entitlement(principal, query)
    export = start_export(
        store, query, entitled, client_id="c", cursor_key=b"k", batch_rows=batch_rows
    )
    batches = list(export.row_batches())
    assert [len(batch) for batch in batches] == sizes
    assert [row for batch in batches for row in batch] == export_rows(store, principal)
    assert export.rows == 3


def test_rows_have_exactly_the_always_fields_in_spec_order_without_options(store: Engine) -> None:
    rows = export_rows(store, principal_for(store, 1001))
    always = [name for name, option in FIELDS if option == "always"]
    assert len(always) == 63
    assert all(list(row) == always for row in rows)


def test_values_are_typed_and_formatted_as_the_spec_says(store: Engine) -> None:
    row = export_rows(store, principal_for(store, 1001))[0]
    assert {k: row[k] for k in (
        "id", "ref", "company_ref_id", "secondary_company_ref_id", "sale_datetime",
        "completion_datetime", "required_dispatch_date", "shipping_price",
        "shipping_price_inc_tax", "shipping_tax_rate", "status", "status_name",
        "is_free_of_charge", "company__company_name", "company__customer_ref_id",
        "company__external_ref", "secondary_company__company_name",
        "secondary_company__customer_ref_id", "items__ref", "items__order_id", "items__status",
        "items__status_name", "items__quantity", "items__unit_sale_price", "items__sale_vat_rate",
        "billing_address_1",
    )} == {
        "id": 1, "ref": "O1", "company_ref_id": 1001, "secondary_company_ref_id": 2001,
        "sale_datetime": "2024-05-01 09:30:00", "completion_datetime": "2024-05-03 16:00:00",
        "required_dispatch_date": "2024-05-04", "shipping_price": 3.99,
        "shipping_price_inc_tax": 4.79, "shipping_tax_rate": 0.2, "status": 8,
        "status_name": "Dispatched", "is_free_of_charge": False,
        "company__company_name": "Acme Prints", "company__customer_ref_id": 10010,
        "company__external_ref": "EXT-1001", "secondary_company__company_name": "Drop Co",
        "secondary_company__customer_ref_id": None, "items__ref": "I1", "items__order_id": 1,
        "items__status": 3, "items__status_name": "Dispatched", "items__quantity": 2,
        "items__unit_sale_price": 12.5, "items__sale_vat_rate": 0.2, "billing_address_1": None,
    }  # fmt: skip
    assert row["secondary_company"] == 2  # the related record's internal id


def test_order_without_secondary_company_has_null_relation_and_fields(store: Engine) -> None:
    row = export_rows(store, principal_for(store, 1001))[2]
    assert [row[k] for k in ("secondary_company", "secondary_company_ref_id",
            "secondary_company__company_name", "completion_datetime")] == [None] * 4  # fmt: skip


def test_all_options_add_their_fields_then_attribute_columns(store: Engine) -> None:
    rows = export_rows(store, principal_for(store, 1001), ALL_OPTIONS)
    expected = [*field_names(frozenset({"includeProductOwner", "includeProductPrice",
                "includeProductEcommerceInfo"})), "attributes__channel", "items__attributes__print"]  # fmt: skip
    assert len(expected) == 63 + 4 + 14 + 10 + 2
    assert all(list(r) == expected for r in rows)
    first, second, itemless = rows
    assert {
        k: first[k]
        for k in expected
        if k.startswith(("items__product_", "items__base_")) or "attributes" in k
    } == {
        "items__product_owner__customer_ref_id": None,
        "items__product_owner__company_name": "Drop Co",
        "items__product_owner__external_ref": "EXT-2001",
        "items__product_owner": 2,
        "items__product_price__product_id": 501,
        "items__product_price__currency": "GBP",
        "items__product_price__quantity": 1,
        "items__product_price__rrp": 19.99,
        "items__product_price__price": 8.5,
        "items__product_price__company_ref_id": 1001,
        "items__product_price": 1,
        "items__base_product_price__product_id": 501,
        "items__base_product_price__currency": "GBP",
        "items__base_product_price__quantity": 1,
        "items__base_product_price__rrp": 19.99,
        "items__base_product_price__price": 6.0,
        "items__base_product_price__company_ref_id": 1001,
        "items__base_product_price": 3,
        "items__product_ecommerce__product_id": 501,
        "items__product_ecommerce__sales_description": "Tee",
        "items__product_ecommerce__sales_description_long": None,
        "items__product_ecommerce__weight": 0.25,
        "items__product_ecommerce__hs_code": "6109100010",
        "items__product_ecommerce__tax_code": None,
        "items__product_ecommerce__website_category_details": None,
        "items__product_ecommerce__notes": None,
        "items__product_ecommerce__barcode": "5012345678900",
        "items__product_ecommerce__dimensions": None,
        "attributes__channel": "web",
        "items__attributes__print": "front",
    }
    # quantity 12 takes the 10-break price; the order's attribute repeats, the item has none
    assert (second["items__product_price__price"], second["items__product_price__quantity"]) == (
        7.25,
        10,
    )
    assert (second["attributes__channel"], second["items__attributes__print"]) == ("web", None)
    assert itemless["items__product_price"] is None
    assert itemless["items__product_price__company_ref_id"] is None
    assert itemless["attributes__channel"] is None


def test_attribute_columns_come_only_from_the_filtered_result(store: Engine) -> None:
    rows = export_rows(
        store, principal_for(store, 1001), "options[includeAttributes]=1&filter[status]=1"
    )
    assert [k for k in rows[0] if "attributes__" in k] == []


def test_each_attribute_value_lands_in_its_own_column_whatever_the_names(engine: Engine) -> None:
    # The values of an order's (or item's) attributes are gathered in one read; each must still
    # reach the column of its own name, also for names SQL would need to quote.
    retailer = f.company(engine, 1001, "order_manager")
    f.order(
        engine, retailer, "A", attributes={"zeta": "z1", 'say "hi"': "q1", "Größe": "g1"},
        items=[{"sku": "X", "attributes": {"b side": "b1", "a-side": "a1"}},
               {"sku": "Y", "attributes": {"b side": "b2"}}, {"sku": "Z"}],
    )  # fmt: skip
    f.order(engine, retailer, "B", attributes={"Größe": "g2"})  # no items
    rows = export_rows(engine, principal_for(engine, 1001), "options[includeAttributes]=1")
    attributes = [{k: v for k, v in row.items() if "attributes__" in k} for row in rows]
    order_a = {"attributes__Größe": "g1", 'attributes__say "hi"': "q1", "attributes__zeta": "z1"}
    assert attributes == [
        {**order_a, "items__attributes__a-side": "a1", "items__attributes__b side": "b1"},
        {**order_a, "items__attributes__a-side": None, "items__attributes__b side": "b2"},
        {**order_a, "items__attributes__a-side": None, "items__attributes__b side": None},
        {"attributes__Größe": "g2", 'attributes__say "hi"': None, "attributes__zeta": None,
         "items__attributes__a-side": None, "items__attributes__b side": None},
    ]  # fmt: skip
